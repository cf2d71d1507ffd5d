"""Geodesics of trained models on the known manifolds, against the exact distance.

Tests the argument of {ref}`sec-agm-one-chart` on trained models. For each model of
``MANIFOLD_POINTS``
(one chart of the manifold's dimension, one of the paper's d = 8, Atlas WAE-GANs of
the manifold's dimension, all at equal parameter budgets), :func:`manifold_experiment`
joins ``n_pairs`` random test pairs by Algorithm 1's graph, refines each path
(:func:`atlasnb.geodesics.refine`), and compares both lengths with the true distance
of :mod:`atlasnb.manifolds`. On the circle it also reads the angle of every frame of
the refined path from its nearest image on a dense orbit, and so tells whether the
path went the long way round. Results are cached in the run folder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from functools import lru_cache

import numpy as np
import torch

from atlasnb import geodesics, known_truth, manifolds, runs
from atlasnb.book.configs import BookConfig
from atlasnb.data import load_images
from atlasnb.experiments import GraphSettings, load_or_build_graph
from atlasnb.runs import Run, atomic_write_json

__all__ = ["CODES_IMAGES", "MANIFOLD_MODELS", "MANIFOLD_POINTS", "MANIFOLD_GRAPH_SCALES",
           "atlas_verdict", "chart_overlaps",
           "chart_sequence", "codes_table", "crosses_cut", "cut_angle", "cut_verdict",
           "graph_settings", "load_result", "long_way_round", "manifold_experiment",
           "manifold_pairs", "manifold_point", "summary"]

RESULT_VERSION = 2
#: The models of the experiment: (data set, m, d); d None is the paper's d = 8.
MANIFOLD_MODELS = (("circle", 1, 1), ("circle", 1, None), ("circle", 2, 1), ("circle", 4, 1),
                   ("torus", 1, 2), ("torus", 1, None), ("torus", 4, 2), ("torus", 8, 2))
#: Their configurations in the book's plan (seed 0).
MANIFOLD_POINTS = tuple(BookConfig(dataset, m, 0, () if d is None else (("latent_dim", d),))
                        for dataset, m, d in MANIFOLD_MODELS)
#: Algorithm 1's settings on the manifolds: N points (a circle needs fewer than MNIST).
#: The quick scale measures 25 pairs per model (each is refined and read frame by frame,
#: about 4 s of one core a pair), to keep the default book within its hour; the paper
#: scale and the benchmark (``--pairs``) take 100.
MANIFOLD_GRAPH_SCALES = {
    "paper": GraphSettings(n_interpolations=0),
    "quick": GraphSettings(n_points=1000, n_pairs=25, n_interpolations=0),
    "smoke": GraphSettings(n_points=120, k=6, n_pairs=6, n_interpolations=0),
}


def graph_settings(scale: str) -> GraphSettings:
    """The graph settings of the manifold experiment at ``scale``."""
    if scale not in MANIFOLD_GRAPH_SCALES:
        raise ValueError(f"scale must be one of {tuple(MANIFOLD_GRAPH_SCALES)}, got {scale!r}")
    return MANIFOLD_GRAPH_SCALES[scale]


#: Frames along each refined path read for their angle, and the dense orbit they are
#: matched against.
N_FRAMES, ORBIT_POINTS = 64, 3600
#: Refinement settings (L-BFGS, the package defaults otherwise).
POINTS_PER_RUN, REFINE_ITERATIONS = 16, 20
#: Test images whose codes and charts the result keeps (the codes-against-theta figure).
CODES_IMAGES = 2000


def manifold_pairs(dataset: str, settings: GraphSettings):
    """(starts, ends, start parameters, end parameters) of the test pairs."""
    images, parameters = load_images(dataset, "test", limit=2 * settings.n_pairs,
                                     seed=settings.seed + 1)
    n = settings.n_pairs
    return images[:n], images[n:2 * n], parameters[:n].numpy(), parameters[n:2 * n].numpy()


@lru_cache(maxsize=1)
def _orbit() -> tuple[torch.Tensor, torch.Tensor]:
    """``ORBIT_POINTS`` equally spaced angles and the circle's flattened images there."""
    theta = torch.arange(ORBIT_POINTS, dtype=torch.float64) * (2 * math.pi / ORBIT_POINTS)
    return theta, manifolds.manifold("circle").images(theta).flatten(1)


