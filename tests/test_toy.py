"""Tests of atlasnb.toy: the hand-written circle AGMs have the geometry they claim."""

from __future__ import annotations

import math

import pytest
import torch

from atlasnb import toy
from atlasnb.agm import AGM, check_agm


@pytest.fixture
def atlas():
    return toy.CircleAtlas(ambient_dim=5, radius=2.0, n_charts=3, overlap=0.8)


def test_circle_models_offer_the_agm_interface(atlas):
    for model in (atlas, toy.CircleSingleChart(ambient_dim=5)):
        check_agm(model)
        assert isinstance(model, AGM)


def test_points_lie_on_the_circle_and_angles_round_trip(atlas):
    theta = torch.linspace(-3.0, 3.0, 13, dtype=torch.float64)
    x = atlas.embed(theta)
    assert x.shape == (13, 5)
    torch.testing.assert_close(x.norm(dim=1), torch.full((13,), 2.0, dtype=torch.float64))
    torch.testing.assert_close(atlas.angle(x), theta)
    # Isometric: the chord between angles a and b is 2 r sin(|a - b| / 2).
    torch.testing.assert_close((x[1:] - x[:-1]).norm(dim=1),
                               2 * 2.0 * torch.sin((theta[1:] - theta[:-1]) / 2))


def test_partition_of_unity(atlas):
    x = atlas.sample(500, seed=1)
    psi = atlas.partition(x)
    torch.testing.assert_close(psi.sum(dim=1), torch.ones(500, dtype=torch.float64))
    assert torch.all(psi >= 0)
    # psi_y > 0 exactly on chart y's arc of half-width w = pi / m + overlap / 2
    # (in floats the bump exp(-1 / (1 - (u / w)^2)) underflows to 0 for u / w
    # above about 0.9993, so the test stops at 0.99 w).
    u = toy.wrap_angle(atlas.angle(x)[:, None] - atlas.centres[None, :]).abs() / atlas.half_width
    assert atlas.half_width == pytest.approx(math.pi / 3 + 0.4)
    assert torch.all(psi[u >= 1] == 0) and torch.all(psi[u < 0.99] > 0)


def test_each_chart_decodes_its_codes_back_to_the_point(atlas):
    x = atlas.sample(200, seed=2)
    codes = atlas.encode(x)
    assert codes.shape == (200, 3, 1)
    psi = atlas.partition(x)
    for y in range(3):
        inside = psi[:, y] > 0
        torch.testing.assert_close(atlas.decode(codes[inside, y], y), x[inside])
    # A per-row chart tensor works too.
    y = psi.argmax(dim=1)
    torch.testing.assert_close(atlas.decode(codes[torch.arange(200), y], y), x)


def test_mismatch_rotates_later_charts():
    circle = toy.CircleAtlas(ambient_dim=3, mismatch=0.2)
    x = circle.embed(torch.tensor([math.pi / 2], dtype=torch.float64))
    codes = circle.encode(x)
    jump = (circle.decode(codes[:, 0], 0) - circle.decode(codes[:, 1], 1)).norm()
    assert float(jump) == pytest.approx(2 * math.sin(0.1))


def test_single_chart_has_a_seam():
    single = toy.CircleSingleChart(ambient_dim=4)
    x = single.embed(torch.tensor([math.pi - 0.01, -math.pi + 0.01], dtype=torch.float64))
    z = single.encode(x)[:, 0, 0]
    assert float(single.arc_distance(x[:1], x[1:])) == pytest.approx(0.02)
    assert float((z[0] - z[1]).abs()) == pytest.approx(2 * math.pi - 0.02)
    torch.testing.assert_close(single.partition(x), torch.ones(2, 1, dtype=torch.float64))


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="n_charts must be an integer >= 2, got 1"):
        toy.CircleAtlas(n_charts=1)
    with pytest.raises(ValueError, match="overlap must lie in"):
        toy.CircleAtlas(overlap=0.0)
    with pytest.raises(ValueError, match="ambient_dim must be an integer >= 2, got 1"):
        toy.CircleSingleChart(ambient_dim=1)
    with pytest.raises(ValueError, match="radius must be a positive number"):
        toy.CircleSingleChart(radius=0)
