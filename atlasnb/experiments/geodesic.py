"""The geodesic experiment of section 4: a model's graph, its test pairs, their path
lengths and interpolations, computed once per trained model and kept in its run folder.

Used by {ref}`sec-graph-geodesics` and {ref}`sec-experiments`.

- :func:`graph_points` and :func:`test_pairs`: the images Algorithm 1 encodes and the
  test pairs it joins (the same for every model);
- :func:`load_or_build_graph` and :func:`load_or_build_eager_graph`: the lazy and
  the eager graph, kept in the run folder as plain tensors; :func:`sharing_graphs`
  reads each graph file once while it is open;
- :func:`search_pairs`: every pair's graph geodesic, None where the graph joins none;
- :func:`geodesic_experiment`: Table 1's graph numbers, Figure 3a's lengths and Figure
  3b's interpolations, cached with :func:`atlasnb.experiments.cache.cached`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings

import torch

from atlasnb import geodesics, runs
from atlasnb.checks import replace_settings
from atlasnb.data import load_images
from atlasnb.experiments.cache import cached
from atlasnb.experiments.settings import GraphSettings
from atlasnb.files import atomic_torch_save
from atlasnb.fingerprint import ModelMismatchError, mismatch
from atlasnb.runs import Run

#: Bumped whenever the layout of a cached ``geodesics-<key>`` result changes.
RESULT_VERSION = 5
#: Graphs read while :func:`sharing_graphs` is open: (file, model id) -> (graph, stats).
_shared: dict | None = None


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
    return run.path / f"graph-{settings.graph_key()}.pt"


def save_graph(run: Run, settings: GraphSettings, graph: geodesics.AtlasGraph,
               statistics: dict) -> None:
    """Write the graph as plain tensors (:meth:`~atlasnb.geodesics.AtlasGraph.to_arrays`,
    with every edge weight evaluated so far) and its statistics, atomically."""
    atomic_torch_save(graph_path(run, settings),
                      {"graph": graph.to_arrays(), "statistics": statistics,
                       "settings": dataclasses.asdict(settings)})


@contextlib.contextmanager
def sharing_graphs():
    """While open, :func:`load_or_build_graph` reads (or builds) each graph once and
    hands every later caller the same graph, with the weights evaluated since."""
    global _shared
    outer, _shared = _shared, ({} if _shared is None else _shared)
    try:
        yield
    finally:
        _shared = outer


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
    key = (str(graph_path(run, settings)), id(run.model))
    if _shared is not None and key in _shared:
        return _shared[key]
    loaded = _read_graph(run, graph_path(run, settings), "statistics") \
        or _build_graph(run, settings, progress)
    if _shared is not None:
        _shared[key] = loaded
    return loaded


def _build_graph(run: Run, settings: GraphSettings, progress: bool):
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
    path = run.path / f"graph-eager-{settings.graph_key()}.pt"
    saved = _read_graph(run, path)
    if saved is not None:
        return saved[0]
    graph, _ = load_or_build_graph(run, settings, progress)
    eager = geodesics.AtlasGraph.from_arrays(run.model, graph.to_arrays())
    eager.evaluate_all(progress=progress)
    atomic_torch_save(path, {"graph": eager.to_arrays(),
                             "settings": dataclasses.asdict(settings)})
    return eager


def search_pairs(graph: geodesics.AtlasGraph, starts, ends, insert: str) -> list:
    """The graph geodesic (:func:`atlasnb.geodesics.shortest_path`) of every pair
    ``(starts[i], ends[i])``; None for a pair whose end points fall in different
    connected components."""
    found = []
    for start, end in zip(starts, ends):
        try:
            found.append(geodesics.shortest_path(graph, start, end, insert=insert))
        except geodesics.DisconnectedGraphError:
            found.append(None)
    return found


def path_length(path) -> float:
    """A path's length; NaN for no path (a pair the graph does not join)."""
    return float("nan") if path is None else float(path.length)


def end_distance(path) -> float:
    """The straight-line distance between a path's two end images (NaN for no path),
    a lower bound of its length."""
    if path is None:
        return float("nan")
    return float((path.images[0].double() - path.images[-1].double()).norm())


def chart_changes(path) -> int:
    """The cross-chart segments of a path; -1 for no path."""
    return -1 if path is None else int(path.cross.sum())


def interpolation_record(pair: int, steps: geodesics.Interpolation) -> dict:
    """What a cached result keeps of an interpolation: the pair, the images, the
    charts (from 0), ``cross`` (True on a chart change) and the labels shown."""
    return {"pair": pair, "images": steps.images.cpu(), "labels": list(steps.labels),
            "charts": [int(y) for y in steps.charts],
            "cross": [bool(c) for c in steps.cross]}


def geodesic_experiment(run: Run, settings: GraphSettings, progress: bool = True,
                        insert: str | None = None) -> dict:
    """Table 1's graph numbers, Figure 3a's path lengths and Figure 3b's interpolations
    for one model, cached in the run folder (:func:`atlasnb.experiments.cache.cached`).

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
    - ``paths``: every pair's :class:`~atlasnb.geodesics.GeodesicPath` (None for a
      failed pair), which the refinement starts from instead of searching again;
    - ``interpolations``: for each of the first ``n_interpolations`` pairs that
      has a path, :func:`interpolation_record` of ``interpolation_points`` points.
      Every model gets the same pairs, so Figure 3b can set models side by side.

    Used in {ref}`sec-experiments`.
    """
    if insert is not None:
        settings = replace_settings(settings, insert=insert)

    def compute() -> dict:
        graph, statistics = load_or_build_graph(run, settings, progress)
        starts, ends = test_pairs(run.config.dataset, settings)
        exact_before = graph.n_exact
        found = search_pairs(graph, starts, ends, settings.insert)
        if graph.n_exact > exact_before:
            save_graph(run, settings, graph, statistics)
        interpolations = [
            interpolation_record(i, geodesics.interpolate(graph, path,
                                                          settings.interpolation_points))
            for i, path in enumerate(found[: settings.n_interpolations]) if path is not None]
        return {"statistics": statistics, "lengths": [path_length(p) for p in found],
                "end_distances": [end_distance(p) for p in found],
                "chart_changes": [chart_changes(p) for p in found],
                "failed_pairs": [i for i, p in enumerate(found) if p is None],
                "query_decoded": sum(p.n_decoded for p in found if p is not None),
                "edges_evaluated": sum(p.n_evaluated for p in found if p is not None),
                "settings": dataclasses.asdict(settings), "model": run.config.model_name,
                "run": str(run.path), "paths": found, "interpolations": interpolations}

    return cached(run.path, "geodesics", {"settings": settings}, compute, run.model,
                  RESULT_VERSION, tensors=("paths", "interpolations"))
