"""The Appendix A layers every AGM family of the package is built from.

Derived in {ref}`sec-atlas-wae-gan`. The Atlas WAE-GAN (:mod:`atlasnb.models`) and
the families of :mod:`atlasnb.families` (Atlas VAE, Chart Auto-Encoder, InfoGAN-type
semi-AGM) share these builders, so that a change of the reading of Appendix A
reaches every model at once:

* :func:`encoder_trunk`: the shared Conv_h, Conv_2h, Conv_4h (each + BN + Swish);
* :func:`trunk_head`: a head on that trunk, Conv_8h + BN + Swish + FC_(8h -> out)
  (the partition network's with out = m, an image critic's with out = 1);
* :class:`ChartDecoder`: the per-chart FC_(d -> 7*7*8h) and ConvT_(8h -> 4h), then
  the shared ConvT_(4h -> 2h) and the stride-1 Conv_(2h -> 1), with ``decode``,
  ``decode_all`` and the prior ``sample_latent``.

The builders create their layers in the order the Atlas WAE-GAN always has, so a
seed initialises the same weights as before they were factored out.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from atlasnb.checks import check_int

IMAGE_SHAPE = (1, 28, 28)


#: How far outside [0, 1] an image value may lie (rounding) before it is refused.
PIXEL_TOLERANCE = 1e-4


def check_images(x: torch.Tensor) -> None:
    """Refuse anything but a (B, 1, 28, 28) tensor of images with values in [0, 1]."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a batch of images of shape (B, 1, 28, 28), got {shape}")
    if x.numel() == 0:
        return
    low, high = (float(v) for v in torch.aminmax(x.detach()))
    if not (-PIXEL_TOLERANCE <= low and high <= 1 + PIXEL_TOLERANCE):
        raise ValueError(f"x holds values from {low:g} to {high:g}, but this model takes "
                         "images in [0, 1]; convert them first, e.g. x / 255 for images on "
                         "the 0..255 scale")


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


def conv_bn_swish(in_channels: int, out_channels: int) -> nn.Sequential:
    """A stride-2 4x4 encoder convolution (no bias) + BatchNorm + Swish."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels), nn.SiLU())


def chart_batch_norm(bn: nn.BatchNorm2d, x: torch.Tensor, channels: slice) -> torch.Tensor:
    """The BatchNorm of one chart: the ``channels`` slice of a BatchNorm over all charts."""
    return F.batch_norm(x, bn.running_mean[channels], bn.running_var[channels],
                        bn.weight[channels], bn.bias[channels], training=bn.training,
                        momentum=bn.momentum, eps=bn.eps)


def encoder_trunk(h: int) -> nn.Sequential:
    """The shared encoder trunk: 28 -> 14 -> 7 -> 3 with h, 2h, 4h channels."""
    return nn.Sequential(conv_bn_swish(1, h), conv_bn_swish(h, 2 * h),
                         conv_bn_swish(2 * h, 4 * h))


def trunk_head(h: int, out_features: int) -> nn.Sequential:
    """A head on :func:`encoder_trunk`: Conv_8h + BN + Swish + FC_(8h -> out), logits."""
    return nn.Sequential(conv_bn_swish(4 * h, 8 * h), nn.Flatten(),
                         nn.Linear(8 * h, out_features))


def run_trunk(trunk: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``trunk(x)`` on checked images, run channels-last (faster on CPU)."""
    check_images(x)
    return trunk(x.contiguous(memory_format=torch.channels_last))


class ChartDecoder:
    """The decoders G_y of Appendix A as a mixin of an ``nn.Module``.

    ``_build_decoder`` creates the layers (chart FC layers and a grouped
    transposed convolution, then layers shared by all charts); the methods decode
    in one grouped pass (:meth:`decode_all`) or one chart per row (:meth:`decode`).
    The class using it sets ``n_charts``, ``latent_dim`` and ``h``.
    """

    def _build_decoder(self, m: int, d: int, h: int) -> None:
        self.decoder_fc = ChartLinear(m, d, 7 * 7 * 8 * h)
        self.decoder_chart_conv = nn.ConvTranspose2d(m * 8 * h, m * 4 * h, 4, stride=2,
                                                     padding=1, groups=m)
        self.decoder_chart_bn = nn.BatchNorm2d(m * 4 * h)
        self.decoder_shared = nn.Sequential(
            nn.ConvTranspose2d(4 * h, 2 * h, 4, stride=2, padding=1),
            nn.BatchNorm2d(2 * h), nn.SiLU(),
            SamePaddedConv2d(2 * h, 1), nn.Sigmoid())

    def _check_codes(self, z: torch.Tensor, dims: int) -> None:
        want = (self.n_charts, self.latent_dim) if dims == 3 else (self.latent_dim,)
        if not isinstance(z, torch.Tensor) or z.dim() != dims or tuple(z.shape[1:]) != want:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            name = "(B, " + ", ".join(map(str, want)) + ")"
            raise ValueError(f"z must have shape {name}, got {shape}")

    def _shared_output(self, a: torch.Tensor, logits: bool) -> torch.Tensor:
        return (self.decoder_shared[:-1] if logits else self.decoder_shared)(a)

    def decode_all(self, z_all: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """G_y(z_all[:, y]) for every chart y in one grouped pass: (B, m, 1, 28, 28).

        ``logits=True`` returns the pre-sigmoid outputs (a Bernoulli likelihood's logits)."""
        self._check_codes(z_all, 3)
        b, m, h = z_all.shape[0], self.n_charts, self.h
        a = F.silu(self.decoder_fc(z_all)).reshape(b, m * 8 * h, 7, 7)
        a = F.silu(self.decoder_chart_bn(self.decoder_chart_conv(a)))
        a = self._shared_output(a.reshape(b * m, 4 * h, 14, 14), logits)
        return a.reshape(b, m, *IMAGE_SHAPE)

    def _decode_chart(self, z: torch.Tensor, y: int, logits: bool = False) -> torch.Tensor:
        """G_y(z) for one chart, using only chart y's slice of the stacked weights."""
        h = self.h
        a = F.silu(self.decoder_fc.chart(z, y)).reshape(z.shape[0], 8 * h, 7, 7)
        conv = self.decoder_chart_conv
        out_channels = slice(y * 4 * h, (y + 1) * 4 * h)
        a = F.conv_transpose2d(a, conv.weight[y * 8 * h:(y + 1) * 8 * h],
                               conv.bias[out_channels], stride=2, padding=1)
        a = F.silu(chart_batch_norm(self.decoder_chart_bn, a, out_channels))
        return self._shared_output(a, logits)

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

    def sample_latent(self, n: int, generator: torch.Generator | None = None):
        """(z, y) ~ P(Z, Y) = N(0, I_d) x Uniform{0, ..., m-1}, the prior the objective
        matches the encodings to: z (n, d) in the model's dtype, y (n,) long, on the
        generator's device (CPU without one). The optional method of the AGM interface
        (:class:`atlasnb.agm.SampledAGM`)."""
        n = check_int("n", n, 1)
        device = generator.device if generator is not None else torch.device("cpu")
        y = torch.randint(self.n_charts, (n,), generator=generator, device=device)
        z = torch.randn(n, self.latent_dim, generator=generator, device=device,
                        dtype=self.decoder_fc.weight.dtype)
        return z, y
