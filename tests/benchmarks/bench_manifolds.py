"""The known manifolds' table: every model's graph and refined geodesic length over the
true distance, and the share of paths going the long way round on the circle.

Trains (or loads) the models of :data:`atlasnb.known_experiment.MANIFOLD_POINTS` at
``--scale`` in ``ATLASNB_RUNS``, runs the experiment and prints one row per model, with
the time each took::

    python tests/benchmarks/bench_manifolds.py --scale quick
"""

import argparse
import time

import pandas as pd

from atlasnb import known_experiment, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick", choices=("smoke", "quick", "paper"))
    args = parser.parse_args()
    settings = known_experiment.graph_settings(args.scale)
    rows = []
    for point in known_experiment.MANIFOLD_POINTS:
        started = time.perf_counter()
        run = runs.load_or_train(point.config(args.scale), progress=False)
        trained = time.perf_counter() - started
        result = known_experiment.manifold_experiment(run, settings)
        row = {"dataset": point.dataset, **known_experiment.summary(result),
               "reconstruction": run.metrics["reconstruction_error"],
               "train_s": trained, "measure_s": time.perf_counter() - started - trained}
        rows.append(row)
        print(pd.DataFrame([row]).to_string(index=False, float_format="{:.3f}".format),
              flush=True)
    print()
    print(pd.DataFrame(rows).to_string(index=False, float_format="{:.3f}".format))


if __name__ == "__main__":
    main()
