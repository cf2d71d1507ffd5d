"""Tests for atlasnb.objective: m = 1 is the plain WAE-GAN, the atlas terms are
the psi-weighted per-chart terms, gradients reach every parameter."""

import math

import pytest
import torch
import torch.nn.functional as F

from atlasnb.models import WAEGAN, AtlasWAEGAN, JointCritic, LatentCritic
from atlasnb.objective import (
    autoencoder_loss,
    chart_marginal_kl,
    critic_loss,
    reconstruction_cost,
)

B, D, H = 8, 4, 3


def setup(m, seed=0):
    torch.manual_seed(seed)
    model = WAEGAN(h=H, latent_dim=D) if m == 1 else AtlasWAEGAN(m, h=H, latent_dim=D)
    x = torch.rand(B, 1, 28, 28)
    return model, LatentCritic(m, D, H), x


def gen(seed=5):
    return torch.Generator().manual_seed(seed)


def test_m1_autoencoder_loss_is_plain_wae_gan():
    model, critic, x = setup(1)
    lam = 10.0
    loss, parts = autoencoder_loss(model, critic, x, lam, generator=gen())
    # The WAE-GAN formula written out by hand (same prior draw for the critic batch).
    z = model.encode(x)[:, 0]
    recon = ((model.decode(z, 0) - x) ** 2).sum(dim=(1, 2, 3)).mean()
    prior = torch.randn(B, 1, D, generator=gen())
    logits = critic(torch.cat([prior, z[:, None]]))[B:, 0]
    expected = recon - lam * F.logsigmoid(logits).mean()
    torch.testing.assert_close(loss, expected)
    assert parts["chart_kl"] == 0.0
    assert parts["reconstruction"] == pytest.approx(recon.item(), rel=1e-5)


def test_m1_critic_loss_is_plain_gan_loss():
    model, critic, x = setup(1)
    loss, _ = critic_loss(model, critic, x, generator=gen())
    with torch.no_grad():
        z = model.encode(x)
    prior = torch.randn(B, 1, D, generator=gen())
    logits = critic(torch.cat([prior, z]))[:, 0]
    expected = -(F.logsigmoid(logits[:B]).mean() + F.logsigmoid(-logits[B:]).mean())
    torch.testing.assert_close(loss, expected)


def test_atlas_loss_equals_chart_by_chart_formula():
    model, critic, x = setup(3)
    lam = 2.5
    loss, parts = autoencoder_loss(model, critic, x, lam, generator=gen())
    z_all, psi = model.encode_with_partition(x)
    prior = torch.randn(B, 3, D, generator=gen())
    logits = critic(torch.cat([prior, z_all]))[B:]
    recon = adversarial = 0.0
    for y in range(3):
        x_hat = model.decode_all(z_all)[:, y]
        recon = recon + (psi[:, y] * ((x_hat - x) ** 2).sum(dim=(1, 2, 3))).mean()
        adversarial = adversarial - (psi[:, y] * F.logsigmoid(logits[:, y])).mean()
    pi = psi.mean(0)
    kl = (pi * torch.log(3 * pi)).sum()
    torch.testing.assert_close(loss, recon + lam * (adversarial + kl))
    assert parts["chart_kl"] == pytest.approx(kl.item(), rel=1e-4, abs=1e-7)


def test_atlas_critic_loss_weights_encodings_by_psi():
    model, critic, x = setup(3)
    loss, _ = critic_loss(model, critic, x, generator=gen())
    with torch.no_grad():
        z_all, psi = model.encode_with_partition(x)
    prior = torch.randn(B, 3, D, generator=gen())
    logits = critic(torch.cat([prior, z_all]))
    expected = 0.0
    for y in range(3):
        w = psi[:, y] / psi[:, y].sum()
        expected = expected - F.logsigmoid(logits[:B, y]).mean()
        expected = expected - (w * F.logsigmoid(-logits[B:, y])).sum()
    torch.testing.assert_close(loss, expected)


def test_chart_marginal_kl():
    assert chart_marginal_kl(torch.full((5, 4), 0.25)).item() == pytest.approx(0, abs=1e-6)
    one_chart = F.one_hot(torch.zeros(5, dtype=torch.long), 4).float()
    assert chart_marginal_kl(one_chart).item() == pytest.approx(math.log(4))
    assert chart_marginal_kl(torch.ones(5, 1)).item() == 0.0
    assert chart_marginal_kl(torch.softmax(torch.randn(50, 6), 1)).item() >= 0


