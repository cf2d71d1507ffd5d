"""Model widths with equal parameter budgets, by exact count (no torch needed).

Derived in {ref}`sec-atlas-wae-gan`. Appendix A shrinks the width h of the atlas
model as the number of charts m grows, so that all five models of Table 1 have
about the WAE-GAN's number of trainable parameters. :func:`scale_width` applies
that rule at every scale: the WAE-GAN's width is Table 1's 128 divided by the
scale's divisor, and each atlas model takes the h whose count is closest to that
WAE-GAN's. At full size (divisor 1) Table 1's own widths are kept.
"""

from __future__ import annotations

from collections.abc import Callable

from atlasnb.checks import check_int
from atlasnb.paper import ATLAS_LATENT_DIM, TABLE1_WIDTHS, WAE_LATENT_DIM


def expected_parameter_count(n_charts: int, h: int, latent_dim: int) -> int:
    """Trainable parameters of ``AtlasWAEGAN(n_charts, h, latent_dim)`` (encoders,
    partition network, decoders; Table 1's count), by formula. Tested against the
    model in ``tests/test_models.py``."""
    m, d = n_charts, latent_dim
    trunk = (16 * h + 2 * h) + (32 * h * h + 4 * h) + (128 * h * h + 8 * h)
    head = 512 * h * h + 16 * h + 8 * h * d + d
    partition = 512 * h * h + 16 * h + 8 * h * m + m if m > 1 else 0
    decoder_chart = 392 * h * (d + 1) + 512 * h * h + 4 * h + 8 * h
    decoder_shared = (128 * h * h + 2 * h + 4 * h) + (32 * h + 1)
    return trunk + m * head + partition + m * decoder_chart + decoder_shared


def matched_width(n_charts: int, target: int, latent_dim: int = ATLAS_LATENT_DIM,
                  count: Callable[[int, int, int], int] = expected_parameter_count) -> int:
    """The width h >= 1 whose ``count(n_charts, h, latent_dim)`` is closest to ``target``
    (the smaller h on a tie). ``count`` is any parameter-counting function."""
    check_int("n_charts", n_charts, 1)
    check_int("latent_dim", latent_dim, 1)
    check_int("target", target, 1)
    best, best_gap, h = 1, abs(count(n_charts, 1, latent_dim) - target), 1
    while True:  # counts grow with h: stop once they pass the target
        h += 1
        gap = abs(count(n_charts, h, latent_dim) - target)
        if gap < best_gap:
            best, best_gap = h, gap
        if count(n_charts, h, latent_dim) >= target:
            return best


def scale_width(n_charts: int, width_divisor: int = 1, latent_dim: int | None = None) -> int:
    """h of the model with ``n_charts`` charts at a scale dividing widths by ``width_divisor``.

    The WAE-GAN (m = 1) gets ``128 // width_divisor``; an atlas model gets the h whose
    parameter count is closest to that WAE-GAN's (d = 8), counting its own ``latent_dim``
    (default 7). With ``width_divisor == 1`` a chart count listed in Table 1 gets
    Table 1's width (86, 64, 48, 34), as the paper chose them.
    """
    check_int("n_charts", n_charts, 1)
    check_int("width_divisor", width_divisor, 1)
    d = ATLAS_LATENT_DIM if latent_dim is None else check_int("latent_dim", latent_dim, 1)
    wae_width = max(1, TABLE1_WIDTHS[1] // width_divisor)
    if n_charts == 1:
        return wae_width
    if width_divisor == 1 and n_charts in TABLE1_WIDTHS and d == ATLAS_LATENT_DIM:
        return TABLE1_WIDTHS[n_charts]
    target = expected_parameter_count(1, wae_width, WAE_LATENT_DIM)
    return matched_width(n_charts, target, d)


# ----------------------------------------------------------------------------- families
def _head_count(h: int, d: int) -> int:
    """One encoder chart head: Conv_8h (no bias) + BN + FC_(8h -> d)."""
    return 512 * h * h + 16 * h + 8 * h * d + d


def atlas_vae_parameter_count(n_charts: int, h: int, latent_dim: int) -> int:
    """Trainable parameters of :class:`~atlasnb.families.atlas_vae.AtlasVAE`: the Atlas WAE-GAN's,
    with every chart's last FC layer giving a mean and a log-variance (2d outputs)."""
    return (expected_parameter_count(n_charts, h, latent_dim)
            + n_charts * (8 * h * latent_dim + latent_dim))


def infogan_parameter_count(n_charts: int, h: int, latent_dim: int) -> int:
    """Trainable parameters of :class:`~atlasnb.families.infogan.InfoGAN` (generator and the
    inference network Q(y | x), the image critic excluded): the Atlas WAE-GAN's
    without the m encoder chart heads (and, for m = 1, where psi = 1 needs no Q,
    without the trunk)."""
    trunk = (16 * h + 2 * h) + (32 * h * h + 4 * h) + (128 * h * h + 8 * h)
    return expected_parameter_count(n_charts, h, latent_dim) \
        - n_charts * _head_count(h, latent_dim) - (trunk if n_charts == 1 else 0)


#: The parameter count of each model family, by formula (tested against the models).
FAMILY_PARAMETER_COUNTS = {
    "atlas-wae-gan": expected_parameter_count,
    "atlas-vae": atlas_vae_parameter_count,
    "cae": expected_parameter_count,  # the same layers as the Atlas WAE-GAN
    "infogan": infogan_parameter_count,
}


def family_width(model: str, n_charts: int, width_divisor: int = 1,
                 latent_dim: int | None = None) -> int:
    """h of ``model`` with ``n_charts`` charts at a scale dividing widths by ``width_divisor``:
    the h whose parameter count (:data:`FAMILY_PARAMETER_COUNTS`) is closest to the
    WAE-GAN's at that scale, so every family has the same budget as the Atlas WAE-GAN.
    The Atlas WAE-GAN and the Chart Auto-Encoder (the same layers) get
    :func:`scale_width`, Table 1's widths at full size included."""
    if model not in FAMILY_PARAMETER_COUNTS:
        raise ValueError(f"model must be one of {tuple(FAMILY_PARAMETER_COUNTS)}, "
                         f"got {model!r}")
    if FAMILY_PARAMETER_COUNTS[model] is expected_parameter_count:
        return scale_width(n_charts, width_divisor, latent_dim)
    check_int("n_charts", n_charts, 1)
    check_int("width_divisor", width_divisor, 1)
    d = (WAE_LATENT_DIM if n_charts == 1 else ATLAS_LATENT_DIM) if latent_dim is None \
        else check_int("latent_dim", latent_dim, 1)
    target = expected_parameter_count(1, max(1, TABLE1_WIDTHS[1] // width_divisor),
                                      WAE_LATENT_DIM)
    return matched_width(n_charts, target, d, FAMILY_PARAMETER_COUNTS[model])
