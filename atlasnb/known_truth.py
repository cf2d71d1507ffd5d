"""The true distances between the known manifolds' test pairs, computed once per data set.

Derived in {ref}`sec-known-truth`. On the circle :meth:`RotationCircle.distance
<atlasnb.manifolds.RotationCircle.distance>` is a look-up; on the torus each distance
is a graph search and a curve refinement through the generator
(:mod:`atlasnb.torus_geodesics`), seconds per pair. Every model trained on a data set
is measured on the same test pairs, so :func:`true_distances` computes their
distances once and keeps them in ``<runs folder>/known-truth/<data set>-<key>.json``.
The key hashes every input of the result: the data set, the pairs' parameters, the
manifold's settings and base image, and the constants of the algorithm. A file that
cannot be read, or holds other pairs, is named in a warning and computed again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from atlasnb import manifolds, runs

__all__ = ["TRUTH_VERSION", "truth_inputs", "truth_key", "truth_path", "true_distances"]

#: Raised whenever the way a true distance is computed changes (so old files are not read).
TRUTH_VERSION = 1


def _parameters(name: str, values) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or not np.isfinite(array).all():
        raise ValueError(f"{name} must be a finite (n, k) array of angles, got shape "
                         f"{array.shape}" + ("" if np.isfinite(array).all() else
                                             " with non-finite values"))
    return array


def truth_inputs(dataset: str, a, b, space) -> dict:
    """Everything a true distance depends on, as a JSON-able dict: the data set, the
    hash of the pairs' parameters, the manifold's class, settings and base image, and
    the algorithm's constants."""
    from atlasnb import torus_geodesics

    a, b = _parameters("a", a), _parameters("b", b)
    pairs = hashlib.sha256(a.tobytes() + b"|" + b.tobytes()).hexdigest()
    base = hashlib.sha256(space.base.to(torch.float64).numpy().tobytes()).hexdigest()
    return {"dataset": dataset, "manifold": type(space).__name__,
            "n_grid": getattr(space, "n_grid", None),
            "n_points": getattr(space, "n_points", None), "base": base,
            "pairs": pairs, "shape": [list(a.shape), list(b.shape)],
            "offsets": [list(o) for o in torus_geodesics.OFFSETS],
            "measure_steps": torus_geodesics.MEASURE_STEPS, "version": TRUTH_VERSION}


def truth_key(dataset: str, a, b, space) -> str:
    """A short stable hash of :func:`truth_inputs`."""
    text = json.dumps(truth_inputs(dataset, a, b, space), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def truth_path(dataset: str, a, b, space, root=None) -> Path:
    """Where the distances of these pairs are kept (``root``: the runs folder, by
    default :func:`atlasnb.runs.runs_root`)."""
    root = Path(root) if root is not None else runs.runs_root()
    return root / "known-truth" / f"{dataset}-{truth_key(dataset, a, b, space)}.json"


def _compute(dataset: str, space, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if space.dimension == 1:
        return np.asarray(space.distance(a[:, 0], b[:, 0]), dtype=np.float64)
    return np.asarray(space.distance(a, b), dtype=np.float64)


def true_distances(dataset: str, a, b, root=None, space=None) -> np.ndarray:
    """The exact distances of :mod:`atlasnb.manifolds` between the parameter rows of
    ``a`` and ``b`` on ``dataset``'s manifold (``space``, by default
    :func:`atlasnb.manifolds.manifold`), read from :func:`truth_path` when computed
    before, else computed and written there atomically."""
    space = manifolds.manifold(dataset) if space is None else space
    a, b = _parameters("a", a), _parameters("b", b)
    if a.shape != b.shape or a.shape[1] != space.dimension:
        raise ValueError(f"a and b must both have shape (n, {space.dimension}) on "
                         f"{dataset}, got {a.shape} and {b.shape}")
    path = truth_path(dataset, a, b, space, root)
    inputs = truth_inputs(dataset, a, b, space)
    cached = runs.read_cached(path, keys=("distances", "inputs"))
    if cached is not None:
        distances = np.asarray(cached["distances"], dtype=np.float64)
        if cached["inputs"] == inputs and distances.shape == (len(a),) \
                and np.isfinite(distances).all():
            return distances
        import warnings

        warnings.warn(f"{path} holds other distances than those of these pairs; computing "
                      "them again", RuntimeWarning, stacklevel=2)
    distances = _compute(dataset, space, a, b)
    runs.atomic_write_json(path, {"inputs": inputs, "distances": distances.tolist(),
                                  "a": a.tolist(), "b": b.tolist()})
    return distances
