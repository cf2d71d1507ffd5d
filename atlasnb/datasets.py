"""The data set names, checked in one place (no torch needed, so configs stay light).

Described in {ref}`sec-intro-data` and {ref}`sec-agm-one-chart`.
:func:`atlasnb.data.load_images` reads or generates each of them.
"""

from __future__ import annotations

__all__ = ["DATASET_NAMES", "IMAGE_DATASETS", "MANIFOLD_DATASETS", "check_dataset"]

#: The data sets of the paper, read through torchvision.
IMAGE_DATASETS = ("mnist", "fashion-mnist")
#: Data sets generated on a known manifold (:mod:`atlasnb.manifolds`).
MANIFOLD_DATASETS = ("circle", "torus")
#: Every data set name accepted anywhere (configs, :func:`atlasnb.data.load_images`).
DATASET_NAMES = IMAGE_DATASETS + MANIFOLD_DATASETS


def check_dataset(name, parameter: str = "dataset") -> str:
    """``name`` if it is a known data set, else a ValueError naming ``parameter``, the
    value given and the accepted names. Every data set name is checked here."""
    if not isinstance(name, str) or name not in DATASET_NAMES:
        raise ValueError(f"{parameter} must be one of {DATASET_NAMES}, got {name!r}")
    return name
