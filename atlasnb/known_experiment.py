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

from atlasnb import geodesics, manifolds, runs
from atlasnb.book.configs import BookConfig
from atlasnb.data import load_images
from atlasnb.experiments import GraphSettings, load_or_build_graph
from atlasnb.runs import Run, atomic_write_json

__all__ = ["MANIFOLD_POINTS", "MANIFOLD_GRAPH_SCALES", "chart_overlaps", "codes_table",
           "graph_settings",
           "long_way_round", "manifold_experiment", "manifold_pairs", "summary"]

RESULT_VERSION = 1
#: The models of the experiment: (data set, m, d); d None is the paper's d = 8.
MANIFOLD_MODELS = (("circle", 1, 1), ("circle", 1, None), ("circle", 2, 1), ("circle", 4, 1),
                   ("torus", 1, 2), ("torus", 1, None), ("torus", 4, 2), ("torus", 8, 2))
MANIFOLD_POINTS = tuple(BookConfig(dataset, m, 0, () if d is None else (("latent_dim", d),))
                        for dataset, m, d in MANIFOLD_MODELS)
#: Algorithm 1's settings on the manifolds: N points (a circle needs fewer than MNIST).
MANIFOLD_GRAPH_SCALES = {
    "paper": GraphSettings(n_interpolations=0),
    "quick": GraphSettings(n_points=1000, n_interpolations=0),
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


def manifold_pairs(dataset: str, settings: GraphSettings):
    """(starts, ends, start parameters, end parameters) of the test pairs."""
    images, parameters = load_images(dataset, "test", limit=2 * settings.n_pairs,
                                     seed=settings.seed + 1)
    n = settings.n_pairs
    return images[:n], images[n:2 * n], parameters[:n].numpy(), parameters[n:2 * n].numpy()


def true_distances(dataset: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The exact distances of :mod:`atlasnb.manifolds` between parameter rows."""
    space = manifolds.manifold(dataset)
    if dataset == "circle":
        return space.distance(a[:, 0], b[:, 0])
    return space.distance(a, b)


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


def _key(run: Run, settings: GraphSettings) -> str:
    fields = dict(dataclasses.asdict(settings), version=RESULT_VERSION, frames=N_FRAMES,
                  orbit=ORBIT_POINTS, points=POINTS_PER_RUN, iterations=REFINE_ITERATIONS)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]


def manifold_experiment(run: Run, settings: GraphSettings, progress: bool = False) -> dict:
    """Per-pair graph and refined lengths, true distances and (circle) the long way
    round, for ``run``'s model, cached in ``manifold-<key>.json``; also the codes and
    chart of every test image of the pairs (for the figures)."""
    path = run.path / f"manifold-{_key(run, settings)}.json"
    cached = runs.read_cached(path)
    if cached is not None:
        return cached
    dataset = run.config.dataset
    graph, _ = load_or_build_graph(run, settings, progress)
    starts, ends, a, b = manifold_pairs(dataset, settings)
    truth = true_distances(dataset, a, b)
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
              "settings": dataclasses.asdict(settings), "version": RESULT_VERSION}
    atomic_write_json(path, result)
    return result


@torch.inference_mode()
def codes_table(run: Run, n: int = 2000, seed: int = 0) -> dict:
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
