"""MNIST and Fashion-MNIST as float tensors, through torchvision, and the image
manifolds of :mod:`atlasnb.manifolds` (``"circle"``, ``"torus"``) with each image's
parameters.

Described in {ref}`sec-intro-data`. The data root is, in order: the ``root``
argument, the ``ATLASNB_DATA`` environment variable, a per-user cache folder.
Files are downloaded only when they are missing and the network is there, and
every file is checked against its known size and MD5 before it is read.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from atlasnb.checks import check_int, check_optional_int
from atlasnb.datasets import MANIFOLD_DATASETS, check_dataset

DATASETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
SPLITS = ("train", "test")
#: Images in each split of a manifold data set (as many as in MNIST's), and the seed
#: their parameters are drawn with (a split's images are fixed; ``limit`` and
#: ``seed`` of :func:`load_images` pick a subset of them, as for MNIST).
MANIFOLD_SIZES = {"train": 60_000, "test": 10_000}
MANIFOLD_SEEDS = {"train": 2021, "test": 2022}

#: Size in bytes and MD5 of each uncompressed IDX file, as published with the data sets
#: (torchvision lists MD5s of the compressed ``.gz`` downloads only).
FILES = {
    "mnist": {
        "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
        "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
        "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
        "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": (47_040_016, "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
        "train-labels-idx1-ubyte": (60_008, "9018921c3c673c538a1fc5bad174d6f9"),
        "t10k-images-idx3-ubyte": (7_840_016, "8181f5470baa50b63fa0f6fddb340f0a"),
        "t10k-labels-idx1-ubyte": (10_008, "15d484375f8d13e6eb1aabb0c3f46965"),
    },
}


class DataFileError(OSError):
    """A data file is there but cannot be read, or is not the published file."""


def default_root() -> Path:
    """``$ATLASNB_DATA`` if set, else ``$XDG_CACHE_HOME/atlasnb/data`` (``~/.cache``)."""
    if os.environ.get("ATLASNB_DATA"):
        return Path(os.path.abspath(Path(os.environ["ATLASNB_DATA"]).expanduser()))
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "atlasnb" / "data"


def _dataset_class(name: str):
    from torchvision import datasets

    return getattr(datasets, DATASETS[name])


def _split_files(split: str) -> list[str]:
    prefix = "train" if split == "train" else "t10k"
    return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]


@lru_cache(maxsize=32)
def _md5(path: str, size: int, mtime_ns: int, inode: int) -> str:
    """MD5 of a file, remembered while its size, time and inode stay the same."""
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, name: str) -> None:
    """Refuse ``path`` unless it is data set ``name``'s published file of that name."""
    size, md5 = FILES[name][path.name]
    redo = (f"delete it and run again to download it anew, or copy an intact "
            f"{path.name} from the data set's publisher into {path.parent}")
    try:
        stat = path.stat()
        found = _md5(str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    except OSError as error:
        raise DataFileError(f"{path} is there but cannot be read ({error.strerror}); fix its "
                            f"permissions (chmod a+r), or {redo}") from error
    if stat.st_size != size:
        raise DataFileError(f"{path} has {stat.st_size:,} bytes instead of {size:,}: it is "
                            f"truncated or not the {name} file; {redo}")
    if found != md5:
        raise DataFileError(f"{path} has the right size but not the published content (MD5 "
                            f"{found} instead of {md5}): it is damaged; {redo}")
def load_images(name: str, split: str = "train", root: str | os.PathLike | None = None,
                limit: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of ``name`` (one of ``atlasnb.datasets.DATASET_NAMES``) and their labels.

    Returns float32 images in [0, 1] shaped (N, 1, 28, 28) and, for MNIST and
    Fashion-MNIST, int64 labels (N,); for a manifold data set (``"circle"``,
    ``"torus"``) the float64 parameters of each image instead, (N, 1) angles theta or
    (N, 2) angles (theta, phi), drawn uniformly once per split. ``limit`` keeps a
    random subset of that many images, drawn with ``seed`` (the same seed gives the
    same subset, in a fixed order).
    """
    check_dataset(name, "name")
    if split not in SPLITS:
        raise ValueError(f"unknown split={split!r}; accepted: {list(SPLITS)}")
    limit = check_optional_int("limit", limit, 1)
    seed = check_int("seed", seed, 0)
    if name in MANIFOLD_DATASETS:
        return _manifold_images(name, split, limit, seed)
    root = Path(root).expanduser() if root is not None else default_root()
    raw = root / DATASETS[name] / "raw"
    try:
        listed = set(os.listdir(raw)) if raw.is_dir() else set()
    except OSError as error:
        raise DataFileError(f"the data folder {raw} is there but cannot be read "
                            f"({error.strerror}); fix its permissions (chmod a+rx)") from error
    present = [raw / file for file in _split_files(split) if file in listed]
    for path in present:
        verify_file(path, name)
    if len(present) == len(_split_files(split)):
        try:
            dataset = _dataset_class(name)(str(root), train=(split == "train"), download=False)
        except Exception as error:  # e.g. the other split's files are missing
            raise DataFileError(
                f"the {split} files of {name} in {raw} are intact but torchvision could not "
                f"load them ({error}); it needs all four files {sorted(FILES[name])} "
                "there") from error
    else:
        dataset = _download(name, split, root, raw)
    images = dataset.data.unsqueeze(1).to(torch.float32).div_(255.0)
    labels = dataset.targets.to(torch.int64)
    if limit is not None and limit < len(labels):
        index = torch.from_numpy(_subset(len(labels), limit, seed))
        images, labels = images[index], labels[index]
    return images, labels


def _subset(size: int, limit: int, seed: int) -> np.ndarray:
    """The sorted indices of the random subset of ``limit`` of ``size`` items."""
    return np.sort(np.random.default_rng(int(seed)).choice(size, size=int(limit),
                                                           replace=False))


def _manifold_images(name: str, split: str, limit: int | None, seed: int):
    """Images and parameters of manifold data set ``name`` (see :func:`load_images`)."""
    from atlasnb.manifolds import manifold

    generator = np.random.default_rng(MANIFOLD_SEEDS[split])
    space = manifold(name)
    parameters = space.sample_parameters(MANIFOLD_SIZES[split], generator)
    if limit is not None and limit < len(parameters):
        parameters = parameters[_subset(len(parameters), limit, seed)]
    images = torch.cat([space.images_at(parameters[i:i + 4096])
                        for i in range(0, len(parameters), 4096)])
    return images, torch.from_numpy(parameters)


def _download(name: str, split: str, root: Path, raw: Path):
    """Download the missing files of ``name`` with torchvision, then verify them."""
    try:
        dataset = _dataset_class(name)(str(root), train=(split == "train"), download=True)
    except Exception as error:  # network down, folder read-only, ...
        raise FileNotFoundError(
            f"{name} ({split}) is not in {raw} and could not be downloaded ({error}). "
            f"Put the four uncompressed IDX files (train-images-idx3-ubyte, "
            f"train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) "
            f"in {raw}, or point ATLASNB_DATA (or root=) at a folder holding "
            f"{DATASETS[name]}/raw/ with them."
        ) from error
    for file in _split_files(split):
        verify_file(raw / file, name)
    return dataset
