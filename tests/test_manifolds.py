"""The known manifolds: images, exact distances, data sets and their errors."""

import math

import numpy as np
import pytest
import torch

from atlasnb import manifolds, torus_geodesics
from atlasnb.data import load_images

# Distances are float64 sums; the images handed out are float32 (tolerance 1e-6).
FLOAT32 = 1e-6


@pytest.fixture(scope="module")
def circles():
    other, _ = load_images("mnist", "test", limit=None)
    return [manifolds.RotationCircle(), manifolds.RotationCircle(other[4])]


def dense_chord_sum(circle, a, b, n=2_001):
    """Independent reference: chords between images along the arc from a to b."""
    theta = torch.linspace(a, b, n, dtype=torch.float64)
    flat = circle.images(theta).to(torch.float64).flatten(1)
    return float((flat[1:] - flat[:-1]).norm(dim=1).sum())


def test_images_shape_range_and_disc(circles):
    x = circles[0].images([0.0, 1.0, 4.0])
    assert x.shape == (3, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    centre = torch.arange(28) - 13.5
    outside = (centre[:, None] ** 2 + centre[None, :] ** 2).sqrt() > 13.9
    assert float(x[:, 0, outside].abs().max()) == 0  # nothing reaches the frame
    # Rotation keeps the ink: the pixel sum barely changes.
    sums = circles[0].images(np.linspace(0, 6, 13)).sum((1, 2, 3))
    assert float(sums.max() - sums.min()) < 1e-3 * float(sums.mean())


@pytest.mark.parametrize("which", [0, 1])
def test_circle_distance_is_the_dense_chord_sum(circles, which):
    circle = circles[which]
    for a, b in [(0.3, 1.1), (5.0, 6.2), (2.0, 3.6)]:
        reference = dense_chord_sum(circle, a, b)
        assert reference < circle.circumference / 2  # the short arc: it is the distance
        assert abs(circle.distance(a, b)[0] / reference - 1) < 1e-3
    full = dense_chord_sum(circle, 0.0, 2 * math.pi, n=8_001)
    assert abs(circle.circumference / full - 1) < 1e-3


def test_circle_distance_properties(circles):
    circle = circles[0]
    rng = np.random.default_rng(0)
    a, b, c = rng.uniform(-10, 10, (3, 200))
    dab, dba = circle.distance(a, b), circle.distance(b, a)
    np.testing.assert_allclose(dab, dba, rtol=0, atol=1e-12)
    np.testing.assert_allclose(circle.distance(a + 2 * math.pi, b - 4 * math.pi), dab,
                               rtol=1e-9, atol=1e-9)
    assert np.all(dab <= circle.distance(a, c) + circle.distance(c, b) + 1e-9)
    assert np.all(dab <= circle.circumference / 2 + 1e-12)
    assert np.all(circle.distance(a, a) == 0)
    # Half the circumference is reached: the point half way round in arc length.
    theta = np.linspace(0, 2 * math.pi, 4001)
    assert circle.distance(0.0, theta).max() > 0.999 * circle.circumference / 2


def test_long_way_round_is_refused_by_distance(circles):
    circle = circles[0]
    long_way = dense_chord_sum(circle, 0.2, 0.2 + 2 * math.pi - 0.5)
    assert circle.distance(0.2, 2 * math.pi - 0.3)[0] < long_way / 2
    assert abs(circle.distance(0.2, -0.3)[0] / dense_chord_sum(circle, -0.3, 0.2) - 1) < 1e-3


@pytest.fixture(scope="module")
def torus():
    return manifolds.RotationShiftTorus(n_grid=32, n_points=24)


def test_torus_images_are_periodic_and_shift_cyclically(torus):
    x = torus.images([0.7, 0.7 + 2 * math.pi], [1.0, 1.0 - 2 * math.pi])
    assert float((x[0] - x[1]).abs().max()) < FLOAT32
    # A shift of pi / 7 is two whole pixels: a cyclic roll of the unshifted image.
    rolled = torus.images([0.7], [math.pi / 7])[0]
    assert float((rolled - torus.images([0.7], [0.0])[0].roll(2, -1)).abs().max()) < FLOAT32
    assert float(rolled.min()) >= 0 and float(rolled.max()) <= 1


def test_torus_distance_converges_as_the_grid_is_halved(torus):
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0, 2 * math.pi, (2, 2, 2))
    fine = torus.distance(a, b)
    coarse = torus_geodesics.torus_distance(torus, a, b, n_points=torus.n_points,
                                            graph=torus_geodesics.TorusGraph(torus, 16))
    assert np.all(np.abs(coarse / fine - 1) < 5e-3)
    # A geodesic is at least the chord and at most the refined straight segment.
    chord = (torus.images(a[:, 0], a[:, 1]) - torus.images(b[:, 0], b[:, 1])).flatten(1)
    assert np.all(fine >= chord.norm(dim=1).double().numpy() * (1 - FLOAT32))
    np.testing.assert_allclose(torus.distance(b, a), fine, rtol=5e-3)


@pytest.mark.parametrize("name", ["circle", "torus"])
def test_data_sets_are_reproducible_and_keep_parameters(name):
    images, parameters = load_images(name, "train", limit=50, seed=3)
    again, same = load_images(name, "train", limit=50, seed=3)
    other, _ = load_images(name, "train", limit=50, seed=4)
    test, test_parameters = load_images(name, "test", limit=50, seed=3)
    assert images.shape == (50, 1, 28, 28) and images.dtype == torch.float32
    assert parameters.shape == (50, 1 if name == "circle" else 2)
    assert torch.equal(images, again) and torch.equal(parameters, same)
    assert not torch.equal(images, other)
    assert not torch.equal(parameters, test_parameters)
    assert float(parameters.min()) >= 0 and float(parameters.max()) < 2 * math.pi
    manifold = manifolds.manifold(name)
    regenerated = manifold.images_at(parameters[:5].numpy())
    assert float((regenerated - images[:5]).abs().max()) < FLOAT32


@pytest.mark.parametrize("image, message", [
    (torch.zeros(27, 28), "shape (27, 28)"),
    (torch.zeros(2, 28, 28), "shape (2, 28, 28)"),
    (np.full((28, 28), 1.5), "[1.5, 1.5]"),
    (torch.full((28, 28), -0.2), "[-0.2, -0.2]"),
    (torch.full((28, 28), float("nan")), "NaN"),
    ([[0.5] * 28] * 28, "got list"),
    (torch.zeros(28, 28), "all zero"),
])
def test_bad_images_are_refused(image, message):
    with pytest.raises((ValueError, TypeError)) as error:
        manifolds.RotationCircle(image)
    assert message in str(error.value)


@pytest.mark.parametrize("angle", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_angles_are_refused(circles, angle):
    with pytest.raises(ValueError, match=f"theta must be finite angles.*{angle}"):
        circles[0].images([0.0, angle])
    with pytest.raises(ValueError, match="theta_b must be finite"):
        circles[0].distance(0.0, angle)


def test_non_numeric_angles_are_refused(circles):
    with pytest.raises(TypeError, match="theta must be real angles.*'a'"):
        circles[0].images("a")


def test_unknown_data_set_names_the_accepted_ones():
    with pytest.raises(ValueError) as error:
        load_images("sphere")
    assert "'sphere'" in str(error.value)
    assert all(name in str(error.value) for name in ("mnist", "fashion-mnist", "circle",
                                                      "torus"))
