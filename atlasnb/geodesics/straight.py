"""The straight latent segment between two data points, as a path to compare with.

Derived in {ref}`sec-graph-refinement`: the baseline a graph geodesic and its
refinement are measured against.
"""

from __future__ import annotations

import numpy as np
import torch

from atlasnb.geodesics.decoding import evaluating, model_device, psi_and_codes
from atlasnb.geodesics.measure import measure_path
from atlasnb.geodesics.path import GeodesicPath


def straight_path(model, start: torch.Tensor, end: torch.Tensor, eps: float,
                  n_steps: int) -> GeodesicPath | None:
    """The straight latent segment F_y(start) -> F_y(end) as a two-point path, in
    the chart y with the largest min(psi_y(start), psi_y(end)) among those where
    both exceed ``eps``; None if no chart holds both. Measured by eq. (10) with
    ``n_steps`` steps (:func:`atlasnb.lengths.measure` measures it at a resolution)."""
    x = torch.stack([start, end])
    with evaluating(model):
        psi, codes = psi_and_codes(model, x, batch_size=2)
        both = psi.min(axis=0)
        if not (both > eps).any():
            return None
        y = int(np.argmax(both))
        latents = codes[:, y]
        images = model.decode(latents.to(model_device(model)), y).cpu()
    path = GeodesicPath(length=0.0, nodes=np.array([-1, -1]), charts=np.array([y, y]),
                        latents=latents, images=images, data_indices=np.array([-1, -1]),
                        steps=[np.zeros(n_steps)], cross=np.array([False]))
    return measure_path(model, path, n_steps)
