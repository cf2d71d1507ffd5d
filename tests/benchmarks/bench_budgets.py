"""Does more training move the findings toward the paper's? MNIST m = 1 and m = 8
trained at several budgets (more images, more epochs, the same widths), and for each
budget the numbers the claims turn on.

    python tests/benchmarks/bench_budgets.py                     # quick widths, x1, x4, x10
    python tests/benchmarks/bench_budgets.py --budgets 1         # the smallest budget only
    python tests/benchmarks/bench_budgets.py --base smoke        # a check of the script

A budget multiplies the base scale's training images and epochs (x1 is the base
itself; x10 at quick is 40,000 images for 12 epochs) and keeps its widths, learning
rates and test set; the learning rate is halved at the same fraction of the epochs.
Runs are kept under $ATLASNB_RUNS like any other, so a second call only reads. Prints,
per budget: the m = 8 / m = 1 test reconstruction error ratio (Table 1: 0.887), the
m = 8 median chart confidence and share above 0.9, the median number of charts
generating a label (Figure 2a: 2-3) and graph nodes per data point (Table 1: 1.27),
with the training wall time.
"""

import argparse
import time

import numpy as np
import torch

from atlasnb import experiments, geodesics, paper, runs
from atlasnb.config import make_config
from atlasnb.geodesics.decoding import psi_and_codes

#: Budget -> (factor on the training images, factor on the epochs); the product is
#: the budget in image presentations.
BUDGETS = {1: (1.0, 1.0), 4: (2.5, 5 / 3), 10: (5.0, 2.0)}


def budget_config(base: str, n_charts: int, budget: int, seed: int):
    """MNIST with ``n_charts`` at ``budget`` times the training of scale ``base``."""
    config = make_config(base, "mnist", n_charts=n_charts, seed=seed)
    images, epochs = BUDGETS[budget]
    n_epochs = max(1, round(config.epochs * epochs))
    halving = tuple(sorted({max(1, round(e * n_epochs / config.epochs))
                            for e in config.lr_halving_epochs if e < config.epochs}))
    train = None if config.train_size is None else min(60_000, round(config.train_size * images))
    return make_config(base, "mnist", n_charts=n_charts, seed=seed, train_size=train,
                       epochs=n_epochs, lr_halving_epochs=halving)


def nodes_per_point(run, base: str) -> float:
    """Algorithm 1's nodes / N on the base scale's graph points: the mean number of
    charts with psi > eps (no graph is built)."""
    x = experiments.graph_points("mnist", experiments.graph_settings(base))
    eps = geodesics.default_eps(run.config.n_charts)
    with torch.inference_mode():
        run.model.eval()
        psi, _ = psi_and_codes(run.model, x, batch_size=500)
    return float((psi > eps).sum(axis=1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="quick", choices=("smoke", "quick"))
    parser.add_argument("--budgets", type=int, nargs="+", default=sorted(BUDGETS),
                        choices=sorted(BUDGETS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paper_ratio = (paper.table1_value("reconstruction error", 8, "mnist")
                   / paper.table1_value("reconstruction error", 1, "mnist"))
    paper_nodes = paper.table1_value("graph nodes", 8, "mnist") / paper.GRAPH_SETTINGS["n_points"]
    print(f"paper: error ratio {paper_ratio:.3f}, charts per label 2-3, "
          f"nodes per point {paper_nodes:.3f}")
    header = ("budget", "images", "epochs", "train s", "error ratio", "conf median",
              "conf > 0.9", "charts/label", "nodes/point")
    print(" | ".join(header))
    for budget in args.budgets:
        started = time.perf_counter()
        single, atlas = (runs.load_or_train(budget_config(args.base, m, budget, args.seed))
                         for m in (1, 8))
        seconds = time.perf_counter() - started
        ratio = atlas.metrics["reconstruction_error"] / single.metrics["reconstruction_error"]
        row = (f"x{budget}", f"{atlas.config.train_size or 60_000:,}", str(atlas.config.epochs),
               f"{seconds:.0f}", f"{ratio:.3f}", f"{atlas.metrics['confidence_median']:.3f}",
               f"{atlas.metrics['confidence_above_0.9']:.3f}",
               f"{np.median(atlas.metrics['charts_per_label']):.1f}",
               f"{nodes_per_point(atlas, args.base):.3f}")
        print(" | ".join(row), flush=True)


if __name__ == "__main__":
    main()
