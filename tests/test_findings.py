"""Tests of atlasnb.findings: every verdict rule on synthetic numbers, one case that
holds, one that fails and one within the spread over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from atlasnb import findings
from atlasnb.experiments import Collection
from atlasnb.findings import FAILS, HOLDS, UNRESOLVED, judge

T = findings.THRESHOLDS


def verdict(pair):
    values, requirement = pair
    return judge(values, **requirement).verdict


# ----------------------------------------------------------------------------- judge
def test_judge_three_ways_and_one_seed():
    assert judge([1.2, 1.3, 1.25], above=1.0).verdict == HOLDS
    assert judge([0.7, 0.8, 0.75], above=1.0).verdict == FAILS
    assert judge([0.9, 1.2, 1.05], above=1.0).verdict == UNRESOLVED
    one = judge([1.01], above=1.0)
    assert one.verdict == HOLDS and one.n_seeds == 1 and np.isnan(one.spread)
    assert judge([1.0], above=1.0).verdict == FAILS  # on the bound: not shown
    assert judge([np.nan, np.nan], above=1.0).verdict == UNRESOLVED
    assert judge([2.0, 2.2], above=1.0, below=2.05).verdict == UNRESOLVED
    with pytest.raises(ValueError, match="requirement"):
        judge([1.0])


@pytest.mark.parametrize("kwargs, name", [({"as_well": -0.1}, "as_well"),
                                           ({"confident": 1.5}, "confident"),
                                           ({"large_share": "most"}, "large_share"),
                                           ({"few_charts": 0}, "few_charts")])
def test_thresholds_reject_bad_values(kwargs, name):
    with pytest.raises(ValueError, match=name):
        findings.Thresholds(**kwargs)


# ----------------------------------------------------------------------------- (a)-(g)
def test_a_reconstruction():
    wae = np.array([0.020, 0.021, 0.019])
    better = {1: wae, 2: wae * 0.9, 8: wae * 0.92}
    worse = {1: wae, 2: wae * 1.15, 8: wae * 1.19}
    spread = {1: wae, 2: wae * np.array([0.95, 1.12, 1.0]),
              8: wae * np.array([0.97, 1.15, 1.02])}
    assert verdict(findings.reconstruction(better)) == HOLDS
    assert verdict(findings.reconstruction(worse)) == FAILS
    assert verdict(findings.reconstruction(spread)) == UNRESOLVED


def test_a_on_the_papers_table1():
    # MNIST: every atlas model better, median ratio about 0.91.
    assert findings.paper_reconstruction("mnist") == pytest.approx(0.915, abs=0.01)
    assert judge([findings.paper_reconstruction("mnist")],
                 below=1 + T.as_well).verdict == HOLDS


def test_b_charts_per_label():
    assert verdict(findings.charts_per_label([2.0, 3.0, 2.5])) == HOLDS
    assert verdict(findings.charts_per_label([6.0, 5.5, 7.0])) == FAILS
    assert verdict(findings.charts_per_label([3.0, 4.5, 3.5])) == UNRESOLVED
    assert verdict(findings.charts_per_label([0.0])) == FAILS  # no chart makes the label


def test_c_confidence_share():
    assert verdict(findings.confidence_share([0.8, 0.85, 0.9])) == HOLDS
    assert verdict(findings.confidence_share([0.1, 0.15, 0.2])) == FAILS
    assert verdict(findings.confidence_share([0.4, 0.65, 0.55])) == UNRESOLVED


def test_c_share_from_the_histogram():
    histogram = np.zeros(50)
    histogram[[10, 44, 45, 49]] = [1, 1, 1, 2]
    assert findings.share_above(histogram, 0.9) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="level"):
        findings.share_above(histogram, 0.905)


def test_d_longer():
    single = np.array([1.10, 1.12, 1.11])
    assert verdict(findings.longer(single * 1.05, single)) == HOLDS
    assert verdict(findings.longer(single * 0.95, single)) == FAILS
    assert verdict(findings.longer(single * np.array([0.97, 1.04, 1.0]), single)) == UNRESOLVED


def test_e_countered():
    base = np.array([1.3, 1.32, 1.31])
    falling = {1: base, 2: base + 0.3, 4: base + 0.2, 8: base + 0.1, 16: base}
    rising = {1: base, 2: base, 4: base + 0.1, 8: base + 0.2, 16: base + 0.3}
    noisy = {1: base, 2: base, 4: base + np.array([0.1, -0.1, 0.0]),
             8: base + np.array([0.2, -0.2, 0.01]), 16: base + np.array([0.3, -0.3, 0.0])}
    assert verdict(findings.countered(falling)) == HOLDS
    assert verdict(findings.countered(rising)) == FAILS
    assert verdict(findings.countered(noisy)) == UNRESOLVED
    with pytest.raises(ValueError, match="two atlas models"):
        findings.countered({1: base, 8: base})


def test_f_larger_diameter():
    six = np.array([6, 6, 6])
    assert verdict(findings.larger_diameter({1: six, 2: six + 2, 8: six + 3})) == HOLDS
    assert verdict(findings.larger_diameter({1: six, 2: six - 1, 8: six})) == FAILS
    assert verdict(findings.larger_diameter({1: six, 2: six + np.array([2, -1, 0]),
                                             8: six + 2})) == UNRESOLVED
    assert findings.paper_diameter("mnist") == 2  # 8 against 6 in Table 1


def test_g_frame_quality():
    single = np.array([4.0, 4.2, 4.1])
    assert verdict(findings.frame_quality(single * 1.05, single)) == HOLDS
    assert verdict(findings.frame_quality(single * 1.6, single)) == FAILS
    assert verdict(findings.frame_quality(single * np.array([1.1, 1.4, 1.25]), single)) \
        == UNRESOLVED


def test_g_crossing_ratio_uses_only_pairs_that_change_chart():
    atlas = {"chart_changes": [0, 2, 1, -1], "graph_nearest": [9.0, 4.0, 6.0, np.nan]}
    single = {"graph_nearest": [1.0, 2.0, 4.0, 3.0]}
    assert findings.crossing_ratio(atlas, single, "nearest") == pytest.approx(5.0 / 3.0)
    assert np.isnan(findings.crossing_ratio({"chart_changes": [0], "graph_nearest": [1.0]},
                                            {"graph_nearest": [1.0]}, "nearest"))


# ----------------------------------------------------------------------------- the table
def _collection(seed: int) -> Collection:
    rng = np.random.default_rng(seed)
    histogram = np.zeros(50)
    histogram[[20, 49]] = [3, 7]
    rows, lengths = [], []
    for m in (1, 2, 4, 8):
        rows.append({"dataset": "mnist", "n_charts": m,
                     "reconstruction_error": 0.02 * (1 if m == 1 else 0.9),
                     "charts_per_label_median": 2.0, "confidence_histogram": histogram,
                     "hop_diameter": 6 if m == 1 else 8})
        for pair in range(5):
            lengths.append({"dataset": "mnist", "n_charts": m, "pair": pair,
                            "length": 10 * (1.2 + 0.1 * (m > 1) - 0.01 * m)
                            + rng.normal(0, 0.01), "end_distance": 10.0})
    summary = pd.DataFrame(rows).set_index(["dataset", "n_charts"])
    return Collection(summary, pd.DataFrame(lengths), {}, settings=None)


def _refinement(refined):
    return {"refined": refined, "end_distance": [10.0] * 3, "chart_changes": [1, 1, 0],
            "graph_nearest": [4.0, 4.0, 1.0], "graph_reconstruction": [2.0, 2.0, 1.0]}


def test_findings_table_with_two_seeds():
    collections = {0: _collection(0), 1: _collection(1)}
    refinements = {s: {1: _refinement([11.0] * 3), 8: _refinement([11.5] * 3)}
                   for s in collections}
    table = findings.findings_table(collections, refinements, ["mnist"], atlas_m=8)
    assert set(table["verdict"]) <= set(findings.VERDICTS)
    assert (table["seeds"] == 2).all()
    verdicts = table["verdict"]
    assert verdicts["(a) MNIST: atlas error as low or lower"] == HOLDS
    assert verdicts["(c) MNIST: max psi near 1 for most points"] == HOLDS
    assert verdicts["(d) MNIST: atlas geodesics longer (graph stretch)"] == HOLDS
    assert verdicts["(e) MNIST: more charts counter it (graph stretch)"] == HOLDS
    assert verdicts["(f) MNIST: atlas graphs of larger diameter"] == HOLDS
    assert verdicts["(d) MNIST: atlas geodesics longer (refined stretch)"] == HOLDS
    assert verdicts["(g) MNIST: quality kept across chart changes (nearest)"] == HOLDS
    assert table.loc["(f) MNIST: atlas graphs of larger diameter", "paper"] == "2.000"
