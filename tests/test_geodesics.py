"""Tests of atlasnb.geodesics: eq. (10), Algorithm 1, A* and interpolation.

Exact answers come from hand-written AGMs: the circle atlases of atlasnb.toy
(arc lengths known in closed form) and a small analytic AGM defined here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from atlasnb import geodesics, toy
from atlasnb.geodesics import (
    FLOAT32_RTOL,
    DisconnectedGraphError,
    build_atlas_graph,
    curve_length,
    interpolate,
    shortest_path,
)

N_STEPS = geodesics.DEFAULT_N_STEPS


class TinyAGM:
    """A small analytic AGM: linear charts F_y, smooth decoders G_y = tanh(z B_y + b_y),
    psi a softmax of a linear map of x. float64 throughout."""

    def __init__(self, n_charts=3, latent_dim=2, ambient_dim=6, seed=0, sharpness=3.0):
        generator = torch.Generator().manual_seed(seed)

        def randn(*shape):
            return torch.randn(*shape, generator=generator, dtype=torch.float64)

        self.n_charts, self.latent_dim, self.ambient_dim = n_charts, latent_dim, ambient_dim
        self.logit_map = randn(ambient_dim, n_charts) * sharpness
        self.charts = randn(n_charts, ambient_dim, latent_dim)
        self.weights = randn(n_charts, latent_dim, ambient_dim)
        self.biases = randn(n_charts, ambient_dim)

    def partition(self, x):
        return torch.softmax(x @ self.logit_map, dim=1)

    def encode(self, x):
        return torch.einsum("nD,mDd->nmd", x, self.charts)

    def decode(self, z, y):
        y = int(y)
        return torch.tanh(z @ self.weights[y] + self.biases[y])


class CountingAGM(TinyAGM):
    """Records every (chart, code) it decodes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.decoded = []

    def decode(self, z, y):
        self.decoded += [(int(y), tuple(row)) for row in z.tolist()]
        return super().decode(z, y)


class TrainingFlagAGM(torch.nn.Module):
    """A torch module AGM that records whether it was in training mode when decoding."""

    def __init__(self):
        super().__init__()
        self.inner = TinyAGM(n_charts=2)
        self.n_charts, self.latent_dim = 2, self.inner.latent_dim
        self.scale = torch.nn.Parameter(torch.ones((), dtype=torch.float64))
        self.modes = set()

    def partition(self, x):
        return self.inner.partition(x)

    def encode(self, x):
        return self.inner.encode(x)

    def decode(self, z, y):
        self.modes.add(self.training)
        return self.inner.decode(z, y) * self.scale


def points_at(circle, angles):
    return circle.embed(torch.tensor(angles, dtype=torch.float64))


# ------------------------------------------------------------------------ eq. (10)


def test_curve_length_of_a_line_under_a_linear_decoder_is_exact():
    generator = torch.Generator().manual_seed(0)
    matrix = torch.randn(3, 7, generator=generator, dtype=torch.float64)
    z0 = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    z1 = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    exact = ((z1 - z0) @ matrix).norm(dim=1)
    for n_steps in (1, 2, 15):
        # A linear decoder maps the segment to a straight segment, so every chord
        # sum is its exact length; only float64 rounding remains.
        lengths = curve_length(lambda z: z @ matrix, z0, z1, n_steps=n_steps)
        torch.testing.assert_close(lengths, exact, rtol=1e-12, atol=1e-12)
    single = curve_length(lambda z: z @ matrix, z0[0], z1[0])
    assert single.ndim == 0 and math.isclose(float(single), float(exact[0]), rel_tol=1e-12)


@pytest.mark.parametrize("n_steps", [1, 4, 15, 100])
def test_curve_length_on_a_circle_is_the_chord_sum(n_steps):
    radius = 2.0
    circle = toy.CircleSingleChart(ambient_dim=5, radius=radius)
    z0 = torch.tensor([[-1.0], [0.3], [-3.0]], dtype=torch.float64)
    z1 = torch.tensor([[1.5], [0.4], [3.0]], dtype=torch.float64)
    delta = (z1 - z0).abs()[:, 0]
    lengths = curve_length(lambda z: circle.decode(z, 0), z0, z1, n_steps=n_steps)
    # The decoder is an isometric parametrisation by arc length / radius, so the
    # n chords of angle delta / n sum to exactly 2 r n sin(delta / 2n).
    chord_sum = 2 * radius * n_steps * torch.sin(delta / (2 * n_steps))
    torch.testing.assert_close(lengths, chord_sum, rtol=1e-12, atol=1e-12)
    # And it converges to the arc r delta from below, within r delta^3 / (24 n^2)
    # (from sin u >= u - u^3 / 6).
    arc = radius * delta
    assert torch.all(lengths <= arc + 1e-12)
    assert torch.all(arc - lengths <= radius * delta**3 / (24 * n_steps**2) + 1e-12)


