"""The geodesic experiments of section 4: graphs, path lengths and interpolations,
computed once per trained model and kept in its run folder.

Used by {ref}`sec-graph-geodesics` and {ref}`sec-experiments`. The settings of
the paper are N = 2000 data points, k = 20 neighbours, n = 15 steps of eq. (10)
and 100 random test pairs; smaller scales use fewer points, never another
algorithm.

- :func:`geodesic_experiment`: one model's graph, path lengths and interpolations;
- :func:`collect`: every model of a grid of data sets and chart counts, as tables;
- :func:`atlasnb.table1.table1`: Table 1 with the paper's value beside ours.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from atlasnb import geodesics, runs
from atlasnb.checks import check_int, replace_settings
from atlasnb.config import make_config
from atlasnb.data import load_images
from atlasnb.fingerprint import ModelMismatchError, mismatch, model_fingerprint
from atlasnb.geodesics._common import _check_eps
from atlasnb.runs import Run, atomic_torch_save, atomic_write_json

# Table 1's helpers stay importable from here, where the book has always found them.
from atlasnb.table1 import TABLE1_FORMATS, TABLE1_ROWS, column_name, format_table1, table1  # noqa: F401

#: Bumped whenever the layout of the cached ``geodesics-<key>`` files changes, so
#: that an old cache is never read as a new one.
RESULT_VERSION = 4
#: How the book names each data set in titles and tables.
DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


@dataclass(frozen=True)
class GraphSettings:
    """Algorithm 1's parameters in an experiment (eps None: the package default)."""

    n_points: int = 2000
    k: int = 20
    n_steps: int = 15
    eps: float | None = None
    n_pairs: int = 100
    n_interpolations: int = 4
    interpolation_points: int = 10
    seed: int = 0
    insert: str = "own"

    def __post_init__(self):
        minimums = {"n_points": 1, "k": 1, "n_steps": 1, "n_pairs": 1,
                    "interpolation_points": 2, "n_interpolations": 0, "seed": 0}
        for name, minimum in minimums.items():
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum))
        if self.eps is not None:
            object.__setattr__(self, "eps", _check_eps(self.eps))
        if self.insert not in geodesics.INSERT_MODES:
            raise ValueError(f"insert must be one of {geodesics.INSERT_MODES}, got "
                             f"{self.insert!r}")
        if self.n_interpolations > self.n_pairs:
            raise ValueError(f"n_interpolations ({self.n_interpolations}) must be at most "
                             f"n_pairs ({self.n_pairs})")

    def key(self, part: str) -> str:
        """A short hash naming a cache file: ``part`` "graph" hashes only the fields
        the graph depends on; "all" hashes every field and the result layout."""
        if part not in ("graph", "all"):
            raise ValueError(f"part must be 'graph' or 'all', got {part!r}")
        fields = dataclasses.asdict(self)
        if part == "graph":
            fields = {name: fields[name] for name in ("n_points", "k", "n_steps", "eps", "seed")}
            fields["layout"] = geodesics.graph.GRAPH_LAYOUT
        else:
            fields["version"] = RESULT_VERSION
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]


#: Graph settings of each scale: section 4 of the paper at ``paper`` and ``quick``
#: (lazy edge weights make N = 2000 and 100 pairs cheap).
GRAPH_SCALES = {
    "paper": GraphSettings(),
    "quick": GraphSettings(),
    "smoke": GraphSettings(n_points=120, k=6, n_pairs=6, n_interpolations=2,
                           interpolation_points=6),
}


def graph_settings(scale: str, **overrides) -> GraphSettings:
    """The graph settings of ``scale``, with overrides."""
    if scale not in GRAPH_SCALES:
        raise ValueError(f"scale must be one of {tuple(GRAPH_SCALES)}, got {scale!r}")
    return replace_settings(GRAPH_SCALES[scale], **overrides)


def graph_points(dataset: str, settings: GraphSettings) -> torch.Tensor:
    """The N training images Algorithm 1 encodes (the same for every model)."""
    images, _ = load_images(dataset, "train", limit=settings.n_points, seed=settings.seed)
    return images


