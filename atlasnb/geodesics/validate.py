"""What a path or a set of edge ids must be before Algorithm 1's functions use it.

Derived in {ref}`sec-graph-geodesics`. :func:`check_path` is called where a
:class:`~atlasnb.geodesics.GeodesicPath` enters (:func:`~atlasnb.geodesics.measure_path`,
:func:`~atlasnb.geodesics.refine`, :func:`~atlasnb.geodesics.interpolate`);
:func:`check_edge_ids` where edge ids do (:meth:`~atlasnb.geodesics.AtlasGraph.evaluate`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from atlasnb.fingerprint import ModelMismatchError
from atlasnb.geodesics.path import GeodesicPath


def _model_dtype(model) -> torch.dtype | None:
    """The floating dtype of the model's parameters; None for parameter-free models."""
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        try:
            first = next(iter(parameters()))
        except (StopIteration, TypeError):
            return None
        return first.dtype if first.is_floating_point() else None
    return None


def _fail(what: str) -> None:
    raise ValueError(f"the path is not a valid GeodesicPath: {what}; use a path from "
                     "shortest_path or refine, or build one with matching fields")


def _check_fields(path) -> None:
    """Lengths of every field consistent, codes and images finite tensors."""
    charts = np.asarray(path.charts)
    if charts.ndim != 1 or len(charts) < 1 or not np.issubdtype(charts.dtype, np.integer):
        _fail(f"charts must be a 1-D integer array with a chart per point, got "
              f"{charts.dtype} shaped {charts.shape}")
    n = len(charts)
    for name in ("latents", "images"):
        value = getattr(path, name)
        if not isinstance(value, torch.Tensor) or not value.is_floating_point() \
                or len(value) != n:
            _fail(f"{name} must be a floating point tensor with one row per point ({n}), "
                  f"got {type(value).__name__} of length "
                  f"{len(value) if hasattr(value, '__len__') else '?'}")
        if not bool(torch.isfinite(value).all()):
            _fail(f"{name} holds NaN or infinite values")
    if path.latents.ndim != 2:
        _fail(f"latents must be shaped (points, latent_dim), got {tuple(path.latents.shape)}")
    for name, size in (("nodes", n), ("data_indices", n), ("cross", n - 1)):
        if len(np.asarray(getattr(path, name))) != size:
            _fail(f"{name} has {len(np.asarray(getattr(path, name)))} entries for {n} points "
                  f"(expected {size})")
    if not isinstance(path.steps, (list, tuple)) or len(path.steps) != n - 1:
        _fail(f"steps must be a list of {n - 1} arrays, one per segment, got "
              f"{len(path.steps) if hasattr(path.steps, '__len__') else path.steps!r}")
    for a, terms in enumerate(path.steps):
        terms = np.asarray(terms, dtype=float)
        if terms.ndim != 1 or not np.all(np.isfinite(terms)) or np.any(terms < 0):
            _fail(f"steps[{a}] must be a 1-D array of finite non-negative terms")
    if not np.array_equal(np.asarray(path.cross, dtype=bool), charts[1:] != charts[:-1]):
        _fail("cross does not mark the segments where the chart changes")
    if not np.isfinite(path.length) or path.length < 0:
        _fail(f"length is {path.length!r}, not a finite non-negative number")


def check_path(model, path):
    """``path`` checked for ``model``: a :class:`~atlasnb.geodesics.GeodesicPath` whose
    fields agree in
    length, with finite codes, images and steps, charts in [0, m) and codes of size
    d. A :class:`~atlasnb.fingerprint.ModelMismatchError` says when it belongs to
    another model. Returns the path, its codes and images converted to the dtype of
    the model's parameters where that differs (a float64 model takes a float32 path).
    Call it as ``path = check_path(model, path)``."""
    if not isinstance(path, GeodesicPath):
        raise TypeError(f"path must be a GeodesicPath (from shortest_path or refine), "
                        f"got {type(path).__name__}")
    _check_fields(path)
    d, charts = path.latents.shape[-1], np.asarray(path.charts)
    if int(charts.min()) < 0:
        _fail(f"charts holds {int(charts.min())}; charts are numbered from 0")
    if d != model.latent_dim or int(charts.max()) >= model.n_charts:
        raise ModelMismatchError(
            f"the path does not belong to this model: it has latent codes of size {d} in "
            f"charts up to {int(charts.max())} (from 0), the model has latent_dim = "
            f"{model.latent_dim} and n_charts = {model.n_charts}; use the model (or graph) "
            "the path was found in")
    dtype = _model_dtype(model)
    if dtype is not None and path.latents.dtype != dtype:
        path = dataclasses.replace(path, latents=path.latents.to(dtype),
                                   images=path.images.to(dtype))
    return path


def check_edge_ids(edge_ids, n_edges: int) -> np.ndarray:
    """``edge_ids`` as sorted unique int64 ids in [0, ``n_edges``): integer ids (any
    shape) or a boolean mask of length ``n_edges``; anything else is refused."""
    if isinstance(edge_ids, torch.Tensor):
        edge_ids = edge_ids.detach().cpu().numpy()
    array = np.asarray(edge_ids) if edge_ids is not None else None
    if array is not None and array.dtype == bool:
        if array.shape != (n_edges,):
            raise ValueError(f"an edge mask must be a boolean array of length {n_edges} "
                             f"(one per edge), got shape {array.shape}")
        return np.flatnonzero(array).astype(np.int64)
    if array is None or (array.size and not np.issubdtype(array.dtype, np.integer)):
        shown = "None" if array is None else f"{type(edge_ids).__name__} of dtype {array.dtype}"
        hint = ("; round float ids yourself (e.g. ids.astype(int)) if they are meant"
                if array is not None and array.dtype.kind == "f" else "")
        raise TypeError(f"edge_ids must be integer edge ids or a boolean mask of length "
                        f"{n_edges}, got {shown}{hint}")
    ids = np.unique(array.astype(np.int64).ravel())
    if len(ids) and (ids[0] < 0 or ids[-1] >= n_edges):
        raise ValueError(f"edge_ids must lie in [0, {n_edges}), got "
                         f"{ids[0] if ids[0] < 0 else ids[-1]}")
    return ids
