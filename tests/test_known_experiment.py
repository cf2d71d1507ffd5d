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
