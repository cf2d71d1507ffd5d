"""The WAE-GAN objective (eq. 6) and its atlas version.

Derived in {ref}`sec-wae-gan` and {ref}`sec-atlas-wae-gan`.

**WAE-GAN** (Tolstikhin et al., 2018). With encoder F, decoder G, prior
P(Z) = N(0, I) and Q(Z) the law of F(x) for x ~ P_data, eq. (6) is

    E_x c(x, G(F(x))) + lam * D(Q(Z), P(Z)),

with c(x, x') = ||x - x'||^2 summed over the 784 pixels (averaged over the batch)
and D the Jensen-Shannon divergence, estimated by a critic D(z): the critic
minimises the binary cross-entropy of telling z ~ P(Z) (label 1) from F(x)
(label 0), and the encoder minimises the non-saturating -log D(F(x)).

**Atlas WAE-GAN.** The latent space is Z x Y with Y = {0, ..., m-1} and prior
P(Z, Y) = N(0, I) x Uniform(Y). Encoding x means drawing the chart y ~ psi(x) and
taking z = F_y(x); decoding is G_y(z). Taking the expectation over y exactly:

* reconstruction: E_x sum_y psi_y(x) c(x, G_y(F_y(x)));
* latent matching: write Q(Z, Y) = Q(Y) Q(Z | Y) with chart marginal
  Q(Y = y) = pi_y = E_x psi_y(x) and Q(Z | Y = y) the law of F_y(x) for x drawn
  with weight psi_y(x). Following the chain rule of the KL divergence,

      D(Q(Z, Y), P(Z, Y)) = KL(pi || Uniform) + sum_y pi_y JS(Q(Z | y), P(Z)),

  which is zero exactly when Q(Z, Y) = P(Z, Y). The categorical term is computed
  in closed form from the batch mean of psi (low variance, no critic needed); each
  conditional JS term has its own critic D_y. With the non-saturating loss the
  encoder's adversarial term becomes the psi-weighted mean
  E_x sum_y psi_y(x) [-log D_y(F_y(x))], since pi_y times the psi_y-weighted
  average over x is the plain average of psi_y(x) times the term.

For m = 1, psi = 1, pi = 1 and KL(pi || Uniform) = 0: every formula above reduces
to the plain WAE-GAN's (tested).

The critics contain BatchNorm; they always see prior samples and encodings
together in one batch (prior rows first), in both steps, so BatchNorm's batch
statistics cannot erase a mismatch in mean or scale between the two. Their
statistics include every row's code in every chart, unweighted by psi.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

LAM = 10.0  # lambda of eq. (6), Appendix A


def reconstruction_cost(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """c(x, x_hat) = squared Euclidean distance summed over pixels, one value per row.

    ``x`` is (B, 1, 28, 28); ``x_hat`` is (B, 1, 28, 28) or (B, m, 1, 28, 28)
    (one reconstruction per chart), giving (B,) or (B, m).
    """
    if x_hat.dim() == 5:
        x = x.unsqueeze(1)
    return (x_hat - x).pow(2).flatten(x_hat.dim() - 3).sum(-1)


def chart_marginal_kl(psi: torch.Tensor) -> torch.Tensor:
    """KL(pi || Uniform(m)) = sum_y pi_y log(m pi_y), pi = batch mean of psi (0 for m = 1)."""
    pi = psi.mean(0)
    return torch.sum(torch.xlogy(pi, pi)) + math.log(psi.shape[1])


def _prior_sample(z_all: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """z ~ N(0, I), one independent draw per row and chart, shaped like ``z_all``."""
    return torch.randn(z_all.shape, generator=generator, device=z_all.device,
                       dtype=z_all.dtype)


def _critic_logits(critic, z_prior: torch.Tensor, z_all: torch.Tensor):
    """Critic logits on prior samples and encodings, computed in one batch."""
    logits = critic(torch.cat([z_prior, z_all]))
    return logits[: z_prior.shape[0]], logits[z_prior.shape[0]:]


def autoencoder_loss(model, critic, x: torch.Tensor, lam: float = LAM,
                     generator: torch.Generator | None = None):
    """The encoder/partition/decoder loss of eq. (6): (loss, parts)::

        loss = E_x sum_y psi_y c(x, G_y F_y x)
               + lam * (E_x sum_y psi_y [-log D_y(F_y x)] + KL(mean psi || Uniform)).

    ``parts`` holds floats: ``reconstruction``, ``adversarial``, ``chart_kl``,
    ``loss``. The backward pass also leaves gradients on the critic: step only
    the model's optimiser and zero the critic's gradients before its own step.
    Derived in {ref}`sec-atlas-wae-gan` ({ref}`sec-wae-gan` for m = 1).
    """
    z_all, psi = model.encode_with_partition(x)
    recon = (psi * reconstruction_cost(x, model.decode_all(z_all))).sum(1).mean()
    _, logits_fake = _critic_logits(critic, _prior_sample(z_all, generator), z_all)
    fooled = F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake),
                                                reduction="none")
    adversarial = (psi * fooled).sum(1).mean()
    chart_kl = chart_marginal_kl(psi)
    loss = recon + lam * (adversarial + chart_kl)
    parts = dict(reconstruction=recon.item(), adversarial=adversarial.item(),
                 chart_kl=chart_kl.item(), loss=loss.item())
    return loss, parts


def critic_loss(model, critic, x: torch.Tensor, generator: torch.Generator | None = None):
    """The critics' loss: (loss, parts).

    For each chart y, binary cross-entropy of z ~ N(0, I) (label 1) against the
    encodings F_y(x) (label 0) weighted by psi_y(x) / sum_x psi_y(x), i.e. samples
    of Q(Z | y); summed over charts, each critic getting its own gradient.
    ``parts``: ``critic`` (the loss), ``d_prior`` and ``d_encoded`` (mean D on
    each). The model is run without gradients. Derived in {ref}`sec-atlas-wae-gan`.
    """
    with torch.no_grad():
        z_all, psi = model.encode_with_partition(x)
        weights = psi / psi.sum(0).clamp_min(1e-12)
    logits_prior, logits_fake = _critic_logits(critic, _prior_sample(z_all, generator), z_all)
    real = F.binary_cross_entropy_with_logits(logits_prior, torch.ones_like(logits_prior))
    fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake),
                                              reduction="none")
    m = psi.shape[1]
    loss = m * real + (weights * fake).sum()
    parts = dict(critic=loss.item(), d_prior=torch.sigmoid(logits_prior).mean().item(),
                 d_encoded=(weights * torch.sigmoid(logits_fake)).sum().item() / m)
    return loss, parts


class ReconstructionError(NamedTuple):
    """Per-image, per-pixel mean squared errors (each a (B,) tensor)."""

    best_chart: torch.Tensor  #: through the most likely chart argmax_y psi_y(x)
    psi_weighted: torch.Tensor  #: sum_y psi_y(x) MSE(x, G_y F_y x)


@torch.no_grad()
def reconstruction_error(model, x: torch.Tensor) -> ReconstructionError:
    """Per-pixel MSE of each image's reconstruction (Table 1's metric).

    ``best_chart`` reconstructs through y* = argmax_y psi_y(x), as one would
    with an AGM: the reported number. ``psi_weighted`` is the training
    objective's version. Both coincide for m = 1. One grouped pass over all
    charts; call it with the model in eval mode. Derived in {ref}`sec-atlas-wae-gan`.
    """
    z_all, psi = model.encode_with_partition(x)
    mse = reconstruction_cost(x, model.decode_all(z_all)) / x[0].numel()
    best = mse.gather(1, psi.argmax(1, keepdim=True)).squeeze(1)
    return ReconstructionError(best_chart=best, psi_weighted=(psi * mse).sum(1))
