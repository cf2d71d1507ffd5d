"""atlasnb.experiments: graph settings, the cached geodesic experiment, collecting a
grid of models, and Table 1. Models are tiny (width 2, 200 images, one epoch)."""

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from atlasnb import experiments, geodesics, paper, runs, table1
from atlasnb.config import make_config
from atlasnb.experiments import cache

#: A tiny version of the smoke preset: seconds per model on a CPU.
TINY = dict(width=2, train_size=200, test_size=100, epochs=1, batch_size=50,
            lr_halving_epochs=(1,))
#: A tiny graph: 40 points, 4 neighbours, 4 test pairs, interpolations for pairs 0, 1.
SETTINGS = experiments.graph_settings("smoke", n_points=40, k=4, n_steps=4, n_pairs=4,
                                      n_interpolations=2, interpolation_points=5)


def result_file(run, settings=SETTINGS):
    """The cached geodesic experiment's JSON file for ``settings``."""
    return cache.cache_path(run.path, "geodesics", {"settings": settings}, run.model,
                            experiments.RESULT_VERSION)


def tiny_run(n_charts, dataset="mnist"):
    config = make_config("smoke", dataset, n_charts, **TINY)
    return runs.load_or_train(config, device="cpu", progress=False)


# ------------------------------------------------------------------ graph settings


def test_graph_settings_of_each_scale_and_overrides():
    assert experiments.graph_settings("paper") == experiments.GraphSettings()
    paper_settings = experiments.graph_settings("paper")
    assert (paper_settings.n_points, paper_settings.k, paper_settings.n_steps,
            paper_settings.n_pairs) == tuple(paper.GRAPH_SETTINGS[name] for name in
                                             ("n_points", "k", "n_steps", "n_pairs"))
    assert experiments.graph_settings("quick", k=5).k == 5
    assert experiments.graph_settings("quick", k=5).n_points == \
        experiments.GRAPH_SCALES["quick"].n_points
    with pytest.raises(ValueError, match="scale must be one of"):
        experiments.graph_settings("huge")


@pytest.mark.parametrize("changes, message", [
    (dict(n_points=0), "n_points"), (dict(k=1.5), "k must"), (dict(n_pairs=True), "n_pairs"),
    (dict(n_interpolations=-1), "n_interpolations"), (dict(eps=1.0), "eps"),
    (dict(n_pairs=2, n_interpolations=3), "at most n_pairs"),
    (dict(insert="every"), "insert must be one of")])
def test_bad_graph_settings_name_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        experiments.GraphSettings(**changes)


def test_cache_keys_separate_what_the_graph_depends_on():
    base = experiments.GraphSettings()
    more_pairs = experiments.GraphSettings(n_pairs=200)
    other_k = experiments.GraphSettings(k=10)
    assert base.graph_key() == more_pairs.graph_key()  # same graph, reused
    assert base.graph_key() != other_k.graph_key()
    assert base.graph_key() == experiments.GraphSettings().graph_key()  # stable
    inserted = experiments.GraphSettings(insert="all")
    assert base.graph_key() == inserted.graph_key()  # one graph serves both insertions
    model = geodesics_model()
    keys = {cache.cache_key({"settings": s}, model, 1) for s in (base, more_pairs, inserted)}
    assert len(keys) == 3  # but other path results
    assert cache.cache_key({"settings": base}, model, 2) != cache.cache_key(
        {"settings": base}, model, 1)  # another version of the result


def geodesics_model():
    from atlasnb import toy

    return toy.CircleAtlas()


def test_test_pairs_are_fixed_distinct_test_images():
    starts, ends = experiments.test_pairs("mnist", SETTINGS)
    assert starts.shape == ends.shape == (SETTINGS.n_pairs, 1, 28, 28)
    again_starts, again_ends = experiments.test_pairs("mnist", SETTINGS)
    assert torch.equal(starts, again_starts) and torch.equal(ends, again_ends)
    flat = torch.cat([starts, ends]).flatten(1)
    assert len(torch.unique(flat, dim=0)) == 2 * SETTINGS.n_pairs  # no image used twice
    points = experiments.graph_points("mnist", SETTINGS)
    assert points.shape == (SETTINGS.n_points, 1, 28, 28)


