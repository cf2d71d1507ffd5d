"""The input checks every part of Algorithm 1 shares (nodes, edges, data points).

Derived in {ref}`sec-graph-geodesics`; talking to a model is
:mod:`atlasnb.geodesics.decoding`.
"""

from __future__ import annotations

import numpy as np
import torch


def _check_index_array(name: str, values, shape: tuple) -> np.ndarray:
    array = np.asarray(values.numpy() if isinstance(values, torch.Tensor) else values)
    if array.shape != shape or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be an integer array shaped {shape}, got "
                         f"{array.dtype} shaped {array.shape}")
    return array.astype(np.int64)


def _check_nodes(model, node_chart, node_latent) -> tuple[np.ndarray, torch.Tensor]:
    """The node charts as int64 (non-decreasing, in [0, m)) and the codes as (n, d)."""
    if isinstance(node_latent, np.ndarray):
        node_latent = torch.from_numpy(node_latent)
    d = model.latent_dim
    if not isinstance(node_latent, torch.Tensor) or node_latent.ndim != 2 \
            or node_latent.shape[1] != d or len(node_latent) < 1:
        raise ValueError(f"node_latent must be a tensor shaped (n, latent_dim) = (n, {d}) "
                         f"with n >= 1, got {getattr(node_latent, 'shape', type(node_latent))}")
    n, m = len(node_latent), model.n_charts
    node_chart = _check_index_array("node_chart", node_chart, (n,))
    if node_chart.min() < 0 or node_chart.max() >= m:
        raise ValueError(f"node_chart must lie in [0, {m}), got values from "
                         f"{node_chart.min()} to {node_chart.max()}")
    if np.any(np.diff(node_chart) < 0):
        raise ValueError("node_chart must be non-decreasing (nodes ordered by chart); order "
                         "them with np.argsort(node_chart, kind='stable')")
    return node_chart, node_latent


def _check_cross_edges(cross_edges, node_chart: np.ndarray) -> np.ndarray:
    """(E, 2) cross-chart node pairs as int64 with u < v, unique; checked."""
    if cross_edges is None:
        return np.zeros((0, 2), dtype=np.int64)
    array = np.asarray(cross_edges.numpy() if isinstance(cross_edges, torch.Tensor)
                       else cross_edges)
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = _check_index_array("cross_edges", array, (len(array), 2))
    n = len(node_chart)
    if pairs.min() < 0 or pairs.max() >= n:
        raise ValueError(f"cross_edges must hold node ids in [0, {n}), got values from "
                         f"{pairs.min()} to {pairs.max()}")
    same = node_chart[pairs[:, 0]] == node_chart[pairs[:, 1]]
    if same.any():
        raise ValueError(f"cross_edges must join nodes of different charts; "
                         f"{int(same.sum())} pairs join nodes of one chart, e.g. "
                         f"{pairs[same][0].tolist()}")
    return np.unique(np.sort(pairs, axis=1), axis=0)


def _as_points(x, name: str = "x") -> torch.Tensor:
    """``x`` as a torch tensor of shape (N, ...) with N >= 1 and at least one feature axis."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor or numpy array of data points "
                        f"shaped (N, ...), got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must hold N >= 1 data points shaped (N, ...) with at least "
                         f"one feature axis, got shape {tuple(x.shape)}")
    return _check_values(x, name)


def _check_values(x: torch.Tensor, name: str, rows: bool = True) -> torch.Tensor:
    """Refuse data points that are not floating point or not finite, naming them.

    An integer dtype (8-bit images are 0..255) is never cast silently: whether it
    needs scaling to the model's [0, 1] is the caller's to say. ``rows`` is False
    for a single point (an end point), True for (N, ...) points.
    """
    if not x.is_floating_point():
        raise TypeError(f"{name} has dtype {x.dtype}, but data points must be floating point "
                        "on the model's scale (images in [0, 1]); convert them first, e.g. "
                        "x.float() / 255 for 8-bit images")
    finite = torch.isfinite(x.reshape(len(x), -1) if rows else x.reshape(1, -1)).all(dim=1)
    if not bool(finite.all()):
        if not rows:
            raise ValueError(f"{name} has NaN or infinite values; an end point must be finite")
        bad = torch.nonzero(~finite).flatten().tolist()
        shown = ", ".join(map(str, bad[:10])) + (", ..." if len(bad) > 10 else "")
        raise ValueError(f"{name} has NaN or infinite values in {len(bad)} of {len(x)} rows "
                         f"(rows {shown}); remove or repair those rows")
    return x