def test_curve_length_rejects_bad_input():
    with pytest.raises(ValueError, match="n_steps must be an integer >= 1, got 0"):
        curve_length(lambda z: z, torch.zeros(2, 1), torch.ones(2, 1), n_steps=0)
    with pytest.raises(ValueError, match="z0 and z1"):
        curve_length(lambda z: z, torch.zeros(2, 1), torch.ones(3, 1))


# ---------------------------------------------------------------- the circle atlas


def path_bound(path, n_steps):
    """The largest chart angle of the path's within-chart segments, phi_max, and the
    relative shortfall phi_max^2 / (24 n^2) it allows below the true arc."""
    angles = (path.latents[1:, 0] - path.latents[:-1, 0]).abs().numpy()[~path.cross]
    phi = angles.max() if len(angles) else 0.0
    return phi, phi**2 / (24 * n_steps**2)


@pytest.fixture(scope="module")
def circle_graph():
    circle = toy.CircleAtlas(ambient_dim=4, radius=1.5)
    x = circle.sample(400, seed=3)
    return circle, x, build_atlas_graph(circle, x, k=10, progress=False)


PAIRS = [(0.1, 1.2), (0.2, 2.9), (-2.5, 0.4), (3.0, -3.0), (-1.5, 1.6), (1.0, 2.0),
         (-0.2, -2.2), (2.5, -1.7)]


@pytest.mark.parametrize("a, b", PAIRS)
def test_circle_atlas_geodesics_match_arc_lengths(circle_graph, a, b):
    circle, _, graph = circle_graph
    x0, x1 = points_at(circle, [a, b])
    path = shortest_path(graph, x0, x1)
    arc = float(circle.arc_distance(x0[None], x1[None])[0])
    # Every edge weight is a chord sum (<= its arc), a cross-chart edge here has
    # weight 0 (the charts agree), and a path through the graph covers at least
    # the arc between its ends. So the graph geodesic lies between
    # arc * (1 - phi_max^2 / (24 n^2)) (each edge of angle phi <= phi_max falls
    # short of its arc by at most r phi^3 / (24 n^2)) and the arc itself (the
    # path that walks monotonically along the shorter arc is in the graph).
    phi, shortfall = path_bound(path, N_STEPS)
    assert phi < 0.5  # edges join near neighbours: 400 points, k = 10
    assert arc * (1 - shortfall) - 1e-9 <= path.length <= arc + 1e-9
    assert path.length == pytest.approx(arc, rel=1e-4)
    assert path.nodes[0] == -1 and path.nodes[-1] == -1  # inserted end points
    assert path.data_indices[0] == -1 and np.all(path.data_indices[1:-1] >= 0)


def test_circle_paths_that_cross_charts_use_cross_chart_edges(circle_graph):
    circle, _, graph = circle_graph
    path = shortest_path(graph, *points_at(circle, [0.0, math.pi]))
    # theta = 0 lies only in chart 0 and theta = pi only in chart 1.
    assert path.charts[0] == 0 and path.charts[-1] == 1 and path.cross.any()
    assert path.length == pytest.approx(1.5 * math.pi, rel=1e-4)


def test_circle_node_geodesics_match_arcs_for_all_pairs(circle_graph):
    circle, x, _ = circle_graph
    graph = build_atlas_graph(circle, x, k=10, progress=False, lazy=False)
    nodes = np.arange(0, graph.n_nodes, 5)
    angles = circle.angle(x[graph.node_index[nodes]])
    arcs = (circle.radius * toy.wrap_angle(angles[:, None] - angles[None, :]).abs()).numpy()
    distances = csgraph.dijkstra(graph.adjacency, directed=False, indices=nodes)[:, nodes]
    # The same bounds as above with phi_max over all within-chart edges.
    u, v = graph.edges[~graph.edge_cross].T
    phi = float((graph.node_latent[u] - graph.node_latent[v]).abs().max())
    assert phi < 0.5
    assert np.all(distances <= arcs + 1e-9)
    assert np.all(distances >= arcs * (1 - phi**2 / (24 * N_STEPS**2)) - 1e-9)


