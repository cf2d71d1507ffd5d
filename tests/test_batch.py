"""Tests of chart choice in refinement and of many queries at once
(atlasnb.geodesics.shortest_paths and refine_all), on the sphere atlas.

With a chart mismatch every chart change costs a jump, so a path that changes
chart where one chart would do is measurably longer than the great circle.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atlasnb import toy
from atlasnb.geodesics import (
    DisconnectedGraphError,
    build_atlas_graph,
    measure_path,
    refine,
    refine_all,
    shortest_path,
    shortest_paths,
)


def _slerp(model, a, b, n=50):
    """Points of the great circle arc from a to b."""
    p, q = model.coordinates(a[None])[0], model.coordinates(b[None])[0]
    angle = torch.arccos((p * q).sum().clamp(-1, 1))
    t = torch.linspace(0, 1, n, dtype=p.dtype)[:, None]
    arc = (torch.sin((1 - t) * angle) * p + torch.sin(t * angle) * q) / torch.sin(angle)
    return model.embed(arc)


@pytest.fixture(scope="module")
def mismatch_case():
    model = toy.SphereAtlas(ambient_dim=4, overlap=0.4, mismatch=0.05, seed=3)
    graph = build_atlas_graph(model, model.sample(300, seed=1), k=8, progress=False)
    points = model.sample(200, seed=7)
    # Pairs whose whole great circle arc lies well inside chart 1 (psi_1 > eps), one
    # end most confidently in chart 0: the graph path must change charts.
    psi = model.partition(points)
    own0 = np.flatnonzero((psi[:, 0] > psi[:, 1]).numpy() & (psi[:, 1] > graph.eps).numpy())
    own1 = np.flatnonzero((psi[:, 1] > 0.9).numpy())
    # Chart 1 decodes every point turned by the mismatch; pairs are kept where
    # the turn takes each end away from the other, so that no jump between the two
    # charts' decodings can shortcut the great circle: a jump costs length.
    turned = model.decode(model.encode(points)[:, 1], 1)
    pairs = []
    for i, j in ((i, j) for i in own0 for j in own1):
        if len(pairs) == 6:
            break
        arc = _slerp(model, points[i], points[j])
        exact = model.arc_distance(points[i:i + 1], points[j:j + 1])
        away = (model.arc_distance(points[i:i + 1], turned[j:j + 1]) > exact) & \
            (model.arc_distance(turned[i:i + 1], points[j:j + 1]) > exact)
        if bool((model.partition(arc)[:, 1] > graph.eps).all()) and bool(away):
            pairs.append((points[i], points[j]))
    paths = [shortest_path(graph, a, b) for a, b in pairs]
    refined = refine_all(graph, paths, n_iterations=60)
    return model, graph, pairs, paths, refined


def test_one_chart_routes_reach_the_great_circle_though_the_graph_changed_charts(
        mismatch_case):
    model, graph, pairs, paths, refined = mismatch_case
    assert len(pairs) >= 4
    changed = [p.cross.any() for p in paths]
    assert all(changed), "each graph path starts in chart 0 and ends in chart 1"
    for (a, b), path, better in zip(pairs, paths, refined):
        exact = float(model.arc_distance(a[None], b[None])[0])
        assert better.length == pytest.approx(exact, rel=0.015)
        assert not better.cross.any(), "the chart change is dropped"
        assert better.length <= measure_path(graph, path).length
    # Kept to the graph's charts, the jump stays in the length.
    kept = refine(graph, paths[0], n_iterations=60, choose_charts=False)
    exact = float(model.arc_distance(pairs[0][0][None], pairs[0][1][None])[0])
    assert kept.cross.any() and kept.length > refined[0].length
    assert kept.length > exact * 1.015 or kept.length > refined[0].length * 1.005


def test_every_candidate_is_reported(mismatch_case):
    _, graph, _, paths, refined = mismatch_case
    for path, better in zip(paths, refined):
        kinds = [c.kind for c in better.candidates]
        assert kinds[0] == "graph" and "straight" in kinds
        graph_candidate = better.candidates[0]
        assert graph_candidate.start_length == pytest.approx(measure_path(graph, path).length,
                                                             rel=1e-12)
        assert better.length == pytest.approx(min(min(c.start_length, c.length)
                                                  for c in better.candidates
                                                  if np.isfinite(c.length)
                                                  or np.isfinite(c.start_length)),
                                              rel=1e-12)


def test_the_end_chord_bounds_every_refined_candidate(mismatch_case, monkeypatch):
    from atlasnb.geodesics import choose

    _, graph, _, paths, refined = mismatch_case
    seen = []
    measure = choose._refined_length

    def record(plan):
        length = measure(plan)
        seen.append((choose.end_chord(plan.refined), length))
        return length

    monkeypatch.setattr(choose, "_refined_length", record)
    again = refine_all(graph, paths[:2], n_iterations=60)
    assert seen
    for chord, length in seen:
        assert chord <= length * (1 + 1e-5)
    # Nothing a bound dropped could have won: the lengths are those of refine_all
    # without the bound.
    monkeypatch.setattr(choose, "end_chord", lambda start: 0.0)
    unbounded = refine_all(graph, paths[:2], n_iterations=60)
    for a, b in zip(again, unbounded):
        assert a.length == pytest.approx(b.length, rel=1e-5)


def test_batched_refinement_equals_one_at_a_time(mismatch_case):
    _, graph, _, paths, refined = mismatch_case
    for path, together in zip(paths, refined):
        alone = refine(graph, path, n_iterations=60)
        assert together.length == pytest.approx(alone.length, rel=0.01)


def test_batched_search_equals_one_at_a_time():
    model = toy.SphereAtlas(ambient_dim=4, overlap=0.4, mismatch=0.05, seed=3)
    x = model.sample(300, seed=1)
    ends = model.sample(20, seed=9)
    lazy = build_atlas_graph(model, x, k=8, progress=False)
    fresh = build_atlas_graph(model, x, k=8, progress=False)
    together = shortest_paths(lazy, ends[:10], ends[10:], insert="all")
    for a, b, path in zip(ends[:10], ends[10:], together):
        alone = shortest_path(fresh, a, b, insert="all")
        assert path.length == pytest.approx(alone.length, rel=1e-9)
        assert path.length == pytest.approx(measure_path(lazy, path).length, rel=1e-9)
    # Node ids and (z, y) pairs work too, mixed with data points.
    mixed = shortest_paths(lazy, [0, (lazy.node_latent[5], int(lazy.node_chart[5]))],
                           [ends[0], 7])
    assert mixed[0].length == pytest.approx(shortest_path(lazy, 0, ends[0]).length, rel=1e-9)
    assert mixed[1].nodes[-1] == 7


def test_batched_search_reports_disconnected_pairs():
    model = toy.SphereAtlas(ambient_dim=3, overlap=0.4)
    graph = build_atlas_graph(model, model.sample(60, seed=0), k=1, progress=False)
    labels = graph.component_labels()
    assert labels.max() > 0
    a, b = int(np.flatnonzero(labels == 0)[0]), int(np.flatnonzero(labels == 1)[0])
    with pytest.raises(DisconnectedGraphError, match="pair 1"):
        shortest_paths(graph, [a, a], [a, b])
    found = shortest_paths(graph, [a, a], [a, b], disconnected="none")
    assert found[0] is not None and found[1] is None


@pytest.mark.parametrize("starts, ends, match", [
    ("two", "one", "starts and ends must hold as many"),
    ("none", "none", "empty"),
])
def test_batched_search_rejects_bad_batches(mismatch_case, starts, ends, match):
    model, graph, pairs, _, _ = mismatch_case
    points = {"two": [pairs[0][0], pairs[1][0]], "one": [pairs[0][1]], "none": []}
    with pytest.raises(ValueError, match=match):
        shortest_paths(graph, points[starts], points[ends])


def test_batched_search_rejects_bad_arguments(mismatch_case):
    _, graph, pairs, _, _ = mismatch_case
    with pytest.raises(ValueError, match="disconnected"):
        shortest_paths(graph, [pairs[0][0]], [pairs[0][1]], disconnected="skip")
    with pytest.raises(ValueError, match=r"end of pair 0 .* shaped"):
        shortest_paths(graph, [pairs[0][0]], [pairs[0][1][:2]])
    with pytest.raises(TypeError, match="AtlasGraph"):
        shortest_paths(graph.model, [pairs[0][0]], [pairs[0][1]])


def test_refine_all_rejects_bad_input(mismatch_case):
    model, graph, pairs, paths, _ = mismatch_case
    with pytest.raises(ValueError, match="non-empty list"):
        refine_all(graph, [])
    with pytest.raises(TypeError, match=r"paths\[1\] must be a GeodesicPath"):
        refine_all(graph, [paths[0], "path"])
    other = build_atlas_graph(model, model.sample(300, seed=11), k=8, progress=False)
    foreign = shortest_path(other, 3, 40)
    with pytest.raises(ValueError, match=r"paths\[1\] is not a path of this graph"):
        refine_all(graph, [paths[0], foreign])
    with pytest.raises(ValueError, match="n_alternatives"):
        refine_all(graph, paths[:1], n_alternatives=-1)
    with pytest.raises(ValueError, match="tolerance"):
        refine_all(graph, paths[:1], tolerance=-1.0)
