"""Graph, straight and refined geodesics measured side by side, computed once per
trained model and kept in its run folder.

Used by {ref}`sec-experiments` (section "Shorter than the straight line") and
derived in {ref}`sec-graph-refinement`. For the experiments chapter's test
pairs (:func:`atlasnb.experiments.test_pairs`) and graph
(:func:`atlasnb.experiments.load_or_build_graph`), every pair gets three paths,
all measured at one latent resolution (:func:`atlasnb.lengths.measure`, at
:func:`atlasnb.lengths.graph_resolution`), so that no path is favoured by being
cut more finely:

- the graph geodesic of Algorithm 1 (:func:`atlasnb.geodesics.shortest_path`);
- the straight latent segment between the two encodings, in the chart that
  holds both end points most confidently (:func:`straight_path`; none when no
  chart has psi > eps at both);
- the graph geodesic refined by :func:`atlasnb.geodesics.refine`.

How data-like each path stays is measured on frames equally spaced along it:
the pixel distance of each frame to its nearest graph image (encoded training
data), and its reconstruction error through the model's encoder.
:func:`length_scan` shows how the graph's excess length falls as the graph grows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from atlasnb import geodesics, lengths, runs
from atlasnb.checks import check_int, check_int_sequence, check_optional_int, replace_settings
from atlasnb.experiments import GraphSettings, graph_points, load_or_build_graph, test_pairs
from atlasnb.fingerprint import model_fingerprint
from atlasnb.geodesics._common import _evaluating, _model_device, _psi_and_codes
from atlasnb.geodesics.refine import OPTIMISERS, POINTS_PER_RUN
from atlasnb.runs import Run, atomic_torch_save, atomic_write_json

#: Bumped whenever the layout of the cached ``refinement-<key>`` files changes.
RESULT_VERSION = 2
KINDS = ("graph", "straight", "refined")


@dataclass(frozen=True)
class RefineSettings:
    """The refinement's parameters (see :func:`atlasnb.geodesics.refine`) and what
    is measured: ``n_frames`` frames per path for the data-likeness measures, the
    frames of the first ``n_shown`` pairs kept for a figure, and the graph sizes
    ``scan_points`` of :func:`length_scan` on its first ``scan_pairs`` pairs."""

    points_per_run: int = POINTS_PER_RUN
    optimiser: str = "lbfgs"
    n_iterations: int | None = None
    n_frames: int = 10
    n_shown: int = 3
    scan_points: tuple = (1000, 2000, 8000, 30000)
    scan_pairs: int = 20

    def __post_init__(self):
        minimums = {"points_per_run": 2, "n_iterations": 0, "n_frames": 2, "n_shown": 0,
                    "scan_pairs": 0}
        for name, minimum in minimums.items():
            check = check_optional_int if name == "n_iterations" else check_int
            object.__setattr__(self, name, check(name, getattr(self, name), minimum))
        if self.optimiser not in OPTIMISERS:
            raise ValueError(f"optimiser must be one of {tuple(OPTIMISERS)}, "
                             f"got {self.optimiser!r}")
        object.__setattr__(self, "scan_points",
                           check_int_sequence("scan_points", self.scan_points, 2))
        if not self.scan_points:
            raise ValueError("scan_points must hold at least one graph size >= 2, got ()")

    def key(self, graph: GraphSettings) -> str:
        """A short hash of these settings, the graph's and the result layout."""
        fields = {"refine": dataclasses.asdict(self), "graph": dataclasses.asdict(graph),
                  "version": RESULT_VERSION}
        return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list)
                              .encode()).hexdigest()[:10]


#: Refinement settings of each scale.
REFINE_SCALES = {
    "paper": RefineSettings(),
    "quick": RefineSettings(),
    "smoke": RefineSettings(n_iterations=5, n_frames=6, n_shown=2, scan_points=(60, 120),
                            scan_pairs=3),
}


def refine_settings(scale: str, **overrides) -> RefineSettings:
    """The refinement settings of ``scale``, with overrides."""
    if scale not in REFINE_SCALES:
        raise ValueError(f"scale must be one of {tuple(REFINE_SCALES)}, got {scale!r}")
    return replace_settings(REFINE_SCALES[scale], **overrides)