def test_single_chart_cannot_cover_the_circle():
    radius = 1.0
    single = toy.CircleSingleChart(ambient_dim=4, radius=radius)
    atlas = toy.CircleAtlas(ambient_dim=4, radius=radius)
    x = single.sample(400, seed=3)
    x0, x1 = points_at(single, [math.pi - 0.05, -math.pi + 0.05])
    arc = 0.1 * radius

    single_path = shortest_path(build_atlas_graph(single, x, k=10, progress=False), x0, x1)
    atlas_path = shortest_path(build_atlas_graph(atlas, x, k=10, progress=False), x0, x1)
    # With one chart the two points are 2 pi - 0.1 apart in the chart and no kNN
    # edge crosses the seam, so the geodesic runs the long way round.
    assert single_path.length == pytest.approx(2 * math.pi * radius - arc, rel=1e-4)
    assert single_path.length > 50 * arc
    # A straight chart segment across the seam would be just as long: eq. (10)
    # sums 15 chords of the long arc of angle 2 pi - 0.1.
    across = curve_length(lambda z: single.decode(z, 0),
                          torch.tensor([math.pi - 0.05], dtype=torch.float64),
                          torch.tensor([-math.pi + 0.05], dtype=torch.float64))
    long_angle = 2 * math.pi - 0.1
    assert float(across) == pytest.approx(2 * radius * 15 * math.sin(long_angle / 30))
    assert float(across) > 50 * arc
    # Two overlapping charts find the short arc.
    assert atlas_path.length == pytest.approx(arc, rel=1e-4)


# --------------------------------------------------------------------- path search


@pytest.fixture(scope="module")
def tiny_graph():
    model = TinyAGM(n_charts=3, sharpness=1.5)
    x = torch.randn(300, model.ambient_dim, generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64)
    return model, x, build_atlas_graph(model, x, k=6, progress=False)


@pytest.fixture(scope="module")
def tiny_eager(tiny_graph):
    model, x, _ = tiny_graph
    return build_atlas_graph(model, x, k=6, progress=False, lazy=False)


def test_directed_edges_hold_each_edge_once_each_way(tiny_graph):
    _, _, graph = tiny_graph
    rows, cols, ids = graph.directed_edges()
    assert len(rows) == 2 * len(graph.edges)
    assert np.all(np.diff(rows) >= 0)  # grouped by tail, as a CSR layout needs
    assert np.array_equal(np.bincount(ids, minlength=len(graph.edges)),
                          np.full(len(graph.edges), 2))
    ends = np.sort(np.stack([rows, cols], axis=1), axis=1)
    np.testing.assert_array_equal(ends, graph.edges[ids])


def test_astar_lengths_equal_dijkstra(tiny_graph, tiny_eager):
    _, _, graph = tiny_graph
    assert geodesics.graph_statistics(graph)["components"] == 1
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, graph.n_nodes, size=(40, 2))
    # Dijkstra on the eager graph's exact weights; A* on the lazy graph.
    reference = csgraph.dijkstra(tiny_eager.adjacency, directed=False, indices=pairs[:, 0])
    for i, (a, b) in enumerate(pairs):
        path = shortest_path(graph, int(a), int(b))
        assert path.length == pytest.approx(reference[i, b], rel=1e-9, abs=1e-12)
        assert path.nodes[0] == a and path.nodes[-1] == b
        # The path's own edges sum to its length.
        assert path.length == pytest.approx(path.segment_lengths.sum(), rel=1e-12)


@pytest.mark.parametrize("insert", ["own", "all"])
def test_astar_with_data_end_points_equals_an_independent_search(tiny_graph, tiny_eager,
                                                                 insert):
    model, x, graph = tiny_graph
    generator = torch.Generator().manual_seed(5)
    distances = csgraph.dijkstra(tiny_eager.adjacency, directed=False)
    for _ in range(5):
        start, end = torch.randn(2, model.ambient_dim, generator=generator,
                                 dtype=torch.float64)
        path = shortest_path(graph, start, end, insert=insert)
        # Reference: for each placement of an end point (argmax psi, or every
        # chart with psi > eps), its k nearest nodes in that chart (cKDTree)
        # with eq. (10) weights from curve_length; then the best start edge +
        # Dijkstra distance + end edge.
        legs = [place_legs(model, graph, point, insert) for point in (start, end)]
        best = min(ws + distances[a, b] + we for a, ws in legs[0] for b, we in legs[1])
        assert path.length == pytest.approx(best, rel=1e-9)


def place_legs(model, graph, point, insert):
    psi = model.partition(point[None])[0].numpy()
    charts = [int(psi.argmax())] if insert == "own" else np.flatnonzero(psi > graph.eps)
    legs = []
    for y in charts:
        z = model.encode(point[None])[0, y]
        chart_nodes = graph.chart_nodes(y)
        _, local = cKDTree(graph.node_latent[chart_nodes].numpy()).query(z.numpy(), k=graph.k)
        targets = chart_nodes[local]
        weights = curve_length(lambda c, y=y: model.decode(c, y), z[None].expand(len(targets), -1),
                               graph.node_latent[targets], n_steps=graph.n_steps)
        legs += list(zip(targets, weights.tolist()))
    return legs


