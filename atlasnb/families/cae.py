"""The Chart Auto-Encoder of Schonsheck et al. (2019), trained with eq. (7).

Derived in {ref}`sec-agm-class`. Encoders F_y, decoders G_y and a chart prediction
network P (the partition of unity psi) are the Atlas WAE-GAN's layers (Appendix A),
so the model has exactly the Atlas WAE-GAN's parameter count. For an image x with
per-chart errors e_y = ||x - G_y(F_y(x))||^2 the loss is

    L(x) = min_y e_y - sum_y l_y log P_y(x),                                (7)

the best chart's reconstruction error plus the cross-entropy of the chart prediction
against soft labels l. The paper writes l = softmax(e), which would put the largest
label on the chart that reconstructs x *worst* and teach P to pick it; the loss's
first term rewards the best chart, and the CAE's own description labels a point with
the chart that reconstructs it best. We read the sign as a slip and take

    l = softmax(-e)   (``CHART_LABELS = "softmax(-e)"``),

held fixed as a target (no gradient flows through l: it is a label, computed from the
current reconstructions). With errors summed over 784 pixels the labels are close to
one-hot on the best chart.
"""

from __future__ import annotations

import torch

from atlasnb.models import AtlasWAEGAN
from atlasnb.objective import reconstruction_cost

#: How the soft chart labels l of eq. (7) are read (see the module's docstring).
CHART_LABELS = "softmax(-e)"


class ChartAutoEncoder(AtlasWAEGAN):
    """A Chart Auto-Encoder with m charts (an AGM): F_y, G_y and the chart prediction
    P = psi, with the Atlas WAE-GAN's layers. Derived in {ref}`sec-agm-class`."""

    def partition_logits_and_codes(self, x: torch.Tensor):
        """(logits of P(x) or None for m = 1, F(x) (B, m, d)) from one trunk pass."""
        t = self._trunk(x)
        return self._partition_logits(t), self._encode_from_trunk(t)


def chart_labels(errors: torch.Tensor) -> torch.Tensor:
    """The soft labels l = softmax(-e) of eq. (7), one row per image, without gradient."""
    return torch.softmax(-errors.detach(), dim=1)


def cae_terms(model: ChartAutoEncoder, x: torch.Tensor):
    """(errors e (B, m), chart cross-entropy (B,)) of eq. (7)."""
    logits, codes = model.partition_logits_and_codes(x)
    errors = reconstruction_cost(x, model.decode_all(codes), "squared")
    if logits is None:  # one chart: P = 1, the cross-entropy vanishes
        return errors, errors.new_zeros(errors.shape[0])
    log_p = torch.log_softmax(logits, dim=1)
    return errors, -(chart_labels(errors) * log_p).sum(1)


def cae_loss(model: ChartAutoEncoder, x: torch.Tensor):
    """Eq. (7) averaged over the batch: (loss, parts as floats). Derived in
    {ref}`sec-agm-class`."""
    errors, cross_entropy = cae_terms(model, x)
    best = errors.min(dim=1).values
    loss = (best + cross_entropy).mean()
    return loss, dict(reconstruction=best.mean().item(),
                      chart_cross_entropy=cross_entropy.mean().item(), loss=loss.item())
