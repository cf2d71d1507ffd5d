"""Decoder inversion: latent codes for a semi-AGM, which has no charts F_y.

Derived in {ref}`sec-agm-class`. A semi-AGM (an InfoGAN-type model) offers G_y and
psi but no F_y, so a point x cannot be encoded into chart y. In its place we take

    z' = argmin_z ||G_y(z) - x||,

found by gradient descent (Adam on the squared distance, its step size decayed
geometrically; a short second-moment memory, beta2 = 0.9, so that its steps keep
their size as the gradient shrinks near the minimum) from the best ``n_starts`` of
a set of candidate starts, keeping the best code any run reached. The candidates are
latent codes whose decodings are
already known (the graph's nodes or the prior samples of chart y): the ones whose
images lie nearest to x. Where the chart does hold x the residual ||G_y(z') - x|| is
small and z' plays the part of F_y(x); the residual is the jump of a chart change,
exactly as ||G_i F_i(x) - G_j F_j(x)|| is in Algorithm 1.

:func:`invert_decoder` is the optimisation; :func:`nearest_starts` picks candidate
starts; :func:`codes_by_inversion` gives a data point's codes in the charts a path
search places it in (:func:`atlasnb.geodesics.shortest_path`), and
:func:`atlasnb.geodesics.build_prior_graph` links prior samples across charts with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from atlasnb.checks import check_int
from atlasnb.geodesics.decoding import model_device

#: Gradient steps of one inversion, the best starts it runs from, Adam's first and
#: last step size (decayed geometrically in between).
DEFAULT_ITERATIONS = 200
DEFAULT_STARTS = 2
DEFAULT_LR = (0.1, 1e-5)
#: Adam's second-moment decay here: a short memory, so that steps keep their size as
#: the gradient shrinks near the minimum (Adam's usual 0.999 stalls there).
ADAM_BETA2 = 0.9


@dataclass
class Inversion:
    """The codes z' (B, d) of :func:`invert_decoder`, their residuals ||G_y(z') - x||
    (B,) in float64, and the number of points decoded to find them."""

    codes: torch.Tensor
    residuals: torch.Tensor
    n_decoded: int


def _flat_distances(images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (images.flatten(2) - targets.flatten(1)[:, None]).double().norm(dim=2)


def invert_decoder(model, targets: torch.Tensor, chart: int, starts: torch.Tensor,
                   n_starts: int = DEFAULT_STARTS, n_iterations: int = DEFAULT_ITERATIONS,
                   lr: tuple[float, float] = DEFAULT_LR, batch_size: int = 1024) -> Inversion:
    """z' minimising ||G_chart(z') - targets[b]|| for every row b.

    ``starts`` (B, S, d) holds S candidate codes per target: all are decoded, the
    ``n_starts`` nearest in data space are refined by ``n_iterations`` Adam steps on
    the squared distance (step size from ``lr[0]`` down to ``lr[1]``), and each
    target keeps the best code seen, start included. Targets are taken ``batch_size``
    at a time (each independently of the others). The model's parameters get no
    gradient; call it with the model in eval mode. Works inside
    ``torch.inference_mode()`` (it leaves it for the optimisation). Returns an
    :class:`Inversion` on the CPU. Derived in {ref}`sec-agm-class`.
    """
    check_int("n_starts", n_starts, minimum=1)
    check_int("n_iterations", n_iterations, minimum=0)
    if targets.ndim < 2 or starts.ndim != 3 or starts.shape[0] != targets.shape[0] \
            or starts.shape[2] != model.latent_dim or starts.shape[1] < 1:
        raise ValueError(f"starts must be shaped (B, S, latent_dim) = ({len(targets)}, S, "
                         f"{model.latent_dim}) for {len(targets)} targets, got "
                         f"{tuple(starts.shape)}")
    if not (len(lr) == 2 and 0 < lr[1] <= lr[0]):
        raise ValueError(f"lr must be (first, last) step sizes with 0 < last <= first, "
                         f"got {lr!r}")
    check_int("batch_size", batch_size, minimum=1)
    if len(targets) > batch_size:
        parts = [invert_decoder(model, targets[i:i + batch_size], chart,
                                starts[i:i + batch_size], n_starts, n_iterations, lr,
                                batch_size) for i in range(0, len(targets), batch_size)]
        return Inversion(torch.cat([p.codes for p in parts]),
                         torch.cat([p.residuals for p in parts]),
                         sum(p.n_decoded for p in parts))
    device = model_device(model)
    b, s, d = starts.shape
    with torch.inference_mode(False), torch.enable_grad():
        targets = targets.detach().clone().to(device)
        starts = starts.detach().clone().to(device=device, dtype=targets.dtype)
        with torch.no_grad():
            images = model.decode(starts.reshape(b * s, d), int(chart))
            distance = _flat_distances(images.reshape(b, s, *targets.shape[1:]), targets)
        keep = min(n_starts, s)
        chosen = distance.topk(keep, dim=1, largest=False).indices  # (B, keep)
        z = torch.gather(starts, 1, chosen[..., None].expand(b, keep, d)).reshape(b * keep, d)
        best = z.detach().clone()
        best_distance = torch.gather(distance, 1, chosen).reshape(b * keep)
        z = z.clone().requires_grad_(True)
        decay = (lr[1] / lr[0]) ** (1 / max(n_iterations - 1, 1))
        repeated = targets.repeat_interleave(keep, dim=0)
        first, second = torch.zeros_like(z), torch.zeros_like(z)  # Adam's moments
        for step in range(1, n_iterations + 1):
            images = model.decode(z, int(chart))
            squared = (images - repeated).flatten(1).pow(2).sum(1)
            (gradient,) = torch.autograd.grad(squared.sum(), [z])
            with torch.no_grad():
                current = squared.detach().double().clamp_min(0).sqrt()
                better = current < best_distance
                best[better], best_distance[better] = z.detach()[better], current[better]
                # Adam (betas 0.9 and ADAM_BETA2), written out: one update of every row
                first.mul_(0.9).add_(gradient, alpha=0.1)
                second.mul_(ADAM_BETA2).addcmul_(gradient, gradient, value=1 - ADAM_BETA2)
                scale = math.sqrt(1 - ADAM_BETA2 ** step) / (1 - 0.9 ** step)
                z -= lr[0] * decay ** (step - 1) * scale * first / (second.sqrt() + 1e-8)
        with torch.no_grad():  # the last step's point, not yet measured
            current = _flat_distances(model.decode(z, int(chart))[:, None], repeated)[:, 0]
            better = current < best_distance
            best[better], best_distance[better] = z.detach()[better], current[better]
        winner = best_distance.reshape(b, keep).argmin(dim=1)
        rows = torch.arange(b, device=device) * keep + winner
        codes, residuals = best[rows].detach().cpu(), best_distance[rows].detach().cpu()
    n_decoded = b * s + b * keep * (n_iterations + 1)
    return Inversion(codes=codes, residuals=residuals, n_decoded=n_decoded)


def nearest_starts(targets: torch.Tensor, codes: torch.Tensor, images: torch.Tensor,
                   n_candidates: int) -> torch.Tensor:
    """(B, S, d): for each target, the ``n_candidates`` codes whose ``images`` lie
    nearest to it in data space (S = min(n_candidates, len(codes)))."""
    check_int("n_candidates", n_candidates, minimum=1)
    distance = torch.cdist(targets.flatten(1).double(), images.flatten(1).double())
    k = min(n_candidates, len(codes))
    nearest = distance.topk(k, dim=1, largest=False).indices
    return codes[nearest]


def codes_by_inversion(graph, x: torch.Tensor, psi: np.ndarray,
                       n_candidates: int = 4 * DEFAULT_STARTS, **options) -> torch.Tensor:
    """(1, m, d) codes of the data point ``x`` (1, ...) for a semi-AGM's path search.

    In each chart y with psi_y(x) > the graph's eps, or the most confident chart, z'_y
    inverts G_y at x, starting from the ``n_candidates`` nodes of chart y whose images
    lie nearest to x; other charts get NaN codes (no search places the point there).
    ``options`` go to :func:`invert_decoder`."""
    model, m = graph.model, graph.n_charts
    codes = torch.full((1, m, graph.node_latent.shape[1]), float("nan"),
                       dtype=graph.node_latent.dtype)
    charts = set(np.flatnonzero(psi[0] > graph.eps).tolist()) | {int(np.argmax(psi[0]))}
    for y in sorted(charts):
        nodes = slice(graph.chart_offsets[y], graph.chart_offsets[y + 1])
        if nodes.stop == nodes.start:
            continue  # no node of this chart to start from
        starts = nearest_starts(x, graph.node_latent[nodes], graph.node_images[nodes],
                                n_candidates)
        codes[0, y] = invert_decoder(model, x, y, starts, **options).codes[0]
    return codes


def link_by_inversion(model, images: torch.Tensor, member: np.ndarray, charts: np.ndarray,
                      codes: torch.Tensor, n_candidates: int = 4 * DEFAULT_STARTS,
                      **options) -> tuple[torch.Tensor, int]:
    """(N, m, d) codes of decoded prior samples in the charts ``member`` joins them to,
    and the points decoded to find them.

    Sample i (drawn in chart ``charts[i]`` with code ``codes[i]`` and decoded to
    ``images[i]``) keeps its own code in its own chart; in every other chart j with
    ``member[i, j]`` it gets z' inverting G_j at its image, starting from the
    ``n_candidates`` samples drawn in chart j whose images lie nearest. Entries of no
    use are NaN. ``options`` go to :func:`invert_decoder`."""
    n, m = member.shape
    out = torch.full((n, m, codes.shape[1]), float("nan"), dtype=codes.dtype)
    rows = torch.arange(n)
    out[rows, torch.from_numpy(charts)] = codes
    n_decoded = 0
    for j in range(m):
        wanted = np.flatnonzero(member[:, j] & (charts != j))
        pool = np.flatnonzero(charts == j)
        if not len(wanted) or not len(pool):
            continue
        pool = torch.from_numpy(pool)
        targets = images[torch.from_numpy(wanted)]
        starts = nearest_starts(targets, codes[pool], images[pool], n_candidates)
        result = invert_decoder(model, targets, j, starts, **options)
        out[torch.from_numpy(wanted), j] = result.codes.to(codes.dtype)
        n_decoded += result.n_decoded
    return out, n_decoded
