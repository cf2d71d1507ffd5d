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

import math

import torch
import torch.nn.functional as F
from torch import nn

from atlasnb.checks import check_int
from atlasnb.paper import ATLAS_LATENT_DIM, TABLE1_PARAMETER_COUNTS, TABLE1_WIDTHS, WAE_LATENT_DIM
from atlasnb.widths import expected_parameter_count, matched_width, scale_width

__all__ = ["AtlasWAEGAN", "ChartLinear", "JointCritic", "LatentCritic", "TABLE1_PARAMETER_COUNTS",
           "WAEGAN", "build_critic", "build_model", "expected_parameter_count",
           "matched_width", "meta_parameter_count", "parameter_count", "scale_width"]

IMAGE_SHAPE = (1, 28, 28)


# ----------------------------------------------------------------------------- checks
def _check_positive_int(name: str, value) -> int:
    return check_int(name, value, 1)


def _check_images(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a batch of images of shape (B, 1, 28, 28), got {shape}")


# ----------------------------------------------------------------------------- layers
class ChartLinear(nn.Module):
    """m independent fully connected layers, one per chart, run as one batched matmul.

    ``weight`` is (m, in, out) and ``bias`` (m, out); ``forward`` maps (B, m, in)
    to (B, m, out), row b of chart y going through chart y's layer only.
    Initialised like ``nn.Linear`` (uniform in +-1/sqrt(in)).
    """

    def __init__(self, n_charts: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(n_charts, in_features, out_features)
                                   .uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_charts, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (m, B, in) @ (m, in, out) + (m, 1, out) -> (m, B, out) -> (B, m, out)
        out = torch.baddbmm(self.bias.unsqueeze(1), x.transpose(0, 1), self.weight)
        return out.transpose(0, 1)

    def chart(self, x: torch.Tensor, y: int) -> torch.Tensor:
        """Chart ``y``'s layer alone on a (B, in) batch: (B, out)."""
        return torch.addmm(self.bias[y], x, self.weight[y])


class SamePaddedConv2d(nn.Module):
    """A stride-1 4x4 convolution that keeps the image size: 1 pixel of zero
    padding before and 2 after on each axis (TensorFlow's "SAME" for an even
    kernel). Computed as a padding-2 convolution whose first output row and
    column are dropped, which avoids copying the input into a padded tensor."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 4, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)[:, :, 1:, 1:]


def _conv_bn_swish(in_channels: int, out_channels: int) -> nn.Sequential:
    """A stride-2 4x4 encoder convolution (no bias) + BatchNorm + Swish."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.SiLU())


def _chart_batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor, channels: slice) -> torch.Tensor:
    """The BatchNorm of one chart: the ``channels`` slice of a BatchNorm over all charts."""
    return F.batch_norm(x, bn.running_mean[channels], bn.running_var[channels],
                        bn.weight[channels], bn.bias[channels], training=bn.training,
                        momentum=bn.momentum, eps=bn.eps)


# ----------------------------------------------------------------------------- the model
class AtlasWAEGAN(nn.Module):
    """The Atlas WAE-GAN: m charts of a d-dimensional latent space (an AGM).

    ``h`` defaults to Table 1's width for ``n_charts`` (for a chart count the table
    lacks, the full-size equal-budget width of :func:`atlasnb.widths.scale_width`). Offers the AGM
    interface of :mod:`atlasnb.agm`:
    ``partition``, ``encode``, ``decode``, plus ``encode_with_partition`` and
    ``decode_all`` for training. Images are (B, 1, 28, 28) in [0, 1].
    Derived in {ref}`sec-atlas-wae-gan`.
    """

    def __init__(self, n_charts: int, h: int | None = None,
                 latent_dim: int = ATLAS_LATENT_DIM):
        super().__init__()
        m = _check_positive_int("n_charts", n_charts)
        d = _check_positive_int("latent_dim", latent_dim)
        h = scale_width(m, 1, d) if h is None else _check_positive_int("h", h)
        self.n_charts, self.latent_dim, self.h = m, d, h
        # Encoder: shared trunk, m chart heads as one convolution, m FC layers.
        self.trunk = nn.Sequential(_conv_bn_swish(1, h), _conv_bn_swish(h, 2 * h),
                                   _conv_bn_swish(2 * h, 4 * h))
        self.chart_heads = _conv_bn_swish(4 * h, m * 8 * h)
        self.chart_fc = ChartLinear(m, 8 * h, d)
        # Partition network: the same trunk with its own head (absent for m = 1).
        self.partition_head = (nn.Sequential(_conv_bn_swish(4 * h, 8 * h), nn.Flatten(),
                                             nn.Linear(8 * h, m)) if m > 1 else None)
        # Decoder: m chart FC layers and a grouped transposed convolution, then
        # layers shared by all charts.
        self.decoder_fc = ChartLinear(m, d, 7 * 7 * 8 * h)
        self.decoder_chart_conv = nn.ConvTranspose2d(m * 8 * h, m * 4 * h, 4, stride=2,
                                                     padding=1, groups=m)
        self.decoder_chart_bn = nn.BatchNorm2d(m * 4 * h)
        self.decoder_shared = nn.Sequential(
            nn.ConvTranspose2d(4 * h, 2 * h, 4, stride=2, padding=1),
            nn.BatchNorm2d(2 * h), nn.SiLU(),
            SamePaddedConv2d(2 * h, 1), nn.Sigmoid())
        # Channels-last weights (and inputs, see _trunk) make the convolutions run
        # channels-last, which was markedly faster on CPU in tests/benchmarks.
        self.to(memory_format=torch.channels_last)

    def extra_repr(self) -> str:
        return f"n_charts={self.n_charts}, latent_dim={self.latent_dim}, h={self.h}"

    # ------------------------------------------------------------------ encoder
    def _partition_from_trunk(self, t: torch.Tensor) -> torch.Tensor:
        if self.partition_head is None:
            return t.new_ones(t.shape[0], 1)
        return torch.softmax(self.partition_head(t), dim=1)

    def _encode_from_trunk(self, t: torch.Tensor) -> torch.Tensor:
        heads = self.chart_heads(t).reshape(t.shape[0], self.n_charts, 8 * self.h)
        return self.chart_fc(heads)

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x)
        return self.trunk(x.contiguous(memory_format=torch.channels_last))

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

    # ------------------------------------------------------------------ decoder
    def _check_codes(self, z: torch.Tensor, dims: int) -> None:
        want = (self.n_charts, self.latent_dim) if dims == 3 else (self.latent_dim,)
        if not isinstance(z, torch.Tensor) or z.dim() != dims or tuple(z.shape[1:]) != want:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            name = "(B, " + ", ".join(map(str, want)) + ")"
            raise ValueError(f"z must have shape {name}, got {shape}")

    def decode_all(self, z_all: torch.Tensor) -> torch.Tensor:
        """G_y(z_all[:, y]) for every chart y in one grouped pass: (B, m, 1, 28, 28)."""
        self._check_codes(z_all, 3)
        b, m, h = z_all.shape[0], self.n_charts, self.h
        a = F.silu(self.decoder_fc(z_all)).reshape(b, m * 8 * h, 7, 7)
        a = F.silu(self.decoder_chart_bn(self.decoder_chart_conv(a)))
        a = self.decoder_shared(a.reshape(b * m, 4 * h, 14, 14))
        return a.reshape(b, m, *IMAGE_SHAPE)

    def _decode_chart(self, z: torch.Tensor, y: int) -> torch.Tensor:
        """G_y(z) for one chart, using only chart y's slice of the stacked weights."""
        h = self.h
        a = F.silu(self.decoder_fc.chart(z, y)).reshape(z.shape[0], 8 * h, 7, 7)
        conv = self.decoder_chart_conv
        out_channels = slice(y * 4 * h, (y + 1) * 4 * h)
        a = F.conv_transpose2d(a, conv.weight[y * 8 * h:(y + 1) * 8 * h],
                               conv.bias[out_channels], stride=2, padding=1)
        a = F.silu(_chart_batch_norm(self.decoder_chart_bn, a, out_channels))
        return self.decoder_shared(a)

    def decode(self, z: torch.Tensor, y) -> torch.Tensor:
        """G_y(z): (B, 1, 28, 28) images from (B, d) codes.

        ``y`` is one chart for the whole batch or a (B,) integer tensor with each
        row's chart; rows are grouped by chart and each group goes through its own
        chart only (the cost is that of one chart per row, whatever m is).
        """
        self._check_codes(z, 2)
        if isinstance(y, torch.Tensor) and y.dim() == 0:
            y = int(y)
        if isinstance(y, bool) or not isinstance(y, (int, torch.Tensor)):
            raise ValueError(f"y must be an int or a (B,) tensor of chart indices, got {y!r}")
        if isinstance(y, int):
            if not 0 <= y < self.n_charts:
                raise ValueError(f"chart index y must be in [0, {self.n_charts - 1}], got {y}")
            return self._decode_chart(z, y)
        return self._decode_rows(z, y)

    def _decode_rows(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.shape != (z.shape[0],) or y.dtype.is_floating_point or y.dtype == torch.bool:
            raise ValueError(f"y must be a ({z.shape[0]},) integer tensor of charts, "
                             f"got shape {tuple(y.shape)} and dtype {y.dtype}")
        bad = (y < 0) | (y >= self.n_charts)
        if bool(bad.any()):
            raise ValueError(f"chart indices y must be in [0, {self.n_charts - 1}], "
                             f"got {int(y[bad][0])}")
        y = y.to(z.device)
        out = z.new_empty(z.shape[0], *IMAGE_SHAPE)
        for chart in torch.unique(y).tolist():
            rows = (y == chart).nonzero(as_tuple=True)[0]
            out[rows] = self._decode_chart(z[rows], chart)
        return out

    def forward(self, x: torch.Tensor):
        """(psi, z_all, x_hat_all): partition, every chart's code and its decoding."""
        z_all, psi = self.encode_with_partition(x)
        return psi, z_all, self.decode_all(z_all)

    def sample_latent(self, n: int, generator: torch.Generator | None = None):
        """(z, y) ~ P(Z, Y) = N(0, I_d) x Uniform{0, ..., m-1}, the prior the objective
        matches the encodings to (:mod:`atlasnb.objective`): z (n, d) in the model's
        dtype, y (n,) long, on the generator's device (CPU without one). The optional
        method of the AGM interface (:class:`atlasnb.agm.SampledAGM`)."""
        n = _check_positive_int("n", n)
        device = generator.device if generator is not None else torch.device("cpu")
        y = torch.randint(self.n_charts, (n,), generator=generator, device=device)
        z = torch.randn(n, self.latent_dim, generator=generator, device=device,
                        dtype=self.decoder_fc.weight.dtype)
        return z, y


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
def build_model(config) -> AtlasWAEGAN:
    """The model a :class:`atlasnb.config.TrainConfig` describes."""
    if config.n_charts == 1:
        return WAEGAN(h=config.model_width, latent_dim=config.model_latent_dim)
    return AtlasWAEGAN(config.n_charts, h=config.model_width,
                       latent_dim=config.model_latent_dim)


def build_critic(config) -> LatentCritic | JointCritic:
    """The latent critic(s) for :func:`build_model`'s model (width 4h, same h): one per
    chart for ``latent_penalty="per-chart"``, one on (z, y) for ``"joint"``."""
    critic = JointCritic if config.latent_penalty == "joint" else LatentCritic
    return critic(config.n_charts, config.model_latent_dim, config.model_width)
