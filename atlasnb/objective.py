"""The WAE-GAN objective (eq. 6) and its atlas version.

Derived in {ref}`sec-wae-gan` and {ref}`sec-atlas-wae-gan`.

**WAE-GAN** (Tolstikhin et al., 2018). With encoder F, decoder G, prior
P(Z) = N(0, I) and Q(Z) the law of F(x) for x ~ P_data, eq. (6) is

    E_x c(x, G(F(x))) + lam * D(Q(Z), P(Z)),

with c(x, x') = ||x - x'||_2^2 summed over the 784 pixels (``"squared"``, the
default) or the norm ||x - x'||_2 (``"l2"``), averaged over the batch, and D the
Jensen-Shannon divergence, estimated by a critic D(z): the critic
minimises the binary cross-entropy of telling z ~ P(Z) (label 1) from F(x)
(label 0), and the encoder minimises lam * E_x [-log D(F(x))], the non-saturating
form of the adversarial term. At the critic's optimum the critic's objective equals
2 JS(Q(Z), P(Z)) - 2 log 2; the encoder's -log D term is another function of the
same two laws, not that divergence.

**Atlas WAE-GAN.** The latent space is Z x Y with Y = {0, ..., m-1} and prior
P(Z, Y) = N(0, I) x Uniform(Y). Encoding x means drawing the chart y ~ psi(x) and
taking z = F_y(x); decoding is G_y(z). Taking the expectation over y exactly, the
reconstruction term is E_x sum_y psi_y(x) c(x, G_y(F_y(x))). Eq. (6) asks for a
divergence D(Q(Z, Y), P(Z, Y)) on the joint law; two readings are offered
(``latent_penalty``):

* ``"joint"``: D is the Jensen-Shannon divergence of the joint laws, estimated by one
  critic D(z, y) on z with y appended one-hot (:class:`atlasnb.models.JointCritic`).
  Samples of Q(Z, Y) are the pairs (F_y(x), y) weighted by psi_y(x); samples of
  P(Z, Y) are z ~ N(0, I) paired with every chart y once (a stratified uniform y).
  The encoder minimises E_x sum_y psi_y(x) [-log D(F_y(x), y)], whose gradient
  reaches psi as well: a chart the critic finds over-used is pushed down.
* ``"per-chart"``: one critic D_y per chart on z alone
  (:class:`atlasnb.models.LatentCritic`), each telling N(0, I) from Q(Z | Y = y), the
  codes F_y(x) weighted by psi_y(x); plus lambda times KL(pi || Uniform) in closed
  form, with pi = Q(Y) = E_x psi(x) estimated by the batch mean of psi. The encoder
  minimises E_x sum_y psi_y(x) [-log D_y(F_y(x))] + KL(pi || Uniform).

The per-chart penalty is a surrogate, not an identity: the chain rule splits the
KL divergence, KL(Q(Z, Y) || P(Z, Y)) = KL(pi || Uniform) + sum_y pi_y
KL(Q(Z | y) || P(Z)), but not the Jensen-Shannon divergence, which the critics
estimate; and the encoder's adversarial term weights chart y by pi_y, while each
critic sees its chart's codes normalised to weight one. The divergences both
readings stand for vanish exactly when Q(Z, Y) = P(Z, Y); the losses as computed do
not: at that point the best critic outputs 1/2 everywhere and the encoder's
adversarial term sits near lam * log 2.

For m = 1, psi = 1, pi = 1, KL(pi || Uniform) = 0 and the joint critic has no chart
input: both readings reduce to the plain WAE-GAN's formulas, term by term (tested).

The critics contain BatchNorm; they always see prior samples and encodings
together in one batch (prior rows first), in both steps, so BatchNorm's batch
statistics cannot erase a mismatch in mean or scale between the two. Their
statistics include every row's code in every chart, unweighted by psi.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from atlasnb.config import LATENT_PENALTIES, RECONSTRUCTION_COSTS
from atlasnb.models import JointCritic, LatentCritic
from atlasnb.paper import LAMBDA

LAM = LAMBDA  # lambda of eq. (6), Appendix A


def reconstruction_cost(x: torch.Tensor, x_hat: torch.Tensor,
                        cost: str = "squared") -> torch.Tensor:
    """c(x, x_hat), one value per row: ``"squared"`` is the squared Euclidean distance
    summed over pixels, ``"l2"`` the Euclidean distance itself.

    ``x`` is (B, 1, 28, 28); ``x_hat`` is (B, 1, 28, 28) or (B, m, 1, 28, 28)
    (one reconstruction per chart), giving (B,) or (B, m).
    """
    if cost not in RECONSTRUCTION_COSTS:
        raise ValueError(f"cost must be one of {RECONSTRUCTION_COSTS}, got {cost!r}")
    if x_hat.dim() == 5:
        x = x.unsqueeze(1)
    squared = (x_hat - x).pow(2).flatten(x_hat.dim() - 3).sum(-1)
    if cost == "squared":
        return squared
    # sqrt with a gradient of 0 rather than inf/NaN where a reconstruction is exact
    return torch.where(squared > 0, squared.clamp_min(1e-30).sqrt(), squared)


def _check_penalty(critic, latent_penalty: str) -> None:
    """The critic must be the one ``latent_penalty`` trains (a clear error otherwise)."""
    if latent_penalty not in LATENT_PENALTIES:
        raise ValueError(f"latent_penalty must be one of {LATENT_PENALTIES}, "
                         f"got {latent_penalty!r}")
    wanted = JointCritic if latent_penalty == "joint" else LatentCritic
    if not isinstance(critic, wanted):
        raise ValueError(f"latent_penalty={latent_penalty!r} needs a {wanted.__name__}, "
                         f"got a {type(critic).__name__}")


def chart_marginal_kl(psi: torch.Tensor) -> torch.Tensor:
    """KL(pi || Uniform(m)) = sum_y pi_y log(m pi_y), pi = batch mean of psi (0 for m = 1)."""
    pi = psi.mean(0)
    return torch.sum(torch.xlogy(pi, pi)) + math.log(psi.shape[1])


def _prior_sample(z_all: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """z ~ N(0, I), one independent draw per row and chart, shaped like ``z_all``.

    Drawn on the generator's device (the trainer's is a CPU generator) and moved to
    the encodings' device, so a run draws the same samples on a GPU as on the CPU."""
    device = generator.device if generator is not None else z_all.device
    return torch.randn(z_all.shape, generator=generator, device=device,
                       dtype=z_all.dtype).to(z_all.device)


