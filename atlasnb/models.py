"""The WAE-GAN and the Atlas WAE-GAN of Appendix A, and their latent critics.

Derived in {ref}`sec-wae-gan` (the single-chart model) and
{ref}`sec-atlas-wae-gan` (the atlas model). Both models are one class,
:class:`AtlasWAEGAN`; the WAE-GAN is the case m = 1 with no partition network
(psi = 1) and d = 8.

Architecture (every kernel 4x4; Swish is ``nn.SiLU``)::

    encoder trunk (shared)   x -> Conv_h -> Conv_2h -> Conv_4h     28 -> 14 -> 7 -> 3
                             (stride 2, padding 1, no bias, each + BN + Swish)
    chart head y             -> Conv_8h + BN + Swish -> FC_(8h -> d)      3 -> 1
    partition head (m > 1)   -> Conv_8h + BN + Swish -> FC_(8h -> m) -> softmax
    decoder chart y          z -> FC_(d -> 7*7*8h) -> Swish
                             -> ConvT_(8h -> 4h) + BN + Swish                7 -> 14
    decoder (shared)         -> ConvT_(4h -> 2h) + BN + Swish               14 -> 28
                             -> Conv_(2h -> 1), stride 1, padding (1, 2) -> sigmoid

This reading reproduces Table 1's parameter counts to the unit (see
:func:`parameter_count`). Two choices the table cannot decide:

* a Swish after the decoder's first FC layer: Appendix A's diagram shows none,
  but the WAE reference code it follows applies its activation there, and without
  one the FC and the transposed convolution would compose to a single linear map;
* the last stride-1 convolution pads 1 pixel before and 2 after each axis, which
  keeps 28 x 28 with a 4 x 4 kernel (TensorFlow's "SAME" rule for even kernels).

Per-chart layers are stored stacked over charts and run as one batched operation
for all charts: a convolution with m * 8h output channels for the m encoder
heads (their input is the shared trunk), batched matrix products for the per-chart
FC layers and a grouped transposed convolution (``groups=m``) in the decoder. A
BatchNorm over m * C channels is exactly m separate BatchNorms over C channels, so
the batched model computes the same function, with the same parameter count, as m
separate per-chart networks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from atlasnb.checks import check_int
from atlasnb.config import DEFAULT_MODEL
from atlasnb.layers import (
    ChartDecoder,
    ChartLinear,
    conv_bn_swish,
    encoder_trunk,
    run_trunk,
    trunk_head,
)
from atlasnb.paper import ATLAS_LATENT_DIM, TABLE1_PARAMETER_COUNTS, TABLE1_WIDTHS, WAE_LATENT_DIM
from atlasnb.widths import expected_parameter_count, matched_width, scale_width

__all__ = ["AtlasWAEGAN", "ChartLinear", "JointCritic", "LatentCritic", "TABLE1_PARAMETER_COUNTS",
           "WAEGAN", "build_critic", "build_model", "expected_parameter_count",
           "matched_width", "meta_parameter_count", "parameter_count", "scale_width"]

def _check_positive_int(name: str, value) -> int:
    return check_int(name, value, 1)


# ----------------------------------------------------------------------------- the model
class AtlasWAEGAN(ChartDecoder, nn.Module):
    """The Atlas WAE-GAN: m charts of a d-dimensional latent space (an AGM).

    ``h`` defaults to Table 1's width for ``n_charts`` (for a chart count the table
    lacks, the full-size equal-budget width of :func:`atlasnb.widths.scale_width`). Offers the AGM
    interface of :mod:`atlasnb.agm`:
    ``partition``, ``encode``, ``decode``, plus ``encode_with_partition`` and
    ``decode_all`` for training. Images are (B, 1, 28, 28) in [0, 1].
    Derived in {ref}`sec-atlas-wae-gan`.
    """

    #: The width of each chart head's output: d codes (twice that for a Gaussian
    #: posterior's mean and log-variance, :class:`~atlasnb.families.atlas_vae.AtlasVAE`).
    code_outputs = 1

    def __init__(self, n_charts: int, h: int | None = None,
                 latent_dim: int = ATLAS_LATENT_DIM):
        super().__init__()
        m = _check_positive_int("n_charts", n_charts)
        d = _check_positive_int("latent_dim", latent_dim)
        h = scale_width(m, 1, d) if h is None else _check_positive_int("h", h)
        self.n_charts, self.latent_dim, self.h = m, d, h
        # Encoder: shared trunk, m chart heads as one convolution, m FC layers.
        self.trunk = encoder_trunk(h)
        self.chart_heads = conv_bn_swish(4 * h, m * 8 * h)
        self.chart_fc = ChartLinear(m, 8 * h, self.code_outputs * d)
        # Partition network: the same trunk with its own head (absent for m = 1).
        self.partition_head = trunk_head(h, m) if m > 1 else None
        # Decoder: m chart FC layers and a grouped transposed convolution, then
        # layers shared by all charts (atlasnb.layers.ChartDecoder).
        self._build_decoder(m, d, h)
        # Channels-last weights (and inputs, see _trunk) make the convolutions run
        # channels-last, which was markedly faster on CPU in tests/benchmarks.
        self.to(memory_format=torch.channels_last)

    def extra_repr(self) -> str:
        return f"n_charts={self.n_charts}, latent_dim={self.latent_dim}, h={self.h}"

    # ------------------------------------------------------------------ encoder
    def _partition_logits(self, t: torch.Tensor) -> torch.Tensor | None:
        """The partition head's logits (None for m = 1, where psi = 1)."""
        return None if self.partition_head is None else self.partition_head(t)

    def _partition_from_trunk(self, t: torch.Tensor) -> torch.Tensor:
        if self.partition_head is None:
            return t.new_ones(t.shape[0], 1)
        return torch.softmax(self._partition_logits(t), dim=1)

    def _heads_from_trunk(self, t: torch.Tensor) -> torch.Tensor:
        """The chart heads' outputs: (B, m, code_outputs * d)."""
        heads = self.chart_heads(t).reshape(t.shape[0], self.n_charts, 8 * self.h)
        return self.chart_fc(heads)

    def _encode_from_trunk(self, t: torch.Tensor) -> torch.Tensor:
        return self._heads_from_trunk(t)[..., :self.latent_dim]

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        return run_trunk(self.trunk, x)

    def partition(self, x: torch.Tensor) -> torch.Tensor:
        """psi(x): (B, m), non-negative rows summing to 1 (all ones for m = 1)."""
        return self._partition_from_trunk(self._trunk(x))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """F_y(x) for every chart y: (B, m, d)."""
        return self._encode_from_trunk(self._trunk(x))

    def encode_with_partition(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(encode(x), partition(x)) from one pass through the shared trunk."""
        t = self._trunk(x)
        return self._encode_from_trunk(t), self._partition_from_trunk(t)

    def forward(self, x: torch.Tensor):
        """(psi, z_all, x_hat_all): partition, every chart's code and its decoding."""
        z_all, psi = self.encode_with_partition(x)
        return psi, z_all, self.decode_all(z_all)


class WAEGAN(AtlasWAEGAN):
    """The WAE-GAN: the atlas model with one chart, no partition network (psi = 1),
    d = 8 and h = 128 by default. Derived in {ref}`sec-wae-gan`."""

    def __init__(self, h: int = TABLE1_WIDTHS[1], latent_dim: int = WAE_LATENT_DIM):
        super().__init__(n_charts=1, h=h, latent_dim=latent_dim)


# ----------------------------------------------------------------------------- critic
class LatentCritic(nn.Module):
    """One discriminator per chart on codes z, no shared layers, batched over charts.

    Each is 4 x (FC_4h + BN + Swish) + FC_1. ``forward`` maps (B, m, d) codes
    (row b, chart y is a code in chart y) to (B, m) logits; D_y(z) is their
    sigmoid, applied inside the loss (BCE with logits, numerically stable).
    Derived in {ref}`sec-wae-gan` and {ref}`sec-atlas-wae-gan`.
    """

    def __init__(self, n_charts: int, latent_dim: int, h: int):
        super().__init__()
        m = _check_positive_int("n_charts", n_charts)
        d = _check_positive_int("latent_dim", latent_dim)
        width = 4 * _check_positive_int("h", h)
        self.n_charts, self.latent_dim, self.h = m, d, h
        sizes = [d, width, width, width, width]
        self.hidden = nn.ModuleList(ChartLinear(m, a, b) for a, b in zip(sizes, sizes[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(m * width) for _ in self.hidden)
        self.out = ChartLinear(m, width, 1)

    def forward(self, z_all: torch.Tensor) -> torch.Tensor:
        if z_all.dim() != 3 or tuple(z_all.shape[1:]) != (self.n_charts, self.latent_dim):
            raise ValueError(f"z_all must have shape (B, {self.n_charts}, {self.latent_dim}), "
                             f"got {tuple(z_all.shape)}")
        b, a = z_all.shape[0], z_all
        for linear, norm in zip(self.hidden, self.norms):
            a = linear(a)
            a = F.silu(norm(a.reshape(b, -1))).reshape(b, self.n_charts, -1)
        return self.out(a).squeeze(-1)


class JointCritic(nn.Module):
    """One discriminator on pairs (z, y) of the joint latent space Z x Y.

    The chart enters as a one-hot vector appended to z (left out for m = 1, where it
    is constant), and the network is Appendix A's, 4 x (FC_4h + BN + Swish) + FC_1, on
    d + m inputs. ``forward`` maps (B, m, d) codes (row b, chart y is the point
    (z, y)) to (B, m) logits, as :class:`LatentCritic` does, so the losses of
    :mod:`atlasnb.objective` apply to both. For m = 1 it is ``LatentCritic(1, d, h)``
    exactly. Derived in {ref}`sec-atlas-wae-gan`.
    """

    def __init__(self, n_charts: int, latent_dim: int, h: int):
        super().__init__()
        m = _check_positive_int("n_charts", n_charts)
        d = _check_positive_int("latent_dim", latent_dim)
        self.n_charts, self.latent_dim, self.h = m, d, _check_positive_int("h", h)
        self.net = LatentCritic(1, d + (m if m > 1 else 0), h)

    def forward(self, z_all: torch.Tensor) -> torch.Tensor:
        if z_all.dim() != 3 or tuple(z_all.shape[1:]) != (self.n_charts, self.latent_dim):
            raise ValueError(f"z_all must have shape (B, {self.n_charts}, {self.latent_dim}), "
                             f"got {tuple(z_all.shape)}")
        b, m = z_all.shape[:2]
        pairs = z_all
        if m > 1:
            one_hot = torch.eye(m, dtype=z_all.dtype, device=z_all.device).expand(b, m, m)
            pairs = torch.cat([z_all, one_hot], dim=2)
        return self.net(pairs.reshape(b * m, 1, -1)).reshape(b, m)


# ----------------------------------------------------------------------------- sizes
def parameter_count(model: nn.Module) -> int:
    """Trainable parameters of encoders, partition network and decoders (Table 1)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def meta_parameter_count(n_charts: int, h: int, latent_dim: int) -> int:
    """:func:`parameter_count` of ``AtlasWAEGAN(n_charts, h, latent_dim)``, built on the
    ``meta`` device: shapes only, no memory for the weights."""
    with torch.device("meta"):
        return parameter_count(AtlasWAEGAN(n_charts, h=h, latent_dim=latent_dim))


# ----------------------------------------------------------------------------- builders
def _check_family(config) -> None:
    if config.model != DEFAULT_MODEL:
        raise ValueError(f"config.model is {config.model!r}, but atlasnb.models builds the "
                         f"{DEFAULT_MODEL!r} family only; build it with "
                         "atlasnb.families.build_model (or build_critic)")


def build_model(config) -> AtlasWAEGAN:
    """The (Atlas) WAE-GAN a :class:`atlasnb.config.TrainConfig` describes; every family's
    model, this one included, comes from :func:`atlasnb.families.build_model`."""
    _check_family(config)
    if config.n_charts == 1:
        return WAEGAN(h=config.model_width, latent_dim=config.model_latent_dim)
    return AtlasWAEGAN(config.n_charts, h=config.model_width,
                       latent_dim=config.model_latent_dim)


def build_critic(config) -> LatentCritic | JointCritic:
    """The latent critic(s) for :func:`build_model`'s model (width 4h, same h): one per
    chart for ``latent_penalty="per-chart"``, one on (z, y) for ``"joint"``. Another
    family's critic comes from :func:`atlasnb.families.build_critic`."""
    _check_family(config)
    critic = JointCritic if config.latent_penalty == "joint" else LatentCritic
    return critic(config.n_charts, config.model_latent_dim, config.model_width)
