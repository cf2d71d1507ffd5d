"""The prior-sampled graph (atlasnb.geodesics.prior) and the optional prior sampler
of the AGM interface (sample_latent, atlasnb.agm.draw_latent).

Exact answers come from the circle and sphere atlases of atlasnb.toy (arc and
great-circle lengths known in closed form); tiny trained models (m = 1 and 2)
check that the graph builds and is searched on a trained network.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.sparse import csgraph

from atlasnb import agm, experiments, geodesics, runs, toy
from atlasnb.config import make_config
from atlasnb.geodesics import (
    PriorGraph,
    build_atlas_graph,
    build_prior_graph,
    prior_memberships,
    shortest_path,
)
from atlasnb.models import WAEGAN, AtlasWAEGAN

N_STEPS = geodesics.DEFAULT_N_STEPS
#: The tiny smoke preset of tests/test_experiments.py: seconds per model on a CPU.
TINY = dict(width=2, train_size=200, test_size=100, epochs=1, batch_size=50,
            lr_halving_epochs=(1,))


def points_at(circle, angles):
    return circle.embed(torch.tensor(angles, dtype=torch.float64))


class NoPrior:
    """An AGM with no sample_latent: a circle atlas's maps, nothing else."""

    def __init__(self):
        self.inner = toy.CircleAtlas()
        self.n_charts, self.latent_dim = self.inner.n_charts, self.inner.latent_dim

    def partition(self, x):
        return self.inner.partition(x)

    def encode(self, x):
        return self.inner.encode(x)

    def decode(self, z, y):
        return self.inner.decode(z, y)


class BadPrior(NoPrior):
    """An AGM whose sample_latent returns what it is given to return."""

    def __init__(self, result):
        super().__init__()
        self.result = result

    def sample_latent(self, n, generator=None):
        return self.result(n)


# ------------------------------------------------------------------ the prior sampler


def test_the_models_prior_is_the_objectives():
    model = AtlasWAEGAN(4, h=2)
    z, y = model.sample_latent(40_000, torch.Generator().manual_seed(0))
    assert z.shape == (40_000, model.latent_dim) and z.dtype == torch.float32
    assert y.shape == (40_000,) and y.dtype == torch.long
    # P(Y) uniform over the 4 charts: each count within 4 standard deviations.
    counts = np.bincount(y.numpy(), minlength=4)
    assert np.all(np.abs(counts - 10_000) < 4 * math.sqrt(40_000 * 0.25 * 0.75))
    # P(Z) = N(0, I), independent of y.
    assert torch.allclose(z.mean(0), torch.zeros(7), atol=0.03)
    assert torch.allclose(z.std(0), torch.ones(7), atol=0.03)
    assert torch.allclose(z[y == 3].std(0), torch.ones(7), atol=0.05)
    assert torch.allclose(torch.corrcoef(z.T), torch.eye(7), atol=0.03)


def test_the_single_chart_prior_has_one_chart():
    z, y = WAEGAN(h=2).sample_latent(500, torch.Generator().manual_seed(0))
    assert z.shape == (500, 8) and torch.all(y == 0)


def test_model_samples_are_reproducible_for_a_generator_seed():
    model = AtlasWAEGAN(8, h=2)
    first = model.sample_latent(50, torch.Generator().manual_seed(3))
    again = model.sample_latent(50, torch.Generator().manual_seed(3))
    other = model.sample_latent(50, torch.Generator().manual_seed(4))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0])


@pytest.mark.parametrize("n_charts", [2, 3, 5])
def test_circle_prior_covers_the_circle_through_every_chart(n_charts):
    circle = toy.CircleAtlas(n_charts=n_charts, overlap=0.6)
    z, y = circle.sample_latent(6000, torch.Generator().manual_seed(1))
    assert z.dtype == torch.float64 and z.shape == (6000, 1) and y.dtype == torch.long
    assert set(y.tolist()) == set(range(n_charts))
    assert z.abs().max() < circle.half_width  # inside chart y's arc, where psi_y > 0
    # Chart y's coordinate of the decoded sample is the sample: F_y(G_y(z)) = z.
    codes = circle.encode(circle.decode(z, y))[torch.arange(6000), y]
    assert torch.allclose(codes, z, atol=1e-12)
    # The decoded angles cover the circle: no gap wider than 0.02 rad.
    angles = torch.sort(circle.angle(circle.decode(z, y))).values
    gaps = torch.diff(torch.cat([angles, angles[:1] + 2 * math.pi]))
    assert gaps.max() < 0.02


