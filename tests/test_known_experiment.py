"""The rules the known-manifold experiment reads its paths with."""

import math

import numpy as np
import torch

from atlasnb import known_experiment, manifolds


def test_long_way_round_tells_the_two_arcs_apart():
    circle = manifolds.manifold("circle")
    a, b = 0.4, 1.4
    short = circle.images(torch.linspace(a, b, 20, dtype=torch.float64))
    long = circle.images(torch.linspace(a, b - 2 * math.pi, 40, dtype=torch.float64))
    assert not known_experiment.long_way_round(short, a, b)
    assert known_experiment.long_way_round(long, a, b)
    # Read backwards, the short arc is still short.
    assert not known_experiment.long_way_round(short.flip(0), b, a)


def test_chart_overlaps_is_the_graph_of_shared_points():
    psi = np.array([[0.9, 0.1, 0.0], [0.5, 0.5, 0.0], [0.0, 0.6, 0.4], [0.0, 0.0, 1.0]])
    assert known_experiment.chart_overlaps(psi, eps=0.2) == [(0, 1), (1, 2)]
    assert known_experiment.chart_overlaps(psi, eps=0.05) == [(0, 1), (1, 2)]
    assert known_experiment.chart_overlaps(psi, eps=0.2, minimum=2) == []


def test_summary_ratios_and_shares():
    result = {"model": "WAE-GAN", "latent_dim": 1, "n_charts": 1,
              "truth": [1.0, 2.0, 4.0, 1.0], "graph": [1.2, 2.2, float("nan"), 1.1],
              "refined": [1.01, 2.5, float("nan"), 1.0],
              "long_way_graph": [0.0, 1.0, float("nan"), 0.0],
              "long_way_refined": [0.0, 1.0, float("nan"), 1.0]}
    row = known_experiment.summary(result)
    assert row["failed_pairs"] == 1
    assert np.isclose(row["graph_median"], 1.1)
    assert np.isclose(row["refined_within_5pct"], 2 / 3)
    assert np.isclose(row["long_way_refined"], 2 / 3)
    assert row["refined_p90"] > row["refined_median"]


def test_cut_angle_finds_the_jump_of_a_one_dimensional_code():
    rng = np.random.default_rng(0)
    theta = rng.uniform(0, 2 * math.pi, 500)
    for cut in (0.3, 4.0):
        z = np.remainder(theta - cut, 2 * math.pi)[:, None]  # one sweep, jumping at the cut
        assert abs(known_experiment.cut_angle(theta, z) - cut) < 0.05
        assert abs(known_experiment.cut_angle(theta, -2 * z) - cut) < 0.05


def test_crosses_cut_reads_the_short_arc():
    crossing = known_experiment.crosses_cut([0.5, 0.5, 6.0, 3.0], [1.0, 5.5, 0.5, 3.5], cut=0.1)
    assert crossing.tolist() == [False, True, True, False]


def test_chart_sequence_goes_once_round_and_ignores_boundary_noise():
    theta = np.linspace(0, 2 * math.pi, 400, endpoint=False)
    chart = np.floor(np.remainder(theta + 0.4, 2 * math.pi) / (math.pi / 2)).astype(int)
    assert known_experiment.chart_sequence(theta, chart) == [0, 1, 2, 3]
    noisy = chart.copy()
    noisy[[101, 102, 250]] = [3, 3, 0]
    assert known_experiment.chart_sequence(theta, noisy) == [0, 1, 2, 3]
    # One chart on two separate arcs is met twice.
    twice = np.where(chart == 3, 1, chart)
    assert known_experiment.chart_sequence(theta, twice) == [0, 1, 2, 1]
    assert known_experiment.chart_sequence(theta, np.zeros(400, int)) == [0]


def test_atlas_verdict_holds_only_when_every_goal_is_met():
    row = {"model": "AWAE-GAN (m=2)", "m": 2, "refined_within_5pct": 0.93,
           "long_way_refined": 0.01}
    holds, text = known_experiment.atlas_verdict(row, [0, 1])
    assert holds and text.endswith("the goals hold.") and "93%" in text
    assert not known_experiment.atlas_verdict(row | {"refined_within_5pct": 0.85}, [0, 1])[0]
    failed, text = known_experiment.atlas_verdict(row | {"long_way_refined": 0.05}, [0, 1])
    assert not failed and text.endswith("are not met.")
    broken, text = known_experiment.atlas_verdict(row, [0])
    assert not broken and "do not form one arc each" in text


def test_cut_verdict_compares_the_long_way_share_with_the_crossing_share():
    assert known_experiment.cut_verdict(0.22, 0.25, 100)[0]
    fewer, text = known_experiment.cut_verdict(0.02, 0.25, 100)
    assert not fewer and "fewer than the 25%" in text
    more, text = known_experiment.cut_verdict(0.6, 0.25, 100)
    assert not more and "more than the 25%" in text
