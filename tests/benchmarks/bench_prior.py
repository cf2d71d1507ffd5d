"""The prior-sampled graph beside Algorithm 1's graph on one trained model.

Run: ``.venv/bin/python tests/benchmarks/bench_prior.py [--scale quick] [--n-charts 8]
[--pairs 20] [--checkpoint PATH] [--require-own-chart]``.

Builds both graphs with the scale's graph settings (N points, k, n_steps, eps) on
the same model: Algorithm 1 over N training images, the prior graph over N draws
of P(Z, Y) (same seed). Prints, for each, the build time, points decoded, nodes,
edges (within and across charts), components and hop diameter; then, for the
first ``--pairs`` test pairs of the experiments, both geodesic lengths (end
points inserted with the settings' mode), their ratio, the chart changes, and the
median ratio. The model: the scale's run (``atlasnb.runs.load_or_train``, trained
if missing), or the weights of ``--checkpoint`` (a run folder's checkpoint.pt;
the width is read from the weights).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from atlasnb import experiments, geodesics, runs
from atlasnb.config import make_config
from atlasnb.models import AtlasWAEGAN


def load_model(args):
    """The model of the run, or of a checkpoint file, in eval mode; and its description."""
    if args.checkpoint is None:
        config = make_config(args.scale, args.dataset, n_charts=args.n_charts, seed=args.seed)
        run = runs.load_or_train(config)
        return run.model.eval(), f"{config.model_name} from {run.path}"
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)["model"]
    h = state["trunk.0.0.weight"].shape[0]
    d = state["chart_fc.weight"].shape[-1]
    model = AtlasWAEGAN(args.n_charts, h=h, latent_dim=d)
    model.load_state_dict(state)
    return model.eval(), f"m = {args.n_charts}, h = {h}, d = {d} from {args.checkpoint}"


def timed(build):
    started = time.perf_counter()
    graph = build()
    return graph, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="quick")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--n-charts", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--require-own-chart", action="store_true",
                        help="link a sample to other charts only where its own chart holds it")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))

    model, described = load_model(args)
    settings = experiments.graph_settings(args.scale)
    x = experiments.graph_points(args.dataset, settings)
    print(f"model: {described}")
    print(f"settings: N = {settings.n_points}, k = {settings.k}, n_steps = {settings.n_steps}, "
          f"eps = {settings.eps}, insert = {settings.insert!r}; "
          f"{torch.get_num_threads()} threads", flush=True)
    data, data_seconds = timed(lambda: geodesics.build_atlas_graph(
        model, x, k=settings.k, eps=settings.eps, n_steps=settings.n_steps, progress=False))
    prior, prior_seconds = timed(lambda: geodesics.build_prior_graph(
        model, settings.n_points, k=settings.k, eps=data.eps, n_steps=settings.n_steps,
        seed=settings.seed, require_own_chart=args.require_own_chart, progress=False))

    keys = ("nodes", "within_chart_edges", "cross_chart_edges", "components",
            "largest_component", "hop_diameter")
    print(f"{'':22s}{'Algorithm 1':>14s}{'prior graph':>14s}")
    print(f"{'build seconds':22s}{data_seconds:14.2f}{prior_seconds:14.2f}")
    print(f"{'points decoded':22s}{data.n_decoded:14d}{prior.n_decoded:14d}")
    data_statistics, prior_statistics = (geodesics.graph_statistics(g) for g in (data, prior))
    for key in keys:
        print(f"{key:22s}{data_statistics[key]:14d}{prior_statistics[key]:14d}")
    own = prior.sample_psi[np.arange(prior.n_samples), prior.sample_charts] > prior.eps
    print(f"prior samples held by their own chart: {100 * own.mean():.1f}%")

    starts, ends = experiments.test_pairs(args.dataset, settings)
    rows = []
    for pair, (start, end) in enumerate(zip(starts[:args.pairs], ends[:args.pairs])):
        row = []
        for graph in (data, prior):
            try:
                path = geodesics.shortest_path(graph, start, end, insert=settings.insert)
                row.append((path.length, int(path.cross.sum())))
            except geodesics.DisconnectedGraphError:
                row.append((float("nan"), -1))
        rows.append(row)
        (a, ca), (b, cb) = row
        print(f"pair {pair:3d}: Algorithm 1 {a:8.4f} ({ca} changes)   prior {b:8.4f} "
              f"({cb} changes)   ratio {b / a:6.3f}", flush=True)
    ratios = np.array([b / a for (a, _), (b, _) in rows])
    finite = ratios[np.isfinite(ratios)]
    print(f"pairs joined in both: {len(finite)} of {len(rows)}; prior / Algorithm 1: median "
          f"{np.median(finite):.3f}, min {finite.min():.3f}, max {finite.max():.3f}")


if __name__ == "__main__":
    sys.exit(main())
