"""The numbers the paper reports, kept as data so that tables can show them beside ours.

Source: Table 1 of {cite}`stolberglarsen2021atlas`; used in {ref}`sec-experiments`.
Keys are chart counts (1 is the WAE-GAN); each value is (MNIST, Fashion-MNIST).
"""

from __future__ import annotations

CHART_COUNTS = (1, 2, 4, 8, 16)

TABLE1 = {
    "continuous dimension": {1: (8, 8), 2: (7, 7), 4: (7, 7), 8: (7, 7), 16: (7, 7)},
    "trainable parameters": {1: (21_967_881,) * 2, 2: (21_626_265,) * 2,
                             4: (20_885_793,) * 2, 8: (21_961_217,) * 2,
                             16: (21_623_721,) * 2},
    "reconstruction error": {1: (0.0142, 0.0144), 2: (0.0134, 0.0133), 4: (0.0129, 0.0141),
                             8: (0.0126, 0.0148), 16: (0.0129, 0.0162)},
    "graph nodes": {1: (2000, 2000), 2: (2020, 2069), 4: (2175, 2576), 8: (2546, 2677),
                    16: (2887, 3922)},
    # Reported rounded to the nearest hundred edges.
    "graph edges": {1: (26_600, 26_400), 2: (27_000, 26_900), 4: (29_600, 33_400),
                    8: (34_700, 35_000), 16: (39_800, 52_200)},
    "graph diameter": {1: (6, 6), 2: (8, 8), 4: (8, 9), 8: (8, 9), 16: (8, 9)},
}

#: Algorithm 1's settings in the experiments: N data points, k neighbours, n steps.
GRAPH_SETTINGS = {"n_points": 2000, "k": 20, "n_steps": 15, "n_pairs": 100}


def table1_value(row: str, n_charts: int, dataset: str):
    """The paper's value of ``row`` for ``n_charts`` on ``dataset`` (None if not reported)."""
    column = {"mnist": 0, "fashion-mnist": 1}[dataset]
    values = TABLE1[row].get(n_charts)
    return None if values is None else values[column]
