"""Training time and Table 1's row for every model family at one scale.

Run with ``python tests/benchmarks/bench_families.py`` (not a pytest test; it trains
four models, minutes each at the quick scale on two CPU threads). For each family of
``atlasnb.config.MODELS`` (the Atlas WAE-GAN, the Atlas VAE, the Chart Auto-Encoder
and the InfoGAN-type semi-AGM) with m charts on one data set, it trains the model of
``make_config(scale, dataset, m, model=...)`` in its run folder (or loads it: the
training time is read from the run's log either way) and prints

- the training time (the sum of the logged epoch times) and the time per epoch;
- Table 1's row: parameters, reconstruction error (none for the semi-AGM, which has
  no encoder), nodes, edges and hop diameter of the graph, and the median length of
  the graph geodesics between the test pairs (the scale's, or the first ``--pairs``),
  with the graph's build time and the whole experiment's.

Each goes through ``atlasnb.family_experiment.family_experiment``, the experiments
chapter's geodesic experiment: Algorithm 1's graph over the scale's N training images
for the encoding families, the prior-sampled graph over N draws (charts linked by
decoder inversion) for the semi-AGM, which cannot encode; both cached in the run
folder, so a second run prints the same rows at once. ``--runs`` names the runs
folder (default ``$ATLASNB_RUNS``).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from atlasnb import experiments, family_experiment, runs
from atlasnb.config import MODELS


def training_seconds(run) -> list[float]:
    """The logged wall time of each epoch of ``run``."""
    lines = (run.path / "train.log").read_text().splitlines()
    return [float(json.loads(line)["seconds"]) for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--charts", type=int, default=8)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--pairs", type=int, default=None,
                        help="test pairs (default: the scale's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.runs:
        os.environ["ATLASNB_RUNS"] = args.runs
    overrides = {} if args.pairs is None else dict(n_pairs=args.pairs,
                                                   n_interpolations=min(4, args.pairs))
    settings = experiments.graph_settings(args.scale, **overrides)
    print(f"scale {args.scale}, {args.dataset}, m = {args.charts}, {args.threads} threads, "
          f"N = {settings.n_points}, k = {settings.k}, n = {settings.n_steps}")
    header = ("model", "h", "parameters", "train s", "s/epoch", "recon. error", "graph",
              "nodes", "edges", "diameter", "graph s", "experiment s", "median length",
              "failed")
    rows = []
    for model in args.models:
        config = family_experiment.family_config(args.scale, model, args.dataset, args.charts)
        run = runs.load_or_train(config, device="cpu", progress=False)
        epochs = training_seconds(run)
        started = time.perf_counter()
        result = family_experiment.family_experiment(run, settings)
        seconds = time.perf_counter() - started
        row = experiments.summary_row(run, result)
        error = row["reconstruction_error"]
        rows.append((config.model_name, config.model_width, row["parameters"],
                     f"{sum(epochs):.0f}", f"{np.mean(epochs):.1f}",
                     "-" if error is None else f"{error:.4f}", result["graph_kind"],
                     row["nodes"], row["edges"], row["hop_diameter"],
                     f"{row['build_seconds']:.0f}", f"{seconds:.0f}",
                     f"{row['length_median']:.3f}", row["failed_pairs"]))
        print("  ".join(f"{name}={value}" for name, value in zip(header, rows[-1])),
              flush=True)
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows)]
    print()
    for row in (header, *rows):
        print("  ".join(str(v).rjust(w) for v, w in zip(row, widths)))


if __name__ == "__main__":
    main()
