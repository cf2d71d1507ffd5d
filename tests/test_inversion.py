"""Decoder inversion (atlasnb.geodesics.inversion): codes for semi-AGMs, and the
prior graph and path search of a model without an encoder.

Exact answers come from the circle and sphere atlases of atlasnb.toy, once with their
encoders and once with them hidden.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atlasnb import families, toy
from atlasnb.agm import check_agm
from atlasnb.geodesics import (
    FLOAT32_RTOL,
    build_atlas_graph,
    build_prior_graph,
    refine_all,
    shortest_path,
)
from atlasnb.geodesics.inversion import invert_decoder, nearest_starts


class EncoderHidden:
    """A hand-written atlas with its charts F_y hidden: a semi-AGM."""

    def __init__(self, atlas):
        self.atlas = atlas
        self.n_charts, self.latent_dim = atlas.n_charts, atlas.latent_dim

    def partition(self, x):
        return self.atlas.partition(x)

    def decode(self, z, y):
        return self.atlas.decode(z, y)

    def sample_latent(self, n, generator=None):
        return self.atlas.sample_latent(n, generator)


def test_inversion_recovers_a_known_code_on_the_circle():
    circle = toy.CircleAtlas(ambient_dim=5, n_charts=3, overlap=0.8)
    w = circle.half_width
    generator = torch.Generator().manual_seed(0)
    for y in range(3):
        truth = (2 * torch.rand(12, 1, generator=generator, dtype=torch.float64) - 1) * 0.9 * w
        candidates = torch.linspace(-w, w, 9, dtype=torch.float64)[:, None]
        starts = candidates.expand(12, 9, 1)
        result = invert_decoder(circle, circle.decode(truth, y), y, starts)
        assert torch.allclose(result.codes, truth, atol=1e-5)
        assert float(result.residuals.max()) < 1e-5


def test_inversion_recovers_a_known_code_on_the_sphere():
    sphere = toy.SphereAtlas(ambient_dim=4, overlap=0.5)
    pool_z, pool_y = sphere.sample_latent(400, torch.Generator().manual_seed(1))
    truth_z, truth_y = sphere.sample_latent(30, torch.Generator().manual_seed(2))
    for y in range(2):
        truth, pool = truth_z[truth_y == y], pool_z[pool_y == y]
        targets = sphere.decode(truth, y)
        starts = nearest_starts(targets, pool, sphere.decode(pool, y), 8)
        result = invert_decoder(sphere, targets, y, starts)
        assert torch.allclose(result.codes, truth, atol=1e-4)
        # and the residual is the distance the search would see
        assert torch.allclose(result.residuals,
                              (sphere.decode(result.codes, y) - targets).norm(dim=1),
                              atol=1e-12)


def test_inversion_starts_from_the_best_start_not_the_first():
    circle = toy.CircleAtlas(ambient_dim=3, n_charts=2, overlap=1.0)
    truth = torch.tensor([[0.8]], dtype=torch.float64)
    # The first start lies beyond the far side of the circle: a descent from it alone
    # settles where the chart's decoder wraps around, not at the truth.
    starts = torch.tensor([[[-2.6], [0.5]]], dtype=torch.float64)
    result = invert_decoder(circle, circle.decode(truth, 0), 0, starts, n_starts=1)
    assert torch.allclose(result.codes, truth, atol=1e-5)


def test_inversion_refuses_starts_of_the_wrong_shape():
    circle = toy.CircleAtlas()
    with pytest.raises(ValueError, match=r"starts must be shaped \(B, S, latent_dim\)"):
        invert_decoder(circle, circle.decode(torch.zeros(2, 1, dtype=torch.float64), 0), 0,
                       torch.zeros(2, 3, dtype=torch.float64))


def test_a_semi_agm_is_refused_by_algorithm_1_from_data_but_not_by_the_prior_graph():
    hidden = EncoderHidden(toy.SphereAtlas())
    with pytest.raises(TypeError, match="missing encode"):
        build_atlas_graph(hidden, toy.SphereAtlas().sample(10))
    check_agm(hidden, encoder=False)
    check_agm(families.InfoGAN(2, h=2, latent_dim=3), encoder=False)


def test_the_encoder_free_prior_graph_gives_sphere_geodesics_as_the_encoded_one_does():
    sphere = toy.SphereAtlas(ambient_dim=4, overlap=0.5)
    encoded = build_prior_graph(sphere, 1500, k=10, seed=0, progress=False)
    free = build_prior_graph(EncoderHidden(sphere), 1500, k=10, seed=0, progress=False)
    assert free.n_nodes == encoded.n_nodes  # the same samples join the same charts
    x = sphere.sample(40, seed=5)
    with_encoder, without, arcs = [], [], []
    for x0, x1 in zip(x[:20], x[20:]):
        arcs.append(float(sphere.arc_distance(x0[None], x1[None])[0]))
        with_encoder.append(shortest_path(encoded, x0, x1).length)
        without.append(shortest_path(free, x0, x1).length)
    arcs, with_encoder, without = map(np.array, (arcs, with_encoder, without))
    # Never shorter than the great circle, up to the chords' shortfall (below 0.1%).
    assert np.all(without >= arcs * (1 - 1e-3))
    # Within the stretch of the graph that encodes.
    stretch = with_encoder / arcs
    assert np.all(without / arcs <= stretch.max() * (1 + 1e-3))
    assert np.median(without / arcs) <= np.median(stretch) * (1 + 1e-3)


def test_a_trained_network_semi_agm_gets_a_prior_graph_and_paths_by_inversion():
    torch.manual_seed(0)
    model = families.InfoGAN(2, h=2, latent_dim=3).train()
    graph = build_prior_graph(model, 24, k=3, seed=0, progress=False,
                              inversion=dict(n_iterations=5))
    assert graph.n_nodes > 24  # some samples joined the other chart
    cross = graph.edges[graph.node_chart[graph.edges[:, 0]] != graph.node_chart[graph.edges[:, 1]]]
    assert len(cross) and np.all(np.isfinite(graph.edge_weights))
    # a cross-chart edge weighs the jump between its two decodings
    a, b = cross[0]
    jump = (graph.node_images[a].double() - graph.node_images[b].double()).norm()
    assert graph.edge_weights[np.flatnonzero((graph.edges == cross[0]).all(1))[0]] == \
        pytest.approx(float(jump), rel=1e-6)
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    path = shortest_path(graph, x[0], x[1])
    assert np.isfinite(path.length) and path.nodes[0] == -1 and path.nodes[-1] == -1
    assert model.training  # its mode is restored, its parameters untouched
    assert all(p.grad is None for p in model.parameters())


def test_a_semi_agms_graph_path_is_refined_from_its_own_codes():
    sphere = toy.SphereAtlas(ambient_dim=4, overlap=0.5)
    free = build_prior_graph(EncoderHidden(sphere), 600, k=8, seed=0, progress=False)
    x = sphere.sample(8, seed=7)
    paths = [shortest_path(free, x0, x1) for x0, x1 in zip(x[:4], x[4:])]
    refined = refine_all(free, paths, n_iterations=20)
    for x0, x1, path, better in zip(x[:4], x[4:], paths, refined):
        arc = float(sphere.arc_distance(x0[None], x1[None])[0])
        # never longer than the graph path, never shorter than the great circle
        assert better.length <= path.length * (1 + FLOAT32_RTOL)
        assert better.length >= arc * (1 - 1e-3)
