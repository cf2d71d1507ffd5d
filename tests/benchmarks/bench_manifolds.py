"""The known manifolds' table: every model's graph and refined geodesic length over the
true distance, and the share of paths going the long way round on the circle.

Trains (or loads) the models of :data:`atlasnb.known_experiment.MANIFOLD_POINTS` at
``--scale`` in ``ATLASNB_RUNS``, runs the experiment and prints one row per model, with
the wall-clock and CPU seconds each took and the load average (the true distances are
computed by the first model of each data set and read from the cache by the others)::

    python tests/benchmarks/bench_manifolds.py --scale quick [--pairs 100]

With ``--truth N`` it only times the true distances of N random torus pairs, computed
afresh in a temporary folder::

    python tests/benchmarks/bench_manifolds.py --truth 100
"""

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd

from atlasnb import known_experiment, known_truth, runs


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def time_truth(n_pairs: int) -> None:
    from atlasnb import manifolds

    wall, cpu = clocks()
    torus = manifolds.manifold("torus")
    graph = torus.graph
    graph_wall, graph_cpu = time.perf_counter() - wall, time.process_time() - cpu
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0, 2 * np.pi, (2, n_pairs, 2))
    wall, cpu = clocks()
    with tempfile.TemporaryDirectory() as root:
        distances = known_truth.true_distances("torus", a, b, root=root)
        middle_wall, middle_cpu = time.perf_counter() - wall, time.process_time() - cpu
        again = clocks()
        known_truth.true_distances("torus", a, b, root=root)
        cached = time.perf_counter() - again[0]
    print(f"torus grid {graph.n_grid}x{graph.n_grid}: {graph_wall:.1f} s wall, {graph_cpu:.1f} "
          f"s CPU; {n_pairs} pairs: {middle_wall:.1f} s wall, {middle_cpu:.1f} s CPU "
          f"({middle_cpu / n_pairs:.2f} s CPU a pair); read from the cache: {cached:.3f} s; "
          f"median distance {np.median(distances):.3f}; load average {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--truth", type=int, default=None, metavar="N")
    parser.add_argument("--pairs", type=int, default=100,
                        help="test pairs per model (the book's quick scale takes 25)")
    args = parser.parse_args()
    if args.truth is not None:
        time_truth(args.truth)
        return
    from atlasnb.checks import replace_settings

    settings = replace_settings(known_experiment.graph_settings(args.scale),
                                n_pairs=args.pairs)
    rows = []
    for point in known_experiment.MANIFOLD_POINTS:
        wall, cpu = clocks()
        run = runs.load_or_train(point.config(args.scale), progress=False)
        trained = time.perf_counter() - wall, time.process_time() - cpu
        result = known_experiment.manifold_experiment(run, settings)
        row = {"dataset": point.dataset, **known_experiment.summary(result),
               "reconstruction": run.metrics["reconstruction_error"],
               "train_s": trained[0], "train_cpu_s": trained[1],
               "measure_s": time.perf_counter() - wall - trained[0],
               "measure_cpu_s": time.process_time() - cpu - trained[1],
               "load": os.getloadavg()[0]}
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format="{:.3f}".format),
              flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format="{:.3f}".format))


if __name__ == "__main__":
    main()
