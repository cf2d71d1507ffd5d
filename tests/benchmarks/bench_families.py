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
  the graph geodesics between the first ``--pairs`` test pairs.

The encoding families get Algorithm 1's graph over the scale's N training images
(``atlasnb.experiments.load_or_build_graph``, cached in the run folder); the
semi-AGM gets the prior-sampled graph over N draws, its charts linked by decoder
inversion (``atlasnb.geodesics.build_prior_graph``), since it cannot encode. Each
test image enters the path search the same way (own chart; inverted for the
semi-AGM). ``--runs`` names the runs folder (default ``$ATLASNB_RUNS``).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from atlasnb import experiments, geodesics, runs
from atlasnb.agm import has_encoder
from atlasnb.config import MODELS, make_config
from atlasnb.models import parameter_count


def training_seconds(run) -> list[float]:
    """The logged wall time of each epoch of ``run``."""
    lines = (run.path / "train.log").read_text().splitlines()
    return [float(json.loads(line)["seconds"]) for line in lines]


def graph_of(run, settings):
    """(graph, statistics, kind) of ``run``'s model: Algorithm 1's from data, or the
    prior-sampled graph for a model without an encoder."""
    if has_encoder(run.model):
        graph, statistics = experiments.load_or_build_graph(run, settings, progress=False)
        return graph, statistics, "data"
    started = time.perf_counter()
    graph = geodesics.build_prior_graph(run.model, settings.n_points, k=settings.k,
                                        eps=settings.eps, n_steps=settings.n_steps,
                                        seed=settings.seed, progress=False)
    statistics = geodesics.graph_statistics(graph)
    statistics["build_seconds"] = time.perf_counter() - started
    return graph, statistics, "prior"


def median_length(graph, dataset: str, settings, n_pairs: int) -> tuple[float, int]:
    """Median graph-geodesic length over the first ``n_pairs`` test pairs, and the
    number of pairs whose ends lay in different components."""
    starts, ends = experiments.test_pairs(dataset, settings)
    lengths, failed = [], 0
    for start, end in list(zip(starts, ends))[:n_pairs]:
        try:
            lengths.append(geodesics.shortest_path(graph, start, end).length)
        except geodesics.DisconnectedGraphError:
            failed += 1
    return (float(np.median(lengths)) if lengths else float("nan")), failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--charts", type=int, default=8)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.runs:
        os.environ["ATLASNB_RUNS"] = args.runs
    settings = experiments.graph_settings(args.scale)
    print(f"scale {args.scale}, {args.dataset}, m = {args.charts}, {args.threads} threads, "
          f"N = {settings.n_points}, k = {settings.k}, n = {settings.n_steps}")
    header = ("model", "h", "parameters", "train s", "s/epoch", "recon. error", "graph",
              "nodes", "edges", "diameter", "graph s", "median length", "failed")
    rows = []
    for model in args.models:
        config = make_config(args.scale, args.dataset, args.charts, model=model)
        run = runs.load_or_train(config, device="cpu", progress=False)
        epochs = training_seconds(run)
        graph, statistics, kind = graph_of(run, settings)
        length, failed = median_length(graph, args.dataset, settings, args.pairs)
        error = run.metrics["reconstruction_error"]
        rows.append((config.model_name, config.model_width, parameter_count(run.model),
                     f"{sum(epochs):.0f}", f"{np.mean(epochs):.1f}",
                     "-" if error is None else f"{error:.4f}", kind, statistics["nodes"],
                     statistics["edges"], statistics["hop_diameter"],
                     f"{statistics['build_seconds']:.0f}", f"{length:.3f}", failed))
        print("  ".join(f"{name}={value}" for name, value in zip(header, rows[-1])),
              flush=True)
    widths = [max(len(str(v)) for v in column) for column in zip(header, *rows)]
    print()
    for row in (header, *rows):
        print("  ".join(str(v).rjust(w) for v, w in zip(row, widths)))


if __name__ == "__main__":
    main()
