"""Tests for atlasnb.models: Table 1's parameter counts, the AGM interface, and
that running the per-chart layers batched over charts changes nothing."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from atlasnb.agm import check_agm
from atlasnb.config import make_config
from atlasnb.models import (
    TABLE1_PARAMETER_COUNTS,
    WAEGAN,
    AtlasWAEGAN,
    JointCritic,
    LatentCritic,
    build_critic,
    build_model,
    expected_parameter_count,
    matched_width,
    meta_parameter_count,
    parameter_count,
    scale_width,
)

B = 6


def images(n=B, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def small(m, h=3, d=5, seed=0):
    torch.manual_seed(seed)
    return WAEGAN(h=h, latent_dim=d) if m == 1 else AtlasWAEGAN(m, h=h, latent_dim=d)


# ------------------------------------------------------------------ Table 1
@pytest.mark.parametrize("m", [1, 2, 4, 8, 16])
def test_table1_parameter_counts_exact(m):
    with torch.device("meta"):  # shapes only: no memory for 22 million weights
        model = WAEGAN() if m == 1 else AtlasWAEGAN(m)
    assert model.latent_dim == (8 if m == 1 else 7)
    assert parameter_count(model) == TABLE1_PARAMETER_COUNTS[m]
    assert meta_parameter_count(m, model.h, model.latent_dim) == TABLE1_PARAMETER_COUNTS[m]


@pytest.mark.parametrize("m,h,d", [(1, 1, 1), (1, 5, 8), (3, 2, 7), (5, 4, 2)])
def test_parameter_formula_matches_model(m, h, d):
    assert parameter_count(AtlasWAEGAN(m, h=h, latent_dim=d)) == expected_parameter_count(m, h, d)


def test_critic_not_counted_and_width():
    critic = LatentCritic(2, 7, 5)
    # per chart: 7*20+20 + 3*(20*20+20) + 4*2*20 (BN) + 20+1
    assert parameter_count(critic) == 2 * (7 * 20 + 20 + 3 * 420 + 160 + 21)


def test_matched_width():
    assert [scale_width(m) for m in (1, 2, 4, 8, 16)] == [128, 86, 64, 48, 34]
    target = TABLE1_PARAMETER_COUNTS[1]
    h = matched_width(3, target)
    gap = abs(expected_parameter_count(3, h, 7) - target)
    assert all(gap <= abs(expected_parameter_count(3, k, 7) - target) for k in (h - 1, h + 1))
    assert AtlasWAEGAN(3, latent_dim=7).h == h == scale_width(3)
    # any counting function: here a count that is linear in h
    assert matched_width(2, 100, 7, count=lambda m, k, d: 10 * k) == 10


def test_matched_widths_at_quick_scale_are_within_six_percent():
    target = meta_parameter_count(1, 21, 8)
    for m in (2, 4, 8, 16):
        count = meta_parameter_count(m, scale_width(m, 6), 7)
        assert abs(count / target - 1) < 0.06, (m, count, target)


def test_joint_critic_is_one_network_on_z_and_one_hot_y():
    torch.manual_seed(0)
    critic = JointCritic(3, 5, 2).eval()
    # one critic with d + m inputs: far fewer weights than three per-chart critics
    assert critic.net.n_charts == 1 and critic.net.latent_dim == 5 + 3
    z = torch.randn(4, 3, 5)
    logits = critic(z)
    assert logits.shape == (4, 3)
    # the chart enters the logit: the same z in two charts gets two values
    same = z[:, :1].expand(4, 3, 5).contiguous()
    out = critic(same)
    assert not torch.allclose(out[:, 0], out[:, 1])
    # row (b, y) is the critic on the concatenation (z_by, e_y)
    pairs = torch.cat([z, torch.eye(3).expand(4, 3, 3)], 2).reshape(12, 1, 8)
    torch.testing.assert_close(logits, critic.net(pairs).reshape(4, 3))


def test_joint_critic_with_one_chart_is_the_wae_gan_critic():
    torch.manual_seed(1)
    joint = JointCritic(1, 5, 2)
    torch.manual_seed(1)
    single = LatentCritic(1, 5, 2)
    z = torch.randn(6, 1, 5)
    assert parameter_count(joint) == parameter_count(single)
    torch.testing.assert_close(joint(z), single(z))


@pytest.mark.parametrize("penalty, kind", [("joint", JointCritic), ("per-chart", LatentCritic)])
def test_build_critic_follows_latent_penalty(penalty, kind):
    critic = build_critic(make_config("smoke", "mnist", 4, latent_penalty=penalty))
    assert type(critic) is kind and critic(torch.zeros(3, 4, 7)).shape == (3, 4)


# ------------------------------------------------------------------ interface
@pytest.mark.parametrize("m", [1, 3])
def test_agm_interface_shapes(m):
    model = small(m)
    check_agm(model)
    x = images()
    psi, z = model.partition(x), model.encode(x)
    assert psi.shape == (B, m) and z.shape == (B, m, 5)
    assert torch.all(psi >= 0) and torch.allclose(psi.sum(1), torch.ones(B))
    assert model.decode(z[:, 0], 0).shape == (B, 1, 28, 28)
    y = torch.arange(B) % m
    out = model.decode(z[:, 0], y)
    assert out.shape == (B, 1, 28, 28) and out.min() > 0 and out.max() < 1
    assert model.decode_all(z).shape == (B, m, 1, 28, 28)
    z2, psi2 = model.encode_with_partition(x)
    assert torch.allclose(z2, z) and torch.allclose(psi2, psi)


def test_wae_partition_is_one_and_has_no_partition_network():
    model = WAEGAN(h=2)
    assert model.partition_head is None
    assert torch.equal(model.partition(images()), torch.ones(B, 1))


def test_decode_rows_equals_each_row_alone():
    model = small(4).eval()
    z = torch.randn(9, 5)
    y = torch.tensor([3, 0, 0, 2, 3, 1, 2, 0, 3])
    with torch.no_grad():
        batch = model.decode(z, y)
        alone = torch.cat([model.decode(z[i:i + 1], int(y[i])) for i in range(9)])
    torch.testing.assert_close(batch, alone)


def test_decode_all_equals_decode_per_chart():
    model = small(3).eval()
    z_all = torch.randn(B, 3, 5)
    with torch.no_grad():
        full = model.decode_all(z_all)
        for y in range(3):
            torch.testing.assert_close(full[:, y], model.decode(z_all[:, y], y))


def test_decode_in_training_updates_only_its_chart_statistics():
    model = small(3, h=2).train()
    bn = model.decoder_chart_bn
    before = bn.running_mean.clone()
    model.decode(torch.randn(B, 5), 1)
    changed = (bn.running_mean != before).reshape(3, -1).any(1)
    assert changed.tolist() == [False, True, False]


# ------------------------------------------------------------------ batching = separate charts
def _separate_encoder_head(model, y):
    """Chart y's encoder head as standalone modules copied from the stacked weights."""
    h, d = model.h, model.latent_dim
    rows = slice(y * 8 * h, (y + 1) * 8 * h)
    conv, bn = model.chart_heads[0], model.chart_heads[1]
    head_conv = nn.Conv2d(4 * h, 8 * h, 4, stride=2, padding=1, bias=False)
    head_bn, fc = nn.BatchNorm2d(8 * h), nn.Linear(8 * h, d)
    with torch.no_grad():
        head_conv.weight.copy_(conv.weight[rows])
        head_bn.weight.copy_(bn.weight[rows])
        head_bn.bias.copy_(bn.bias[rows])
        fc.weight.copy_(model.chart_fc.weight[y].T)
        fc.bias.copy_(model.chart_fc.bias[y])
    return nn.Sequential(head_conv, head_bn, nn.SiLU(), nn.Flatten(), fc)