# ------------------------------------------------------------- geodesic experiment


def test_geodesic_experiment_reports_every_pair_and_caches(runs_root, monkeypatch):
    run = tiny_run(2)
    result = experiments.geodesic_experiment(run, SETTINGS, progress=False)
    n = SETTINGS.n_pairs
    assert len(result["lengths"]) == len(result["end_distances"]) == len(
        result["chart_changes"]) == n
    lengths = np.array(result["lengths"], dtype=float)
    distances = np.array(result["end_distances"], dtype=float)
    failed = result["failed_pairs"]
    assert sorted(np.flatnonzero(np.isnan(lengths)).tolist()) == failed
    assert all(result["chart_changes"][i] == -1 for i in failed)
    solved = np.isfinite(lengths)
    assert solved.any(), "a tiny graph should still join some test pair"
    # never below the chord
    assert np.all(lengths[solved] >= distances[solved] * (1 - geodesics.FLOAT32_RTOL))
    statistics = result["statistics"]
    assert statistics["n_points"] == SETTINGS.n_points and statistics["k"] == SETTINGS.k
    assert statistics["nodes"] >= SETTINGS.n_points  # eps < 1/m: every point in a chart
    for item in result["interpolations"]:
        assert item["pair"] < SETTINGS.n_interpolations and item["pair"] not in failed
        assert item["images"].shape == (SETTINGS.interpolation_points, 1, 28, 28)
        assert len(item["labels"]) == len(item["charts"]) == SETTINGS.interpolation_points
        assert all(label.split("/")[0].isdigit() for label in item["labels"])
        assert [("/" in label) for label in item["labels"]] == item["cross"]  # booleans kept
    expected_pairs = [i for i in range(SETTINGS.n_interpolations) if i not in failed]
    assert [item["pair"] for item in result["interpolations"]] == expected_pairs

    json_file = result_file(run)
    assert json_file.exists() and json_file.with_suffix(".pt").exists()
    graph_file = experiments.graph_path(run, SETTINGS)
    assert graph_file.exists()
    assert json.loads(json_file.read_text())["version"] == experiments.RESULT_VERSION
    # The graph cache is plain tensors, with the weights the searches evaluated.
    saved = torch.load(graph_file, weights_only=True)
    graph = geodesics.AtlasGraph.from_arrays(run.model, saved["graph"])
    assert graph.model is run.model
    assert 0 < result["edges_evaluated"] and graph.n_exact > int(graph.edge_cross.sum())
    assert saved["statistics"]["decoded_points"] == graph.chart_offsets[-1]  # nodes only

    def no_search(*args, **kwargs):
        raise AssertionError("a cached experiment must not search again")

    monkeypatch.setattr(geodesics, "shortest_path", no_search)
    monkeypatch.setattr(geodesics, "build_atlas_graph", no_search)
    cached = experiments.geodesic_experiment(run, SETTINGS, progress=False)
    np.testing.assert_array_equal(np.array(cached["lengths"], dtype=float), lengths)
    for a, b in zip(cached["interpolations"], result["interpolations"]):
        assert a["pair"] == b["pair"] and a["labels"] == b["labels"]
        assert torch.equal(a["images"], b["images"])


