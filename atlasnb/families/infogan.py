"""An InfoGAN-type semi-AGM: generators G_y and a discrete-code inference network
Q(y | x) as the partition of unity, no encoder (eqs. (3) to (5)).

Derived in {ref}`sec-agm-class`. Chen et al. (2016) add to a GAN a discrete code y
and a network Q that infers y from a generated image, and maximise a lower bound of
the mutual information of y and G(z, y). With an image critic D, eq. (3) is the game

    min_{G, Q} max_D V(G, D) - lam L(G, Q),
    V(G, D) = E_data log D(x) + E_{(z, y) ~ P(Z, Y)} log(1 - D(G_y(z))),       (4)
    L(G, Q) = E_{y ~ P(Y), x ~ P_G(X | y)} log q(y | x) + H[p(y)],             (5)

with P(Z, Y) = N(0, I_d) x Uniform(m). As usual for GANs the generator takes the
non-saturating step (it minimises -log D(G_y(z)) instead of log(1 - D(G_y(z)))), and
Q is trained with G on generated images: the cross-entropy -log q(y | G_y(z)) is
-L(G, Q) + H[p(y)], so its minimiser is eq. (5)'s maximiser. ``lam`` defaults to 1,
Chen et al.'s value for discrete codes (:data:`INFO_LAMBDA`).

The semi-AGM: G_y is the generator of chart y, psi = Q(y | x); there is no F_y. The
layers are Appendix A's: G_y is the Atlas WAE-GAN's decoder
(:class:`atlasnb.layers.ChartDecoder`), Q the Atlas WAE-GAN's partition network (the
encoder trunk and its own head), and D an image critic of the same trunk and a head
with one output (it is left out of the parameter count, as the latent critics are).
Q and D do not share layers, so psi is a network of the model alone; the image critic
sees real and generated images in one batch in both steps, for the reason the latent
critics do (:mod:`atlasnb.objective`): BatchNorm's batch statistics cannot then hide a
difference between the two.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from atlasnb.checks import check_int
from atlasnb.layers import ChartDecoder, encoder_trunk, run_trunk, trunk_head

#: lam of eq. (3) for a discrete code, as Chen et al. (2016) set it.
INFO_LAMBDA = 1.0


class InfoGAN(ChartDecoder, nn.Module):
    """A semi-AGM with m charts of dimension d: ``partition`` (Q(y | x)), ``decode``
    (G_y) and ``sample_latent``, and no ``encode``. Derived in {ref}`sec-agm-class`."""

    def __init__(self, n_charts: int, h: int, latent_dim: int):
        super().__init__()
        m = check_int("n_charts", n_charts, 1)
        d = check_int("latent_dim", latent_dim, 1)
        h = check_int("h", h, 1)
        self.n_charts, self.latent_dim, self.h = m, d, h
        # Q(y | x): the partition network of Appendix A (absent for m = 1, psi = 1).
        self.trunk = encoder_trunk(h) if m > 1 else None
        self.partition_head = trunk_head(h, m) if m > 1 else None
        self._build_decoder(m, d, h)
        self.to(memory_format=torch.channels_last)

    def extra_repr(self) -> str:
        return f"n_charts={self.n_charts}, latent_dim={self.latent_dim}, h={self.h}"

    def partition_logits(self, x: torch.Tensor) -> torch.Tensor | None:
        """Q's logits (B, m), or None for m = 1."""
        if self.partition_head is None:
            return None
        return self.partition_head(run_trunk(self.trunk, x))

    def partition(self, x: torch.Tensor) -> torch.Tensor:
        """psi(x) = Q(y | x): (B, m) rows on the simplex (all ones for m = 1)."""
        logits = self.partition_logits(x)
        if logits is None:
            return x.new_ones(x.shape[0], 1)
        return torch.softmax(logits, dim=1)


class ImageCritic(nn.Module):
    """The critic D(x) of eq. (4): the encoder trunk and a head with one output, logits
    (B,) (D is their sigmoid, applied inside the loss)."""

    def __init__(self, h: int):
        super().__init__()
        h = check_int("h", h, 1)
        self.h = h
        self.trunk = encoder_trunk(h)
        self.head = trunk_head(h, 1)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(run_trunk(self.trunk, x)).squeeze(1)


def _generated(model: InfoGAN, n: int, generator, device):
    z, y = model.sample_latent(n, generator)
    z, y = z.to(device), y.to(device)
    return model.decode(z, y), y


def _critic_logits(critic: ImageCritic, real: torch.Tensor, fake: torch.Tensor):
    logits = critic(torch.cat([real, fake]))
    return logits[:real.shape[0]], logits[real.shape[0]:]


def critic_loss(model: InfoGAN, critic: ImageCritic, x: torch.Tensor,
                generator: torch.Generator | None = None):
    """D's loss, minus eq. (4): BCE of data (label 1) and of as many generated images
    G_y(z), (z, y) ~ P(Z, Y) (label 0); the generator is run without gradients.
    (loss, parts as floats). Derived in {ref}`sec-agm-class`."""
    with torch.no_grad():
        fake, _ = _generated(model, x.shape[0], generator, x.device)
    logits_real, logits_fake = _critic_logits(critic, x, fake)
    loss = (F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real))
            + F.binary_cross_entropy_with_logits(logits_fake, torch.zeros_like(logits_fake)))
    return loss, dict(critic=loss.item(), d_data=torch.sigmoid(logits_real).mean().item(),
                      d_generated=torch.sigmoid(logits_fake).mean().item())


def generator_loss(model: InfoGAN, critic: ImageCritic, x: torch.Tensor, lam: float = INFO_LAMBDA,
                   generator: torch.Generator | None = None):
    """The loss of G and Q: -log D(G_y(z)) + lam * (-log q(y | G_y(z))), averaged over
    as many prior draws as ``x`` has rows (the data ``x`` only share D's batch).
    ``parts`` also reports ``mutual_information``, eq. (5)'s L(G, Q) = H[p(y)] - the
    cross-entropy. The backward pass leaves gradients on D: step only the model's
    optimiser. Derived in {ref}`sec-agm-class`."""
    fake, y = _generated(model, x.shape[0], generator, x.device)
    _, logits_fake = _critic_logits(critic, x, fake)
    adversarial = F.binary_cross_entropy_with_logits(logits_fake, torch.ones_like(logits_fake))
    logits_q = model.partition_logits(fake)
    code = (F.cross_entropy(logits_q, y) if logits_q is not None
            else adversarial.new_zeros(()))
    loss = adversarial + lam * code
    entropy = torch.log(torch.tensor(float(model.n_charts)))
    return loss, dict(adversarial=adversarial.item(), code_cross_entropy=code.item(),
                      mutual_information=(entropy - code).item(), loss=loss.item())
