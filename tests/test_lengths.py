"""Tests of atlasnb.lengths: one resolution for the straight, graph and refined paths.

The stereographic charts of the sphere atlas (atlasnb.toy) decode a straight latent
line to a curve, so chord sums depend on how finely it is cut.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from atlasnb import lengths, toy
from atlasnb.geodesics import (
    GeodesicPath,
    build_atlas_graph,
    measure_path,
    refine,
    shortest_path,
    straight_path,
)

TOLERANCE = 1e-9  # float64 decodings of the toy atlas


def _on_the_line(model, segment: GeodesicPath, fractions) -> GeodesicPath:
    """``segment``'s straight latent line as a polyline through ``fractions``."""
    t = torch.tensor(fractions, dtype=segment.latents.dtype)[:, None]
    latents = segment.latents[0] + t * (segment.latents[1] - segment.latents[0])
    chart = int(segment.charts[0])
    n = len(fractions)
    return GeodesicPath(length=0.0, nodes=np.full(n, -1), charts=np.full(n, chart),
                        latents=latents, images=model.decode(latents, chart),
                        data_indices=np.full(n, -1), steps=[np.zeros(1)] * (n - 1),
                        cross=np.zeros(n - 1, dtype=bool))


@pytest.fixture(scope="module")
def north_segment():
    model = toy.SphereAtlas(ambient_dim=3, overlap=0.4)
    ends = model.embed(torch.tensor([[0.8, 0.0, 0.6], [-0.6, 0.48, 0.64]],
                                    dtype=torch.float64))
    return model, ends


def test_straight_graph_and_refined_shapes_of_one_line_measure_alike(north_segment):
    model, (start, end) = north_segment
    segment = straight_path(model, start, end, eps=0.1, n_steps=15)
    resolution = float((segment.latents[1] - segment.latents[0]).norm()) / 100
    straight = lengths.measure(model, straight_path(model, start, end, eps=0.1, n_steps=15),
                               resolution)
    # Vertices on multiples of the resolution: every way cuts the line at the same points.
    graph_like = _on_the_line(model, straight, [0.0, 0.07, 0.30, 0.31, 1.0])
    refined_like = _on_the_line(model, straight, list(np.arange(10) / 10) + [1.0])
    measured = [lengths.measure(model, p, resolution).length
                for p in (straight, graph_like, refined_like)]
    assert measured[1] == pytest.approx(measured[0], rel=TOLERANCE)
    assert measured[2] == pytest.approx(measured[0], rel=TOLERANCE)
    # eq. (10) with n steps per segment favours the path with fewer vertices.
    per_segment = [measure_path(model, p, 3).length for p in (straight, graph_like)]
    assert per_segment[0] < per_segment[1] - 1e-4


def test_off_grid_vertices_change_the_length_only_at_the_resolution(north_segment):
    model, (start, end) = north_segment
    straight = lengths.measure(model, straight_path(model, start, end, eps=0.1, n_steps=15),
                               1e-3)
    other = _on_the_line(model, straight, [0.0, 0.123, 0.5, 0.77, 1.0])
    exact = float(model.arc_distance(start[None], end[None])[0])
    a = lengths.measure(model, straight, 1e-3).length
    b = lengths.measure(model, other, 1e-3).length
    assert abs(a - b) < 1e-5 * exact


def test_measure_keeps_chart_changes_as_one_jump():
    model = toy.SphereAtlas(ambient_dim=4, overlap=0.4, seed=3)
    graph = build_atlas_graph(model, model.sample(300, seed=1), k=8, progress=False)
    ends = model.sample(2, seed=5)
    path = refine(graph, shortest_path(graph, ends[0], ends[1]), n_iterations=20)
    measured = lengths.measure(model, path, lengths.graph_resolution(graph))
    jumps = [float((path.images[a].double() - path.images[a + 1].double()).norm())
             for a in np.flatnonzero(path.cross)]
    for a, jump in zip(np.flatnonzero(path.cross), jumps):
        assert measured.steps[a].tolist() == pytest.approx([jump], rel=TOLERANCE)
    assert measured.length >= float((path.images[0] - path.images[-1]).norm()) - TOLERANCE


def test_graph_resolution_gives_a_median_edge_the_papers_steps():
    model = toy.SphereAtlas(ambient_dim=3, overlap=0.4)
    graph = build_atlas_graph(model, model.sample(200, seed=0), k=6, progress=False)
    resolution = lengths.graph_resolution(graph)
    inside = ~graph.edge_cross
    spans = (graph.node_latent[graph.edges[inside, 0]]
             - graph.node_latent[graph.edges[inside, 1]]).norm(dim=1)
    assert lengths.segment_steps(float(spans.median()), resolution) == graph.n_steps


@pytest.mark.parametrize("resolution", [0, -1.0, "fine"])
def test_measure_rejects_a_bad_resolution(north_segment, resolution):
    model, (start, end) = north_segment
    straight = straight_path(model, start, end, eps=0.1, n_steps=5)
    with pytest.raises(ValueError, match="resolution"):
        lengths.measure(model, straight, resolution)