def straight_path(model, start: torch.Tensor, end: torch.Tensor, eps: float,
                  n_steps: int, resolution: float | None = None
                  ) -> geodesics.GeodesicPath | None:
    """The straight latent segment F_y(start) -> F_y(end) as a two-point path, in
    the chart y with the largest min(psi_y(start), psi_y(end)) among those where
    both exceed ``eps``; None if no chart holds both. Measured by eq. (10) with
    ``n_steps`` steps, or, given ``resolution``, by :func:`atlasnb.lengths.measure`."""
    x = torch.stack([start, end])
    with _evaluating(model):
        psi, codes = _psi_and_codes(model, x, batch_size=2)
        both = psi.min(axis=0)
        if not (both > eps).any():
            return None
        y = int(np.argmax(both))
        latents = codes[:, y]
        images = model.decode(latents.to(_model_device(model)), y).cpu()
    path = geodesics.GeodesicPath(length=0.0, nodes=np.array([-1, -1]), charts=np.array([y, y]),
                                  latents=latents, images=images,
                                  data_indices=np.array([-1, -1]),
                                  steps=[np.zeros(n_steps)], cross=np.array([False]))
    if resolution is not None:
        return lengths.measure(model, path, resolution)
    return geodesics.measure_path(model, path, n_steps)


def data_likeness(model, frames: torch.Tensor, reference: torch.Tensor) -> tuple:
    """(nearest, reconstruction): for each frame, the pixel distance to its nearest
    ``reference`` image, and ||f - G_y(F_y(f))|| with y its most confident chart."""
    flat = frames.flatten(1).double()
    nearest = torch.cdist(flat, reference.flatten(1).double()).min(dim=1).values
    with _evaluating(model):
        psi, codes = _psi_and_codes(model, frames, batch_size=len(frames))
        charts = torch.from_numpy(psi.argmax(axis=1))
        rebuilt = model.decode(codes[torch.arange(len(frames)), charts], charts)
    error = (rebuilt.flatten(1).double() - flat).norm(dim=1)
    return nearest.numpy(), error.numpy()


def refinement_experiment(run: Run, graph_settings: GraphSettings,
                          settings: RefineSettings, progress: bool = False) -> dict:
    """Graph, straight and refined lengths of every test pair of ``run``'s model,
    with timings and data-likeness, cached in ``refinement-<key>.json`` / ``.pt``.

    Returns a dict of per-pair lists (NaN where the graph joins no path or no
    chart holds both end points): ``graph``, ``straight``, ``refined`` (lengths at
    one resolution, :func:`atlasnb.lengths.measure`), ``graph_algorithm1`` (the
    graph path's own eq. (10) length), ``end_distance`` (between the two end images),
    ``refine_seconds``, ``chart_changes``, and for each kind ``<kind>_nearest``
    and ``<kind>_reconstruction`` (medians over the path's frames); ``frames``:
    for the first ``n_shown`` pairs, each kind's frames and chart labels.
    """
    json_path = run.path / f"refinement-{settings.key(graph_settings)}.json"
    frames_path = json_path.with_suffix(".pt")
    cached = runs.read_cached(json_path, tensors="frames", model=run.model)
    if cached is not None:
        return cached
    graph, _ = load_or_build_graph(run, graph_settings, progress)
    reference = graph_points(run.config.dataset, graph_settings)
    starts, ends = test_pairs(run.config.dataset, graph_settings)
    resolution = lengths.graph_resolution(graph)
    columns = {name: [] for name in ("graph", "straight", "refined", "graph_algorithm1",
                                     "end_distance", "refine_seconds", "chart_changes")}
    columns.update({f"{kind}_{what}": [] for kind in KINDS
                    for what in ("nearest", "reconstruction")})
    shown = []
    # All pairs searched and refined in one batch; the refinement time is its share.
    found = geodesics.shortest_paths(graph, starts, ends, insert=graph_settings.insert,
                                     disconnected="none")
    started = time.perf_counter()
    solved = [p for p in found if p is not None]
    refined = iter(geodesics.refine_all(graph, solved, points_per_run=settings.points_per_run,
                                        optimiser=settings.optimiser,
                                        n_iterations=settings.n_iterations)
                   if solved else [])
    share = (time.perf_counter() - started) / max(1, len(solved))
    for i, (start, end) in enumerate(zip(starts, ends)):
        paths = {kind: None for kind in KINDS}
        paths["graph"] = found[i]
        seconds = float("nan")
        if paths["graph"] is not None:
            paths["refined"] = next(refined)
            seconds = share
        paths["straight"] = straight_path(run.model, start, end, graph.eps, graph.n_steps)
        joined = paths["graph"] is not None
        columns["graph_algorithm1"].append(float(paths["graph"].length) if joined
                                           else float("nan"))
        columns["end_distance"].append(float((paths["graph"].images[0].double()
                                              - paths["graph"].images[-1].double()).norm())
                                       if joined else float("nan"))
        columns["refine_seconds"].append(seconds)
        columns["chart_changes"].append(int(paths["graph"].cross.sum())
                                        if paths["graph"] is not None else -1)
        row = {}
        for kind, path in paths.items():
            columns[kind].append(float(lengths.measure(run.model, path, resolution).length)
                                 if path is not None else float("nan"))
            if path is None:
                columns[f"{kind}_nearest"].append(float("nan"))
                columns[f"{kind}_reconstruction"].append(float("nan"))
                continue
            steps = geodesics.interpolate(graph, path, settings.n_frames)
            nearest, error = data_likeness(run.model, steps.images, reference)
            columns[f"{kind}_nearest"].append(float(np.median(nearest)))
            columns[f"{kind}_reconstruction"].append(float(np.median(error)))
            row[kind] = {"images": steps.images.cpu(), "labels": list(steps.labels),
                         "nearest": nearest.tolist()}
        if len(shown) < settings.n_shown and len(row) == len(KINDS):
            shown.append({"pair": i, **row})
    result = {**columns, "model": run.config.model_name, "n_charts": run.config.n_charts,
              "resolution": resolution, "settings": dataclasses.asdict(settings),
              "graph_settings": dataclasses.asdict(graph_settings), "run": str(run.path),
              "version": RESULT_VERSION, "fingerprint": model_fingerprint(run.model)}
    atomic_torch_save(frames_path, shown)
    atomic_write_json(json_path, result)
    result["frames"] = shown
    return result


