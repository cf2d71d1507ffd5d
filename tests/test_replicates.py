"""Tests of atlasnb.replicates: section 4's summaries over seeds, on synthetic numbers."""

import numpy as np
import pandas as pd
import pytest

from atlasnb import replicates
from atlasnb.experiments import Collection


def _collection(seed: int) -> Collection:
    rows, lengths = [], []
    for m in (1, 8):
        rows.append({"dataset": "mnist", "n_charts": m, "model": f"m{m}", "latent_dim": 8 - (m > 1),
                     "parameters": 1000, "reconstruction_error": 0.02 + 0.01 * seed,
                     "nodes": 100 * m + 10 * seed, "edges": 1000 + seed, "hop_diameter": 6 + seed,
                     "n_points": 100})
        lengths += [{"dataset": "mnist", "n_charts": m, "pair": p, "length": 2.0 + seed,
                     "end_distance": 1.0} for p in range(3)]
    return Collection(pd.DataFrame(rows).set_index(["dataset", "n_charts"]),
                      pd.DataFrame(lengths), {}, settings=None)


def test_two_seeds_give_mean_and_spread_in_table1():
    collections = {0: _collection(0), 1: _collection(1)}
    mean, spread = replicates.mean_and_spread(collections)
    assert "model" not in mean.columns  # text columns are not averaged
    assert mean.loc[("mnist", 8), "reconstruction_error"] == pytest.approx(0.025)
    assert spread.loc[("mnist", 8), "nodes"] == pytest.approx(np.std([800, 810], ddof=1))
    table, table_spread = replicates.table1(mean, spread, "mnist")
    # The "/ N" spread divides by the mean N, not by the spread of N (zero).
    assert table_spread.loc[("graph nodes / N", "ours"), "m = 8"] == pytest.approx(
        np.std([800, 810], ddof=1) / 100)
    shown = replicates.format_table1(table, table_spread)
    assert shown.loc[("graph diameter", "ours"), "WAE-GAN"] == "6 ± 1"
    assert shown.loc[("graph diameter", "paper"), "WAE-GAN"] == "6"


def test_one_seed_prints_values_alone_and_lengths_pool_with_a_seed_column():
    collections = {0: _collection(0)}
    mean, spread = replicates.mean_and_spread(collections)
    assert spread.isna().all().all()
    shown = replicates.format_table1(*replicates.table1(mean, spread, "mnist"))
    assert "±" not in shown.loc[("graph nodes", "ours"), "m = 8"]
    pooled = replicates.pooled_lengths({0: _collection(0), 3: _collection(3)})
    assert sorted(pooled["seed"].unique()) == [0, 3] and len(pooled) == 12
    assert pooled.loc[pooled["seed"] == 3, "stretch"].tolist() == [5.0] * 6


@pytest.mark.parametrize("seeds", [[], [0, 0], "[0, 1]", [0, -1], [1.5]])
def test_collect_seeds_refuses_empty_or_repeated_seeds(seeds):
    with pytest.raises(ValueError, match="seeds"):
        replicates.collect_seeds("smoke", ["mnist"], [1], seeds)


def _refinement(scale: float) -> dict:
    return {"graph": [10.0 * scale, 20.0], "straight": [8.0, 16.0 * scale],
            "refined": [9.0, 18.0]}


def test_distance_variation_is_the_median_coefficient_of_variation_over_seeds():
    refinements = {0: {1: _refinement(1.0)}, 1: {1: _refinement(1.2)}}
    variation = replicates.distance_variation(refinements)
    cv = np.std([10.0, 12.0], ddof=1) / 11.0
    assert variation.loc[1, "graph"] == pytest.approx(np.median([cv, 0.0]))
    assert variation.loc[1, "refined"] == 0.0
    assert replicates.more_reproducible(variation) == "more reproducible"
    assert replicates.more_reproducible(variation, "graph", "refined") == "less reproducible"
    one = replicates.distance_variation({0: {1: _refinement(1.0)}})
    assert one.isna().all().all() and replicates.more_reproducible(one) == "not measured"
    mixed = pd.DataFrame({"refined": [0.1, 0.3], "graph": [0.2, 0.2]})
    assert replicates.more_reproducible(mixed) == "mixed"
