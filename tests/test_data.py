"""atlasnb.data: the two data sets, their errors, and seeded subsets."""

import os
import socket
from pathlib import Path

import pytest
import torch

from atlasnb.data import DATASETS, load_images


def test_mnist_test_split_matches_the_published_statistics():
    images, labels = load_images("mnist", "test")
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (10_000,) and labels.dtype == torch.int64
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert abs(float(images.mean()) - 0.1325) < 0.001
    assert torch.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028,
                                               974, 1009]


def test_fashion_mnist_train_split():
    images, labels = load_images("fashion-mnist", "train")
    assert images.shape == (60_000, 1, 28, 28)
    assert abs(float(images.mean()) - 0.2860) < 0.001
    assert torch.bincount(labels).tolist() == [6000] * 10


def test_loading_writes_nothing_into_the_data_root():
    root = Path(os.environ["ATLASNB_DATA"])
    before = sorted(str(p) for p in root.rglob("*"))
    load_images("mnist", "test", limit=10)
    assert sorted(str(p) for p in root.rglob("*")) == before


def test_limit_draws_the_same_subset_for_the_same_seed():
    a_images, a_labels = load_images("mnist", "test", limit=500, seed=3)
    b_images, b_labels = load_images("mnist", "test", limit=500, seed=3)
    c_images, _ = load_images("mnist", "test", limit=500, seed=4)
    assert a_images.shape == (500, 1, 28, 28)
    assert torch.equal(a_images, b_images) and torch.equal(a_labels, b_labels)
    assert not torch.equal(a_images, c_images)


@pytest.mark.parametrize("limit", [0, -3, 2.5, True])
def test_bad_limit_is_refused(limit):
    with pytest.raises(ValueError, match="limit"):
        load_images("mnist", "test", limit=limit)


def test_unknown_name_lists_the_accepted_names():
    with pytest.raises(ValueError) as error:
        load_images("cifar10")
    message = str(error.value)
    assert "cifar10" in message
    assert all(name in message for name in DATASETS)


def test_unknown_split_lists_the_accepted_splits():
    with pytest.raises(ValueError, match=r"'validation'.*train.*test"):
        load_images("mnist", "validation")


@pytest.fixture
def offline(monkeypatch):
    """No network: every name look-up and connection fails, as on an offline machine."""
    def refuse(*args, **kwargs):
        raise OSError("network disabled for this test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_offline_with_an_empty_root_names_the_folder_and_how_to_fill_it(tmp_path, offline):
    with pytest.raises(FileNotFoundError) as error:
        load_images("fashion-mnist", "test", root=tmp_path)
    message = str(error.value)
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert "ATLASNB_DATA" in message and "t10k-images-idx3-ubyte" in message


def test_environment_variable_chooses_the_root(tmp_path, offline, monkeypatch):
    monkeypatch.setenv("ATLASNB_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_images("mnist", "test")