def long_way_round(frames: torch.Tensor, theta_a: float, theta_b: float) -> bool:
    """Whether ``frames`` (images along a path from angle ``theta_a`` to ``theta_b``)
    travel along the circle's orbit the long way: each frame's angle is that of its
    nearest image on a dense orbit, the arc length along the orbit is summed with
    each step wrapped, and the path goes the long way when its net arc differs from
    the short one by about a whole circumference."""
    circle = manifolds.manifold("circle")
    orbit_theta, orbit = _orbit()
    theta = orbit_theta[torch.cdist(frames.flatten(1).float(), orbit).argmin(dim=1)]
    theta = torch.cat([torch.tensor([theta_a], dtype=torch.float64), theta,
                       torch.tensor([theta_b], dtype=torch.float64)])
    s = circle.arc_length(theta).numpy()
    c = circle.circumference
    steps = np.remainder(np.diff(s) + c / 2, c) - c / 2
    short = np.remainder(s[-1] - s[0] + c / 2, c) - c / 2
    return bool(abs(steps.sum() - short) > c / 2)


def _key(settings: GraphSettings) -> str:
    fields = dict(dataclasses.asdict(settings), version=RESULT_VERSION, frames=N_FRAMES,
                  orbit=ORBIT_POINTS, codes=CODES_IMAGES, points=POINTS_PER_RUN,
                  iterations=REFINE_ITERATIONS)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]


def manifold_experiment(run: Run, settings: GraphSettings, progress: bool = False) -> dict:
    """Per-pair graph and refined lengths, true distances and (circle) the long way
    round, for ``run``'s model, cached in ``manifold-<key>.json``; also the codes and
    chart of :data:`CODES_IMAGES` test images (:func:`codes_table`, for the figures),
    the model's size and reconstruction error. The true distances are shared by every
    model of the data set (:func:`atlasnb.known_truth.true_distances`)."""
    path = run.path / f"manifold-{_key(settings)}.json"
    cached = runs.read_cached(path)
    if cached is not None:
        return cached
    dataset = run.config.dataset
    graph, _ = load_or_build_graph(run, settings, progress)
    starts, ends, a, b = manifold_pairs(dataset, settings)
    truth = known_truth.true_distances(dataset, a, b, root=run.path.parent)
    columns = {name: [] for name in ("graph", "refined", "long_way_graph", "long_way_refined",
                                     "chart_changes")}
    for i, (start, end) in enumerate(zip(starts, ends)):
        try:
            found = geodesics.shortest_path(graph, start, end, insert=settings.insert)
        except geodesics.DisconnectedGraphError:
            for name in columns:
                columns[name].append(float("nan"))
            continue
        refined = geodesics.refine(graph, found, points_per_run=POINTS_PER_RUN,
                                   n_iterations=REFINE_ITERATIONS)
        columns["graph"].append(float(found.length))
        columns["refined"].append(float(refined.length))
        columns["chart_changes"].append(int(found.cross.sum()))
        for kind, shown in (("graph", found), ("refined", refined)):
            way = float("nan")
            if dataset == "circle":
                frames = geodesics.interpolate(graph, shown, N_FRAMES).images
                way = float(long_way_round(frames, a[i, 0], b[i, 0]))
            columns[f"long_way_{kind}"].append(way)
    result = {**columns, "truth": truth.tolist(), "a": a.tolist(), "b": b.tolist(),
              "dataset": dataset, "n_charts": run.config.n_charts,
              "latent_dim": run.model.latent_dim, "model": run.config.model_name,
              "settings": dataclasses.asdict(settings), "version": RESULT_VERSION,
              "codes": {name: value.tolist() for name, value in codes_table(run).items()},
              "parameters": run.metrics.get("parameters"),
              "reconstruction_error": run.metrics.get("reconstruction_error")}
    atomic_write_json(path, result)
    return result