def _critic_logits(critic, z_prior: torch.Tensor, z_all: torch.Tensor):
    """Critic logits on prior samples and encodings, computed in one batch."""
    logits = critic(torch.cat([z_prior, z_all]))
    return logits[: z_prior.shape[0]], logits[z_prior.shape[0]:]


def autoencoder_loss(model, critic, x: torch.Tensor, lam: float = LAM,
                     generator: torch.Generator | None = None,
                     latent_penalty: str = "per-chart", cost: str = "squared"):
    """The encoder/partition/decoder loss of eq. (6): (loss, parts).

    With ``latent_penalty="per-chart"``::

        loss = E_x sum_y psi_y c(x, G_y F_y x)
               + lam * (E_x sum_y psi_y [-log D_y(F_y x)] + KL(mean psi || Uniform)).

    With ``"joint"``: the same with D(F_y x, y) and no KL term (``chart_kl`` is
    reported but not added). ``parts`` holds floats: ``reconstruction``,
    ``adversarial``, ``chart_kl``, ``loss``. The backward pass also leaves gradients
    on the critic: step only
    the model's optimiser and zero the critic's gradients before its own step.
    Derived in {ref}`sec-atlas-wae-gan` ({ref}`sec-wae-gan` for m = 1).
    """
    _check_penalty(critic, latent_penalty)
    z_all, psi = model.encode_with_partition(x)
    recon = (psi * reconstruction_cost(x, model.decode_all(z_all), cost)).sum(1).mean()
    _, logits_fake = _critic_logits(critic, _prior_sample(z_all, generator), z_all)
    fooled = F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake),
                                                reduction="none")
    adversarial = (psi * fooled).sum(1).mean()
    chart_kl = chart_marginal_kl(psi)
    penalty = adversarial + chart_kl if latent_penalty == "per-chart" else adversarial
    loss = recon + lam * penalty
    parts = dict(reconstruction=recon.item(), adversarial=adversarial.item(),
                 chart_kl=chart_kl.item(), loss=loss.item())
    return loss, parts


def critic_loss(model, critic, x: torch.Tensor, generator: torch.Generator | None = None,
                latent_penalty: str = "per-chart"):
    """The critics' loss: (loss, parts).

    ``"per-chart"``: for each chart y, binary cross-entropy of z ~ N(0, I) (label 1)
    against the encodings F_y(x) (label 0) weighted by psi_y(x) / sum_x psi_y(x),
    i.e. samples of Q(Z | y); summed over charts, each critic getting its own gradient.
    ``"joint"``: one binary cross-entropy of (z, y) ~ P(Z, Y) against the pairs
    (F_y(x), y) weighted by psi_y(x) / B, i.e. samples of Q(Z, Y).
    ``parts``: ``critic`` (the loss), ``d_prior`` and ``d_encoded`` (mean D on
    each). The model is run without gradients. Derived in {ref}`sec-atlas-wae-gan`.
    """
    _check_penalty(critic, latent_penalty)
    with torch.no_grad():
        z_all, psi = model.encode_with_partition(x)
        if latent_penalty == "per-chart":
            weights = psi / psi.sum(0).clamp_min(1e-12)
        else:
            weights = psi / psi.shape[0]
    logits_prior, logits_fake = _critic_logits(critic, _prior_sample(z_all, generator), z_all)
    real = F.binary_cross_entropy_with_logits(logits_prior, torch.ones_like(logits_prior))
    fake = F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake),
                                              reduction="none")
    m = psi.shape[1] if latent_penalty == "per-chart" else 1  # number of critics
    loss = m * real + (weights * fake).sum()
    parts = dict(critic=loss.item(), d_prior=torch.sigmoid(logits_prior).mean().item(),
                 d_encoded=(weights * torch.sigmoid(logits_fake)).sum().item() / m)
    return loss, parts