def lengths_table(result: dict) -> pd.DataFrame:
    """One row per test pair: the three lengths, their ratios to the straight
    segment, the refinement time and the data-likeness medians."""
    table = pd.DataFrame({k: v for k, v in result.items()
                          if isinstance(v, list) and k != "frames"})
    table.index.name = "pair"
    for kind in ("graph", "refined"):
        table[f"{kind} / straight"] = table[kind] / table["straight"]
    table["graph / refined"] = table["graph"] / table["refined"]
    for kind in KINDS:  # the stretch: length over the distance between the end images
        table[f"{kind} stretch"] = table[kind] / table["end_distance"]
    return table


def length_scan(run: Run, graph_settings: GraphSettings, settings: RefineSettings,
                reference: np.ndarray, progress: bool = False) -> pd.DataFrame:
    """The graph geodesic's length for the first ``scan_pairs`` test pairs on graphs
    of each size in ``scan_points`` (lazy graphs built in memory, the chapter's own
    size read from its cache), divided by ``reference`` (one length per pair, e.g. the shorter of
    the refined and straight lengths). Cached in ``refinement-scan-<key>.json``.
    Returns one row per (n_points, pair): ``graph``, ``reference``, ``excess``
    (graph / reference - 1)."""
    path = run.path / f"refinement-scan-{settings.key(graph_settings)}.json"
    cached = runs.read_cached(path, keys=("rows",), model=run.model)
    if cached is not None:
        return pd.DataFrame(cached["rows"])
    n_pairs = min(settings.scan_pairs, len(reference))
    starts, ends = test_pairs(run.config.dataset, graph_settings)
    rows = []
    for n_points in settings.scan_points:
        sized = dataclasses.replace(graph_settings, n_points=n_points)
        if n_points == graph_settings.n_points:  # the chapter's graph, cached already
            graph, _ = load_or_build_graph(run, sized, progress)
        else:  # built in memory: only the lengths are kept
            graph = geodesics.build_atlas_graph(run.model, graph_points(run.config.dataset,
                                                                        sized),
                                                k=sized.k, eps=sized.eps,
                                                n_steps=sized.n_steps, progress=progress)
        for i in range(n_pairs):
            try:
                length = geodesics.shortest_path(graph, starts[i], ends[i],
                                                 insert=sized.insert).length
            except geodesics.DisconnectedGraphError:
                length = float("nan")
            rows.append({"n_points": n_points, "pair": i, "graph": float(length),
                         "reference": float(reference[i]),
                         "excess": float(length / reference[i] - 1)})
    atomic_write_json(path, {"rows": rows, "settings": dataclasses.asdict(settings),
                             "graph_settings": dataclasses.asdict(graph_settings),
                             "version": RESULT_VERSION,
                             "fingerprint": model_fingerprint(run.model)})
    return pd.DataFrame(rows)