def test_shortest_path_changes_only_the_evaluated_weights(tiny_graph, tiny_eager):
    model, x, graph = tiny_graph
    before = (graph.n_nodes, graph.edges.copy(), graph.edge_weights.copy(),
              graph.edge_exact.copy(), graph.n_decoded)
    path = shortest_path(graph, x[0] + 0.01, x[1] - 0.01)
    assert graph.n_nodes == before[0]
    np.testing.assert_array_equal(graph.edges, before[1])
    changed = graph.edge_exact & ~before[3]
    # What the query evaluated persists, exact (equal to the eager graph's) ...
    assert changed.sum() <= path.n_evaluated
    np.testing.assert_allclose(graph.edge_weights[changed], tiny_eager.edge_weights[changed],
                               rtol=1e-12)
    assert graph.n_decoded - before[4] == changed.sum() * (graph.n_steps - 1)
    # ... and nothing else moved.
    np.testing.assert_array_equal(graph.edge_weights[~changed], before[2][~changed])


def test_latent_end_points(circle_graph):
    circle, _, graph = circle_graph
    start = (torch.tensor([0.2], dtype=torch.float64), 0)   # chart 0: angle 0.2
    end = (torch.tensor([-0.1], dtype=torch.float64), 1)    # chart 1: angle pi - 0.1
    path = shortest_path(graph, start, end)
    assert list(path.charts[[0, -1]]) == [0, 1]
    assert path.length == pytest.approx(1.5 * (math.pi - 0.3), rel=1e-4)
    with pytest.raises(ValueError, match=r"y in \[0, 2\)"):
        shortest_path(graph, (torch.tensor([0.2]), 2), 0)


def test_disconnected_graph_names_the_components():
    model = TinyAGM(n_charts=1)
    generator = torch.Generator().manual_seed(0)
    blob = torch.randn(40, model.ambient_dim, generator=generator, dtype=torch.float64)
    x = torch.cat([0.05 * blob, 0.05 * blob + 5.0])
    graph = build_atlas_graph(model, x, k=8, progress=False)
    assert geodesics.graph_statistics(graph)["components"] == 2
    labels = graph.component_labels()
    with pytest.raises(DisconnectedGraphError, match="different connected components") as error:
        shortest_path(graph, x[0], x[-1])
    message = str(error.value)
    assert f"start in component {labels[0]} (40 nodes)" in message
    assert f"end in component {labels[-1]} (40 nodes)" in message
    with pytest.raises(DisconnectedGraphError):
        shortest_path(graph, 0, graph.n_nodes - 1)


# -------------------------------------------------------------------- the graph


def test_one_chart_gives_the_plain_knn_graph():
    model = TinyAGM(n_charts=1, latent_dim=2)
    x = torch.randn(150, model.ambient_dim, generator=torch.Generator().manual_seed(2),
                    dtype=torch.float64)
    k = 5
    graph = build_atlas_graph(model, x, k=k, progress=False)

    # Chen et al. (2019), built independently: every point, its k nearest
    # neighbours in F(x), undirected, weighted by eq. (10).
    codes = model.encode(x)[:, 0]
    _, neighbours = cKDTree(codes.numpy()).query(codes.numpy(), k=k + 1)
    reference = {tuple(sorted((i, int(j)))) for i, row in enumerate(neighbours)
                 for j in row[1:]}
    ours = {tuple(e) for e in graph.edges.tolist()}
    assert ours == reference
    np.testing.assert_array_equal(graph.node_index, np.arange(len(x)))
    torch.testing.assert_close(graph.node_latent, codes)
    a, b = graph.edges[:, 0], graph.edges[:, 1]
    weights = curve_length(lambda z: model.decode(z, 0), codes[a], codes[b], n_steps=N_STEPS)
    assert not graph.edge_exact.any()
    np.testing.assert_array_less(graph.edge_bounds, weights.numpy() * (1 + 1e-12))
    graph.evaluate_all()
    np.testing.assert_allclose(graph.edge_weights, weights.numpy(), rtol=1e-10)
    assert geodesics.graph_statistics(graph)["cross_chart_edges"] == 0


def test_node_and_cross_chart_edge_counts():
    model = TinyAGM(n_charts=4, sharpness=1.0)
    x = torch.randn(200, model.ambient_dim, generator=torch.Generator().manual_seed(3),
                    dtype=torch.float64)
    eps = 0.1
    graph = build_atlas_graph(model, x, k=5, eps=eps, progress=False)
    member = model.partition(x).numpy() > eps
    overlaps = sum(int((member[:, i] & member[:, j]).sum())
                   for i in range(4) for j in range(i + 1, 4))
    stats = geodesics.graph_statistics(graph)
    assert overlaps > 0  # the test must see cross-chart edges
    assert stats["nodes"] == graph.n_nodes == member.sum()
    assert stats["nodes_per_chart"] == member.sum(axis=0).tolist()
    assert stats["cross_chart_edges"] == overlaps
    assert stats["edges"] == stats["within_chart_edges"] + overlaps
    # Each cross-chart edge joins the two nodes of one data point.
    cross = graph.edges[graph.edge_cross]
    np.testing.assert_array_equal(graph.node_index[cross[:, 0]], graph.node_index[cross[:, 1]])
    assert np.all(graph.node_chart[cross[:, 0]] < graph.node_chart[cross[:, 1]])
    # Its weight is the jump between the two decodings.
    images = graph.node_images
    np.testing.assert_allclose(graph.edge_weights[graph.edge_cross],
                               (images[cross[:, 0]] - images[cross[:, 1]]).norm(dim=1).numpy(),
                               rtol=1e-12)
    # Undirected and deduplicated.
    assert np.all(graph.edges[:, 0] < graph.edges[:, 1])
    assert len(np.unique(graph.edges, axis=0)) == len(graph.edges)