@pytest.mark.parametrize("m", [1, 3])
def test_gradients_reach_every_parameter(m):
    model, critic, x = setup(m)
    loss, _ = autoencoder_loss(model, critic, x, generator=gen())
    loss.backward()
    missing = [name for name, p in model.named_parameters()
               if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []


def test_critic_loss_trains_only_the_critic():
    model, critic, x = setup(3)
    loss, parts = critic_loss(model, critic, x, generator=gen())
    loss.backward()
    assert all(p.grad is None for p in model.parameters())
    assert all(p.grad is not None and torch.any(p.grad != 0) for p in critic.parameters())
    assert 0 < parts["d_prior"] < 1 and 0 < parts["d_encoded"] < 1


def test_reconstruction_cost_shapes():
    x = torch.rand(B, 1, 28, 28)
    assert reconstruction_cost(x, torch.zeros_like(x)).shape == (B,)
    torch.testing.assert_close(reconstruction_cost(x, torch.zeros_like(x)), (x ** 2).sum((1, 2, 3)))
    assert reconstruction_cost(x, torch.zeros(B, 3, 1, 28, 28)).shape == (B, 3)


# ------------------------------------------------------------------ the joint reading
def joint_setup(m, seed=0):
    torch.manual_seed(seed)
    model = WAEGAN(h=H, latent_dim=D) if m == 1 else AtlasWAEGAN(m, h=H, latent_dim=D)
    x = torch.rand(B, 1, 28, 28)
    return model, JointCritic(m, D, H), x


def test_m1_both_latent_penalties_coincide():
    model, critic, x = setup(1)
    torch.manual_seed(0)
    joint_critic = JointCritic(1, D, H)
    joint_critic.net.load_state_dict(critic.state_dict())
    for function, kwargs in ((autoencoder_loss, {}), (critic_loss, {})):
        a, parts_a = function(model, critic, x, generator=gen(), latent_penalty="per-chart",
                              **kwargs)
        b, parts_b = function(model, joint_critic, x, generator=gen(), latent_penalty="joint",
                              **kwargs)
        torch.testing.assert_close(a, b)
        assert parts_a == pytest.approx(parts_b)


def test_joint_autoencoder_loss_has_no_kl_term_and_weights_pairs_by_psi():
    model, critic, x = joint_setup(3)
    lam = 2.5
    loss, parts = autoencoder_loss(model, critic, x, lam, generator=gen(), latent_penalty="joint")
    z_all, psi = model.encode_with_partition(x)
    prior = torch.randn(B, 3, D, generator=gen())
    logits = critic(torch.cat([prior, z_all]))[B:]
    recon = (psi * ((model.decode_all(z_all) - x[:, None]) ** 2).sum((2, 3, 4))).sum(1).mean()
    adversarial = -(psi * F.logsigmoid(logits)).sum(1).mean()
    torch.testing.assert_close(loss, recon + lam * adversarial)
    assert parts["chart_kl"] > 0  # reported, yet not part of the loss


def test_joint_critic_loss_is_one_gan_loss_on_pairs():
    model, critic, x = joint_setup(3)
    loss, parts = critic_loss(model, critic, x, generator=gen(), latent_penalty="joint")
    with torch.no_grad():
        z_all, psi = model.encode_with_partition(x)
    prior = torch.randn(B, 3, D, generator=gen())
    logits = critic(torch.cat([prior, z_all]))
    expected = -(F.logsigmoid(logits[:B]).mean() + (psi / B * F.logsigmoid(-logits[B:])).sum())
    torch.testing.assert_close(loss, expected)
    # per-chart weights (psi normalised within each chart) give another value
    per_chart = -(3 * F.logsigmoid(logits[:B]).mean()
                  + (psi / psi.sum(0) * F.logsigmoid(-logits[B:])).sum())
    assert not torch.allclose(loss, per_chart)


def test_joint_penalty_pushes_an_overused_chart_down():
    # A critic that finds chart 0 suspicious (low D on chart 0, high elsewhere) makes the
    # encoder's loss grow with psi_0: its gradient lowers the partition logit of chart 0.
    model, critic, x = joint_setup(3)

    class Suspicious(JointCritic):
        def forward(self, z_all):
            return torch.tensor([-3.0, 3.0, 3.0]).expand(z_all.shape[0], 3) + 0 * z_all.sum(2)

    suspicious = Suspicious(3, D, H)
    _, psi = model.encode_with_partition(x)
    loss, _ = autoencoder_loss(model, suspicious, x, lam=1.0, generator=gen(),
                               latent_penalty="joint")
    bias = model.partition_head[-1].bias
    gradient, = torch.autograd.grad(loss, bias)
    assert gradient[0] > 0 and gradient[1] < 0 and gradient[2] < 0


@pytest.mark.parametrize("penalty, critic_class", [("joint", LatentCritic),
                                                   ("per-chart", JointCritic)])
def test_a_critic_of_the_other_reading_is_refused(penalty, critic_class):
    model, _, x = setup(3)
    with pytest.raises(ValueError, match=f"latent_penalty='{penalty}' needs a"):
        autoencoder_loss(model, critic_class(3, D, H), x, latent_penalty=penalty)
    with pytest.raises(ValueError, match="latent_penalty must be one of"):
        critic_loss(model, critic_class(3, D, H), x, latent_penalty="js")


# ------------------------------------------------------------------ the cost c
def test_l2_cost_is_the_norm_of_the_squared_cost():
    x = torch.rand(B, 1, 28, 28)
    x_hat = torch.rand(B, 3, 1, 28, 28)
    squared = reconstruction_cost(x, x_hat, "squared")
    torch.testing.assert_close(reconstruction_cost(x, x_hat, "l2"), squared.sqrt())
    torch.testing.assert_close(reconstruction_cost(x, x_hat[:, 0], "l2"),
                               torch.linalg.vector_norm((x_hat[:, 0] - x).flatten(1), dim=1))
    with pytest.raises(ValueError, match="cost must be one of \\('squared', 'l2'\\), got 'l1'"):
        reconstruction_cost(x, x_hat, "l1")


def test_l2_cost_has_finite_gradient_at_a_perfect_reconstruction():
    x = torch.rand(2, 1, 28, 28)
    x_hat = x.clone().requires_grad_(True)
    reconstruction_cost(x, x_hat, "l2").sum().backward()
    assert torch.isfinite(x_hat.grad).all()


def test_autoencoder_loss_uses_the_chosen_cost():
    model, critic, x = setup(3)
    _, squared = autoencoder_loss(model, critic, x, generator=gen(), cost="squared")
    _, l2 = autoencoder_loss(model, critic, x, generator=gen(), cost="l2")
    z_all, psi = model.encode_with_partition(x)
    norms = ((model.decode_all(z_all) - x[:, None]) ** 2).sum((2, 3, 4)).sqrt()
    assert l2["reconstruction"] == pytest.approx((psi * norms).sum(1).mean().item(), rel=1e-5)
    assert squared["reconstruction"] > l2["reconstruction"]  # ~ 784 * 0.1 vs its root


def test_prior_samples_come_from_the_generator_device(monkeypatch):
    # The trainer's generator is a CPU one; on a GPU, torch.randn refuses a CPU
    # generator with device="cuda". The draw must happen on the generator's device
    # and only then move to the encodings' device. No GPU here: encodings on the
    # "meta" device stand for them, and the calls to torch.randn are recorded.
    import atlasnb.objective as objective

    calls = []
    randn = torch.randn

    def recording_randn(*args, generator=None, device=None, **kwargs):
        calls.append((torch.device(device), generator.device))
        return randn(*args, generator=generator, device=device, **kwargs)

    monkeypatch.setattr(objective.torch, "randn", recording_randn)
    z_all = torch.empty(B, 2, D, device="meta")
    sample = objective._prior_sample(z_all, gen())
    assert calls == [(torch.device("cpu"), torch.device("cpu"))]
    assert sample.device == z_all.device and sample.shape == z_all.shape
    # On the CPU the draw is the generator's plain stream.
    torch.testing.assert_close(objective._prior_sample(torch.empty(B, 2, D), gen()),
                               randn(B, 2, D, generator=gen()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_training_step_on_cuda_draws_the_cpu_samples():
    model, critic, x = setup(2)
    on_cpu, _ = critic_loss(model, critic, x, generator=gen())
    model, critic = model.cuda(), critic.cuda()
    on_gpu, _ = critic_loss(model, critic, x.cuda(), generator=gen())
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-4, atol=1e-5)
