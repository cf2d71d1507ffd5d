"""atlasnb.families: the Atlas VAE, the Chart Auto-Encoder and the InfoGAN-type semi-AGM.

Each loss is checked against a direct computation (torch.distributions, explicit loops
over charts), and each family against the package's standards: equal parameter
budgets, psi on the simplex, finite gradients, exact resume, clear errors.
"""

import hashlib
import json
import math

import numpy as np
import pytest
import torch
from torch import distributions as dist

from atlasnb import families, runs
from atlasnb.config import DEFAULT_MODEL, MODELS, TrainConfig, make_config
from atlasnb.families import atlas_vae, build_model, cae, infogan
from atlasnb.models import AtlasWAEGAN, parameter_count
from atlasnb.widths import FAMILY_PARAMETER_COUNTS, expected_parameter_count, family_width

#: float32 sums over 784 pixels: agreement to this relative tolerance.
RTOL, ATOL = 1e-5, 1e-4
FAMILIES = ("atlas-vae", "cae", "infogan")
CLASSES = {"atlas-vae": families.AtlasVAE, "cae": families.ChartAutoEncoder,
           "infogan": families.InfoGAN}


def images(n=5, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def small(family, m=3, h=2, d=2, seed=0):
    torch.manual_seed(seed)
    return CLASSES[family](m, h=h, latent_dim=d)


def tiny_config(family, **changes):
    values = dict(train_size=200, test_size=100, epochs=2, batch_size=50, width=2,
                  lr_halving_epochs=(1,), model=family)
    values.update(changes)
    return make_config("smoke", "mnist", 2, **values)


# ------------------------------------------------------------------ the Atlas VAE
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_vae_bound_equals_explicit_enumeration_over_charts(likelihood):
    model, x = small("atlas-vae").eval(), images()
    noise = torch.randn(5, 3, 2, generator=torch.Generator().manual_seed(1))
    bound, _ = atlas_vae.evidence_bound(model, x, noise, likelihood)
    mu, logvar, psi = model.posterior(x)
    prior_z = dist.Normal(torch.zeros(2), torch.ones(2))
    expected = -dist.kl_divergence(dist.Categorical(probs=psi),
                                   dist.Categorical(probs=torch.full((3,), 1 / 3)))
    for y in range(3):  # eq. (1): the sum over y, one chart at a time
        std = torch.exp(0.5 * logvar[:, y])
        z = mu[:, y] + std * noise[:, y]
        mean = model.decode(z, y).flatten(1)
        if likelihood == "bernoulli":
            pixels = dist.Bernoulli(probs=mean, validate_args=False)
        else:
            pixels = dist.Normal(mean, atlas_vae.GAUSSIAN_STD)
        log_p = pixels.log_prob(x.flatten(1)).sum(1)
        kl_z = dist.kl_divergence(dist.Normal(mu[:, y], std), prior_z).sum(1)
        expected = expected + psi[:, y] * (log_p - kl_z)  # eq. (2)
    torch.testing.assert_close(bound, expected, rtol=RTOL, atol=ATOL)


def test_vae_loss_is_minus_the_mean_bound_with_the_generators_noise():
    model, x = small("atlas-vae").eval(), images()
    loss, parts = atlas_vae.vae_loss(model, x, torch.Generator().manual_seed(4))
    noise = torch.randn(5, 3, 2, generator=torch.Generator().manual_seed(4))
    bound, _ = atlas_vae.evidence_bound(model, x, noise)
    torch.testing.assert_close(loss, -bound.mean())
    assert parts["loss"] == pytest.approx(loss.item())


def test_vae_charts_are_the_posterior_and_decoder_means():
    model, x = small("atlas-vae").eval(), images()
    mu, _, psi = model.posterior(x)
    torch.testing.assert_close(model.encode(x), mu)  # F_y = E[z | x, y]
    torch.testing.assert_close(model.partition(x), psi)  # psi_y = q(y | x)
    z = torch.randn(5, 3, 2)
    means = torch.sigmoid(model.decode_all(z, logits=True))
    for y in range(3):  # G_y = E[x | z, y]
        torch.testing.assert_close(model.decode(z[:, y], y), means[:, y])


# ------------------------------------------------------------------ the CAE
class _HandMadeCAE:
    """Reconstructions and chart predictions chosen by hand: chart 2 is exact."""

    n_charts, latent_dim = 3, 1

    def __init__(self, x, logits):
        self.x, self.logits = x, logits

    def partition_logits_and_codes(self, x):
        return self.logits, torch.zeros(len(x), 3, 1)

    def decode_all(self, codes):
        offsets = torch.tensor([0.1, 0.2, 0.0]).reshape(1, 3, 1, 1, 1)
        return self.x.unsqueeze(1) + offsets


def test_cae_loss_on_a_case_where_the_best_chart_is_known():
    x = images(2)
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, 0.0, -1.0]])
    loss, parts = cae.cae_loss(_HandMadeCAE(x, logits), x)
    errors = np.array([784 * 0.1 ** 2, 784 * 0.2 ** 2, 0.0])  # e_y = ||x - G_y F_y x||^2
    labels = np.exp(-errors) / np.exp(-errors).sum()  # l = softmax(-e), the chosen reading
    assert labels.argmax() == 2  # the label favours the best chart
    log_p = logits.double().log_softmax(1).numpy()
    expected = np.mean([errors.min() - (labels * row).sum() for row in log_p])
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert parts["reconstruction"] == pytest.approx(0.0, abs=1e-5)
    assert cae.CHART_LABELS == "softmax(-e)"


