"""What every part of Algorithm 1 shares: input checks and talking to a model.

Derived in {ref}`sec-graph-geodesics`. A model is reached only through the AGM
interface (:mod:`atlasnb.agm`); these helpers decode and encode in batches on
the model's device, in eval mode under ``torch.inference_mode()``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from atlasnb.checks import check_int

_check_int = check_int  # the package's one integer check, under this subpackage's name


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) \
            or not 0 <= eps < 1:
        raise ValueError(f"eps must be a number in [0, 1), got {eps!r}")
    return float(eps)


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


def _model_device(model) -> torch.device:
    """The device of the model's parameters; CPU for parameter-free models."""
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        try:
            return next(iter(parameters())).device
        except (StopIteration, TypeError):
            pass
    return torch.device("cpu")


@contextlib.contextmanager
def _evaluating(model):
    """Put ``model`` in eval mode (if it has one) under inference mode; restore after.

    BatchNorm and dropout must act deterministically while decoding, so a torch
    module is switched to ``eval()`` and, if it was training, back to ``train()``.
    """
    was_training = getattr(model, "training", False) is True
    if callable(getattr(model, "eval", None)):
        model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        if was_training and callable(getattr(model, "train", None)):
            model.train(True)


class _Decoder:
    """Decodes codes of one chart in batches on the model's device, counting rows."""

    def __init__(self, model, batch_size: int, bar=None):
        self.model, self.batch_size, self.bar = model, batch_size, bar
        self.device = _model_device(model)
        self.n_decoded = 0

    def __call__(self, z: torch.Tensor, chart: int) -> torch.Tensor:
        images = []
        for start in range(0, len(z), self.batch_size):
            batch = z[start:start + self.batch_size].to(self.device)
            images.append(self.model.decode(batch, int(chart)).cpu())
            self.n_decoded += len(batch)
            if self.bar is not None:
                self.bar.update(len(batch))
        if not images:
            return torch.empty(0)
        return torch.cat(images)


def _psi_and_codes(model, x: torch.Tensor, batch_size: int) -> tuple[np.ndarray, torch.Tensor]:
    """psi(x) as a (N, m) numpy array and F(x) as a (N, m, d) tensor, checked; for a
    model without ``encode`` (a semi-AGM) the codes are None."""
    device = _model_device(model)
    encoding = callable(getattr(model, "encode", None))
    psi, codes = [], []
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size].to(device)
        try:
            psi.append(model.partition(batch).cpu())
            if encoding:
                codes.append(model.encode(batch).cpu())
        except Exception as error:  # wrong point shape or dtype for this model
            raise ValueError(f"the model could not take data points shaped "
                             f"{tuple(x.shape[1:])} (dtype {x.dtype}): {error}") from error
    psi = torch.cat(psi)
    m, d, n = model.n_charts, model.latent_dim, len(x)
    if tuple(psi.shape) != (n, m):
        raise ValueError(f"model.partition returned shape {tuple(psi.shape)}, "
                         f"expected (N, n_charts) = {(n, m)}")
    if not encoding:
        return psi.double().numpy(), None
    codes = torch.cat(codes)
    if tuple(codes.shape) != (n, m, d):
        raise ValueError(f"model.encode returned shape {tuple(codes.shape)}, "
                         f"expected (N, n_charts, latent_dim) = {(n, m, d)}")
    return psi.double().numpy(), codes
