"""The family experiment (atlasnb.family_experiment): every family through section 4's
experiment on the same test pairs, the semi-AGM on its prior graph, and the rule that
words the chapter's comparison."""

import math

import numpy as np
import pandas as pd
import pytest

from atlasnb import experiments, family_experiment, runs
from atlasnb.family_experiment import compare, family_sentences

TINY = dict(train_size=200, test_size=100, epochs=1, batch_size=50, width=2,
            lr_halving_epochs=(1,))


def test_compare_words_the_direction_with_a_margin():
    assert compare(1.10, 1.00) == "higher"
    assert compare(0.90, 1.00) == "lower"
    assert compare(1.04, 1.00) == "about the same"
    assert compare(1.04, 1.00, margin=0.01) == "higher"
    assert compare(0.0, 0.0) == "about the same"
    assert compare(float("nan"), 1.0) == "not measured"
    assert compare(None, 1.0) == "not measured"
    with pytest.raises(ValueError, match="margin must be >= 0, got -0.1"):
        compare(1.0, 1.0, margin=-0.1)


def synthetic_summary():
    columns = ["reconstruction_error", "confidence_median", "hop_diameter",
               "length_median", "failed_pairs"]
    rows = {"atlas-wae-gan": [0.020, 0.90, 20, 5.0, 0],
            "atlas-vae": [0.030, 0.95, 20, 5.1, 0],   # reconstructs worse
            "cae": [0.020, 0.90, 30, 4.0, 0],         # nowhere worse
            "infogan": [None, 0.70, 25, 6.0, 3]}      # no reconstruction; less confident
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def test_sentences_name_what_is_worse_with_its_numbers():
    sentences = family_sentences(synthetic_summary())
    assert set(sentences) == {"atlas-vae", "cae", "infogan"}
    vae = sentences["atlas-vae"]
    assert vae.startswith("Atlas VAE. Worse than the Atlas WAE-GAN: its reconstruction "
                          "error is higher (0.03 against 0.02)")
    assert "median max psi is higher" in vae and "hop diameter is about the same" in vae
    assert sentences["cae"].startswith("Chart Auto-Encoder. Nowhere worse")
    assert "hop diameter is higher" in sentences["cae"]
    assert "median graph geodesic length is lower" in sentences["cae"]
    gan = sentences["infogan"]
    assert "reconstruction error is not measured" in gan
    assert "median max psi is lower (0.7 against 0.9)" in gan
    assert "test pairs left unjoined is higher (3 against 0)" in gan


def test_sentences_refuse_a_reference_not_in_the_summary():
    with pytest.raises(ValueError, match="reference must be a family .* got 'vae'"):
        family_sentences(synthetic_summary(), reference="vae")


def test_a_bad_family_is_refused_naming_the_families():
    with pytest.raises(ValueError, match="family must be one of .*infogan.* got 'gan'"):
        family_experiment.family_config("smoke", "gan")


def test_every_family_runs_the_experiment_on_the_same_pairs(runs_root):
    settings = experiments.graph_settings("smoke", n_points=40, k=4, n_pairs=3,
                                          n_interpolations=2, interpolation_points=4)
    refine = experiments.refine_settings("smoke", n_iterations=2, n_frames=3, n_shown=1)
    families = ("cae", "infogan")
    collection = family_experiment.collect_families("smoke", families, n_charts=2,
                                                    settings=settings, refine=refine, **TINY)
    summary = collection.summary
    assert list(summary.index) == list(families)
    assert summary.loc["cae", "graph"] == "data" and summary.loc["infogan", "graph"] == "prior"
    assert summary.loc["cae", "reconstruction_error"] > 0
    assert math.isnan(summary.loc["infogan", "reconstruction_error"])  # none: no encoder
    # the prior graph holds every sample's own node, and more where charts overlap
    assert summary.loc["infogan", "nodes"] >= settings.n_points
    assert summary.loc["cae", "nodes"] >= settings.n_points
    for family in families:
        rows = collection.lengths[collection.lengths.family == family]
        assert list(rows.pair) == list(range(settings.n_pairs))
        joined = rows.chart_changes >= 0
        assert np.isfinite(rows.graph[joined]).all() and np.isfinite(rows.refined[joined]).all()
        assert (rows.refined[joined] > 0).all()
        for shown in collection.interpolations[family]:
            assert len(shown["images"]) == len(shown["labels"]) == settings.interpolation_points
        assert set(collection.metrics[family]) >= {"confidence_histogram", "charts_per_label"}
    table = family_experiment.family_table(summary)
    assert list(table.columns) == ["Chart Auto-Encoder", "InfoGAN"]
    assert list(table.index) == list(family_experiment.TABLE_COLUMNS)
    # the semi-AGM's graph was kept where the experiment reads it, and is read back
    config = family_experiment.family_config("smoke", "infogan", n_charts=2, **TINY)
    run = runs.load_or_train(config, progress=False)
    assert experiments.graph_path(run, settings).exists()
    graph, statistics = family_experiment.prior_graph(run, settings)
    assert statistics["nodes"] == summary.loc["infogan", "nodes"] == graph.n_nodes
    again = family_experiment.family_refinement(run, settings, refine)
    assert again["graph"] == pytest.approx(list(
        collection.lengths[collection.lengths.family == "infogan"].graph), nan_ok=True)
    assert all(math.isnan(v) for v in again["straight"])


def test_the_prior_graph_is_for_semi_agms_only(runs_root):
    config = family_experiment.family_config("smoke", "cae", n_charts=2, **TINY)
    run = runs.load_or_train(config, progress=False)
    with pytest.raises(TypeError, match="has an encoder"):
        family_experiment.prior_graph(run, experiments.graph_settings("smoke"))