def test_sphere_prior_is_uniform_on_each_charts_cap():
    sphere = toy.SphereAtlas(ambient_dim=5, overlap=0.5)
    z, y = sphere.sample_latent(8000, torch.Generator().manual_seed(0))
    assert z.shape == (8000, 2) and set(y.tolist()) == {0, 1}
    p = sphere.coordinates(sphere.decode(z, y))
    # Chart 0 covers p3 < h, chart 1 p3 > -h; a uniform point on a cap has a
    # uniform height (Archimedes) and a uniform azimuth.
    height = torch.where(y == 0, p[:, 2], -p[:, 2]).numpy()
    assert height.max() < 0.5
    assert stats.kstest(height, stats.uniform(-1, 1.5).cdf).pvalue > 1e-3
    azimuth = torch.atan2(p[:, 1], p[:, 0]).numpy()
    assert stats.kstest(azimuth, stats.uniform(-math.pi, 2 * math.pi).cdf).pvalue > 1e-3
    # Chart y's coordinate of the decoded sample is the sample.
    assert torch.allclose(sphere.encode(sphere.decode(z, y))[torch.arange(8000), y], z,
                          atol=1e-9)


def test_single_chart_circle_prior():
    circle = toy.CircleSingleChart()
    z, y = circle.sample_latent(300, torch.Generator().manual_seed(0))
    assert torch.all(y == 0) and z.abs().max() < math.pi and z.shape == (300, 1)


def test_a_model_without_a_prior_is_named():
    with pytest.raises(TypeError, match="NoPrior offers no sample_latent"):
        agm.draw_latent(NoPrior(), 10)
    with pytest.raises(TypeError, match="NoPrior offers no sample_latent"):
        build_prior_graph(NoPrior(), 10, progress=False)
    assert not isinstance(NoPrior(), agm.SampledAGM)
    assert isinstance(toy.CircleAtlas(), agm.SampledAGM)
    assert isinstance(AtlasWAEGAN(2, h=2), agm.SampledAGM)


@pytest.mark.parametrize("result, message", [
    (lambda n: (torch.zeros(n, 2, dtype=torch.float64), torch.zeros(n, dtype=torch.long)),
     r"z as an \(n, d\) = \(5, 1\) float tensor, got \(5, 2\)"),
    (lambda n: (torch.zeros(n, 1, dtype=torch.float64), torch.zeros(n)),
     r"y as an \(n,\) = \(5,\) long tensor, got \(5,\) of dtype torch.float32"),
    (lambda n: (torch.zeros(n, 1, dtype=torch.float64), torch.full((n,), 2)),
     r"charts outside \[0, 2\): from 2 to 2"),
])
def test_what_sample_latent_returns_is_checked(result, message):
    with pytest.raises(ValueError, match=message):
        agm.draw_latent(BadPrior(result), 5)


# ------------------------------------------------------------------ the graph's nodes


@pytest.fixture(scope="module")
def circle_prior_graph():
    circle = toy.CircleAtlas(ambient_dim=4, radius=1.5, n_charts=3, overlap=0.8)
    return circle, build_prior_graph(circle, 450, k=10, seed=2, progress=False)


