"""Refinement that chooses its charts, for many paths at once.

Derived in {ref}`sec-graph-refinement`. A graph path fixes a sequence of charts,
and that sequence can be worse than staying in one chart that holds both end
points, or than another sequence the graph nearly chose.
:func:`~atlasnb.geodesics.refine_all` therefore refines several candidates per
path, all paths' candidates together (:mod:`~atlasnb.geodesics.batch`), and keeps
the shortest: the graph path; the straight latent segment in each chart holding
both end points; the next best graph paths with other chart sequences
(``atlasnb.geodesics.many.alternative_paths``); and, where the best refined
curve stays on both sides of a chart change inside one chart's domain, that curve
with the change dropped, refined again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from atlasnb.agm import has_encoder
from atlasnb.checks import check_int
from atlasnb.geodesics.batch import measure_polylines, optimise_curves
from atlasnb.geodesics.curve import FLOAT32_RTOL
from atlasnb.geodesics.decoding import Decoder, evaluating, model_device
from atlasnb.geodesics.graph import AtlasGraph
from atlasnb.geodesics.many import alternative_paths, chart_sequence
from atlasnb.geodesics.path import GeodesicPath

#: A candidate whose length estimate exceeds the best of its path's candidates by
#: more than this fraction stops refining (from the third L-BFGS iteration on).
PRUNE = 0.1


@dataclass(frozen=True)
class Candidate:
    """One chart sequence refinement tried for a path: ``kind`` is ``"graph"`` (the
    graph path), ``"straight"`` (the straight segment in one chart), ``"alternative"``
    (a next best graph path) or ``"merged"`` (a refined curve with chart changes
    dropped); ``charts`` the charts it visits; ``start_length`` the length of the
    curve it started from (NaN for ``"merged"``) and ``length`` after refinement,
    both measured as :func:`~atlasnb.geodesics.measure_path` does."""

    kind: str
    charts: tuple
    start_length: float
    length: float


@dataclass
class _Plan:
    """A candidate of one path: its start polyline (charts, latents, images) and the
    curve (charts, points) to refine (None: nothing to move)."""

    kind: str
    path: int
    start: tuple | None
    curve: tuple | None
    start_length: float = float("nan")
    refined: tuple | None = None  # (charts, latents, images, steps)
    source: GeodesicPath | None = None  # the graph path it starts from, if any


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


def path_curve(path: GeodesicPath, n_points: int) -> tuple:
    """The path cut at its chart changes, each run resampled to ``n_points`` points:
    (charts, points) of the curve to refine."""
    cuts = [0] + [a + 1 for a in np.flatnonzero(path.cross)] + [len(path.charts)]
    runs = [_resample(path.latents[s:e], path.steps[s:e - 1], n_points)
            for s, e in zip(cuts[:-1], cuts[1:])]
    charts = np.concatenate([np.full(len(r), int(path.charts[s])) for r, s in
                             zip(runs, cuts[:-1])])
    return charts, torch.cat(runs)


def _decode_many(decoder: Decoder, polylines: list) -> list:
    """Decodings of the (charts, points) polylines, one decoder batch per chart."""
    charts = np.concatenate([c for c, _ in polylines])
    points = torch.cat([p for _, p in polylines])
    images = [None] * len(charts)
    for y in np.unique(charts):
        rows = np.flatnonzero(charts == y)
        for r, image in zip(rows, decoder(points[torch.from_numpy(rows)], int(y))):
            images[r] = image
    cuts = np.cumsum([len(c) for c, _ in polylines])[:-1]
    stacked = torch.stack(images)
    return list(torch.tensor_split(stacked, cuts.tolist()))


def _plans(model_or_graph, paths: list, points_per_run: int, choose_charts: bool,
           n_alternatives: int, batch_size: int) -> list:
    """The candidates of every path."""
    plans = []
    for i, path in enumerate(paths):
        curve = path_curve(path, points_per_run) if len(path.charts) > 1 else None
        plans.append(_Plan("graph", i, (path.charts, path.latents, path.images), curve))
    if not choose_charts:
        return plans
    for i, path in enumerate(paths):
        if path.placements is None or None in path.placements:
            continue
        (charts0, codes0), (charts1, codes1) = path.placements
        for y in sorted(set(np.asarray(charts0).tolist()) & set(np.asarray(charts1).tolist())):
            z0, z1 = codes0[list(charts0).index(y)], codes1[list(charts1).index(y)]
            t = torch.linspace(0, 1, points_per_run, dtype=z0.dtype)[:, None]
            plans.append(_Plan("straight", i, (np.array([y, y]), torch.stack([z0, z1]), None),
                               (np.full(points_per_run, y), z0 + t * (z1 - z0))))
    if isinstance(model_or_graph, AtlasGraph) and n_alternatives > 0:
        for i, others in enumerate(alternative_paths(model_or_graph, paths, n_alternatives,
                                                     batch_size)):
            for other in others:
                plans.append(_Plan("alternative", i,
                                   (other.charts, other.latents, other.images),
                                   path_curve(other, points_per_run), source=other))
    return plans


def _run(model, plans: list, decoder: Decoder, settings: dict, eps: float) -> None:
    """Refine the curves of ``plans`` together and measure them (in place)."""
    moving = [p for p in plans if p.curve is not None]
    if not moving:
        return
    curves, _ = optimise_curves(model, [p.curve for p in moving], eps,
                                settings["objective"], settings["optimiser"],
                                settings["n_iterations"], settings["lr"],
                                settings["tolerance"], decoder.device,
                                groups=[p.path for p in moving], prune=PRUNE)
    with evaluating(model):
        images = _decode_many(decoder, curves)
        polylines = [(c, z, im) for (c, z), im in zip(curves, images)]
        steps = measure_polylines(decoder, polylines, settings["measure_steps"])
    for plan, line, terms in zip(moving, polylines, steps):
        plan.refined = line + (terms,)


def _encoded(model, plans: list) -> list:
    """psi (numpy) and codes of the refined curves' decodings of ``plans`` that change
    chart (None for the others), all encoded in one batch."""
    changing = [p for p in plans if (np.diff(np.asarray(p.refined[0])) != 0).any()]
    out = {}
    if changing:
        images = torch.cat([p.refined[2] for p in changing])
        with evaluating(model):
            batch = images.to(model_device(model))
            psi = model.partition(batch).cpu().double().numpy()
            codes = model.encode(batch).cpu()
        cuts = np.cumsum([len(p.refined[2]) for p in changing])[:-1]
        for p, a, b in zip(changing, np.split(psi, cuts), torch.tensor_split(codes, cuts.tolist())):
            out[id(p)] = (a, b.to(p.refined[1].dtype))
    return [out.get(id(p)) for p in plans]


def _merged(plan: _Plan, placements, eps: float, encoded) -> tuple | None:
    """The refined curve of ``plan`` with every chart change dropped whose one side
    (a whole run) decodes inside the other side's chart (psi > eps), re-encoded
    there (``encoded``: psi and codes of its decodings, from :func:`_encoded`); None
    if no change can go. A run holding an end point moves only to a chart that holds
    that end point (where it takes the end's code)."""
    charts, latents, _, _ = plan.refined
    charts = np.array(charts)
    if encoded is None:
        return None
    psi, codes = encoded
    latents, changed = latents.clone(), False
    while True:
        cuts = np.r_[0, np.flatnonzero(charts[1:] != charts[:-1]) + 1, len(charts)]
        runs = list(zip(cuts[:-1], cuts[1:]))
        for r in range(len(runs) - 1):
            moves = [(runs[r + 1], int(charts[runs[r][0]])), (runs[r], int(charts[runs[r + 1][0]]))]
            done = False
            for (s, e), target in moves:
                if not (psi[s:e, target] > eps).all():
                    continue
                ends = [(0, 0), (len(charts) - 1, 1)]
                held = [(row, side) for row, side in ends if s <= row < e]
                if any(placements is None or placements[side] is None
                       or target not in list(placements[side][0]) for _, side in held):
                    continue
                latents[s:e] = codes[s:e, target]
                for row, side in held:
                    latents[row] = placements[side][1][list(placements[side][0]).index(target)]
                charts[s:e] = target
                changed = done = True
                break
            if done:
                break
        else:
            break
    return (charts, latents) if changed else None


def choose(model_or_graph, model, paths: list, settings: dict, eps: float,
           choose_charts: bool, n_alternatives: int) -> list:
    """Refine every candidate of every path and return, per path, the shortest of
    all starts and refined curves, or the path itself (measured afresh) when none is
    shorter."""
    from atlasnb.geodesics.measure import measure_path

    decoder = Decoder(model, settings["batch_size"])
    steps = settings["measure_steps"]
    # A path whose steps are the measurement (n steps a segment, summing to its length,
    # as the search gives them) is compared as it is; any other is measured now.
    originals = [path if _measured(path, steps) else measure_path(model, path, steps)
                 for path in paths]
    plans = _plans(model_or_graph, paths, settings["points_per_run"], choose_charts,
                   n_alternatives, settings["batch_size"])
    starts = [p for p in plans if p.kind != "graph"]
    with evaluating(model):
        missing = [p for p in starts if p.start[2] is None]
        if missing:
            for p, images in zip(missing, _decode_many(decoder, [p.start[:2] for p in
                                                                 missing])):
                p.start = p.start[:2] + (images,)
        # A graph path found by the search already carries this measurement.
        unmeasured = [p for p in starts if p.source is None or not _measured(p.source, steps)]
        terms = iter(measure_polylines(decoder, [p.start for p in unmeasured], steps))
        measured = [list(p.source.steps) if p.source is not None and
                    _measured(p.source, steps) else next(terms) for p in starts]
    for p, terms in zip(starts, measured):
        p.start = p.start + (terms,)
        p.start_length = float(sum(t.sum() for t in terms))
    for p in plans:
        if p.kind == "graph":
            o = originals[p.path]
            p.start, p.start_length = (o.charts, o.latents, o.images, o.steps), o.length
    _drop_hopeless(plans)
    _run(model, plans, decoder, settings, eps)
    if choose_charts and has_encoder(model):  # a semi-AGM has no F_y to re-encode with
        merged, bests = [], []
        for i in range(len(paths)):
            done = [p for p in plans if p.path == i and p.refined is not None]
            if done:
                bests.append((i, min(done, key=_refined_length)))
        for (i, best), encoded in zip(bests, _encoded(model, [b for _, b in bests])):
            curve = _merged(best, paths[i].placements, eps, encoded)
            if curve is not None:
                merged.append(_Plan("merged", i, None, curve))
        _run(model, merged, decoder, settings, eps)
        plans += merged
    results = []
    for i, path in enumerate(paths):
        mine = [p for p in plans if p.path == i]
        original = originals[i]
        # Measured apart, two lengths of one path agree to FLOAT32_RTOL: a candidate
        # that much shorter than the path is shorter than any measurement of it.
        fresh = original is not path
        bound = original.length if fresh else original.length * (1 - FLOAT32_RTOL)
        result = _result(path, original, mine, decoder, bound)
        if result is None and not fresh:
            original = measure_path(model, path, steps)
            result = _result(path, original, mine, decoder, original.length)
        results.append(result if result is not None else GeodesicPath(
            **{**original.__dict__, "candidates": _records(mine)}))
    return results


def end_chord(start: tuple) -> float:
    """||G(first point) - G(last point)|| of a start polyline (charts, latents, images,
    ...): a lower bound on the measured length of every curve between its two end
    images (a sum of chords from one to the other, by the triangle inequality), so
    of the candidate refined from it, whose ends stay fixed."""
    images = start[2]
    return float((images[0].double() - images[-1].double()).norm())


def _drop_hopeless(plans: list) -> None:
    """Leave unrefined (``curve`` None) every candidate whose :func:`end_chord`
    already reaches the shortest start of its path: refined, it could not come out
    shorter than that start. The chord is lowered by FLOAT32_RTOL, since the refined
    curve's ends are decoded again, in another batch."""
    best = {}
    for p in plans:
        best[p.path] = min(best.get(p.path, float("inf")), p.start_length)
    for p in plans:
        if p.curve is not None and end_chord(p.start) * (1 - FLOAT32_RTOL) >= best[p.path]:
            p.curve = None


def _measured(path: GeodesicPath, n_steps: int) -> bool:
    """Whether ``path`` carries eq. (10) terms of ``n_steps`` a segment, all finite,
    that sum to its length."""
    steps = path.steps
    if len(steps) != len(path.charts) - 1 or any(len(s) != n_steps for s in steps):
        return False
    total = float(sum(np.sum(s) for s in steps)) if steps else 0.0
    return bool(np.isfinite(total)) and abs(total - path.length) <= 1e-12 * max(1.0, total)


def _records(plans: list) -> list:
    return [Candidate(p.kind, chart_sequence(p.refined[0] if p.refined is not None
                                             else p.start[0]),
                      p.start_length,
                      _refined_length(p) if p.refined is not None else float("nan"))
            for p in plans]


def _refined_length(plan: _Plan) -> float:
    return float(sum(t.sum() for t in plan.refined[3]))


def _result(path: GeodesicPath, original: GeodesicPath, plans: list, decoder: Decoder,
            bound: float) -> GeodesicPath | None:
    """The shortest start or refined curve among ``plans`` shorter than ``bound``, as
    a GeodesicPath; None if there is none."""
    best, best_length = None, bound
    for plan in plans:
        refined = _refined_length(plan) if plan.refined is not None else float("nan")
        for line, length in ((plan.start, plan.start_length), (plan.refined, refined)):
            if line is not None and length < best_length:
                best, best_length = line, length
    if best is None:
        return None
    charts, latents, images, steps = best
    charts = np.asarray(charts)
    nodes, data_indices = np.full(len(charts), -1), np.full(len(charts), -1)
    for row, end in ((0, 0), (-1, -1)):
        if charts[row] == path.charts[end] and torch.equal(latents[row], path.latents[end]):
            nodes[row] = path.nodes[end]
        data_indices[row] = path.data_indices[end]
    return GeodesicPath(length=best_length, nodes=nodes, charts=charts,
                        latents=latents.detach().to(path.latents.dtype),
                        images=images.detach().to(path.images.dtype),
                        data_indices=data_indices, steps=list(steps),
                        cross=charts[1:] != charts[:-1],
                        n_decoded=original.n_decoded + decoder.n_decoded,
                        placements=path.placements, candidates=_records(plans))


def check_alternatives(n_alternatives) -> int:
    """``n_alternatives`` checked: an int >= 0."""
    return check_int("n_alternatives", n_alternatives, minimum=0)
