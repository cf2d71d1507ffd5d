"""atlasnb.data: the two data sets, their errors, and seeded subsets."""

import errno
import os
import socket
from pathlib import Path

import pytest
import torch

from atlasnb import data
from atlasnb.data import DATASETS, FILES, DataFileError, load_images


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


# Damaged, truncated and unreadable data files ------------------------------------

def copy_root(tmp_path, name="mnist"):
    """A data root linking to the intact files, so one can be replaced by a damaged copy."""
    folder = DATASETS[name]
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    for source in (Path(os.environ["ATLASNB_DATA"]) / folder / "raw").iterdir():
        (raw / source.name).symlink_to(source)
    return raw


def replace_with(raw, file, content: bytes):
    (raw / file).unlink()
    (raw / file).write_bytes(content)


def intact(raw, file) -> bytes:
    return (raw / file).read_bytes()


def test_blank_pixels_under_a_valid_header_are_named(tmp_path, offline):
    raw = copy_root(tmp_path)
    data = intact(raw, "t10k-images-idx3-ubyte")
    replace_with(raw, "t10k-images-idx3-ubyte", data[:16] + bytes(len(data) - 16))
    with pytest.raises(DataFileError) as error:
        load_images("mnist", "test", root=tmp_path)
    message = str(error.value)
    assert message.startswith(f"{raw / 't10k-images-idx3-ubyte'} has the right size but not "
                              "the published content (MD5 ")
    assert "2646ac647ad5339dbf082846283269ea" in message and "delete it and run again" in message
    assert "could not be downloaded" not in message


def test_a_truncated_data_file_is_named(tmp_path, offline):
    raw = copy_root(tmp_path, "fashion-mnist")
    replace_with(raw, "t10k-labels-idx1-ubyte", intact(raw, "t10k-labels-idx1-ubyte")[:5000])
    with pytest.raises(DataFileError, match=r"t10k-labels-idx1-ubyte has 5,000 bytes instead "
                                            r"of 10,008: it is truncated or not the "
                                            r"fashion-mnist file; delete it"):
        load_images("fashion-mnist", "test", root=tmp_path)


def test_the_other_data_sets_file_is_named(tmp_path, offline):
    raw = copy_root(tmp_path, "mnist")
    fashion = Path(os.environ["ATLASNB_DATA"]) / "FashionMNIST" / "raw"
    replace_with(raw, "t10k-labels-idx1-ubyte", (fashion / "t10k-labels-idx1-ubyte").read_bytes())
    with pytest.raises(DataFileError, match=r"t10k-labels-idx1-ubyte has the right size but "
                                            r"not the published content"):
        load_images("mnist", "test", root=tmp_path)


def test_a_data_file_that_cannot_be_read_is_named_not_called_missing(tmp_path, offline,
                                                                     monkeypatch):
    raw = copy_root(tmp_path)
    replace_with(raw, "t10k-images-idx3-ubyte", intact(raw, "t10k-images-idx3-ubyte"))
    (raw / "t10k-images-idx3-ubyte").chmod(0)
    if os.geteuid() == 0:  # root reads files of any mode: refuse the read as a mode would
        def denied(path, *args):
            raise PermissionError(errno.EACCES, "Permission denied", path)

        monkeypatch.setattr(data, "_md5", denied)
    with pytest.raises(DataFileError) as error:
        load_images("mnist", "test", root=tmp_path)
    assert str(error.value) == (
        f"{raw / 't10k-images-idx3-ubyte'} is there but cannot be read (Permission denied); "
        "fix its permissions (chmod a+r), or delete it and run again to download it anew, or "
        "copy an intact t10k-images-idx3-ubyte from the data set's publisher into "
        f"{raw}")


def test_the_known_checksums_are_those_of_the_shared_files():
    for name, folder in DATASETS.items():
        for file in FILES[name]:
            data.verify_file(Path(os.environ["ATLASNB_DATA"]) / folder / "raw" / file, name)