def test_no_point_is_decoded_twice():
    model = CountingAGM(n_charts=3, sharpness=1.5)
    x = torch.randn(150, model.ambient_dim, generator=torch.Generator().manual_seed(4),
                    dtype=torch.float64)
    n_steps = 7
    graph = build_atlas_graph(model, x, k=6, n_steps=n_steps, batch_size=100, progress=False,
                              lazy=False)
    within = int((~graph.edge_cross).sum())
    assert len(model.decoded) == graph.n_decoded == graph.n_nodes + within * (n_steps - 1)
    assert len(set(model.decoded)) == len(model.decoded)
    # Lazily: the nodes only, then each edge once however often it is asked for.
    model.decoded = []
    lazy = build_atlas_graph(model, x, k=6, n_steps=n_steps, batch_size=100, progress=False)
    assert len(model.decoded) == lazy.n_decoded == lazy.n_nodes
    assert lazy.evaluate([0, 1, 1, 2]) == 3 * (n_steps - 1)
    assert lazy.evaluate([1, 2]) == 0
    lazy.evaluate_all()
    assert len(model.decoded) == lazy.n_decoded == graph.n_decoded
    assert len(set(model.decoded)) == len(model.decoded)


def test_hop_diameter_of_a_path_graph():
    # Points on a line with growing gaps and k = 1: each point's nearest
    # neighbour is the one before it, so the graph is a chain of n - 1 hops.
    model = TinyAGM(n_charts=1, latent_dim=1, ambient_dim=1)
    i = torch.arange(12, dtype=torch.float64)
    x = (i + 0.01 * i**2)[:, None]
    graph = build_atlas_graph(model, x, k=1, n_steps=2, progress=False)
    assert geodesics.graph_statistics(graph)["hop_diameter"] == 11
    assert geodesics.graph_statistics(graph)["components"] == 1


def test_model_is_decoded_in_eval_mode_and_restored():
    model = TrainingFlagAGM()
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    model.train()
    build_atlas_graph(model, x, k=4, progress=False)
    assert model.modes == {False} and model.training


def test_default_eps():
    assert [geodesics.default_eps(m) for m in (1, 2, 4, 8, 16)] == [0.1, 0.1, 0.1, 0.0625,
                                                                    0.03125]
    graph = build_atlas_graph(toy.CircleSingleChart(), toy.CircleSingleChart().sample(30),
                              k=3, progress=False)
    assert graph.n_nodes == 30 and graph.eps == 0.1


@pytest.mark.parametrize("kwargs, message", [
    (dict(k=0), "k must be an integer >= 1, got 0"),
    (dict(k=2.5), "k must be an integer >= 1, got 2.5"),
    (dict(eps=1.0), r"eps must be a number in \[0, 1\), got 1.0"),
    (dict(eps=-0.1), r"eps must be a number in \[0, 1\), got -0.1"),
    (dict(n_steps=0), "n_steps must be an integer >= 1, got 0"),
])
def test_build_rejects_bad_parameters(kwargs, message):
    model = TinyAGM()
    with pytest.raises(ValueError, match=message):
        build_atlas_graph(model, torch.zeros(5, 6, dtype=torch.float64), progress=False,
                          **kwargs)


def test_build_rejects_bad_models_and_data():
    with pytest.raises(TypeError, match="does not offer the AGM interface"):
        build_atlas_graph(object(), torch.zeros(5, 6))
    with pytest.raises(ValueError, match=r"x must hold N >= 1 data points.*got shape \(6,\)"):
        build_atlas_graph(TinyAGM(), torch.zeros(6), progress=False)
    with pytest.raises(ValueError, match=r"could not take data points shaped \(3,\)"):
        build_atlas_graph(TinyAGM(), torch.zeros(5, 3, dtype=torch.float64), progress=False)
    flat_codes = TinyAGM()
    flat_codes.encode = lambda x: TinyAGM.encode(flat_codes, x)[:, 0]
    with pytest.raises(ValueError, match=r"model.encode returned shape \(5, 2\), expected"):
        build_atlas_graph(flat_codes, torch.zeros(5, 6, dtype=torch.float64), progress=False)
    # Near-uniform psi over 3 charts: nothing reaches eps = 0.9.
    with pytest.raises(ValueError, match="no data point has psi_y"):
        build_atlas_graph(TinyAGM(sharpness=0.0), torch.zeros(5, 6, dtype=torch.float64),
                          eps=0.9, progress=False)