@torch.inference_mode()
def codes_table(run: Run, n: int = CODES_IMAGES, seed: int = 0) -> dict:
    """Test images' parameters, chart (argmax psi), first latent coordinate in that
    chart and psi, as arrays: what the codes-against-theta figure draws."""
    images, parameters = load_images(run.config.dataset, "test", limit=n, seed=seed)
    psi = run.model.partition(images)
    chart = psi.argmax(dim=1)
    z = run.model.encode(images)[torch.arange(len(images)), chart]
    return {"parameters": parameters.numpy(), "chart": chart.numpy(), "z": z.numpy(),
            "psi": psi.numpy()}


def chart_overlaps(psi: np.ndarray, eps: float, minimum: int = 1) -> list[tuple[int, int]]:
    """The edges (i, j), i < j, of the chart overlap graph: charts i and j overlap when
    at least ``minimum`` images have psi above ``eps`` in both."""
    inside = psi > eps
    m = psi.shape[1]
    return [(i, j) for i in range(m) for j in range(i + 1, m)
            if int((inside[:, i] & inside[:, j]).sum()) >= minimum]


def summary(result: dict) -> dict:
    """Median and 90th percentile of graph and refined length over the true distance,
    the share of refined lengths within 5% of the truth, and (circle) the share of
    paths going the long way round; NaN pairs left out."""
    truth = np.asarray(result["truth"], dtype=float)
    row = {"model": result["model"], "d": result["latent_dim"], "m": result["n_charts"]}
    for kind in ("graph", "refined"):
        ratio = np.asarray(result[kind], dtype=float) / truth
        ratio = ratio[np.isfinite(ratio)]
        row[f"{kind}_median"] = float(np.median(ratio)) if len(ratio) else float("nan")
        row[f"{kind}_p90"] = float(np.quantile(ratio, 0.9)) if len(ratio) else float("nan")
        if kind == "refined":
            row["refined_within_5pct"] = float(np.mean(np.abs(ratio - 1) <= 0.05))
        way = np.asarray(result[f"long_way_{kind}"], dtype=float)
        row[f"long_way_{kind}"] = float(np.nanmean(way)) if np.isfinite(way).any() \
            else float("nan")
    row["failed_pairs"] = int(np.isnan(np.asarray(result["graph"], dtype=float)).sum())
    return row


def manifold_point(dataset: str, n_charts: int, latent_dim: int | None) -> BookConfig:
    """The point of :data:`MANIFOLD_POINTS` with these values (d None: the paper's d)."""
    for point, model in zip(MANIFOLD_POINTS, MANIFOLD_MODELS):
        if model == (dataset, n_charts, latent_dim):
            return point
    raise ValueError(f"(dataset, n_charts, latent_dim) must be one of {MANIFOLD_MODELS}, got "
                     f"{(dataset, n_charts, latent_dim)!r}")


def load_result(scale: str, dataset: str, n_charts: int, latent_dim: int | None) -> dict:
    """The cached :func:`manifold_experiment` result of one model of
    :data:`MANIFOLD_MODELS` at ``scale``, as the book's preparation left it; nothing
    is trained or computed here (a missing result is an error saying how to make it)."""
    point = manifold_point(dataset, n_charts, latent_dim)
    path = runs.run_path(point.config(scale)) / f"manifold-{_key(graph_settings(scale))}.json"
    result = runs.read_cached(path, keys=("truth", "codes"))
    if result is None:
        raise FileNotFoundError(f"no manifold experiment of {point.label()} at scale {scale} "
                                f"in {path}; run `python -m atlasnb prepare --scale {scale}`")
    return result


