"""Refinement: graph paths shortened by gradient descent through the decoders.

Derived in {ref}`sec-graph-refinement`. A graph path of Algorithm 1 hops
through encoded data points, so it zigzags; :func:`~atlasnb.geodesics.refine` keeps its sequence
of charts and straightens it. Each run of the path inside one chart becomes a
discretised latent curve whose decoded energy (or length) is minimised with its
ends fixed; where the path changes chart, the change point moves too, kept
inside the overlap of the two charts, and the jump between the two charts'
decodings stays in the length. :func:`~atlasnb.geodesics.measure_path` measures any path the way
both the graph path and its refinement are compared: eq. (10) with many steps
on every straight latent segment.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

from atlasnb.agm import check_agm
from atlasnb.geodesics._common import _check_eps, _check_int, _Decoder, _evaluating
from atlasnb.geodesics.curve import DEFAULT_N_STEPS, _step_lengths
from atlasnb.geodesics.graph import AtlasGraph, default_eps
from atlasnb.geodesics.search import GeodesicPath

#: Steps of eq. (10) on every straight latent segment when a path is measured:
#: the paper's n, so a graph path's own edge weights are already measured so.
MEASURE_STEPS = DEFAULT_N_STEPS
#: Points of the discretised curve of each run of a path inside one chart.
POINTS_PER_RUN = 8
OBJECTIVES = ("energy", "length")
#: The optimisers of :func:`~atlasnb.geodesics.refine` and their default numbers of iterations.
OPTIMISERS = {"lbfgs": 30, "adam": 40}


def _model_and_eps(model_or_graph, eps):
    if isinstance(model_or_graph, AtlasGraph):
        model = model_or_graph.model
        eps = model_or_graph.eps if eps is None else _check_eps(eps)
    else:
        model = model_or_graph
        check_agm(model)
        eps = default_eps(model.n_charts) if eps is None else _check_eps(eps)
    check_agm(model)
    return model, eps


def _check_path(path) -> None:
    if not isinstance(path, GeodesicPath):
        raise TypeError(f"path must be a GeodesicPath (from shortest_path or refine), "
                        f"got {type(path).__name__}")


def _measured_steps(decoder: _Decoder, charts, latents, images, n_steps: int) -> list:
    """Eq. (10) terms of every segment of a chart-labelled polyline (``n_steps``
    per within-chart segment; a chart change is one jump spread over them)."""
    steps = []
    for a in range(len(charts) - 1):
        if charts[a] != charts[a + 1]:
            jump = float((images[a].double() - images[a + 1].double()).norm())
            steps.append(np.full(n_steps, jump / n_steps))
        else:
            chart = int(charts[a])
            steps.append(_step_lengths(lambda z, chart=chart: decoder(z, chart), latents[a:a + 1],
                                       latents[a + 1:a + 2], images[a:a + 1],
                                       images[a + 1:a + 2], n_steps, decoder.batch_size)[0])
    return steps


def measure_path(model_or_graph, path: GeodesicPath, n_steps: int = MEASURE_STEPS,
                 batch_size: int = 4096) -> GeodesicPath:
    """``path`` measured finely: a copy whose ``steps`` and ``length`` are eq. (10)
    with ``n_steps`` steps on every within-chart segment (the jump
    ||G_i(z) - G_j(z')|| on a chart change), so that paths built in different ways
    compare on the same terms. Derived in {ref}`sec-graph-refinement`.
    """
    model, _ = _model_and_eps(model_or_graph, None)
    _check_path(path)
    _check_int("n_steps", n_steps, minimum=1)
    decoder = _Decoder(model, batch_size)
    with _evaluating(model):
        steps = _measured_steps(decoder, path.charts, path.latents, path.images, n_steps)
    return GeodesicPath(length=float(sum(s.sum() for s in steps)), nodes=path.nodes,
                        charts=path.charts, latents=path.latents, images=path.images,
                        data_indices=path.data_indices, steps=steps, cross=path.cross,
                        n_decoded=path.n_decoded + decoder.n_decoded)


@dataclass
class _Run:
    """A stretch of a path inside one chart: its chart and its initial curve."""

    chart: int
    curve: torch.Tensor  # (K, d) points, the first and last included


def _resample(latents: torch.Tensor, steps: list, n_points: int) -> torch.Tensor:
    """``n_points`` latent points equally spaced in eq. (10) length along the
    polyline ``latents`` (its segments' terms ``steps``), ends included."""
    if len(latents) == 1:
        return latents.expand(n_points, -1).clone()
    pieces, cumulative = [latents[:1]], [0.0]
    for a, terms in enumerate(steps):
        n = len(terms)
        t = torch.arange(1, n + 1, dtype=latents.dtype)[:, None] / n
        pieces.append(latents[a] + t * (latents[a + 1] - latents[a]))
        cumulative.extend(cumulative[-1] + np.cumsum(terms))
    points = torch.cat(pieces).double().numpy()
    cumulative = np.asarray(cumulative)
    if cumulative[-1] <= 0:
        cumulative = np.linspace(0, 1, len(points))
    targets = np.linspace(0, cumulative[-1], n_points)
    resampled = np.stack([np.interp(targets, cumulative, points[:, j])
                          for j in range(points.shape[1])], axis=1)
    resampled[0], resampled[-1] = points[0], points[-1]
    return torch.from_numpy(resampled).to(latents.dtype)


def _runs(path: GeodesicPath, n_points: int) -> list[_Run]:
    """The path cut at its chart changes, each run resampled to ``n_points``."""
    cuts = [0] + [a + 1 for a in np.flatnonzero(path.cross)] + [len(path.charts)]
    return [_Run(int(path.charts[s]),
                 _resample(path.latents[s:e], path.steps[s:e - 1], n_points))
            for s, e in zip(cuts[:-1], cuts[1:])]


@contextlib.contextmanager
def _gradients_through(model):
    """Autograd on (outside any inference mode) with the model's own parameters
    frozen, so that only the curve is differentiated and no ``.grad`` is left."""
    parameters = list(model.parameters()) if callable(getattr(model, "parameters", None)) \
        else []
    frozen = [p for p in parameters if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        for p in frozen:
            p.requires_grad_(True)


class _Curves:
    """The free points of every run and how they make the whole chart-labelled curve.

    The first point of the first run and the last point of the last run are
    fixed. The last point of a run before a chart change (the change point z in
    chart i) is free; the next run starts at its re-encoding F_j(G_i(z)) in chart j.
    """

    def __init__(self, model, runs: list[_Run], device):
        self.model, self.runs, self.device = model, runs, device
        self.start = runs[0].curve[:1].to(device)
        self.end = runs[-1].curve[-1:].to(device)
        # Run r's free points: its interior, and its last point (a change point)
        # unless it is the last run.
        self.inner = [run.curve[1:-1].to(device).clone().requires_grad_(True)
                      for run in runs]
        self.change = [run.curve[-1:].to(device).clone().requires_grad_(True)
                       for run in runs[:-1]]

    @property
    def free(self) -> list[torch.Tensor]:
        return self.inner + self.change

    def change_points(self) -> list[torch.Tensor]:
        return [z[0] for z in self.change]

    def forward(self):
        """(points, images) of every run, the re-encoded starts included."""
        points, images, begin = [], [], self.start
        for r, run in enumerate(self.runs):
            last = self.change[r] if r < len(self.runs) - 1 else self.end
            run_points = torch.cat([begin, self.inner[r], last])
            run_images = self.model.decode(run_points, run.chart)
            points.append(run_points)
            images.append(run_images)
            if r < len(self.runs) - 1:
                codes = self.model.encode(run_images[-1:])
                begin = codes[:, self.runs[r + 1].chart]
        return points, images

    def chords(self, images) -> torch.Tensor:
        """Every chord of the decoded curve: within runs, then the jumps."""
        flat = [i.flatten(1) for i in images]
        within = [(f[1:] - f[:-1]).norm(dim=1) for f in flat]
        jumps = [(a[-1] - b[0]).norm()[None] for a, b in zip(flat[:-1], flat[1:])]
        return torch.cat(within + jumps)

    def overlap_margins(self, images=None) -> torch.Tensor:
        """min(psi_i, psi_j) of each change point's decoding G_i(z): with gradient
        from the decoded runs ``images`` if given, else decoded afresh without."""
        with contextlib.nullcontext() if images is not None else torch.no_grad():
            margins = []
            for r, z in enumerate(self.change_points()):
                image = (images[r][-1:] if images is not None
                         else self.model.decode(z[None], self.runs[r].chart))
                psi = self.model.partition(image)[0]
                margins.append(torch.minimum(psi[self.runs[r].chart],
                                             psi[self.runs[r + 1].chart]))
            return torch.stack(margins) if margins else torch.zeros(0)


def refine(model_or_graph, path: GeodesicPath, points_per_run: int = POINTS_PER_RUN,
           optimiser: str = "lbfgs", n_iterations: int | None = None,
           objective: str = "energy", lr: float = 0.05,
           tolerance: float = 1e-3, eps: float | None = None,
           measure_steps: int = MEASURE_STEPS, batch_size: int = 4096) -> GeodesicPath:
    """``path`` shortened by gradient descent through the decoders, its charts kept.

    The path is cut where it changes chart; each run inside one chart is
    resampled to ``points_per_run`` latent points equally spaced in eq. (10)
    length. Every point but the two ends of the path then moves to minimise, over
    all chords c of the decoded curve, the ``objective`` (below), by

    - ``optimiser="lbfgs"`` (default): ``torch.optim.LBFGS`` with a strong Wolfe
      line search, at most ``n_iterations`` (default 30) iterations; a change
      point it leaves outside its overlap is pulled back (bisection towards its
      start) to the overlap's edge and held there while the other points are
      optimised again;
    - ``optimiser="adam"``: Adam with step ``lr`` in latent units, at most
      ``n_iterations`` (default 40) steps, stopping when the objective changes by
      less than ``tolerance`` relatively over ten steps.

    Objectives:

    - ``"energy"`` (default): n sum c^2, whose minimisers are also shortest and
      spread their points evenly in data space;
    - ``"length"``: sum c, the discrete curve length.

    A run before a chart change ends at a free change point z in chart i; the
    next run, in chart j, starts at F_j(G_i(z)), so the jump
    ||G_i(z) - G_j(F_j(G_i(z)))|| is one of the chords. A step that takes a change
    point out of the overlap of its two charts (psi of its decoding above ``eps``
    in both; ``None``: the graph's eps) is undone for that point by Adam (and
    pulled back after L-BFGS, as above); a change point
    that starts below eps (a decoded node can have smaller psi than the data
    point itself) may not fall further.

    Both the result and ``path`` are measured as :func:`~atlasnb.geodesics.measure_path` does
    (eq. (10) with ``measure_steps`` steps on every straight latent segment; a
    graph path whose segments already hold that many terms, as those of
    :func:`~atlasnb.geodesics.shortest_path` do with the graph's n, is taken as
    measured); if
    the optimisation did not shorten the path, ``path`` itself comes back,
    re-measured. So the result is never longer than ``path`` measured the same
    way. The result is a :class:`~atlasnb.geodesics.GeodesicPath` with a chart per point (nodes -1
    except the ends), which :func:`atlasnb.geodesics.interpolate` accepts.
    The model is put in eval mode, its parameters are left untouched, and
    gradients are enabled here only. Derived in {ref}`sec-graph-refinement`.
    """
    model, eps = _model_and_eps(model_or_graph, eps)
    _check_path(path)
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
    measured = all(len(s) == measure_steps for s in path.steps)
    original = path if measured else measure_path(model, path, measure_steps, batch_size)
    if len(path.charts) < 2:
        return original
    decoder = _Decoder(model, batch_size)
    with _evaluating(model), _gradients_through(model):
        curves = _Curves(model, _runs(path, points_per_run), decoder.device)
        floors = torch.clamp(curves.overlap_margins() * (1 - 1e-9), max=eps)
        if optimiser == "lbfgs":
            start = [z.detach().clone() for z in curves.change]
            _lbfgs(curves.free, curves, objective, n_iterations)
            if _pull_back(curves, start, floors):
                _lbfgs(curves.inner, curves, objective, n_iterations)
        else:
            _adam(curves, objective, n_iterations, lr, tolerance, floors)
        with torch.no_grad():
            points, images = curves.forward()
    with _evaluating(model):
        charts = np.concatenate([np.full(len(p), run.chart)
                                 for p, run in zip(points, curves.runs)])
        latents = torch.cat(points).detach().cpu().to(path.latents.dtype)
        images = torch.cat(images).detach().cpu().to(path.images.dtype)
        steps = _measured_steps(decoder, charts, latents, images, measure_steps)
    length = float(sum(s.sum() for s in steps))
    if not length < original.length:
        return original
    nodes = np.full(len(charts), -1)
    nodes[0], nodes[-1] = path.nodes[0], path.nodes[-1]
    data_indices = np.full(len(charts), -1)
    data_indices[0], data_indices[-1] = path.data_indices[0], path.data_indices[-1]
    return GeodesicPath(length=length, nodes=nodes, charts=charts, latents=latents,
                        images=images, data_indices=data_indices, steps=steps,
                        cross=charts[1:] != charts[:-1],
                        n_decoded=original.n_decoded + decoder.n_decoded)


def _loss(curves: _Curves, objective: str) -> torch.Tensor:
    """The objective over every chord of the decoded curve."""
    _, images = curves.forward()
    chords = curves.chords(images)
    return (chords ** 2).sum() * len(chords) if objective == "energy" else chords.sum()


def _lbfgs(parameters: list, curves: _Curves, objective: str, n_iterations: int) -> None:
    """L-BFGS with a strong Wolfe line search on ``parameters`` (free points)."""
    parameters = [z for z in parameters if z.numel()]
    if not parameters or n_iterations == 0:
        return
    optimiser = torch.optim.LBFGS(parameters, lr=1, max_iter=n_iterations,
                                  line_search_fn="strong_wolfe", history_size=20,
                                  tolerance_change=1e-9)

    def closure():
        optimiser.zero_grad()
        loss = _loss(curves, objective)
        loss.backward()
        return loss

    optimiser.step(closure)


def _pull_back(curves: _Curves, start: list, floors: torch.Tensor, n_halvings: int = 10):
    """Move every change point outside its overlap back towards where it started
    (by bisection on the straight line between the two) to the last point found
    inside; returns True if any was moved."""
    outside = np.flatnonzero((curves.overlap_margins() <= floors).cpu().numpy())
    with torch.no_grad():
        for r in outside:
            z = curves.change[r]
            inside, out = start[r].clone(), z.detach().clone()
            for _ in range(n_halvings):
                z.copy_((inside + out) / 2)
                if bool(curves.overlap_margins()[r] > floors[r]):
                    inside = z.detach().clone()
                else:
                    out = z.detach().clone()
            z.copy_(inside)
    return len(outside) > 0


def _adam(curves: _Curves, objective: str, n_iterations: int, lr: float,
          tolerance: float, floors: torch.Tensor) -> None:
    """Adam on the free points; change points that leave their overlap step back."""
    optimiser = torch.optim.Adam(curves.free, lr=lr)
    history = []
    for _ in range(n_iterations):
        optimiser.zero_grad()
        loss = _loss(curves, objective)
        loss.backward()
        history.append(float(loss.detach()))
        if len(history) > 10 and abs(history[-11] - history[-1]) <= tolerance * history[-1]:
            break
        before = [z.detach().clone() for z in curves.change]
        optimiser.step()
        if len(before):
            outside = curves.overlap_margins() <= floors
            with torch.no_grad():
                for r in np.flatnonzero(outside.cpu().numpy()):
                    curves.change[r].copy_(before[r])
