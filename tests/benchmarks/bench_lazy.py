"""Benchmark of lazy edge weights (atlasnb.geodesics) against the eager graph.

Run: ``ATLASNB_RUNS=<runs folder> .venv/bin/python tests/benchmarks/bench_lazy.py``
(options: ``--scale quick --dataset mnist --charts 8 --n 2000 --k 20 --n-steps 15
--queries 100 --threads 2``).

Loads the finished run of ``make_config(scale, dataset, n_charts=charts)`` (it
never trains: an unfinished run is an error; with ``--partial`` the latest
checkpoint of an unfinished run is read instead, and the epoch is printed) and
prints, in one run:

- the eager build (every eq. (10) weight decoded): time and points decoded;
- the lazy build (node images only): time and points decoded;
- ``queries`` searches between test images (the book's test pairs, each end
  inserted in its most confident chart) on the lazy graph: time, points
  decoded (end points and edge interiors), edges evaluated, A* rounds;
- the same searches on the eager graph, and the largest length difference;
- the goals: lazy build + queries decode at most 10% of the eager build's
  points and take at most 20% of its time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

# The data beside the repository, as in .ci/setup, unless ATLASNB_DATA says otherwise.
os.environ.setdefault("ATLASNB_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data"))

from atlasnb import experiments, geodesics, runs  # noqa: E402
from atlasnb.config import make_config  # noqa: E402
from atlasnb.train import Trainer  # noqa: E402


def load_model(config, partial: bool):
    """The run's model and a line naming it; never trains."""
    path = runs.run_path(config)
    if (path / "metrics.json").exists() or not partial:
        run = runs.load_run(path, device="cpu")
        return run.model.eval(), f"{config.model_name}, trained ({path})"
    state = torch.load(path / "checkpoint.pt", map_location="cpu", weights_only=False)
    trainer = Trainer(config, torch.device("cpu"))
    trainer.load_state_dict(state)
    return trainer.model.eval(), (f"{config.model_name} after epoch {trainer.epoch} of "
                                  f"{config.epochs} (unfinished run, {path})")


def queries(graph, starts, ends) -> tuple[list, float]:
    """Shortest paths between the pairs (None where disconnected) and the seconds taken."""
    started = time.perf_counter()
    paths = []
    for start, end in zip(starts, ends):
        try:
            paths.append(geodesics.shortest_path(graph, start, end))
        except geodesics.DisconnectedGraphError:
            paths.append(None)
    return paths, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--charts", type=int, default=8)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--n-steps", type=int, default=15)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--partial", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = make_config(args.scale, args.dataset, n_charts=args.charts)
    model, what = load_model(config, args.partial)
    settings = experiments.graph_settings(args.scale, n_points=args.n, k=args.k,
                                          n_steps=args.n_steps, n_pairs=args.queries,
                                          n_interpolations=0)
    x = experiments.graph_points(args.dataset, settings)
    starts, ends = experiments.test_pairs(args.dataset, settings)
    print(f"model: {what}; data: {len(x)} {args.dataset} "
          f"points, {len(starts)} test pairs; k={args.k}, n_steps={args.n_steps}, "
          f"threads={torch.get_num_threads()}")

    started = time.perf_counter()
    eager = geodesics.build_atlas_graph(model, x, k=args.k, n_steps=args.n_steps,
                                        progress=False, lazy=False)
    eager_build = time.perf_counter() - started
    print(f"graph: {eager}")
    print(f"eager build           {eager_build:8.2f} s   {eager.n_decoded:9,d} points decoded")

    started = time.perf_counter()
    lazy = geodesics.build_atlas_graph(model, x, k=args.k, n_steps=args.n_steps,
                                       progress=False)
    lazy_build = time.perf_counter() - started
    build_decoded = lazy.n_decoded
    print(f"lazy build            {lazy_build:8.2f} s   {build_decoded:9,d} points decoded")

    lazy_paths, lazy_time = queries(lazy, starts, ends)
    found = [p for p in lazy_paths if p is not None]
    query_decoded = sum(p.n_decoded for p in found)
    evaluated = sum(p.n_evaluated for p in found)
    print(f"{len(starts)} lazy queries       {lazy_time:8.2f} s   {query_decoded:9,d} points "
          f"decoded, {evaluated:,d} edges evaluated "
          f"({lazy.n_exact - int(lazy.edge_cross.sum()):,d} "
          f"of {int((~lazy.edge_cross).sum()):,d} within-chart edges now exact), "
          f"{np.mean([p.n_searches for p in found]):.1f} A* rounds per query, "
          f"{len(found)} joined")

    eager_paths, eager_time = queries(eager, starts, ends)
    eager_decoded = sum(p.n_decoded for p in eager_paths if p is not None)
    print(f"{len(starts)} eager queries      {eager_time:8.2f} s   {eager_decoded:9,d} points "
          f"decoded (end points and their edges)")
    same_found = [(a is None) == (b is None) for a, b in zip(lazy_paths, eager_paths)]
    pairs = [(a, b) for a, b in zip(lazy_paths, eager_paths) if a is not None and b is not None]
    absolute = max((abs(a.length - b.length) for a, b in pairs), default=0.0)
    relative = max((abs(a.length - b.length) / max(b.length, 1e-12) for a, b in pairs),
                   default=0.0)
    same_route = sum(np.array_equal(a.nodes, b.nodes) for a, b in pairs)
    print(f"lazy vs eager         largest length difference {absolute:.3g} "
          f"(relative {relative:.2e}); same route {same_route}/{len(pairs)}; "
          f"same pairs joined: {all(same_found)}")

    share_decoded = (build_decoded + query_decoded) / eager.n_decoded
    share_time = (lazy_build + lazy_time) / eager_build
    print(f"lazy build + queries  {100 * share_decoded:8.2f}% of the eager build's points "
          f"(goal <= 10%), {100 * share_time:.2f}% of its time (goal <= 20%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
