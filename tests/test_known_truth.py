"""The cache of the true distances: keyed by every input, reused, and recomputed when
its file is damaged."""

import math

import numpy as np
import pytest
import torch

from atlasnb import known_truth, manifolds


def _image(shift: int = 0) -> torch.Tensor:
    image = torch.zeros(28, 28)
    image[8:20, 12 + shift:15 + shift] = 1.0
    image[8:11, 12:20] = 0.5
    return image


@pytest.fixture(scope="module")
def circle():
    return manifolds.RotationCircle(_image(), n_grid=128)


@pytest.fixture
def counted(monkeypatch):
    calls = []
    compute = known_truth._compute

    def counting(*args):
        calls.append(args[0])
        return compute(*args)

    monkeypatch.setattr(known_truth, "_compute", counting)
    return calls


A = np.array([[0.1], [1.0], [2.5]])
B = np.array([[3.0], [5.5], [2.6]])


def test_the_key_changes_with_every_input(circle):
    key = known_truth.truth_key("circle", A, B, circle)
    assert known_truth.truth_key("circle", A.copy(), B.copy(), circle) == key
    assert known_truth.truth_key("circle", A + 1e-9, B, circle) != key
    assert known_truth.truth_key("circle", A, B[::-1], circle) != key
    assert known_truth.truth_key("torus", A, B, circle) != key
    assert known_truth.truth_key("circle", A, B, manifolds.RotationCircle(_image(),
                                                                         n_grid=64)) != key
    assert known_truth.truth_key("circle", A, B, manifolds.RotationCircle(_image(1),
                                                                         n_grid=128)) != key


def test_the_distances_are_computed_once_and_read_after(tmp_path, circle, counted):
    first = known_truth.true_distances("circle", A, B, root=tmp_path, space=circle)
    again = known_truth.true_distances("circle", A, B, root=tmp_path, space=circle)
    assert counted == ["circle"]
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, circle.distance(A[:, 0], B[:, 0]), rtol=0)
    assert known_truth.truth_path("circle", A, B, circle, tmp_path).is_file()
    # Other pairs are another file, computed anew.
    known_truth.true_distances("circle", A[:2], B[:2], root=tmp_path, space=circle)
    assert counted == ["circle", "circle"]


@pytest.mark.parametrize("damage", ["", "{\"inputs\": ", "[1, 2]", "{\"distances\": [1.0]}"])
def test_a_damaged_file_is_named_and_computed_again(tmp_path, circle, counted, damage):
    expected = known_truth.true_distances("circle", A, B, root=tmp_path, space=circle)
    path = known_truth.truth_path("circle", A, B, circle, tmp_path)
    path.write_text(damage)
    with pytest.warns(RuntimeWarning, match=str(path.name)):
        again = known_truth.true_distances("circle", A, B, root=tmp_path, space=circle)
    assert len(counted) == 2
    np.testing.assert_array_equal(again, expected)
    assert known_truth.true_distances("circle", A, B, root=tmp_path, space=circle) is not None
    assert len(counted) == 2  # the rewritten file is read


def test_a_file_of_other_distances_is_not_taken(tmp_path, circle, counted):
    known_truth.true_distances("circle", A, B, root=tmp_path, space=circle)
    path = known_truth.truth_path("circle", A, B, circle, tmp_path)
    path.write_text(path.read_text().replace("\"distances\": [", "\"distances\": [9.0, "))
    with pytest.warns(RuntimeWarning, match="other distances"):
        known_truth.true_distances("circle", A, B, root=tmp_path, space=circle)
    assert len(counted) == 2


def test_bad_pairs_are_refused(tmp_path, circle):
    with pytest.raises(ValueError, match=r"shape \(n, 1\) on circle, got \(3, 1\) and \(2, 1\)"):
        known_truth.true_distances("circle", A, B[:2], root=tmp_path, space=circle)
    with pytest.raises(ValueError, match="a must be a finite .* non-finite"):
        known_truth.true_distances("circle", [[math.nan]], [[0.0]], root=tmp_path, space=circle)
