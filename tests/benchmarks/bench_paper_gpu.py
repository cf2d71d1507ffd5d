"""What one paper-scale model costs to train: seconds per epoch on this machine's device,
and the whole of Appendix A's schedule extrapolated from them.

    python tests/benchmarks/bench_paper_gpu.py                       # paper scale, cuda
    python tests/benchmarks/bench_paper_gpu.py --charts 1 --epochs 2 --scale smoke --device cpu

For each chart count m, the scale's real configuration (:func:`atlasnb.config.make_config`,
MNIST by default) is trained for ``--epochs`` epochs with :func:`atlasnb.runs.load_or_train`
(``stop_after_epoch``) into a scratch run folder, exactly as a sweep would train it,
checkpoints included; the epochs' seconds come from its ``train.log``. Then the run's
evaluation (:func:`atlasnb.metrics.evaluate`, which a finished run does once) is timed.
The estimate for one model is the scale's number of epochs times the median of the timed
epochs after the first (the first pays for start-up), plus the evaluation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from atlasnb import metrics, runs
from atlasnb.config import SCALES, make_config
from atlasnb.reproducibility import choose_device


def bench(m: int, args, device: torch.device) -> None:
    config = make_config(args.scale, args.dataset, n_charts=m)
    with tempfile.TemporaryDirectory(prefix="bench-paper-") as scratch:
        folder = Path(scratch) / "run"
        started = time.perf_counter()
        run = runs.load_or_train(config, path=folder, device=device, progress=False,
                                 stop_after_epoch=args.epochs)
        trained = time.perf_counter() - started
        log = [json.loads(line) for line in (folder / "train.log").read_text().splitlines()]
        seconds = [line["seconds"] for line in log]
        started = time.perf_counter()
        metrics.evaluate(run.model, config, device=device)
        evaluation = time.perf_counter() - started
    steady = statistics.median(seconds[1:] if len(seconds) > 1 else seconds)
    estimate = config.epochs * steady + evaluation
    print(f"m = {m:2d}  h = {config.model_width:3d}  epochs "
          + " ".join(f"{s:6.1f}" for s in seconds)
          + f" s  (all {args.epochs} with start-up: {trained:6.1f} s)  evaluation "
          f"{evaluation:5.1f} s  ->  {config.epochs} epochs + evaluation ~ "
          f"{estimate / 60:5.1f} min", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charts", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed per model")
    parser.add_argument("--scale", default="paper", choices=SCALES)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    device = choose_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    config = make_config(args.scale, args.dataset)
    print(f"{args.scale} scale on {args.dataset}: {config.train_size or 'all'} training "
          f"images, batch {config.batch_size}, {config.epochs} epochs; device {device} "
          f"({name}), torch {torch.__version__}, {torch.get_num_threads()} CPU threads",
          flush=True)
    for m in args.charts:
        bench(m, args, device)


if __name__ == "__main__":
    main()