def test_shortest_path_rejects_bad_end_points(circle_graph):
    _, _, graph = circle_graph
    with pytest.raises(ValueError, match=r"start as a data point must be shaped \(4,\)"):
        shortest_path(graph, torch.zeros(3, dtype=torch.float64), 0)
    with pytest.raises(ValueError, match=r"end as a node id must lie in \[0, "):
        shortest_path(graph, 0, graph.n_nodes)


# ------------------------------------------------------------------- interpolation


def test_interpolation_is_equally_spaced_and_ends_at_the_end_points(circle_graph):
    circle, _, graph = circle_graph
    x0, x1 = points_at(circle, [-0.4, 2.6])
    path = shortest_path(graph, x0, x1)
    result = interpolate(graph, path, n_points=9)
    assert result.images.shape == (9, 4) and len(result.labels) == 9
    for end, image in ((0, result.images[0]), (-1, result.images[-1])):
        y = int(path.charts[end])
        expected = circle.decode(circle.encode(torch.stack([x0, x1])[[end]])[:, y], y)[0]
        torch.testing.assert_close(image, expected)
    np.testing.assert_allclose(np.diff(result.positions), path.length / 8, rtol=1e-12)
    # On the circle the images should be equally spaced in angle: eq. (10) lengths
    # differ from arcs by < 5e-5 relative (edges < 0.5 rad), and placing a point
    # linearly inside one sub-step of < 0.5 / 15 rad moves it by a relative
    # O((0.5 / 15)^2) ~ 1e-3 of that sub-step, so 1e-4 of the total is generous.
    angles = np.unwrap(circle.angle(result.images).numpy())
    np.testing.assert_allclose(np.diff(angles), 3.0 / 8, atol=1e-4 * 3.0)
    assert set(result.labels) <= {"1", "2"}


def test_interpolation_labels_cross_chart_edges():
    # Charts whose decodings disagree by a rotation of 0.2 rad: a chart change is
    # a jump of length 2 r sin(0.1), which equally spaced points land on.
    circle = toy.CircleAtlas(ambient_dim=3, mismatch=0.2)
    x = circle.sample(300, seed=0)
    graph = build_atlas_graph(circle, x, k=8, progress=False)
    path = shortest_path(graph, *points_at(circle, [0.0, math.pi]))
    result = interpolate(graph, path, n_points=60)
    crossing = [label for label in result.labels if "/" in label]
    assert set(result.labels) <= {"1", "2", "1/2"} and crossing
    np.testing.assert_array_equal(result.cross, ["/" in label for label in result.labels])
    jump = path.segment_lengths[path.cross].sum()
    spacing = path.length / 59
    assert abs(len(crossing) - jump / spacing) <= 1
    # Labels count charts from 1; the charts array counts from 0.
    assert result.labels[0] == "1" and result.labels[-1] == "2"
    assert result.charts[0] == 0 and result.charts[-1] == 1


def test_interpolation_of_a_single_vertex_path(tiny_graph):
    model, _, graph = tiny_graph
    result = interpolate(model, shortest_path(graph, 3, 3), n_points=4)
    assert result.images.shape[0] == 4
    torch.testing.assert_close(result.images, graph.node_images[[3] * 4])


# ------------------------------------------------------------- lazy edge weights


def assert_lazy_equals_eager(lazy, eager, queries, rel, insert="own"):
    """Same lengths (to ``rel``) and the same vertices for every query."""
    for start, end in queries:
        a = shortest_path(lazy, start, end, insert=insert)
        b = shortest_path(eager, start, end, insert=insert)
        assert a.length == pytest.approx(b.length, rel=rel, abs=1e-12)
        np.testing.assert_array_equal(a.nodes, b.nodes)
        np.testing.assert_array_equal(a.charts, b.charts)
        if (b.nodes >= 0).all():  # between nodes, an eager graph evaluates nothing
            assert (b.n_evaluated, b.n_decoded, b.n_searches) == (0, 0, 1)
        assert a.length == pytest.approx(a.segment_lengths.sum(), rel=1e-12)


def random_queries(graph, x_like, n, seed):
    """n node-id pairs and n pairs of data points near the graph's points."""
    rng = np.random.default_rng(seed)
    nodes = [tuple(int(v) for v in rng.integers(0, graph.n_nodes, 2)) for _ in range(n)]
    picks = rng.integers(0, len(x_like), size=(n, 2))
    noise = torch.from_numpy(rng.normal(0, 0.01, size=(n, 2) + tuple(x_like.shape[1:])))
    points = [(x_like[i] + noise[j, 0].to(x_like.dtype), x_like[k] + noise[j, 1].to(x_like.dtype))
              for j, (i, k) in enumerate(picks)]
    return nodes + points


