"""Eq. (10): the data-space length of a straight latent segment.

Derived in {ref}`sec-graph-geodesics`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from atlasnb.checks import check_int

#: The paper's number of steps n in eq. (10) (section 4).
DEFAULT_N_STEPS = 15
#: How far apart two eq. (10) lengths of one path may lie when a float32 model decoded
#: its points in different batches: the kernels a CPU picks depend on the batch (and on
#: the thread count), so the same segment rounds differently, by about 1e-7 relatively.
#: Comparisons of lengths that were computed apart allow this much.
FLOAT32_RTOL = 1e-5


def step_lengths(decode_chart: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor,
                  z1: torch.Tensor, image0: torch.Tensor, image1: torch.Tensor,
                  n_steps: int, batch_size: int) -> np.ndarray:
    """The n_steps terms ||G(gamma(t_i)) - G(gamma(t_{i+1}))|| of eq. (10) per segment.

    gamma is the straight segment from ``z0`` to ``z1`` (both (E, d)); the images
    at t = 0 and t = 1 are given, so only the ``n_steps - 1`` interior points
    t_i = i / n_steps are decoded, in batches of about ``batch_size`` points.
    Returns an (E, n_steps) float64 array.
    """
    n_edges = len(z0)
    steps = np.zeros((n_edges, n_steps))
    t = torch.arange(1, n_steps, dtype=z0.dtype) / n_steps
    edges_per_batch = max(1, batch_size // max(1, n_steps - 1))
    for start in range(0, n_edges, edges_per_batch):
        stop = min(start + edges_per_batch, n_edges)
        a, b = z0[start:stop], z1[start:stop]
        ends0 = image0[start:stop].reshape(stop - start, 1, -1).double()
        ends1 = image1[start:stop].reshape(stop - start, 1, -1).double()
        if n_steps > 1:
            interior = a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]
            decoded = decode_chart(interior.reshape(-1, a.shape[1]))
            decoded = decoded.reshape(stop - start, n_steps - 1, -1).double()
            points = torch.cat([ends0, decoded, ends1], dim=1)
        else:
            points = torch.cat([ends0, ends1], dim=1)
        steps[start:stop] = (points[:, 1:] - points[:, :-1]).norm(dim=-1).numpy()
    return steps


def curve_length(decode: Callable[[torch.Tensor], torch.Tensor], z0, z1,
                 n_steps: int = DEFAULT_N_STEPS, batch_size: int = 4096) -> torch.Tensor:
    """Eq. (10): the data-space length of the straight latent segments z0 -> z1.

    ``decode`` maps latent codes (B, d) to images (B, ...) (one chart, e.g.
    ``lambda z: model.decode(z, y)``); ``z0`` and ``z1`` are (E, d) or (d,).
    The segment gamma(t) = z0 + t (z1 - z0) is cut at t_i = i / n_steps and the
    lengths ||G(gamma(t_i)) - G(gamma(t_{i+1}))||_2 are summed, decoding
    ``(n_steps + 1) E`` points in batches of ``batch_size`` under
    ``torch.inference_mode()`` (put a torch model in eval mode first). Returns
    (E,) float64 lengths, or a 0-d tensor for (d,) inputs. Derived in
    {ref}`sec-graph-geodesics`.
    """
    check_int("n_steps", n_steps, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    z0, z1 = torch.as_tensor(z0), torch.as_tensor(z1)
    single = z0.ndim == 1
    z0, z1 = torch.atleast_2d(z0), torch.atleast_2d(z1)
    if z0.shape != z1.shape or z0.ndim != 2:
        raise ValueError(f"z0 and z1 must both be shaped (E, d) or (d,), got "
                         f"{tuple(z0.shape)} and {tuple(z1.shape)}")
    with torch.inference_mode():
        ends = torch.cat([decode(z) for z in torch.cat([z0, z1]).split(batch_size)])
        steps = step_lengths(decode, z0, z1, ends[:len(z0)], ends[len(z0):], n_steps,
                              batch_size)
    lengths = torch.from_numpy(steps.sum(axis=1))
    return lengths[0] if single else lengths
