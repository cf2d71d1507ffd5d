"""Tests of atlasnb.geodesics.refine and the sphere atlas of atlasnb.toy.

Exact answers come from hand-written atlases: arc lengths on the circle and
great-circle lengths on the sphere with two stereographic charts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from atlasnb import toy
from atlasnb.geodesics import build_atlas_graph, interpolate, measure_path, refine, shortest_path
from atlasnb.models import AtlasWAEGAN


def _pairs(model, n_pairs, seed):
    ends = model.sample(2 * n_pairs, seed=seed)
    return list(zip(ends[:n_pairs], ends[n_pairs:]))


@pytest.fixture(scope="module")
def sphere_case():
    model = toy.SphereAtlas(ambient_dim=4, overlap=0.4, seed=3)
    graph = build_atlas_graph(model, model.sample(300, seed=1), k=8, progress=False)
    pairs = _pairs(model, 8, seed=2)
    paths = [shortest_path(graph, a, b) for a, b in pairs]
    # Sphere paths have many vertices per chart: more iterations than the default.
    refined = [refine(graph, p, n_iterations=60) for p in paths]
    return model, graph, pairs, paths, refined


@pytest.fixture(scope="module")
def circle_case():
    model = toy.CircleAtlas(ambient_dim=4, n_charts=3, overlap=0.8, seed=1)
    graph = build_atlas_graph(model, model.sample(200, seed=1), k=6, progress=False)
    pairs = _pairs(model, 6, seed=4)
    paths = [shortest_path(graph, a, b) for a, b in pairs]
    refined = [refine(graph, p) for p in paths]
    return model, graph, pairs, paths, refined


# ----------------------------------------------------------------------------- the sphere
def test_sphere_charts_invert_and_partition_is_a_partition_of_unity():
    model = toy.SphereAtlas(ambient_dim=5, overlap=0.3, seed=0)
    x = model.sample(500, seed=0)
    p3 = model.coordinates(x)[:, 2]
    psi = model.partition(x)
    assert torch.allclose(psi.sum(dim=1), torch.ones(500, dtype=psi.dtype))
    # psi_y is positive exactly on chart y's cap (exp(-1 / gap) underflows to 0 in
    # float64 within about 1e-3 of the cap's rim, so that thin band is left out).
    clear = ((p3.abs() - 0.3).abs() > 2e-3)
    assert torch.equal((psi[:, 0] > 0)[clear], (p3 < 0.3)[clear])
    assert torch.equal((psi[:, 1] > 0)[clear], (p3 > -0.3)[clear])
    assert not ((psi[:, 0] > 0) & (p3 >= 0.3)).any() and not ((psi[:, 1] > 0) & (p3 <= -0.3)).any()
    codes = model.encode(x)
    for y in range(2):
        inside = psi[:, y] > 0
        assert torch.allclose(model.decode(codes[inside, y], y), x[inside], atol=1e-10)
    # Stereographic charts: the equator maps to the unit circle in both.
    equator = model.embed(torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64))
    assert torch.allclose(model.encode(equator).norm(dim=2), torch.ones(2, 2, dtype=x.dtype))


def test_sphere_arc_distance_is_the_great_circle_length():
    model = toy.SphereAtlas(ambient_dim=3, radius=2.0)
    p = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [-1.0, 0, 0]], dtype=torch.float64)
    x = model.embed(p)
    distance = model.arc_distance(x[[0, 0]], x[[1, 2]])
    assert torch.allclose(distance, torch.tensor([math.pi, 2 * math.pi], dtype=x.dtype))


def test_sphere_mismatch_turns_chart_one_only():
    model = toy.SphereAtlas(mismatch=0.1)
    z = torch.tensor([[0.5, 0.2]], dtype=torch.float64)
    exact = toy.SphereAtlas()
    assert torch.allclose(model.decode(z, 0), exact.decode(z, 0))
    assert not torch.allclose(model.decode(z, 1), exact.decode(z, 1))
    assert torch.allclose(model.decode(z, 1).norm(), torch.tensor(1.0, dtype=z.dtype))


@pytest.mark.parametrize("kwargs, match", [({"radius": 0}, "radius"),
                                            ({"overlap": 1.0}, "overlap"),
                                            ({"ambient_dim": 2}, "ambient_dim")])
def test_sphere_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        toy.SphereAtlas(**kwargs)


# ----------------------------------------------------------------------------- refinement
@pytest.mark.parametrize("case", ["circle_case", "sphere_case"])
def test_refined_lengths_come_within_one_percent_of_exact(case, request):
    model, _, pairs, _, refined = request.getfixturevalue(case)
    for (a, b), path in zip(pairs, refined):
        exact = float(model.arc_distance(a[None], b[None])[0])
        assert path.length == pytest.approx(exact, rel=0.01)


def test_graph_alone_is_measurably_longer_on_the_sphere(sphere_case):
    model, graph, pairs, paths, refined = sphere_case
    exact = np.array([float(model.arc_distance(a[None], b[None])[0]) for a, b in pairs])
    graph_lengths = np.array([measure_path(graph, p).length for p in paths])
    refined_lengths = np.array([p.length for p in refined])
    assert (graph_lengths > 1.02 * exact).sum() >= len(pairs) // 2
    assert (refined_lengths < graph_lengths - 0.01 * exact).any()


@pytest.mark.parametrize("case", ["circle_case", "sphere_case"])
def test_refinement_never_increases_the_length(case, request):
    _, graph, _, paths, refined = request.getfixturevalue(case)
    for path, better in zip(paths, refined):
        assert better.length <= measure_path(graph, path).length
        assert better.length == pytest.approx(measure_path(graph, better).length, rel=1e-9)


def test_failed_optimisation_returns_the_original_path(sphere_case):
    _, graph, _, paths, _ = sphere_case
    path = next(p for p in paths if len(p.charts) > 2)
    # A step so large that every update overshoots: the original must come back.
    worse = refine(graph, path, optimiser="adam", lr=50.0, n_iterations=3, tolerance=0)
    assert worse.length == pytest.approx(measure_path(graph, path).length, rel=1e-12)
    assert worse.length <= measure_path(graph, path).length
    unchanged = refine(graph, path, n_iterations=0)
    assert unchanged.length <= measure_path(graph, path).length


@pytest.mark.parametrize("case", ["circle_case", "sphere_case"])
def test_chart_changes_stay_inside_overlaps(case, request):
    model, graph, _, paths, refined = request.getfixturevalue(case)
    assert any(p.cross.any() for p in refined), "the pairs must include a chart change"
    for path in refined:
        sequence = tuple(int(y) for y in path.charts[np.r_[True, path.cross]])
        assert sequence in {c.charts for c in path.candidates}
        for a in np.flatnonzero(path.cross):
            i, j = path.charts[a], path.charts[a + 1]
            for row in (a, a + 1):  # both points beside the change
                psi = model.partition(path.images[row][None])[0]
                assert psi[i] > graph.eps and psi[j] > graph.eps


def test_refinement_without_chart_choice_keeps_the_charts(circle_case):
    _, graph, _, paths, _ = circle_case
    for original in paths:
        path = refine(graph, original, choose_charts=False)
        assert [c.kind for c in path.candidates] == ["graph"]
        assert list(path.charts[np.r_[True, path.cross]]) == \
            list(original.charts[np.r_[True, original.cross]])


def test_jumps_stay_in_the_length_with_mismatched_charts():
    model = toy.SphereAtlas(ambient_dim=3, overlap=0.4, mismatch=0.05, seed=0)
    graph = build_atlas_graph(model, model.sample(250, seed=5), k=8, progress=False)
    for a, b in _pairs(model, 6, seed=6):
        path = refine(graph, shortest_path(graph, a, b))
        jumps = [float((path.images[k] - path.images[k + 1]).norm())
                 for k in np.flatnonzero(path.cross)]
        within = sum(s.sum() for s, c in zip(path.steps, path.cross) if not c)
        assert path.length == pytest.approx(within + sum(jumps), rel=1e-9)
        assert all(j > 0 for j in jumps)


def test_refined_path_interpolates_with_a_chart_per_point(sphere_case):
    _, graph, _, _, refined = sphere_case
    path = next(p for p in refined if p.cross.any())
    steps = interpolate(graph, path, n_points=12)
    assert len(steps.images) == 12 and len(path.charts) == len(path.latents)
    assert set(steps.charts) == set(path.charts)
    assert torch.allclose(steps.images[0], path.images[0])
    assert torch.allclose(steps.images[-1], path.images[-1])


def test_refine_on_a_network_leaves_its_parameters_and_mode_alone():
    torch.manual_seed(0)
    model = AtlasWAEGAN(n_charts=2, h=2)
    model.train()
    x = torch.rand(40, 1, 28, 28)
    graph = build_atlas_graph(model, x, k=5, eps=0.05, progress=False)
    path = shortest_path(graph, x[0], x[1])
    with torch.inference_mode():  # refine must re-enable gradients itself
        refined = refine(graph, path, n_iterations=20)
    assert refined.length <= measure_path(graph, path).length
    assert model.training
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


@pytest.mark.parametrize("kwargs, match", [({"points_per_run": 1}, "points_per_run"),
                                            ({"objective": "speed"}, "objective"),
                                            ({"optimiser": "sgd"}, "optimiser"),
                                            ({"lr": 0}, "lr"),
                                            ({"eps": 1.5}, "eps"),
                                            ({"measure_steps": 0}, "measure_steps")])
def test_refine_rejects_bad_arguments(sphere_case, kwargs, match):
    _, graph, _, paths, _ = sphere_case
    with pytest.raises(ValueError, match=match):
        refine(graph, paths[0], **kwargs)


def test_refine_needs_a_path(sphere_case):
    _, graph, _, _, _ = sphere_case
    with pytest.raises(TypeError, match="GeodesicPath"):
        refine(graph, [0, 1])


@pytest.mark.parametrize("kwargs", [{"objective": "length", "n_iterations": 300},
                                    {"optimiser": "adam", "n_iterations": 150, "lr": 0.02}])
def test_other_objective_and_optimiser_also_reach_the_great_circle(sphere_case, kwargs):
    model, graph, pairs, paths, _ = sphere_case
    for (a, b), path in list(zip(pairs, paths))[:3]:
        refined = refine(graph, path, **kwargs)
        exact = float(model.arc_distance(a[None], b[None])[0])
        assert refined.length == pytest.approx(exact, rel=0.01)


# ----------------------------------------------------------------------------- measurements
def test_straight_path_uses_the_chart_holding_both_ends_most_confidently():
    from atlasnb.geodesics import straight_path

    model = toy.SphereAtlas(ambient_dim=3, overlap=0.4)
    north = model.embed(torch.tensor([[0.6, 0.0, 0.8], [0.0, 0.6, 0.8]], dtype=torch.float64))
    path = straight_path(model, north[0], north[1], eps=0.1, n_steps=30)
    assert list(path.charts) == [1, 1]  # both ends lie in the northern cap, chart 1 only
    chord = float((north[0] - north[1]).norm())
    exact = float(model.arc_distance(north[:1], north[1:])[0])
    assert chord <= path.length <= exact * 1.05
    south_pole = model.embed(torch.tensor([[0.0, 0.0, -1.0]], dtype=torch.float64))[0]
    assert straight_path(model, north[0], south_pole, eps=0.1, n_steps=5) is None


def test_data_likeness_is_zero_on_the_reference_and_manifold():
    from atlasnb.metrics import data_likeness

    model = toy.SphereAtlas(ambient_dim=3, overlap=0.4)
    reference = model.sample(50, seed=0)
    nearest, error = data_likeness(model, reference[:5], reference)
    assert np.allclose(nearest, 0, atol=1e-6) and np.allclose(error, 0, atol=1e-9)
    off = reference[:5] * 1.5  # off the sphere: reconstruction projects back onto it
    _, error = data_likeness(model, off, reference)
    assert np.allclose(error, 0.5 * model.radius, atol=1e-9)


@pytest.mark.parametrize("kwargs, match", [({"optimiser": "sgd"}, "optimiser"),
                                            ({"n_frames": -1}, "n_frames"),
                                            ({"scan_points": ()}, "scan_points")])
def test_refine_settings_reject_bad_values(kwargs, match):
    from atlasnb.experiments import refine_settings

    with pytest.raises(ValueError, match=match):
        refine_settings("smoke", **kwargs)