@pytest.mark.parametrize("mismatch", [0.0, 0.05])
def test_lazy_equals_eager_on_the_circle(mismatch):
    circle = toy.CircleAtlas(ambient_dim=4, radius=1.5, n_charts=3, mismatch=mismatch)
    x = circle.sample(300, seed=4)
    lazy = build_atlas_graph(circle, x, k=8, progress=False)
    eager = build_atlas_graph(circle, x, k=8, progress=False, lazy=False)
    assert lazy.n_exact == int(lazy.edge_cross.sum()) < eager.n_exact == len(eager.edges)
    assert lazy.n_decoded == lazy.n_nodes
    queries = random_queries(lazy, x, 25, seed=0)
    assert_lazy_equals_eager(lazy, eager, queries, rel=1e-9)
    assert 0 < lazy.n_exact < len(lazy.edges)  # evaluated only some edges
    assert lazy.n_decoded == lazy.n_nodes + (lazy.n_exact - int(lazy.edge_cross.sum())) * (
        lazy.n_steps - 1)


def test_lazy_equals_eager_on_an_analytic_atlas(tiny_graph, tiny_eager):
    model, x, _ = tiny_graph
    lazy = build_atlas_graph(model, x, k=6, progress=False)
    queries = random_queries(lazy, x, 40, seed=1)
    assert_lazy_equals_eager(lazy, tiny_eager, queries, rel=1e-9)
    assert_lazy_equals_eager(lazy, tiny_eager, queries[40:50], rel=1e-9, insert="all")
    # Lower bounds never exceed the exact weights, evaluated ones are exact, and
    # evaluate_all gives the eager graph.
    assert np.all(lazy.edge_bounds <= tiny_eager.edge_weights * (1 + 1e-12))
    assert np.all(lazy.edge_weights <= tiny_eager.edge_weights * (1 + 1e-12))
    done = lazy.edge_exact
    np.testing.assert_allclose(lazy.edge_weights[done], tiny_eager.edge_weights[done],
                               rtol=1e-12)
    assert lazy.evaluate_all() is lazy
    np.testing.assert_array_equal(lazy.edges, tiny_eager.edges)
    np.testing.assert_allclose(lazy.edge_weights, tiny_eager.edge_weights, rtol=1e-12)
    np.testing.assert_allclose(lazy.edge_steps, tiny_eager.edge_steps, rtol=1e-12, atol=1e-15)
    assert lazy.n_decoded == tiny_eager.n_decoded
    assert geodesics.graph_statistics(lazy) == geodesics.graph_statistics(tiny_eager)


def test_evaluated_weights_serve_later_queries(tiny_graph):
    model, x, _ = tiny_graph
    lazy = build_atlas_graph(model, x, k=6, progress=False)
    first = shortest_path(lazy, 3, 250)
    assert first.n_evaluated > 0 and first.n_searches >= 2
    assert first.n_decoded == first.n_evaluated * (lazy.n_steps - 1)  # node ids: no end points
    again = shortest_path(lazy, 3, 250)
    assert (again.n_evaluated, again.n_decoded, again.n_searches) == (0, 0, 1)
    assert again.length == first.length
    data = shortest_path(lazy, x[3] + 0.01, x[250] - 0.01)
    assert data.n_decoded == 2 + data.n_evaluated * (lazy.n_steps - 1)  # two end images


def test_lazy_equals_eager_on_a_trained_atlas_model(runs_root):
    from atlasnb import runs
    from atlasnb.config import make_config
    from atlasnb.data import load_images

    config = make_config("smoke", "mnist", 3, width=2, train_size=200, test_size=100,
                         epochs=1, batch_size=50, lr_halving_epochs=(1,))
    run = runs.load_or_train(config, device="cpu", progress=False)
    x, _ = load_images("mnist", "train", limit=80, seed=0)
    tests, _ = load_images("mnist", "test", limit=20, seed=1)
    lazy = build_atlas_graph(run.model, x, k=5, n_steps=6, progress=False)
    eager = build_atlas_graph(run.model, x, k=5, n_steps=6, progress=False, lazy=False)
    assert lazy.node_images.dtype == torch.float32
    labels = lazy.component_labels()
    nodes = np.flatnonzero(labels == np.bincount(labels).argmax())
    rng = np.random.default_rng(2)
    queries = [tuple(int(v) for v in rng.choice(nodes, 2)) for _ in range(15)]
    queries += [(tests[i], tests[i + 10]) for i in range(10)]
    solved = 0
    for start, end in queries:
        try:
            a = shortest_path(lazy, start, end)
        except DisconnectedGraphError:
            with pytest.raises(DisconnectedGraphError):
                shortest_path(eager, start, end)
            continue
        b = shortest_path(eager, start, end)
        assert a.length == pytest.approx(b.length, rel=FLOAT32_RTOL)
        np.testing.assert_array_equal(a.nodes, b.nodes)
        solved += 1
    assert solved >= 15
    # Float32 decodings round with their batch, by an amount set by the images, not by
    # the edge: tiny edges are held to the rounding of the graph's largest weight.
    rounding = FLOAT32_RTOL * eager.edge_weights.max()
    assert np.all(lazy.edge_bounds <= eager.edge_weights * (1 + FLOAT32_RTOL) + rounding)
    lazy.evaluate_all()
    np.testing.assert_allclose(lazy.edge_weights, eager.edge_weights, rtol=FLOAT32_RTOL,
                               atol=rounding)


