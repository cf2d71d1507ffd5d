"""Wall time of one sweep of four configurations, sequentially and on a local Dask
cluster of two workers, in one run (fresh run folders for each, so both train).

    python tests/benchmarks/bench_sweep.py                 # quick scale, 4 configurations
    python tests/benchmarks/bench_sweep.py --scale smoke   # a check of the script itself

The sequential sweep's kernels may use every core (OMP_NUM_THREADS = cores); each of
the two workers gets half of them. Prints both wall times and their ratio.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def sweep(runs: Path, scale: str, extra: list[str], threads: int) -> float:
    env = dict(os.environ, ATLASNB_RUNS=str(runs), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads),
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "atlasnb", "sweep", "--scale", scale,
               "--dataset", "mnist", "fashion-mnist", "--charts", "1", "2", *extra]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default="quick", choices=("smoke", "quick"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-sweep-", dir=REPO / "_build") as scratch:
        sequential = sweep(Path(scratch) / "sequential", args.scale, [], cores)
        parallel = sweep(Path(scratch) / "dask", args.scale, ["--workers", str(args.workers)],
                         max(1, cores // args.workers))
    print(f"sweep of 4 configurations (mnist, fashion-mnist x m = 1, 2) at scale "
          f"{args.scale!r} on {cores} cores; load average (1, 5, 15 min) before: "
          f"{load_before}, after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"sequential            {sequential:8.1f} s")
    print(f"--workers {args.workers:<11} {parallel:8.1f} s")
    print(f"ratio                 {sequential / parallel:8.2f} x")


if __name__ == "__main__":
    main()