def test_pairs(dataset: str, settings: GraphSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_pairs`` start and end images from the test set (the same for every model)."""
    images, _ = load_images(dataset, "test", limit=2 * settings.n_pairs, seed=settings.seed + 1)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(settings.seed))
    images = images[order]
    return images[: settings.n_pairs], images[settings.n_pairs:]


def graph_path(run: Run, settings: GraphSettings):
    """The file holding ``run``'s graph for ``settings`` (see :func:`load_or_build_graph`)."""
    return run.path / f"graph-{settings.key('graph')}.pt"


def save_graph(run: Run, settings: GraphSettings, graph: geodesics.AtlasGraph,
               statistics: dict) -> None:
    """Write the graph as plain tensors (:meth:`~atlasnb.geodesics.AtlasGraph.to_arrays`,
    with every edge weight evaluated so far) and its statistics, atomically."""
    atomic_torch_save(graph_path(run, settings),
                      {"graph": graph.to_arrays(), "statistics": statistics,
                       "settings": dataclasses.asdict(settings)})


def _read_graph(run: Run, path, extra: str | None = None):
    """(graph, ``saved[extra]``) from the graph file ``path``, the graph attached to
    ``run``'s model; None when the file is missing, or (with a warning naming it)
    damaged or made by another model (its fingerprint differs), so that the caller builds
    the graph again and overwrites it."""
    if not path.exists():
        return None
    try:
        saved = torch.load(path, weights_only=True)
        graph = geodesics.AtlasGraph.from_arrays(run.model, saved["graph"])
        return graph, (saved[extra] if extra else None)
    except ModelMismatchError:  # e.g. copied from another run folder
        warnings.warn(f"{path} holds a graph of another model than this run's "
                      f"({mismatch(saved['graph']['fingerprint'], run.model)}); building "
                      "the graph again", RuntimeWarning, stacklevel=3)
        return None
    except Exception as error:  # empty, truncated, foreign
        warnings.warn(f"{path} cannot be read ({runs.first_line(error)}); building the "
                      "graph again", RuntimeWarning, stacklevel=3)
        return None


def load_or_build_graph(run: Run, settings: GraphSettings, progress: bool = True):
    """The lazy graph of Algorithm 1 for ``run``'s model, built once and kept in the
    run folder as plain tensors (no pickled objects; read with
    ``torch.load(weights_only=True)``) together with the edge weights evaluated
    so far. Returns (graph, statistics); the statistics hold the build's time and
    decoded points."""
    saved = _read_graph(run, graph_path(run, settings), "statistics")
    if saved is not None:
        return saved
    x = graph_points(run.config.dataset, settings)
    started = time.perf_counter()
    graph = geodesics.build_atlas_graph(run.model, x, k=settings.k, eps=settings.eps,
                                        n_steps=settings.n_steps, progress=progress)
    build_seconds = time.perf_counter() - started
    statistics = geodesics.graph_statistics(graph)
    statistics.update(build_seconds=build_seconds, decoded_points=graph.n_decoded,
                      eps=graph.eps, k=graph.k, n_steps=graph.n_steps, n_points=len(x))
    save_graph(run, settings, graph, statistics)
    return graph, statistics


def load_or_build_eager_graph(run: Run, settings: GraphSettings,
                              progress: bool = True) -> geodesics.AtlasGraph:
    """The graph of :func:`load_or_build_graph` with every eq. (10) weight evaluated:
    the eager graph of Algorithm 1, against which {ref}`sec-graph-geodesics` checks
    the lazy search. Made from a copy of the lazy graph (which keeps only the weights
    its searches evaluated) and kept beside it in the run folder as plain tensors, so
    it is decoded once; a damaged file is named and made again."""
    path = run.path / f"graph-eager-{settings.key('graph')}.pt"
    saved = _read_graph(run, path)
    if saved is not None:
        return saved[0]
    graph, _ = load_or_build_graph(run, settings, progress)
    eager = geodesics.AtlasGraph.from_arrays(run.model, graph.to_arrays())
    eager.evaluate_all(progress=progress)
    atomic_torch_save(path, {"graph": eager.to_arrays(),
                             "settings": dataclasses.asdict(settings)})
    return eager


def geodesic_experiment(run: Run, settings: GraphSettings, progress: bool = True,
                        insert: str | None = None) -> dict:
    """Table 1's graph numbers, Figure 3a's path lengths and Figure 3b's interpolations
    for one model, cached in ``geodesics-<key>.json`` / ``.pt`` in the run folder.

    Every one of the ``n_pairs`` test pairs of :func:`test_pairs` is joined by
    :func:`atlasnb.geodesics.shortest_path` with ``settings.insert`` (``"own"``:
    each test image in its most confident chart, as the paper does; ``"all"``: in
    every chart with psi > eps; the ``insert`` argument, if given, replaces it and
    so names another cached result). The edges the searches evaluate are saved with
    the graph for later experiments. Returns a dict with

    - ``statistics``: the graph's numbers (:func:`atlasnb.geodesics.graph_statistics`,
      with the build time, the points decoded and eps);
    - ``lengths``: one path length per pair, NaN where the two end points fell in
      different connected components (``failed_pairs`` lists those pairs);
    - ``end_distances``: the straight-line distance between the two decoded end
      images of each path (NaN for a failed pair), a lower bound of its length;
    - ``chart_changes``: the cross-chart segments of each path (-1 for a failed pair);
    - ``query_decoded`` and ``edges_evaluated``: points decoded and edges evaluated
      by all the searches together;
    - ``interpolations``: for each of the first ``n_interpolations`` pairs that
      has a path, a dict with ``pair`` (its index), ``images``
      (``interpolation_points`` decoded images), ``labels`` (the chart of each, from
      1, 'i/j' on a chart change) and ``charts`` (from 0). Every model gets the same
      pairs, so Figure 3b can set models side by side.

    Used in {ref}`sec-experiments`.
    """
    if insert is not None:
        settings = replace_settings(settings, insert=insert)
    json_path = run.path / f"geodesics-{settings.key('all')}.json"
    images_path = json_path.with_suffix(".pt")
    cached = runs.read_cached(json_path, tensors="interpolations", model=run.model)
    if cached is not None:
        return cached
    graph, statistics = load_or_build_graph(run, settings, progress)
    starts, ends = test_pairs(run.config.dataset, settings)
    lengths, distances, changes, failed, interpolations = [], [], [], [], []
    decoded, evaluated, exact_before = 0, 0, graph.n_exact
    for i, (start, end) in enumerate(zip(starts, ends)):
        try:
            path = geodesics.shortest_path(graph, start, end, insert=settings.insert)
        except geodesics.DisconnectedGraphError:
            lengths.append(float("nan"))
            distances.append(float("nan"))
            changes.append(-1)
            failed.append(i)
            continue
        decoded += path.n_decoded
        evaluated += path.n_evaluated
        lengths.append(float(path.length))
        distances.append(float((path.images[0].double() - path.images[-1].double()).norm()))
        changes.append(int(path.cross.sum()))
        if i < settings.n_interpolations:
            steps = geodesics.interpolate(graph, path, settings.interpolation_points)
            interpolations.append({"pair": i, "images": steps.images.cpu(),
                                   "labels": list(steps.labels),
                                   "charts": [int(y) for y in steps.charts]})
    if graph.n_exact > exact_before:
        save_graph(run, settings, graph, statistics)
    result = {"statistics": statistics, "lengths": lengths, "end_distances": distances,
              "chart_changes": changes, "failed_pairs": failed,
              "query_decoded": decoded, "edges_evaluated": evaluated,
              "settings": dataclasses.asdict(settings), "model": run.config.model_name,
              "run": str(run.path), "version": RESULT_VERSION,
              "fingerprint": model_fingerprint(run.model)}
    atomic_torch_save(images_path, interpolations)
    atomic_write_json(json_path, result)
    result["interpolations"] = interpolations
    return result


@dataclass
class Collection:
    """The numbers of section 4 for a grid of data sets and chart counts.

    Attributes
    ----------
    summary: one row per model, indexed by (dataset, n_charts): its test metrics
        (:func:`atlasnb.metrics.evaluate`), graph statistics and path summary.
    lengths: one row per model and test pair (tidy): ``dataset``, ``n_charts``,
        ``model``, ``pair``, ``length`` (NaN for a failed pair), ``end_distance``,
        ``chart_changes``.
    interpolations: (dataset, n_charts) -> the model's stored interpolations
        (see :func:`geodesic_experiment`).
    settings: the graph settings used.
    """

    summary: pd.DataFrame
    lengths: pd.DataFrame
    interpolations: dict
    settings: GraphSettings


def summary_row(run: Run, result: dict) -> dict:
    """One model's row of :attr:`Collection.summary`, from its run and experiment."""
    statistics, metrics = result["statistics"], run.metrics
    lengths = np.asarray(result["lengths"], dtype=float)
    solved = np.isfinite(lengths)
    return {
        "dataset": run.config.dataset, "n_charts": run.config.n_charts,
        "model": run.config.model_name, "width": metrics["width"],
        "latent_dim": metrics["latent_dim"], "parameters": metrics["parameters"],
        "reconstruction_error": metrics["reconstruction_error"],
        "confidence_median": metrics["confidence_median"],
        "confidence_histogram": metrics["confidence_histogram"],
        "charts_per_label_median": float(np.median(metrics["charts_per_label"])),
        "n_points": statistics["n_points"], "eps": statistics["eps"],
        "nodes": statistics["nodes"], "edges": statistics["edges"],
        "cross_chart_edges": statistics["cross_chart_edges"],
        "components": statistics["components"],
        "largest_component": statistics["largest_component"],
        "hop_diameter": statistics["hop_diameter"],
        "build_seconds": statistics["build_seconds"],
        "pairs": len(lengths), "failed_pairs": int((~solved).sum()),
        "length_median": float(np.median(lengths[solved])) if solved.any() else float("nan"),
        "run": str(run.path),
    }


def collect(scale: str, datasets, chart_counts, seed: int = 0,
            settings: GraphSettings | None = None, progress: bool = False,
            insert: str | None = None, **config_overrides) -> Collection:
    """Load (or train, if missing) the model of every data set and chart count, run
    :func:`geodesic_experiment` on it, and gather the results.

    Models come from :func:`atlasnb.runs.load_or_train` with
    ``make_config(scale, dataset, n_charts=m, seed=seed, **config_overrides)``, so
    models trained by other chapters or a sweep are reused, never retrained.
    ``settings`` defaults to :func:`graph_settings` of ``scale``; ``insert``
    (``"own"`` or ``"all"``, see :func:`atlasnb.geodesics.shortest_path`) replaces
    its end-point insertion and so names other cached results.
    Used in {ref}`sec-experiments`.
    """
    settings = settings if settings is not None else graph_settings(scale)
    if insert is not None:
        settings = replace_settings(settings, insert=insert)
    rows, length_rows, interpolations = [], [], {}
    for dataset in datasets:
        for m in chart_counts:
            config = make_config(scale, dataset, n_charts=m, seed=seed, **config_overrides)
            run = runs.load_or_train(config, progress=progress)
            result = geodesic_experiment(run, settings, progress=progress)
            rows.append(summary_row(run, result))
            for pair, (length, distance, change) in enumerate(zip(
                    result["lengths"], result["end_distances"], result["chart_changes"])):
                length_rows.append({"dataset": dataset, "n_charts": m,
                                    "model": config.model_name, "pair": pair,
                                    "length": length, "end_distance": distance,
                                    "chart_changes": change})
            interpolations[dataset, m] = result["interpolations"]
    summary = pd.DataFrame(rows).set_index(["dataset", "n_charts"])
    return Collection(summary, pd.DataFrame(length_rows), interpolations, settings)