def _separate_decoder_chart(model, y):
    h, d = model.h, model.latent_dim
    fc, conv = nn.Linear(d, 49 * 8 * h), nn.ConvTranspose2d(8 * h, 4 * h, 4, stride=2, padding=1)
    bn = nn.BatchNorm2d(4 * h)
    out = slice(y * 4 * h, (y + 1) * 4 * h)
    with torch.no_grad():
        fc.weight.copy_(model.decoder_fc.weight[y].T)
        fc.bias.copy_(model.decoder_fc.bias[y])
        conv.weight.copy_(model.decoder_chart_conv.weight[y * 8 * h:(y + 1) * 8 * h])
        conv.bias.copy_(model.decoder_chart_conv.bias[out])
        bn.weight.copy_(model.decoder_chart_bn.weight[out])
        bn.bias.copy_(model.decoder_chart_bn.bias[out])
    return nn.Sequential(fc, nn.SiLU(), nn.Unflatten(1, (8 * h, 7, 7)), conv, bn, nn.SiLU())


@pytest.mark.parametrize("train", [True, False])
def test_batched_encoder_equals_separate_charts(train):
    model = small(3, h=4).train(train)
    for module in model.modules():  # non-trivial running statistics for eval mode
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    x = images()
    with torch.no_grad():
        z_all = model.encode(x)
        trunk = model.trunk(x)
        for y in range(3):
            head = _separate_encoder_head(model, y).train(train)
            rows = slice(y * 8 * model.h, (y + 1) * 8 * model.h)
            head[1].running_mean.copy_(model.chart_heads[1].running_mean[rows])
            head[1].running_var.copy_(model.chart_heads[1].running_var[rows])
            torch.testing.assert_close(z_all[:, y], head(trunk))