def test_every_sample_is_a_node_and_its_encodings_lie_in_charts_holding_it(
        circle_prior_graph):
    circle, graph = circle_prior_graph
    assert isinstance(graph, PriorGraph) and graph.n_samples == 450
    z, y = circle.sample_latent(450, torch.Generator().manual_seed(2))
    assert torch.equal(graph.sample_codes, z) and np.array_equal(graph.sample_charts, y)
    sampled = graph.node_sampled
    assert sampled.sum() == 450
    assert np.array_equal(np.sort(graph.node_index[sampled]), np.arange(450))
    assert torch.equal(graph.node_latent[sampled], z[graph.node_index[sampled]])
    # Independently: psi at each decoded sample, and the expected memberships.
    x = circle.decode(z, y)
    psi = circle.partition(x).numpy()
    assert np.allclose(graph.sample_psi, psi)
    own = psi[np.arange(450), y.numpy()] > graph.eps
    assert (~sampled).sum() == (psi > graph.eps).sum() - own.sum() > 0
    # An encoding node is (F_j(x_i), j) and its image G_j(F_j(x_i)).
    encoded = np.flatnonzero(~sampled)
    i, j = graph.node_index[encoded], graph.node_chart[encoded]
    assert np.all(psi[i, j] > graph.eps)
    codes = circle.encode(x[i])[np.arange(len(i)), j]
    assert torch.allclose(graph.node_latent[encoded], codes)
    assert torch.allclose(graph.node_images[encoded], circle.decode(codes, torch.from_numpy(j)))
    # Nodes are ordered by chart.
    assert np.all(np.diff(graph.node_chart) >= 0)


def cross_edge_psi(circle, graph):
    """psi at the decoded sample of each cross-chart edge, in the charts of its two ends."""
    u, v = graph.edges[graph.edge_cross].T
    psi = circle.partition(graph.node_images[np.where(graph.node_sampled[u], u, v)]).numpy()
    rows = np.arange(len(u))
    return psi[rows, graph.node_chart[u]], psi[rows, graph.node_chart[v]]


def test_cross_edges_join_a_sample_to_its_encodings(circle_prior_graph):
    circle, graph = circle_prior_graph
    cross = graph.edges[graph.edge_cross]
    assert len(cross) == (~graph.node_sampled).sum()
    u, v = cross.T
    assert np.array_equal(graph.node_index[u], graph.node_index[v])
    assert np.all(graph.node_sampled[u] ^ graph.node_sampled[v])
    assert np.all(graph.node_chart[u] != graph.node_chart[v])
    # The encoding's chart holds the decoded sample (the paper's condition).
    encoding = np.where(graph.node_sampled[u], v, u)
    sample = graph.node_images[np.where(graph.node_sampled[u], u, v)]
    psi = circle.partition(sample).numpy()
    assert np.all(psi[np.arange(len(u)), graph.node_chart[encoding]] > graph.eps)
    # By default the sample's own chart need not hold it: some links start where it
    # does not, near the ends of a chart's arc.
    psi_u, psi_v = cross_edge_psi(circle, graph)
    assert np.any(np.minimum(psi_u, psi_v) <= graph.eps)
    # The charts agree exactly (no mismatch): every jump is zero.
    assert np.allclose(graph.edge_weights[graph.edge_cross], 0, atol=1e-12)


def test_requiring_the_own_chart_links_only_points_both_charts_hold():
    circle = toy.CircleAtlas(ambient_dim=4, radius=1.5, n_charts=3, overlap=0.8)
    graph = build_prior_graph(circle, 450, k=10, seed=2, require_own_chart=True,
                              progress=False)
    loose = build_prior_graph(circle, 450, k=10, seed=2, progress=False)
    assert graph.require_own_chart and not loose.require_own_chart
    psi_u, psi_v = cross_edge_psi(circle, graph)
    assert len(psi_u) > 0
    assert np.all(psi_u > graph.eps) and np.all(psi_v > graph.eps)
    # The same samples, fewer links.
    assert torch.equal(graph.sample_codes, loose.sample_codes)
    assert 0 < graph.edge_cross.sum() < loose.edge_cross.sum()


def test_memberships_of_decoded_samples():
    psi = np.array([[0.7, 0.3, 0.0], [0.05, 0.5, 0.45], [0.2, 0.2, 0.6]])
    charts = np.array([0, 0, 2])
    assert prior_memberships(psi, charts, eps=0.1).tolist() == [
        [True, True, False],   # chart 1 holds it too
        [True, True, True],    # its own chart 0 holds it only weakly: still linked
        [True, True, True]]
    assert prior_memberships(psi, charts, eps=0.1, require_own_chart=True).tolist() == [
        [True, True, False],
        [True, False, False],  # psi_0 = 0.05 <= eps: its own node only
        [True, True, True]]


# ------------------------------------------------------------------ geodesic lengths