def cut_angle(theta, z) -> float:
    """Where a one-dimensional chart cuts the circle: the middle of the widest jump of
    the code ``z`` between images adjacent in angle ``theta`` (the last and the first
    images are adjacent too), in [0, 2 pi)."""
    theta, z = np.asarray(theta, dtype=float).reshape(-1), np.asarray(z, dtype=float)
    order = np.argsort(np.remainder(theta, 2 * math.pi))
    theta, z = np.remainder(theta[order], 2 * math.pi), z.reshape(len(theta), -1)[order, 0]
    jumps = np.abs(np.diff(np.append(z, z[0])))
    i = int(np.argmax(jumps))
    after = theta[(i + 1) % len(theta)] + (2 * math.pi if i + 1 == len(theta) else 0)
    return float(np.remainder((theta[i] + after) / 2, 2 * math.pi))


def crosses_cut(theta_a, theta_b, cut: float) -> np.ndarray:
    """Whether the shorter arc from ``theta_a`` to ``theta_b`` passes the angle ``cut``."""
    a = np.remainder(np.asarray(theta_a, dtype=float) - cut, 2 * math.pi)
    b = np.remainder(np.asarray(theta_b, dtype=float) - cut, 2 * math.pi)
    return np.abs(a - b) > math.pi  # the short arc wraps past 0, that is past the cut


def chart_sequence(theta, chart, minimum: int = 5) -> list[int]:
    """The charts met going once round the circle: ``chart`` (each image's chart) in
    the order of ``theta``, runs of one chart merged (also across 2 pi), runs of fewer
    than ``minimum`` images dropped as noise at a boundary."""
    order = np.argsort(np.remainder(np.asarray(theta, dtype=float).reshape(-1), 2 * math.pi))
    chart = np.asarray(chart)[order]
    starts = np.flatnonzero(np.diff(chart)) + 1
    runs_ = [(int(c[0]), len(c)) for c in np.split(chart, starts)]
    if len(runs_) > 1 and runs_[0][0] == runs_[-1][0]:
        runs_[0] = (runs_[0][0], runs_[0][1] + runs_.pop()[1])
    kept = [c for c, length in runs_ if length >= minimum]
    merged = [c for i, c in enumerate(kept) if i == 0 or c != kept[i - 1]]
    if len(merged) > 1 and merged[0] == merged[-1]:
        merged.pop()
    return merged


def atlas_verdict(row: dict, sequence: list[int], within: float = 0.9,
                  long_way: float = 0.02) -> tuple[bool, str]:
    """Whether a circle atlas meets the goals (refined length within 5% of the truth
    on at least ``within`` of the pairs, the long way round on at most ``long_way``;
    each chart one arc, ``sequence`` of :func:`chart_sequence`) and a sentence
    saying so."""
    m = row["m"]
    closes = len(sequence) == m == len(set(sequence))
    near, way = row["refined_within_5pct"], row["long_way_refined"]
    met = near >= within and way <= long_way
    arcs = (f"its {m} charts follow each other once round the circle, each on one arc"
            if closes else f"its charts do not form one arc each round the circle (met in "
            f"the order {sequence})")
    return met and closes, (
        f"{row['model']}: {arcs}; {near:.0%} of the refined paths are within 5% of the true "
        f"distance and {way:.0%} go the long way round, so the goals "
        + ("hold." if met else "are not met."))


def cut_verdict(long_way: float, crossing: float, n_pairs: int) -> tuple[bool, str]:
    """Whether the one-dimensional chart's share of long-way paths matches the share of
    pairs whose short arc crosses its cut, within two binomial standard errors (at
    least 0.05), and a sentence saying so."""
    tolerance = max(0.05, 2 * math.sqrt(max(crossing * (1 - crossing), 1e-12) / n_pairs))
    matches = abs(long_way - crossing) <= tolerance
    if matches:
        text = (f"the one-dimensional chart sends {long_way:.0%} of its paths the long way "
                f"round, about the {crossing:.0%} of pairs whose short arc crosses its cut")
    elif long_way < crossing:
        text = (f"the one-dimensional chart sends only {long_way:.0%} of its paths the long "
                f"way round, fewer than the {crossing:.0%} of pairs whose short arc crosses "
                "its cut")
    else:
        text = (f"the one-dimensional chart sends {long_way:.0%} of its paths the long way "
                f"round, more than the {crossing:.0%} of pairs whose short arc crosses its "
                "cut")
    return matches, text
