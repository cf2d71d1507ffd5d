"""MNIST and Fashion-MNIST as float tensors, through torchvision.

Described in {ref}`sec-intro-data`. The data root is, in order: the ``root``
argument, the ``ATLASNB_DATA`` environment variable, a per-user cache folder.
Files are downloaded only when they are missing and the network is there.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

DATASETS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}
SPLITS = ("train", "test")


def default_root() -> Path:
    """``$ATLASNB_DATA`` if set, else ``$XDG_CACHE_HOME/atlasnb/data`` (``~/.cache``)."""
    if os.environ.get("ATLASNB_DATA"):
        return Path(os.environ["ATLASNB_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "atlasnb" / "data"


def _dataset_class(name: str):
    from torchvision import datasets

    return getattr(datasets, DATASETS[name])


def _files_present(folder: Path, split: str) -> bool:
    prefix = "train" if split == "train" else "t10k"
    return all((folder / f"{prefix}-{kind}-idx{dim}-ubyte").exists()
               for kind, dim in (("images", 3), ("labels", 1)))


def load_images(name: str, split: str = "train", root: str | os.PathLike | None = None,
                limit: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of ``name`` (``"mnist"`` or ``"fashion-mnist"``) and their labels.

    Returns float32 images in [0, 1] shaped (N, 1, 28, 28) and int64 labels (N,).
    ``limit`` keeps a random subset of that many images, drawn with ``seed``
    (the same seed gives the same subset, in a fixed order).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set name={name!r}; accepted: {sorted(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split={split!r}; accepted: {list(SPLITS)}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be None or an integer >= 1, got {limit!r}")
    root = Path(root).expanduser() if root is not None else default_root()
    raw = root / DATASETS[name] / "raw"
    download = not _files_present(raw, split)
    try:
        dataset = _dataset_class(name)(str(root), train=(split == "train"), download=download)
    except Exception as error:  # network down, folder read-only, ...
        raise FileNotFoundError(
            f"{name} ({split}) is not in {raw} and could not be downloaded ({error}). "
            f"Put the four uncompressed IDX files (train-images-idx3-ubyte, "
            f"train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) "
            f"in {raw}, or point ATLASNB_DATA (or root=) at a folder holding "
            f"{DATASETS[name]}/raw/ with them."
        ) from error
    images = dataset.data.unsqueeze(1).to(torch.float32).div_(255.0)
    labels = dataset.targets.to(torch.int64)
    if limit is not None and limit < len(labels):
        index = np.random.default_rng(seed).choice(len(labels), size=limit, replace=False)
        index = torch.from_numpy(np.sort(index))
        images, labels = images[index], labels[index]
    return images, labels