def test_cae_loss_matches_a_loop_over_charts_on_a_real_model():
    model, x = small("cae").eval(), images()
    loss, _ = cae.cae_loss(model, x)
    codes, psi = model.encode(x), model.partition(x)
    errors = torch.stack([((model.decode(codes[:, y], y) - x) ** 2).flatten(1).sum(1)
                          for y in range(3)], dim=1)
    labels = torch.softmax(-errors, dim=1)
    expected = (errors.min(1).values - (labels * psi.log()).sum(1)).mean()
    torch.testing.assert_close(loss, expected, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ the InfoGAN
def _prior_draws(model, n, seed):
    return model.sample_latent(n, torch.Generator().manual_seed(seed))


def test_infogan_losses_equal_eqs_3_to_5_computed_directly():
    model, critic, x = small("infogan").train(), families.ImageCritic(2).train(), images(4)
    loss, parts = infogan.generator_loss(model, critic, x, lam=0.7,
                                         generator=torch.Generator().manual_seed(3))
    z, y = _prior_draws(model, 4, 3)
    fake = model.decode(z, y)
    d_fake = torch.sigmoid(critic(torch.cat([x, fake]))[4:])
    q = torch.softmax(model.partition_logits(fake), dim=1)[torch.arange(4), y]
    expected = (-torch.log(d_fake)).mean() + 0.7 * (-torch.log(q)).mean()
    torch.testing.assert_close(loss, expected, rtol=RTOL, atol=ATOL)
    # eq. (5): L(G, Q) = E log q(y | G_y(z)) + H[p(y)], the entropy of the uniform p(y)
    assert parts["mutual_information"] == pytest.approx(
        torch.log(q).mean().item() + math.log(3), rel=1e-4, abs=1e-5)

    d_loss, _ = infogan.critic_loss(model, critic, x, torch.Generator().manual_seed(5))
    z, y = _prior_draws(model, 4, 5)
    d = torch.sigmoid(critic(torch.cat([x, model.decode(z, y)])))
    expected = -torch.log(d[:4]).mean() - torch.log(1 - d[4:]).mean()  # minus eq. (4)
    torch.testing.assert_close(d_loss, expected, rtol=RTOL, atol=ATOL)


def test_infogan_is_a_semi_agm_without_encode():
    model = small("infogan")
    assert not hasattr(model, "encode")
    assert callable(model.decode) and callable(model.partition)


# ------------------------------------------------------------------ every family
@pytest.mark.parametrize("family", FAMILIES)
def test_psi_lies_on_the_simplex(family):
    psi = small(family).eval().partition(images(8))
    assert psi.shape == (8, 3)
    assert bool((psi >= 0).all())
    torch.testing.assert_close(psi.sum(1), torch.ones(8))


def _loss(family, model, x):
    generator = torch.Generator().manual_seed(0)
    if family == "atlas-vae":
        return atlas_vae.vae_loss(model, x, generator)[0]
    if family == "cae":
        return cae.cae_loss(model, x)[0]
    return infogan.generator_loss(model, families.ImageCritic(2), x, generator=generator)[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_gradients_are_finite_and_reach_every_part(family):
    model = small(family).train()
    _loss(family, model, images(6)).backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads.values())
    for part in ("decoder_fc.weight", "partition_head.2.weight"):  # G_y and psi learn
        assert grads[part].abs().sum() > 0, part


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("m,h,d", [(1, 2, 8), (3, 2, 7), (8, 3, 7)])
def test_parameter_formula_matches_each_family(family, m, h, d):
    model = CLASSES[family](m, h=h, latent_dim=d)
    assert parameter_count(model) == FAMILY_PARAMETER_COUNTS[family](m, h, d)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("scale", ["smoke", "quick", "paper"])
def test_every_family_gets_the_wae_gans_budget(family, scale):
    config = make_config(scale, "mnist", 8, model=family)
    wae = make_config(scale, "mnist", 1)
    target = expected_parameter_count(1, wae.model_width, 8)
    count = FAMILY_PARAMETER_COUNTS[family]
    h = config.model_width
    assert h == family_width(family, 8, config.width_divisor)
    gap = abs(count(8, h, 7) - target)
    assert all(gap <= abs(count(8, k, 7) - target) for k in (h - 1, h + 1))
    with torch.device("meta"):
        assert parameter_count(build_model(config)) == count(8, h, 7)


def test_the_cae_has_the_atlas_wae_gans_widths_and_count():
    for scale in ("quick", "paper"):
        cae_config = make_config(scale, "mnist", 8, model="cae")
        assert cae_config.model_width == make_config(scale, "mnist", 8).model_width
    assert parameter_count(families.ChartAutoEncoder(3, h=2, latent_dim=7)) == \
        parameter_count(AtlasWAEGAN(3, h=2, latent_dim=7))


@pytest.mark.parametrize("family", FAMILIES)
def test_interrupted_run_resumes_bit_identically(family, tmp_path):
    config = tiny_config(family)
    runs.load_or_train(config, path=tmp_path / "a", device="cpu", progress=False,
                       stop_after_epoch=1)
    resumed = runs.load_or_train(config, path=tmp_path / "a", device="cpu", progress=False)
    straight = runs.load_or_train(config, path=tmp_path / "b", device="cpu", progress=False)
    for a, b in ((resumed.model, straight.model), (resumed.critic, straight.critic)):
        if a is None:
            assert b is None and family != "infogan"
            continue
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert resumed.metrics == straight.metrics
    assert (resumed.metrics["reconstruction_error"] is None) == (family == "infogan")
    assert runs.run_path(config).name.startswith(f"mnist-{family}-m2-")


# ------------------------------------------------------------------ configuration
def test_a_bad_model_name_is_refused_listing_the_accepted_ones():
    with pytest.raises(ValueError) as error:
        make_config("smoke", "mnist", 2, model="vae")
    message = str(error.value)
    assert "model" in message and "'vae'" in message
    assert all(name in message for name in MODELS)


def test_a_likelihood_is_refused_for_a_family_that_has_none():
    with pytest.raises(ValueError, match="likelihood='gaussian' applies to model='atlas-vae'"):
        make_config("smoke", "mnist", 2, model="cae", likelihood="gaussian")
    with pytest.raises(ValueError, match="likelihood must be one of"):
        make_config("smoke", "mnist", 2, model="atlas-vae", likelihood="poisson")


def test_the_default_models_run_key_ignores_the_family_fields():
    config = make_config("quick", "mnist", 8)
    assert config.model == DEFAULT_MODEL and "model" not in config.to_dict()
    fields = {k: v for k, v in json.loads(json.dumps(config.to_dict())).items()}
    fields["architecture"] = dict(h=config.model_width, d=config.model_latent_dim)
    old_key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]
    assert config.key() == old_key
    assert TrainConfig.from_dict(config.to_dict()) == config  # a config.json of before
    other = make_config("quick", "mnist", 8, model="cae")
    assert other.to_dict()["model"] == "cae" and other.key() != config.key()


def test_infogan_takes_chen_et_als_lambda_unless_given():
    assert make_config("quick", "mnist", 8, model="infogan").lam == infogan.INFO_LAMBDA
    assert make_config("quick", "mnist", 8, model="infogan", lam=2.0).lam == 2.0
    assert make_config("quick", "mnist", 8).lam == 10.0
