"""The Atlas VAE: a VAE with latent space Z x Y, used without labels (eqs. (1), (2)).

Derived in {ref}`sec-agm-class`. The semi-supervised VAE of Kingma et al. (2014)
on unlabelled data, the objective of InfoCatVAE without its information term. The
encoder is q(z, y | x) = q(z | x, y) q(y | x) with q(z | x, y) = N(mu_y(x),
diag exp(logvar_y(x))) and q(y | x) = psi_y(x); the decoder is p(x | z, y); the
prior is p(z, y) = N(0, I_d) x Uniform(m). The bound of eq. (1) is

    log p(x) >= -KL(q(y | x) || p(y)) + sum_y q(y | x) L(x, y),
    L(x, y) = -KL(q(z | x, y) || p(z)) + E_{z ~ q(z | x, y)} log p(x | z, y)   (2)

with the sum over y taken exactly (every chart decoded, no sample of y) and each
expectation over z estimated by one reparameterised sample z = mu + sigma * noise.
Both KL terms are in closed form. The AGM: psi_y = q(y | x), F_y(x) = mu_y(x) the
posterior mean, G_y(z) = E[x | z, y] the decoder's mean.

The likelihood p(x | z, y) is a named choice (``likelihood``):

* ``"bernoulli"``: independent Bernoulli pixels with means sigmoid(logits), the usual
  choice for MNIST's grey levels in [0, 1] (read as probabilities); log p is minus the
  binary cross-entropy, computed from the logits;
* ``"gaussian"``: independent Gaussian pixels with mean sigmoid(logits) and the fixed
  standard deviation :data:`GAUSSIAN_STD`.

The layers are the Atlas WAE-GAN's (:class:`atlasnb.models.AtlasWAEGAN`, Appendix A)
with each chart head's last FC layer giving 2d numbers, the mean and the log-variance.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from atlasnb.config import LIKELIHOODS
from atlasnb.models import AtlasWAEGAN

#: The pixel standard deviation of the ``"gaussian"`` likelihood (a fixed choice: on
#: [0, 1] images, 0.1 makes a pixel error of 0.1 cost as much as one nat).
GAUSSIAN_STD = 0.1


def check_likelihood(likelihood: str) -> str:
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
    return likelihood


class AtlasVAE(AtlasWAEGAN):
    """An Atlas VAE with m charts of dimension d (an AGM). ``encode`` gives the posterior
    means F_y(x), ``partition`` q(y | x), ``decode`` the decoder's mean G_y(z).
    :meth:`posterior` gives the means, the log-variances and psi in one pass.
    Derived in {ref}`sec-agm-class`."""

    code_outputs = 2

    def posterior(self, x: torch.Tensor):
        """(mu, logvar, psi): (B, m, d), (B, m, d) and (B, m) from one trunk pass."""
        t = self._trunk(x)
        heads = self._heads_from_trunk(t)
        d = self.latent_dim
        return heads[..., :d], heads[..., d:], self._partition_from_trunk(t)


def log_likelihood(x: torch.Tensor, logits: torch.Tensor, likelihood: str) -> torch.Tensor:
    """log p(x | z, y) summed over pixels: (B, m) from x (B, 1, 28, 28) and decoder
    logits (B, m, 1, 28, 28)."""
    check_likelihood(likelihood)
    x = x.unsqueeze(1).expand_as(logits)
    if likelihood == "bernoulli":
        log_p = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    else:
        mean = torch.sigmoid(logits)
        log_p = (-0.5 * ((x - mean) / GAUSSIAN_STD) ** 2
                 - math.log(GAUSSIAN_STD) - 0.5 * math.log(2 * math.pi))
    return log_p.flatten(2).sum(-1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) over the last axis, in closed form."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)


def categorical_kl_to_uniform(psi: torch.Tensor) -> torch.Tensor:
    """KL(q(y | x) || Uniform(m)) = sum_y q_y log(m q_y), one value per row."""
    return torch.xlogy(psi, psi).sum(1) + math.log(psi.shape[1])


def evidence_bound(model: AtlasVAE, x: torch.Tensor, noise: torch.Tensor,
                   likelihood: str = "bernoulli"):
    """The bound of eqs. (1) and (2) for each row of ``x``, with the sum over y exact and
    z = mu_y + exp(logvar_y / 2) * noise[:, y] in every chart (``noise`` (B, m, d)).

    Returns (bound (B,), parts) with ``parts`` the batch means of ``log_likelihood``
    (sum_y q_y E log p), ``kl_z`` (sum_y q_y KL(q(z | x, y) || p(z))) and ``kl_y``."""
    mu, logvar, psi = model.posterior(x)
    z = mu + torch.exp(0.5 * logvar) * noise
    log_p = log_likelihood(x, model.decode_all(z, logits=True), likelihood)
    kl_z = gaussian_kl(mu, logvar)
    kl_y = categorical_kl_to_uniform(psi)
    bound = -kl_y + (psi * (log_p - kl_z)).sum(1)
    parts = dict(log_likelihood=(psi * log_p).sum(1).mean(), kl_z=(psi * kl_z).sum(1).mean(),
                 kl_y=kl_y.mean())
    return bound, parts


def vae_loss(model: AtlasVAE, x: torch.Tensor, generator: torch.Generator | None = None,
             likelihood: str = "bernoulli"):
    """Minus the bound of eq. (1), averaged over the batch: (loss, parts as floats).

    The noise of the reparameterisation comes from ``generator`` (drawn on its device
    and moved to the data's), so a resumed run draws what an uninterrupted one would.
    Derived in {ref}`sec-agm-class`."""
    shape = (x.shape[0], model.n_charts, model.latent_dim)
    device = generator.device if generator is not None else x.device
    noise = torch.randn(shape, generator=generator, device=device, dtype=x.dtype).to(x.device)
    bound, parts = evidence_bound(model, x, noise, likelihood)
    loss = -bound.mean()
    return loss, dict({name: value.item() for name, value in parts.items()}, loss=loss.item())
