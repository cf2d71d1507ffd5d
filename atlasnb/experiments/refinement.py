"""Graph, straight and refined geodesics measured side by side, and the graph's excess
length as the graph grows, computed once per trained model and kept in its run folder.

Used by {ref}`sec-experiments` (section "Shorter than the straight line") and
derived in {ref}`sec-graph-refinement`. For the test pairs and graph of the geodesic
experiment (:mod:`atlasnb.experiments.geodesic`), every pair gets three paths, all
measured at one latent resolution (:func:`atlasnb.lengths.measure`, at
:func:`atlasnb.lengths.graph_resolution`), so that no path is favoured by being cut
more finely:

- the graph geodesic of Algorithm 1, as the geodesic experiment found it;
- the straight latent segment between the two encodings
  (:func:`atlasnb.geodesics.straight_path`; none when no chart has psi > eps at both);
- the graph geodesic refined by :func:`atlasnb.geodesics.refine_all`.

How data-like each path stays is measured on frames equally spaced along it
(:func:`atlasnb.metrics.data_likeness`). :func:`length_scan` shows how the graph's
excess length over :func:`scan_reference` falls as the graph grows.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from atlasnb import geodesics, lengths
from atlasnb.experiments.cache import cached
from atlasnb.experiments.geodesic import (
    chart_changes,
    end_distance,
    geodesic_experiment,
    graph_points,
    interpolation_record,
    load_or_build_graph,
    path_length,
    search_pairs,
    test_pairs,
)
from atlasnb.experiments.settings import GraphSettings, RefineSettings
from atlasnb.metrics import data_likeness
from atlasnb.runs import Run

#: Bumped whenever the layout of a cached ``refinement-<key>`` result changes.
RESULT_VERSION = 3
#: Bumped whenever the layout of a cached ``refinement-scan-<key>`` result changes.
SCAN_VERSION = 3
KINDS = ("graph", "straight", "refined")


def refinement_experiment(run: Run, graph_settings: GraphSettings,
                          settings: RefineSettings, progress: bool = False) -> dict:
    """Graph, straight and refined lengths of every test pair of ``run``'s model,
    with timings and data-likeness, cached (:func:`atlasnb.experiments.cache.cached`).

    The graph paths are those of :func:`atlasnb.experiments.geodesic.geodesic_experiment`
    (computed first if missing), never searched again. Returns a dict of per-pair lists
    (NaN where the graph joins no path or no chart holds both end points): ``graph``,
    ``straight``, ``refined`` (lengths at one resolution, :func:`atlasnb.lengths.measure`),
    ``graph_algorithm1`` (the graph path's own eq. (10) length), ``end_distance``
    (between the two end images), ``refine_seconds``, ``chart_changes``, and for each
    kind ``<kind>_nearest`` and ``<kind>_reconstruction`` (medians over the path's
    frames); ``frames``: for the first ``n_shown`` pairs, each kind's frames, chart
    labels and ``cross`` (True on a chart change).
    """
    def compute() -> dict:
        found = geodesic_experiment(run, graph_settings, progress)["paths"]
        graph, _ = load_or_build_graph(run, graph_settings, progress)
        return _measure(run, graph, found, graph_settings, settings)

    return cached(run.path, "refinement", {"graph": graph_settings, "refine": settings},
                  compute, run.model, RESULT_VERSION, tensors=("frames",))


def _measure(run: Run, graph, found: list, graph_settings: GraphSettings,
             settings: RefineSettings) -> dict:
    reference = graph_points(run.config.dataset, graph_settings)
    starts, ends = test_pairs(run.config.dataset, graph_settings)
    resolution = lengths.graph_resolution(graph)
    columns = {name: [] for name in ("graph", "straight", "refined", "graph_algorithm1",
                                     "end_distance", "refine_seconds", "chart_changes")}
    columns.update({f"{kind}_{what}": [] for kind in KINDS
                    for what in ("nearest", "reconstruction")})
    shown = []
    # All pairs refined in one batch; the refinement time is its share.
    started = time.perf_counter()
    solved = [p for p in found if p is not None]
    refined = iter(geodesics.refine_all(graph, solved, points_per_run=settings.points_per_run,
                                        optimiser=settings.optimiser,
                                        n_iterations=settings.n_iterations)
                   if solved else [])
    share = (time.perf_counter() - started) / max(1, len(solved))
    for i, (start, end) in enumerate(zip(starts, ends)):
        paths = {"graph": found[i], "refined": next(refined) if found[i] is not None else None,
                 "straight": geodesics.straight_path(run.model, start, end, graph.eps,
                                                     graph.n_steps)}
        columns["graph_algorithm1"].append(path_length(found[i]))
        columns["end_distance"].append(end_distance(found[i]))
        columns["refine_seconds"].append(share if found[i] is not None else float("nan"))
        columns["chart_changes"].append(chart_changes(found[i]))
        row = {}
        for kind, path in paths.items():
            columns[kind].append(path_length(lengths.measure(run.model, path, resolution))
                                 if path is not None else float("nan"))
            if path is None:
                columns[f"{kind}_nearest"].append(float("nan"))
                columns[f"{kind}_reconstruction"].append(float("nan"))
                continue
            steps = geodesics.interpolate(graph, path, settings.n_frames)
            nearest, error = data_likeness(run.model, steps.images, reference)
            columns[f"{kind}_nearest"].append(float(np.median(nearest)))
            columns[f"{kind}_reconstruction"].append(float(np.median(error)))
            row[kind] = {**interpolation_record(i, steps), "nearest": nearest.tolist()}
        if len(shown) < settings.n_shown and len(row) == len(KINDS):
            shown.append({"pair": i, **row})
    return {**columns, "model": run.config.model_name, "n_charts": run.config.n_charts,
            "resolution": resolution, "settings": dataclasses.asdict(settings),
            "graph_settings": dataclasses.asdict(graph_settings), "run": str(run.path),
            "frames": shown}


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


def scan_reference(result: dict) -> np.ndarray:
    """The length the scan divides by, one per pair: the shorter of the refined and
    straight lengths of :func:`refinement_experiment`'s ``result`` (NaN where neither)."""
    return np.fmin(np.asarray(result["straight"], dtype=float),
                   np.asarray(result["refined"], dtype=float))


def length_scan(run: Run, graph_settings: GraphSettings, settings: RefineSettings,
                reference: np.ndarray | None = None, progress: bool = False) -> pd.DataFrame:
    """The graph geodesic's length for the first ``scan_pairs`` test pairs on graphs
    of each size in ``scan_points`` (lazy graphs built in memory; at the experiment's own
    size, the geodesic experiment's lengths), divided by ``reference`` (one length per
    pair; None: :func:`scan_reference` of the refinement experiment). Cached with the
    reference in its key. Returns one row per (n_points, pair): ``graph``,
    ``reference``, ``excess`` (graph / reference - 1)."""
    if reference is None:
        reference = scan_reference(refinement_experiment(run, graph_settings, settings,
                                                         progress))
    reference = np.asarray(reference, dtype=float)
    if reference.ndim != 1:
        raise ValueError(f"reference must hold one length per test pair (1-d), got shape "
                         f"{reference.shape}")
    n_pairs = min(settings.scan_pairs, len(reference))

    def compute() -> dict:
        starts, ends = test_pairs(run.config.dataset, graph_settings)
        rows = []
        for n_points in settings.scan_points:
            sized = dataclasses.replace(graph_settings, n_points=n_points)
            if n_points == graph_settings.n_points:  # the geodesic experiment's graph
                found = geodesic_experiment(run, sized, progress)["lengths"][:n_pairs]
            else:  # built in memory: only the lengths are kept
                graph = geodesics.build_atlas_graph(
                    run.model, graph_points(run.config.dataset, sized), k=sized.k,
                    eps=sized.eps, n_steps=sized.n_steps, progress=progress)
                found = [path_length(p) for p in search_pairs(graph, starts[:n_pairs],
                                                              ends[:n_pairs], sized.insert)]
            rows += [{"n_points": n_points, "pair": i, "graph": float(length),
                      "reference": float(reference[i]),
                      "excess": float(length / reference[i] - 1)}
                     for i, length in enumerate(found)]
        return {"rows": rows, "settings": dataclasses.asdict(settings),
                "graph_settings": dataclasses.asdict(graph_settings)}

    result = cached(run.path, "refinement-scan", {"graph": graph_settings, "refine": settings,
                                                 "reference": reference[:n_pairs]},
                    compute, run.model, SCAN_VERSION)
    return pd.DataFrame(result["rows"], columns=["n_points", "pair", "graph", "reference",
                                                 "excess"])
