"""Refinement: graph paths shortened by gradient descent through the decoders.

Derived in {ref}`sec-graph-refinement`. A graph path of Algorithm 1 hops
through encoded data points, so it zigzags; :func:`~atlasnb.geodesics.refine`
straightens it. Each run of the path inside one chart becomes a discretised
latent curve whose decoded energy (or length) is minimised with its ends fixed;
where the path changes chart, the two points beside the change move too, kept
inside the overlap of the two charts, and the jump between the two charts'
decodings stays in the length. By default it also tries other chart sequences
(:mod:`~atlasnb.geodesics.choose`) and keeps the shortest;
:func:`~atlasnb.geodesics.refine_all` refines many paths at once.
:func:`~atlasnb.geodesics.measure_path` measures any path the way both the graph
path and its refinement are compared: eq. (10) with many steps on every straight
latent segment.
"""

from __future__ import annotations

import numpy as np

from atlasnb.agm import check_agm
from atlasnb.geodesics._common import _check_eps, _check_int, _Decoder, _evaluating
from atlasnb.geodesics.batch import measure_polylines
from atlasnb.geodesics.choose import check_alternatives, choose
from atlasnb.geodesics.curve import DEFAULT_N_STEPS
from atlasnb.geodesics.graph import AtlasGraph, default_eps
from atlasnb.geodesics.path import GeodesicPath
from atlasnb.geodesics.validate import check_path

#: Steps of eq. (10) on every straight latent segment when a path is measured:
#: the paper's n, so a graph path's own edge weights are already measured so.
MEASURE_STEPS = DEFAULT_N_STEPS
#: Points of the discretised curve of each run of a path inside one chart.
POINTS_PER_RUN = 8
OBJECTIVES = ("energy", "length")
#: The optimisers of :func:`~atlasnb.geodesics.refine` and their default numbers of iterations.
OPTIMISERS = {"lbfgs": 30, "adam": 40}
#: Default stopping tolerances: L-BFGS stops a curve when one iteration lowered its
#: objective by less than this fraction; Adam when ten steps changed it by less.
TOLERANCES = {"lbfgs": 1e-4, "adam": 1e-3}
#: Next best graph paths tried per path by default (see :func:`refine_all`).
N_ALTERNATIVES = 1


def _model_and_eps(model_or_graph, eps):
    if isinstance(model_or_graph, AtlasGraph):
        model = model_or_graph.model
        eps = model_or_graph.eps if eps is None else _check_eps(eps)
    else:
        model = model_or_graph
        check_agm(model, encoder=False)
        eps = default_eps(model.n_charts) if eps is None else _check_eps(eps)
    check_agm(model, encoder=False)  # a semi-AGM's path is refined from its own codes
    return model, eps


def _check_path(path, name: str = "path") -> None:
    if not isinstance(path, GeodesicPath):
        raise TypeError(f"{name} must be a GeodesicPath (from shortest_path or refine), "
                        f"got {type(path).__name__}")


def _check_belongs(model_or_graph, model, path, name: str) -> None:
    """Refuse (given a graph) a path whose graph nodes are not this graph's; a path of
    another model is refused before, by :func:`~atlasnb.geodesics.validate.check_path`."""
    if not isinstance(model_or_graph, AtlasGraph):
        return
    graph, nodes = model_or_graph, np.asarray(path.nodes)
    on = np.flatnonzero(nodes >= 0)
    if len(on) and (nodes[on].max() >= graph.n_nodes
                    or np.any(graph.node_chart[nodes[on]] != np.asarray(path.charts)[on])
                    or not bool((graph.node_latent[nodes[on]] == path.latents[on]).all())):
        raise ValueError(f"{name} is not a path of this graph: its node ids {on[:5].tolist()} "
                         f"... do not hold its codes and charts in the graph given "
                         f"({graph.n_nodes} nodes); refine a path with the graph it was "
                         "found in")


def measure_path(model_or_graph, path: GeodesicPath, n_steps: int = MEASURE_STEPS,
                 batch_size: int = 4096) -> GeodesicPath:
    """``path`` measured finely: a copy whose ``steps`` and ``length`` are eq. (10)
    with ``n_steps`` steps on every within-chart segment (the jump
    ||G_i(z) - G_j(z')|| on a chart change), so that paths built in different ways
    compare on the same terms. Derived in {ref}`sec-graph-refinement`.
    """
    model, _ = _model_and_eps(model_or_graph, None)
    path = check_path(model, path)
    _check_int("n_steps", n_steps, minimum=1)
    decoder = _Decoder(model, batch_size)
    with _evaluating(model):
        steps = measure_polylines(decoder, [(path.charts, path.latents, path.images)],
                                  n_steps)[0]
    return GeodesicPath(length=float(sum(s.sum() for s in steps)), nodes=path.nodes,
                        charts=path.charts, latents=path.latents, images=path.images,
                        data_indices=path.data_indices, steps=steps, cross=path.cross,
                        n_decoded=path.n_decoded + decoder.n_decoded,
                        n_evaluated=path.n_evaluated, n_searches=path.n_searches,
                        placements=path.placements)


