"""Tests for atlasnb.metrics: Table 1's reconstruction error goes through each image's
most likely chart, the same in any batch size."""

import pytest
import torch

from atlasnb.metrics import reconstruct, reconstruction_error
from atlasnb.models import WAEGAN, AtlasWAEGAN

B, D, H = 8, 4, 3
FLOAT32 = dict(rtol=1e-5, atol=1e-6)  # float32 sums over a few thousand pixels


def setup(m, seed=0):
    torch.manual_seed(seed)
    model = WAEGAN(h=H, latent_dim=D) if m == 1 else AtlasWAEGAN(m, h=H, latent_dim=D)
    return model.eval(), torch.rand(B, 1, 28, 28)


@pytest.mark.parametrize("m", [1, 3])
def test_reconstruction_error_is_the_best_charts_per_pixel_mse(m):
    model, x = setup(m)
    with torch.no_grad():
        z_all, psi = model.encode_with_partition(x)
        best = psi.argmax(1)
        x_hat = model.decode(z_all[torch.arange(B), best], best)
    torch.testing.assert_close(reconstruct(model, x), x_hat, **FLOAT32)
    expected = float(((x_hat - x) ** 2).mean())
    assert reconstruction_error(model, x) == pytest.approx(expected, rel=1e-5)
    assert reconstruction_error(model, x, batch_size=3) == pytest.approx(expected, rel=1e-5)

