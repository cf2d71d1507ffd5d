"""The paper's constants, in one place: what {cite}`stolberglarsen2021atlas` states.

Each value names where in the paper it comes from. Used by :mod:`atlasnb.config`
(Appendix A's settings), :mod:`atlasnb.models` (widths, latent sizes, counts) and
the chapters ({ref}`sec-experiments` shows Table 1 beside ours). Keys are chart
counts m (1 is the WAE-GAN); Table 1's values are (MNIST, Fashion-MNIST).
"""

from __future__ import annotations

#: Table 1's columns: the numbers of charts m of the five models (1 is the WAE-GAN).
CHART_COUNTS = (1, 2, 4, 8, 16)

#: Appendix A, the table after the diagrams: the width h for each number of charts m.
TABLE1_WIDTHS = {1: 128, 2: 86, 4: 64, 8: 48, 16: 34}

#: Section 4 ("latent space R^8") and Table 1's "continuous dimension" row: d = 8 for
#: the WAE-GAN; the AWAE-GAN replaces one continuous dimension by the chart label (d = 7).
WAE_LATENT_DIM = 8
ATLAS_LATENT_DIM = 7

#: Appendix A, last paragraph: lambda of eq. (6) for both models.
LAMBDA = 10.0

#: Appendix A, last paragraph: Adam's betas and, for each data set, the mini-batch
#: size, the learning rates of the auto-encoder (encoders, partition, decoders) and of
#: the critic, and the epochs after which both are halved; training stops after 80.
ADAM_BETAS = (0.5, 0.999)
EPOCHS = 80
APPENDIX_A = {
    "mnist": dict(batch_size=100, lr=2e-4, lr_critic=1e-4, lr_halving_epochs=(5, 25, 50)),
    "fashion-mnist": dict(batch_size=128, lr=1e-4, lr_critic=5e-5,
                          lr_halving_epochs=(15, 30, 50, 70)),
}

#: Table 1 (numeric values), section 4.
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

#: Table 1's "trainable parameters" row (the same for both data sets): encoders,
#: partition network and decoders, critics left out.
TABLE1_PARAMETER_COUNTS = {m: counts[0] for m, counts in TABLE1["trainable parameters"].items()}

#: Section 4 (the experiment's description): Algorithm 1's settings, N data points,
#: k neighbours, n steps, and the number of test pairs.
GRAPH_SETTINGS = {"n_points": 2000, "k": 20, "n_steps": 15, "n_pairs": 100}


def table1_value(row: str, n_charts: int, dataset: str):
    """The paper's value of ``row`` for ``n_charts`` on ``dataset`` (None if not reported)."""
    column = {"mnist": 0, "fashion-mnist": 1}[dataset]
    values = TABLE1[row].get(n_charts)
    return None if values is None else values[column]