def refine(model_or_graph, path: GeodesicPath, points_per_run: int = POINTS_PER_RUN,
           optimiser: str = "lbfgs", n_iterations: int | None = None,
           objective: str = "energy", lr: float = 0.05,
           tolerance: float | None = None, eps: float | None = None,
           measure_steps: int = MEASURE_STEPS, batch_size: int = 4096,
           choose_charts: bool = True,
           n_alternatives: int = N_ALTERNATIVES) -> GeodesicPath:
    """``path`` shortened by gradient descent through the decoders, choosing its charts.

    The path is cut where it changes chart; each run inside one chart is
    resampled to ``points_per_run`` latent points equally spaced in eq. (10)
    length. Every point but the two ends of the path then moves to minimise, over
    all chords c of the decoded curve, the ``objective`` (below), by

    - ``optimiser="lbfgs"`` (default): L-BFGS (history 10) with a backtracking
      (Armijo) line search, at most ``n_iterations`` (default 30) iterations,
      stopping when an iteration lowers the objective by less than ``tolerance``
      (default 1e-4) relatively;
    - ``optimiser="adam"``: Adam with step ``lr`` in latent units, at most
      ``n_iterations`` (default 40) steps, stopping when the objective changes by
      less than ``tolerance`` (default 1e-3) relatively over ten steps.

    Objectives:

    - ``"energy"`` (default): n sum c^2, whose minimisers are also shortest and
      spread their points evenly in data space;
    - ``"length"``: sum c, the discrete curve length.

    Where the path changes from chart i to chart j, the last point z of the run
    in chart i and the first point w of the run in chart j are both free, and the
    jump ||G_i(z) - G_j(w)|| is one of the chords. Both decodings must stay inside
    the overlap of the two charts (psi above ``eps`` in both; ``None``: the graph's
    eps): an L-BFGS step that leaves it is shortened like one that does not
    descend, and a point that keeps blocking steps is held at its place; Adam
    undoes the step for that point. A point that starts below eps (a decoded node
    can have smaller psi than the data point itself) may not fall further.

    With ``choose_charts=True`` (default) the graph path's charts are one
    candidate among several, all refined together and the shortest kept: the
    straight latent segment in every chart holding both end points (psi > eps at
    both, from the path's ``placements``; such a candidate starts and ends at the
    end points' codes in that chart); ``n_alternatives`` next best graph paths with
    other chart sequences (given a graph: ``atlasnb.geodesics.many.alternative_paths``);
    and the best refined curve with every chart change dropped whose one side
    decodes inside the other side's chart, refined again. Each candidate's
    lengths are in the result's ``candidates``. ``choose_charts=False`` keeps the
    graph path's charts.

    Every candidate, before and after refinement, and ``path`` are measured as
    :func:`~atlasnb.geodesics.measure_path` does (eq. (10) with ``measure_steps``
    steps on every straight latent segment; ``path`` is always measured afresh,
    whatever length it carries); if nothing is shorter than ``path``, ``path``
    itself comes back with that measurement. So the result is never longer than
    ``measure_path(model, path, measure_steps)``. The result is a
    :class:`~atlasnb.geodesics.GeodesicPath` with a chart per point (nodes -1
    except ends the graph path shares), which :func:`atlasnb.geodesics.interpolate`
    accepts. The model is put in eval mode, its parameters are left untouched, and
    gradients are enabled here only. Derived in {ref}`sec-graph-refinement`.
    """
    _check_path(path)
    return refine_all(model_or_graph, [path], points_per_run, optimiser, n_iterations,
                      objective, lr, tolerance, eps, measure_steps, batch_size,
                      choose_charts, n_alternatives)[0]


def refine_all(model_or_graph, paths: list, points_per_run: int = POINTS_PER_RUN,
               optimiser: str = "lbfgs", n_iterations: int | None = None,
               objective: str = "energy", lr: float = 0.05,
               tolerance: float | None = None, eps: float | None = None,
               measure_steps: int = MEASURE_STEPS, batch_size: int = 4096,
               choose_charts: bool = True,
               n_alternatives: int = N_ALTERNATIVES) -> list:
    """:func:`refine` for many paths at once: a list of results, one per path.

    All candidates of all paths are optimised together, one decoder call per
    chart and iteration for all of them, each curve with its own line search,
    history and stopping rule, so each result is the one :func:`refine` gives
    alone (up to the rounding of a float32 decoder, which depends on the batch).
    The next best graph paths are searched for all paths in lockstep. Each path
    is measured afresh on its own, as :func:`refine` does, so every result is
    never longer than ``measure_path(model, path, measure_steps)``. ``paths`` must
    be a non-empty list of paths of ``model_or_graph`` (a graph's paths are checked
    against its nodes). Derived in {ref}`sec-graph-refinement`.
    """
    model, eps = _model_and_eps(model_or_graph, eps)
    if not isinstance(paths, (list, tuple)) or not paths:
        raise ValueError(f"paths must be a non-empty list of GeodesicPath, got "
                         f"{paths!r:.80}")
    paths = list(paths)
    for i, path in enumerate(paths):
        _check_path(path, f"paths[{i}]")
        paths[i] = check_path(model, path)
        _check_belongs(model_or_graph, model, paths[i], f"paths[{i}]")
    _check_int("points_per_run", points_per_run, minimum=2)
    if optimiser not in OPTIMISERS:
        raise ValueError(f"optimiser must be one of {tuple(OPTIMISERS)}, got {optimiser!r}")
    n_iterations = OPTIMISERS[optimiser] if n_iterations is None else n_iterations
    _check_int("n_iterations", n_iterations, minimum=0)
    _check_int("measure_steps", measure_steps, minimum=1)
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    tolerance = TOLERANCES[optimiser] if tolerance is None else tolerance
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) \
            or not tolerance >= 0:
        raise ValueError(f"tolerance must be a number >= 0, got {tolerance!r}")
    if not isinstance(choose_charts, bool):
        raise ValueError(f"choose_charts must be True or False, got {choose_charts!r}")
    check_alternatives(n_alternatives)
    settings = dict(points_per_run=points_per_run, optimiser=optimiser,
                    n_iterations=n_iterations, objective=objective, lr=lr,
                    tolerance=float(tolerance), measure_steps=measure_steps,
                    batch_size=batch_size)
    return choose(model_or_graph, model, list(paths), settings, eps, choose_charts,
                  n_alternatives)