PAIRS = [(0.1, 1.2), (0.2, 2.9), (-2.5, 0.4), (3.0, -3.0), (-1.5, 1.6), (2.5, -1.7)]


@pytest.mark.parametrize("a, b", PAIRS)
def test_prior_graph_geodesics_match_arc_lengths(circle_prior_graph, a, b):
    circle, graph = circle_prior_graph
    x0, x1 = points_at(circle, [a, b])
    path = shortest_path(graph, x0, x1)
    arc = float(circle.arc_distance(x0[None], x1[None])[0])
    # As for Algorithm 1's graph: every edge is a chord sum no longer than its
    # arc, jumps are zero, so the length lies between the arc less the chords'
    # shortfall and the arc.
    within = ~path.cross
    phi = float((path.latents[1:] - path.latents[:-1]).abs()[within].max())
    assert phi < 0.5
    assert arc * (1 - phi**2 / (24 * N_STEPS**2)) - 1e-9 <= path.length <= arc + 1e-9
    assert path.length == pytest.approx(arc, rel=1e-3)
    # Graph vertices name the samples they come from.
    inner = path.data_indices[1:-1]
    assert np.all((inner >= 0) & (inner < graph.n_samples))


def test_mismatched_charts_give_lengths_within_the_jumps():
    circle = toy.CircleAtlas(ambient_dim=3, n_charts=4, overlap=0.8, mismatch=0.01)
    graph = build_prior_graph(circle, 400, k=8, seed=0, progress=False)
    jumps = graph.edge_weights[graph.edge_cross]
    assert jumps.min() > 0  # the charts' decodings of one point differ
    for a, b in [(0.3, 2.8), (-2.0, 1.0), (1.5, -1.5)]:
        x0, x1 = points_at(circle, [a, b])
        path = shortest_path(graph, x0, x1)
        arc = float(circle.arc_distance(x0[None], x1[None])[0])
        # Every decoding lies on the circle, so no path is shorter than the arc
        # between its end images (less the chords' shortfall); the jumps add a
        # little.
        end_arc = float(circle.arc_distance(path.images[:1], path.images[-1:])[0])
        assert path.length >= end_arc * (1 - 1e-3)
        assert path.length == pytest.approx(arc, rel=0.05)


def test_prior_and_data_graphs_agree_on_the_circle():
    circle = toy.CircleAtlas(ambient_dim=4, n_charts=2)
    prior = build_prior_graph(circle, 400, k=10, seed=0, progress=False)
    data = build_atlas_graph(circle, circle.sample(400, seed=0), k=10, progress=False)
    nodes = np.arange(0, prior.n_nodes, 7)
    angles = circle.angle(prior.node_images[nodes])
    arcs = (circle.radius * toy.wrap_angle(angles[:, None] - angles[None, :]).abs()).numpy()
    if hasattr(prior, "evaluate_all"):
        prior.evaluate_all()
    distances = csgraph.dijkstra(prior.adjacency, directed=False, indices=nodes)[:, nodes]
    assert np.allclose(distances, arcs, rtol=1e-3, atol=1e-9)
    for a, b in PAIRS[:3]:
        x0, x1 = points_at(circle, [a, b])
        assert shortest_path(prior, x0, x1).length == pytest.approx(
            shortest_path(data, x0, x1).length, rel=1e-3)


def test_sphere_geodesics_approach_great_circles():
    sphere = toy.SphereAtlas(ambient_dim=4, overlap=0.5)
    graph = build_prior_graph(sphere, 1500, k=10, seed=0, progress=False)
    x = sphere.sample(40, seed=5)
    ratios, arcs = [], []
    for x0, x1 in zip(x[:20], x[20:]):
        path = shortest_path(graph, x0, x1)
        arc = float(sphere.arc_distance(x0[None], x1[None])[0])
        # Decodings lie on the sphere: a polygon through them falls short of the
        # great circle only by its chords' shortfall, here below 0.1%.
        assert path.length >= arc * (1 - 1e-3)
        ratios.append(path.length / arc)
        arcs.append(arc)
    ratios, arcs = np.array(ratios), np.array(arcs)
    # The stretch of a 2-d neighbour graph: a few per cent, more for short pairs.
    assert np.all(ratios[arcs > 0.5] < 1.10) and np.all(ratios < 1.4)
    assert np.median(ratios) < 1.06