def test_batched_decoder_equals_separate_charts_in_training():
    """Train mode: per-chart BatchNorm statistics come from that chart's codes only."""
    model = small(3, h=4).train()
    z_all = torch.randn(B, 3, 5)
    h = model.h
    with torch.no_grad():
        a = F.silu(model.decoder_fc(z_all)).reshape(B, 3 * 8 * h, 7, 7)
        batched = F.silu(model.decoder_chart_bn(model.decoder_chart_conv(a)))
        for y in range(3):
            separate = _separate_decoder_chart(model, y).train()(z_all[:, y])
            torch.testing.assert_close(batched[:, y * 4 * h:(y + 1) * 4 * h], separate)


def test_decode_all_equals_separate_networks_in_eval():
    model = small(3, h=4).eval()
    z_all = torch.randn(B, 3, 5)
    with torch.no_grad():
        full = model.decode_all(z_all)
        for y in range(3):
            chart = _separate_decoder_chart(model, y).eval()
            out = slice(y * 4 * model.h, (y + 1) * 4 * model.h)
            chart[4].running_mean.copy_(model.decoder_chart_bn.running_mean[out])
            chart[4].running_var.copy_(model.decoder_chart_bn.running_var[out])
            torch.testing.assert_close(full[:, y], model.decoder_shared(chart(z_all[:, y])))


def test_critic_batched_equals_separate_mlps():
    torch.manual_seed(1)
    critic = LatentCritic(3, 5, 2).train()
    z_all = torch.randn(B, 3, 5)
    with torch.no_grad():
        logits = critic(z_all)
        for y in range(3):
            a = z_all[:, y]
            for linear, norm in zip(critic.hidden, critic.norms):
                a = linear.chart(a, y)
                cols = slice(y * 8, (y + 1) * 8)
                a = F.silu(F.batch_norm(a, None, None, norm.weight[cols], norm.bias[cols],
                                        training=True, eps=norm.eps))
            torch.testing.assert_close(logits[:, y], critic.out.chart(a, y).squeeze(1))
    assert logits.shape == (B, 3)


# ------------------------------------------------------------------ builders and errors
@pytest.mark.parametrize("scale,m,h", [("smoke", 16, 1), ("quick", 8, 7), ("quick", 1, 21)])
def test_build_from_config(scale, m, h):
    config = make_config(scale, n_charts=m)
    model, critic = build_model(config), build_critic(config)
    assert (model.n_charts, model.h, model.latent_dim) == (m, h, config.model_latent_dim)
    assert isinstance(model, WAEGAN) == (m == 1)
    assert (critic.n_charts, critic.h) == (m, h)
    z = model.encode(images(4))
    assert critic(z).shape == (4, m)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(n_charts=0), "n_charts"), (dict(n_charts=2, h=0), "h must"),
    (dict(n_charts=2, h=2, latent_dim=0), "latent_dim"), (dict(n_charts=1.5), "1.5")])
def test_bad_construction_raises(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        AtlasWAEGAN(**kwargs)


def test_bad_inputs_raise_with_value():
    model = small(3, h=2)
    z = torch.randn(4, 5)
    with pytest.raises(ValueError, match=r"\[0, 2\], got 3"):
        model.decode(z, 3)
    with pytest.raises(ValueError, match="got -1"):
        model.decode(z, torch.tensor([0, 1, -1, 2]))
    with pytest.raises(ValueError, match=r"\(4,\) integer"):
        model.decode(z, torch.tensor([0.0, 1.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(B, 5\), got \(4, 6\)"):
        model.decode(torch.randn(4, 6), 0)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\), got \(4, 28, 28\)"):
        model.encode(torch.rand(4, 28, 28))
    with pytest.raises(ValueError, match=r"\(B, 3, 5\)"):
        model.decode_all(torch.randn(4, 2, 5))
    with pytest.raises(ValueError, match="n_charts"):
        LatentCritic(0, 5, 2)