def test_insertion_in_every_chart_never_gives_longer_paths(runs_root):
    run = tiny_run(2)
    own = experiments.geodesic_experiment(run, SETTINGS, progress=False)
    every = experiments.geodesic_experiment(run, SETTINGS, progress=False, insert="all")
    assert result_file(run, replace(SETTINGS, insert="all")).exists()
    assert every["settings"]["insert"] == "all" and own["settings"]["insert"] == "own"
    a, b = np.array(own["lengths"], dtype=float), np.array(every["lengths"], dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    assert both.any()
    # Where both find the same route, its end-point edges were decoded in other
    # batches: equal up to float32 rounding, never longer beyond it.
    assert np.all(b[both] <= a[both] * (1 + geodesics.FLOAT32_RTOL))


def test_single_chart_paths_never_change_chart(runs_root):
    run = tiny_run(1)
    result = experiments.geodesic_experiment(run, SETTINGS, progress=False)
    assert result["statistics"]["nodes"] == SETTINGS.n_points  # one node per point
    assert result["statistics"]["cross_chart_edges"] == 0
    assert all(c in (0, -1) for c in result["chart_changes"])
    for item in result["interpolations"]:
        assert set(item["labels"]) == {"1"}


# ----------------------------------------------------------------- collect, Table 1


def test_collect_gathers_a_grid_and_never_retrains(runs_root):
    collection = experiments.collect("smoke", ["mnist"], [1, 2], seed=0, settings=SETTINGS,
                                     **TINY)
    summary, lengths = collection.summary, collection.lengths
    assert list(summary.index) == [("mnist", 1), ("mnist", 2)]
    assert list(summary["model"]) == ["WAE-GAN", "AWAE-GAN (m=2)"]
    assert len(lengths) == 2 * SETTINGS.n_pairs
    assert set(lengths.columns) >= {"dataset", "n_charts", "model", "pair", "length",
                                    "end_distance", "chart_changes"}
    for m in (1, 2):
        rows = lengths[lengths["n_charts"] == m]
        assert summary.loc[("mnist", m), "failed_pairs"] == rows["length"].isna().sum()
        finite = rows["length"].dropna()
        if len(finite):
            assert math.isclose(summary.loc[("mnist", m), "length_median"], finite.median())
        run = runs.load_or_train(make_config("smoke", "mnist", m, **TINY), progress=False)
        assert summary.loc[("mnist", m), "reconstruction_error"] == \
            run.metrics["reconstruction_error"]
    assert set(collection.interpolations) == {("mnist", 1), ("mnist", 2)}
    assert collection.settings == SETTINGS

    logs = {path: path.read_text() for path in runs_root.glob("*/train.log")}
    assert len(logs) == 2
    again = experiments.collect("smoke", ["mnist"], [1, 2], seed=0, settings=SETTINGS, **TINY)
    assert {path: path.read_text() for path in runs_root.glob("*/train.log")} == logs
    pd.testing.assert_frame_equal(again.summary, summary)


def synthetic_summary():
    """A summary with made-up numbers: only table1's bookkeeping is under test."""
    rows = []
    for m, nodes in [(1, 500), (2, 510), (32, 700)]:
        rows.append({"dataset": "fashion-mnist", "n_charts": m, "latent_dim": 8 if m == 1 else 7,
                     "parameters": 1000 + m, "reconstruction_error": 0.01 * m,
                     "nodes": nodes, "edges": 10 * nodes, "hop_diameter": m + 3,
                     "n_points": 500})
    return pd.DataFrame(rows).set_index(["dataset", "n_charts"])


def test_table1_puts_the_papers_value_under_ours():
    table = table1.table1(synthetic_summary(), "fashion-mnist")
    assert list(table.columns) == ["WAE-GAN", "m = 2", "m = 32"]
    assert [row[0] for row in table1.TABLE1_ROWS] == list(
        table.index.get_level_values("quantity").unique())
    assert table.loc[("graph nodes", "ours"), "m = 2"] == 510
    assert table.loc[("graph nodes / N", "ours"), "m = 2"] == pytest.approx(510 / 500)
    assert table.loc[("graph edges / N", "ours"), "WAE-GAN"] == pytest.approx(10.0)
    assert table.loc[("graph nodes", "paper"), "m = 2"] == \
        paper.table1_value("graph nodes", 2, "fashion-mnist")
    assert table.loc[("graph nodes / N", "paper"), "m = 2"] == pytest.approx(
        paper.table1_value("graph nodes", 2, "fashion-mnist") / paper.GRAPH_SETTINGS["n_points"])
    assert table.loc[("reconstruction error", "paper"), "WAE-GAN"] == 0.0144  # Fashion column
    assert np.isnan(table.loc[("graph diameter", "paper"), "m = 32"])  # not in the paper

    formatted = table1.format_table1(table)
    assert formatted.loc[("trainable parameters", "paper"), "WAE-GAN"] == "21,967,881"
    assert formatted.loc[("reconstruction error", "ours"), "m = 2"] == "0.0200"
    assert formatted.loc[("graph diameter", "paper"), "m = 32"] == "–"


def test_column_names():
    assert table1.column_name(1) == "WAE-GAN"
    assert table1.column_name(8) == "m = 8"


def test_figure_3a_counts_failed_pairs_and_figure_3b_needs_no_rows():
    import matplotlib.pyplot as plt

    from atlasnb import plots

    figure = plots.geodesic_lengths_figure(
        {"MNIST": {"WAE-GAN": [1.0, 2.0, float("nan")], "m = 2": [float("nan")]}})
    labels = [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
    assert labels == ["WAE-GAN\n(1 failed)", "m = 2\n(1 failed)"]
    plt.close(figure)
    images = torch.zeros(5, 1, 28, 28)
    figure = plots.interpolation_panels_figure(
        {"MNIST": [("WAE-GAN", images, None), ("m = 8", images, list("12345"))],
         "Fashion-MNIST": []})
    shown = [ax for ax in figure.axes if ax.images]
    assert len(shown) == 10  # two rows of five; the empty panel is left out
    assert sorted(ax.get_xlabel() for ax in shown if ax.get_xlabel()) == list("12345")
    plt.close(figure)
    figure = plots.interpolation_panels_figure({"MNIST": []})
    assert not [ax for ax in figure.axes if ax.images]
    plt.close(figure)


@pytest.mark.parametrize("damage", ["empty", "truncated", "a list"])
def test_a_damaged_cached_result_is_named_and_computed_again(runs_root, damage):
    run = tiny_run(2)
    result = experiments.geodesic_experiment(run, SETTINGS, progress=False)
    json_file = result_file(run)
    graph_file = experiments.graph_path(run, SETTINGS)
    text, data = json_file.read_text(), graph_file.read_bytes()
    damaged = {"empty": ("", b""), "truncated": (text[:len(text) // 2], data[:len(data) // 2]),
               "a list": ("[1, 2]", b"[1, 2]")}[damage]
    json_file.write_text(damaged[0])
    graph_file.write_bytes(damaged[1])
    with pytest.warns(RuntimeWarning) as caught:
        again = experiments.geodesic_experiment(run, SETTINGS, progress=False)
    messages = " ".join(str(w.message) for w in caught)
    assert str(json_file) in messages and str(graph_file) in messages
    np.testing.assert_array_equal(np.array(again["lengths"], dtype=float),
                                  np.array(result["lengths"], dtype=float))
    np.testing.assert_array_equal(  # rewritten as first written (NaN: a failed pair)
        np.array(json.loads(json_file.read_text())["lengths"], dtype=float),
        np.array(json.loads(text)["lengths"], dtype=float))
    assert runs.read_cached(json_file, tensors="tensors") is not None  # rewritten


def test_the_eager_graph_is_decoded_once_and_leaves_the_lazy_cache_lazy(runs_root,
                                                                       monkeypatch):
    run = tiny_run(2)
    graph, _ = experiments.load_or_build_graph(run, SETTINGS, progress=False)
    lazy_exact = graph.n_exact
    eager = experiments.load_or_build_eager_graph(run, SETTINGS, progress=False)
    assert eager.n_exact == len(eager.edges) > lazy_exact
    expected = geodesics.AtlasGraph.from_arrays(run.model, graph.to_arrays()).evaluate_all()
    np.testing.assert_allclose(eager.to_arrays()["edge_weights"],
                               expected.to_arrays()["edge_weights"], rtol=1e-6)
    again, _ = experiments.load_or_build_graph(run, SETTINGS, progress=False)
    assert again.n_exact == lazy_exact  # the lazy graph's file is not made eager

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached eager graph must not be decoded again")

    monkeypatch.setattr(geodesics.AtlasGraph, "evaluate", no_decoding)
    cached = experiments.load_or_build_eager_graph(run, SETTINGS, progress=False)
    assert cached.n_exact == len(cached.edges)
    np.testing.assert_array_equal(cached.to_arrays()["edge_weights"],
                                  eager.to_arrays()["edge_weights"])
