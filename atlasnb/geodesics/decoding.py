"""Talking to a model: decoding and encoding in batches on its device.

Derived in {ref}`sec-graph-geodesics`. A model is reached only through the AGM
interface (:mod:`atlasnb.agm`); everything here runs in eval mode under
``torch.inference_mode()``.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch


def model_device(model) -> torch.device:
    """The device of the model's parameters; CPU for parameter-free models."""
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        try:
            return next(iter(parameters())).device
        except (StopIteration, TypeError):
            pass
    return torch.device("cpu")


@contextlib.contextmanager
def evaluating(model):
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


class Decoder:
    """Decodes codes of one chart in batches on the model's device, counting rows."""

    def __init__(self, model, batch_size: int, bar=None):
        self.model, self.batch_size, self.bar = model, batch_size, bar
        self.device = model_device(model)
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


def psi_and_codes(model, x: torch.Tensor, batch_size: int) -> tuple[np.ndarray, torch.Tensor]:
    """psi(x) as a (N, m) numpy array and F(x) as a (N, m, d) tensor, checked; for a
    model without ``encode`` (a semi-AGM) the codes are None."""
    device = model_device(model)
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