def test_insert_own_uses_the_most_confident_chart_and_all_is_never_longer(tiny_graph):
    model, x, graph = tiny_graph
    generator = torch.Generator().manual_seed(7)
    points = torch.randn(12, model.ambient_dim, generator=generator, dtype=torch.float64)
    psi = model.partition(points).numpy()
    assert (np.sum(psi > graph.eps, axis=1) > 1).any()  # some points lie in several charts
    for i in range(0, 12, 2):
        own = shortest_path(graph, points[i], points[i + 1])
        every = shortest_path(graph, points[i], points[i + 1], insert="all")
        assert own.charts[0] == psi[i].argmax() and own.charts[-1] == psi[i + 1].argmax()
        # One placement per end point: the path starts and ends at new vertices
        # and never visits another one.
        assert own.nodes[0] == own.nodes[-1] == -1 and np.all(own.nodes[1:-1] >= 0)
        assert every.length <= own.length * (1 + 1e-12)
    with pytest.raises(ValueError, match=r"insert must be one of \('own', 'all'\), got 'each'"):
        shortest_path(graph, points[0], points[1], insert="each")


def test_from_nodes_is_build_atlas_graph_on_given_nodes(tiny_graph):
    model, x, graph = tiny_graph
    cross = graph.edges[graph.edge_cross]
    again = geodesics.AtlasGraph.from_nodes(
        model, graph.node_chart, graph.node_latent, graph.node_images, cross, k=graph.k,
        eps=graph.eps, n_steps=graph.n_steps, node_index=graph.node_index)
    np.testing.assert_array_equal(again.edges, graph.edges)
    np.testing.assert_array_equal(again.edge_cross, graph.edge_cross)
    np.testing.assert_array_equal(again.edge_bounds, graph.edge_bounds)
    assert again.n_decoded == 0
    assert geodesics.graph_statistics(again) == geodesics.graph_statistics(graph)
    # Node images decoded here when not given, and counted.
    decoded = geodesics.AtlasGraph.from_nodes(model, graph.node_chart, graph.node_latent,
                                              None, cross, k=graph.k, lazy=False)
    assert decoded.n_decoded == graph.n_nodes + int((~graph.edge_cross).sum()) * (
        graph.n_steps - 1)
    torch.testing.assert_close(decoded.node_images, graph.node_images)
    assert np.all(decoded.node_index == -1)
    chart = graph.node_chart
    with pytest.raises(ValueError, match="non-decreasing"):
        geodesics.AtlasGraph.from_nodes(model, chart[::-1], graph.node_latent)
    with pytest.raises(ValueError, match="different charts"):
        geodesics.AtlasGraph.from_nodes(model, chart, graph.node_latent, None, [[0, 1]])
    with pytest.raises(ValueError, match=r"node_chart must lie in \[0, 3\)"):
        geodesics.AtlasGraph.from_nodes(model, chart + 1, graph.node_latent)
    with pytest.raises(ValueError, match=r"node_latent must be a tensor shaped \(n, latent_dim\)"):
        geodesics.AtlasGraph.from_nodes(model, chart, graph.node_latent[:, :1])


def test_graph_arrays_round_trip_without_pickled_objects(tiny_graph):
    import io

    model, x, _ = tiny_graph
    graph = build_atlas_graph(model, x, k=6, progress=False)
    shortest_path(graph, 0, 300)
    buffer = io.BytesIO()
    torch.save(graph.to_arrays(), buffer)
    buffer.seek(0)
    loaded = geodesics.AtlasGraph.from_arrays(model, torch.load(buffer, weights_only=True))
    assert loaded.model is model and loaded.n_exact == graph.n_exact > 0
    for name in ("edges", "edge_weights", "edge_bounds", "edge_exact", "edge_cross",
                 "node_index", "node_chart", "chart_offsets"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(graph, name))
    np.testing.assert_array_equal(loaded.edge_steps, graph.edge_steps)
    assert (loaded.k, loaded.eps, loaded.n_steps, loaded.n_decoded, loaded.point_shape) == (
        graph.k, graph.eps, graph.n_steps, graph.n_decoded, graph.point_shape)
    assert shortest_path(loaded, 0, 300).n_evaluated == 0
    with pytest.raises(ValueError, match="layout"):
        geodesics.AtlasGraph.from_arrays(model, {"layout": 0})
