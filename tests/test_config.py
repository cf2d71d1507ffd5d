"""atlasnb.config: the paper preset is Appendix A; bad values are refused clearly."""

import sys

import pytest

from atlasnb import config as config_module
from atlasnb.config import TABLE1_WIDTHS, TrainConfig, make_config
from atlasnb.widths import expected_parameter_count


def test_paper_preset_is_appendix_a_for_mnist():
    config = make_config("paper", "mnist", 8)
    assert (config.batch_size, config.lr, config.lr_critic) == (100, 2e-4, 1e-4)
    assert config.lr_halving_epochs == (5, 25, 50)
    assert config.epochs == 80 and config.adam_betas == (0.5, 0.999) and config.lam == 10
    assert config.train_size is None and config.test_size is None
    assert config.model_width == 48 and config.model_latent_dim == 7


def test_paper_preset_is_appendix_a_for_fashion_mnist():
    config = make_config("paper", "fashion-mnist", 1)
    assert (config.batch_size, config.lr, config.lr_critic) == (128, 1e-4, 5e-5)
    assert config.lr_halving_epochs == (15, 30, 50, 70)
    assert config.model_width == 128 and config.model_latent_dim == 8


def test_paper_scale_keeps_table1_widths():
    assert {m: make_config("paper", "mnist", m).model_width for m in TABLE1_WIDTHS} == \
        TABLE1_WIDTHS


@pytest.mark.parametrize("scale, divisor", [("quick", 6), ("smoke", 16)])
@pytest.mark.parametrize("m", [2, 3, 4, 8, 16])
def test_smaller_scales_match_that_scales_wae_gan_budget(scale, divisor, m):
    wae = make_config(scale, "mnist", 1)
    assert wae.model_width == 128 // divisor
    target = expected_parameter_count(1, wae.model_width, 8)
    h = make_config(scale, "mnist", m).model_width

    def gap(k):
        return abs(expected_parameter_count(m, k, 7) - target)
    # the closest integer width: no neighbour comes closer to the WAE-GAN's count
    assert gap(h) <= gap(h + 1) and (h == 1 or gap(h) <= gap(h - 1))


def test_quick_widths_and_budgets():
    widths = [make_config("quick", "mnist", m).model_width for m in (1, 2, 4, 8, 16)]
    assert widths == [21, 14, 10, 7, 5]
    target = expected_parameter_count(1, 21, 8)
    for m, h in zip((2, 4, 8, 16), widths[1:]):
        assert abs(expected_parameter_count(m, h, 7) / target - 1) < 0.06


def test_key_changes_with_the_width_rule(monkeypatch):
    config = make_config("quick", "mnist", 8)
    before = config.key()
    monkeypatch.setattr(config_module, "scale_width", lambda m, divisor, d: 8)
    assert config.model_width == 8 and config.key() != before


def test_config_does_not_import_models_or_torch():
    import subprocess
    code = ("import sys, atlasnb.config; "
            "print(sorted(m for m in sys.modules if m in ('torch', 'atlasnb.models')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("field, value", [("latent_penalty", "joint"),
                                          ("latent_penalty", "per-chart"),
                                          ("reconstruction_cost", "l2"),
                                          ("reconstruction_cost", "squared")])
def test_objective_options_are_fields_of_the_key(field, value):
    config = make_config("quick", "mnist", 8, **{field: value})
    assert getattr(config, field) == value
    other = {"joint": "per-chart", "per-chart": "joint", "l2": "squared", "squared": "l2"}
    assert config.key() != config.replace(**{field: other[value]}).key()


def test_every_field_can_be_overridden():
    config = make_config("quick", "mnist", 4, epochs=1, width=5, seed=7)
    assert (config.epochs, config.model_width, config.seed) == (1, 5, 7)


def test_key_depends_on_every_field_and_survives_a_round_trip():
    config = make_config("quick", "mnist", 2)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config.key() == make_config("quick", "mnist", 2).key()
    assert config.key() != config.replace(seed=1).key()
    assert config.key() != config.replace(lr=1e-3).key()


@pytest.mark.parametrize("field, value, words", [
    ("n_charts", 0, "n_charts must be an integer >= 1, got 0"),
    ("lr", -1e-4, "lr must be a positive number, got -0.0001"),
    ("lr_critic", 0, "lr_critic must be a positive number"),
    ("epochs", 0, "epochs must be an integer >= 1"),
    ("batch_size", 2.5, "batch_size must be an integer"),
    ("adam_betas", (0.5, 1.5), "adam_betas must be two numbers"),
    ("dataset", "cifar", "dataset must be one of ('mnist', 'fashion-mnist', 'circle', 'torus'), "
                           "got 'cifar'"),
    ("latent_penalty", "kl", "latent_penalty must be one of ('joint', 'per-chart'), got 'kl'"),
    ("reconstruction_cost", "l1", "reconstruction_cost must be one of ('squared', 'l2'), "
                                  "got 'l1'"),
])
def test_bad_values_are_refused_with_the_value_given(field, value, words):
    with pytest.raises(ValueError) as error:
        make_config("quick", **{"dataset": "mnist", "n_charts": 2, field: value})
    assert words in str(error.value)


def test_unknown_scale_and_unknown_field():
    with pytest.raises(ValueError, match=r"scale must be one of \('smoke', 'quick', 'paper'\), "
                                         r"got 'huge'"):
        make_config("huge")
    with pytest.raises(ValueError, match=r"unknown config fields \['epoch'\]"):
        make_config("quick", epoch=3)


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_smaller_scales_scale_appendix_a_learning_rates_and_keep_the_rest(dataset):
    paper = make_config("paper", dataset, 8)
    for scale in ("quick", "smoke"):
        scaled = make_config(scale, dataset, 8)
        assert scaled.lr / paper.lr == pytest.approx(scaled.lr_critic / paper.lr_critic)
        assert scaled.lr > paper.lr
        assert (scaled.batch_size, scaled.adam_betas, scaled.lam) == (
            paper.batch_size, paper.adam_betas, paper.lam)
    assert make_config("quick", dataset, 8, lr=1e-3).lr == 1e-3  # an override wins