# ------------------------------------------------------------------ seeds, m = 1, errors


def test_the_graph_is_reproducible_for_a_seed():
    circle = toy.CircleAtlas(n_charts=3, overlap=0.8)
    first = build_prior_graph(circle, 120, k=5, seed=7, progress=False)
    again = build_prior_graph(circle, 120, k=5, seed=7, progress=False)
    other = build_prior_graph(circle, 120, k=5, seed=8, progress=False)
    assert torch.equal(first.node_latent, again.node_latent)
    assert np.array_equal(first.edges, again.edges)
    assert np.array_equal(first.edge_weights, again.edge_weights)
    assert not torch.equal(first.sample_codes, other.sample_codes)


def test_one_chart_is_the_knn_graph_of_the_samples():
    circle = toy.CircleSingleChart(ambient_dim=3)
    graph = build_prior_graph(circle, 200, k=6, seed=1, progress=False)
    z, _ = circle.sample_latent(200, torch.Generator().manual_seed(1))
    assert graph.n_nodes == 200 and not graph.edge_cross.any()
    assert np.array_equal(graph.node_index, np.arange(200)) and graph.node_sampled.all()
    assert torch.equal(graph.node_latent, z)
    # F(G(z)) = z on (-pi, pi), so Algorithm 1 over the decoded samples is the same graph.
    data = build_atlas_graph(circle, circle.decode(z, 0), k=6, progress=False)
    assert np.array_equal(graph.edges, data.edges)
    assert torch.allclose(graph.node_latent, data.node_latent)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_points=0), "n_points must be an integer >= 1, got 0"),
    (dict(n_points=2.5), "n_points must be an integer >= 1, got 2.5"),
    (dict(k=0), "k must be an integer >= 1, got 0"),
    (dict(n_steps=0), "n_steps must be an integer >= 1, got 0"),
    (dict(eps=1.5), r"eps must be a number in \[0, 1\), got 1.5"),
    (dict(seed=-1), "seed must be an integer >= 0, got -1"),
    (dict(lazy="yes"), "lazy must be True or False, got 'yes'"),
    (dict(require_own_chart=1), "require_own_chart must be True or False, got 1"),
])
def test_bad_parameters_are_named(kwargs, message):
    arguments = dict(n_points=20, progress=False) | kwargs
    with pytest.raises(ValueError, match=message):
        build_prior_graph(toy.CircleAtlas(), **arguments)


def test_bad_models_are_refused():
    with pytest.raises(TypeError, match="does not offer the AGM interface"):
        build_prior_graph(object(), 10, progress=False)


# ------------------------------------------------------------------ a trained model


@pytest.mark.parametrize("n_charts", [1, 2])
def test_prior_graph_on_a_trained_model(runs_root, n_charts):
    run = runs.load_or_train(make_config("smoke", "mnist", n_charts, **TINY), device="cpu",
                             progress=False)
    model = run.model.train()
    graph = build_prior_graph(model, 60, k=4, n_steps=4, seed=0, progress=False)
    assert model.training, "the model's mode is restored"
    assert graph.node_sampled.sum() == 60 and graph.point_shape == (1, 28, 28)
    assert graph.n_nodes == 60 + (~graph.node_sampled).sum()
    if n_charts == 1:
        assert graph.n_nodes == 60 and not graph.edge_cross.any()
    statistics = geodesics.graph_statistics(graph)
    assert statistics["nodes"] == graph.n_nodes
    starts, ends = experiments.test_pairs("mnist", experiments.graph_settings(
        "smoke", n_pairs=4))
    found = 0
    for start, end in zip(starts, ends):
        try:
            path = shortest_path(graph, start, end)
        except geodesics.DisconnectedGraphError:
            continue
        found += 1
        assert path.length >= float((path.images[0] - path.images[-1]).norm()) * (1 - 1e-6)
        interpolation = geodesics.interpolate(graph, path, 5)
        assert interpolation.images.shape == (5, 1, 28, 28)
    assert found >= 1
