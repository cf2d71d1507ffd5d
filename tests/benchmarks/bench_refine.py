"""Benchmark of atlasnb.geodesics.refine on the quick-scale MNIST WAE-GAN and AWAE-GAN.

Run: ``python tests/benchmarks/bench_refine.py [--pairs 100] [--threads 2]
[--charts 1 8] [--stochman-pairs 20]`` with ``ATLASNB_RUNS`` pointing at the
quick-scale run folders.

For each model (``runs.load_or_train(make_config("quick", "mnist", n_charts=m))``;
a model whose run has no ``metrics.json`` yet is skipped, never trained here),
a lazy graph of the experiments chapter's N training images is built in memory,
and for each of the first ``--pairs`` test pairs (:func:`atlasnb.experiments.test_pairs`)
it prints, all lengths measured the same way (eq. (10) with the graph's n steps
on every straight latent segment):

- the graph, straight-segment and refined lengths (medians) and the ratios
  graph / straight and refined / straight (medians);
- the share of pairs whose refined length is at most the straight segment's,
  among the pairs where one chart holds both ends (goal: at least 95%), and
  which candidate of the chart choice won how often;
- the time of all pairs searched (:func:`atlasnb.geodesics.shortest_paths`) and
  refined (:func:`atlasnb.geodesics.refine_all`) in one batch (goal: at most
  10 s for 100 pairs on 2 cores);
- for the first ``--compare`` pairs, the largest gap between the batch's and
  one-at-a-time refined lengths (goal: at most 1%);
- on the WAE-GAN, for the first ``--stochman-pairs`` pairs, the refined length
  against stochman's cubic-spline energy minimiser (stochman 0.3.0, the
  ``bench`` extra) started from the straight segment (goal: refined within 3%).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from atlasnb import geodesics, runs
from atlasnb.config import make_config
from atlasnb.experiments import graph_points, graph_settings, test_pairs
from atlasnb.geodesics import straight_path

os.environ.setdefault("ATLASNB_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data"))


def stochman_length(model, straight: geodesics.GeodesicPath, n_nodes: int, max_iter: int,
                    eval_grid: int, n_steps: int) -> tuple[float, float]:
    """Length and seconds of stochman's cubic spline minimising the decoded energy
    from the straight segment, measured as a polyline of 33 spline points."""
    from stochman.curves import CubicSpline
    from stochman.geodesic import geodesic_minimizing_energy
    from stochman.manifold import EmbeddedManifold

    chart = int(straight.charts[0])

    class Decoded(EmbeddedManifold):
        def embed(self, curve, jacobian=False):
            shape = curve.shape[:-1]
            return model.decode(curve.reshape(-1, curve.shape[-1]), chart).reshape(*shape, -1)

    parameters = list(model.parameters())
    for p in parameters:
        p.requires_grad_(False)
    started = time.perf_counter()
    try:
        curve = CubicSpline(straight.latents[0].clone(), straight.latents[1].clone(),
                            num_nodes=n_nodes)
        geodesic_minimizing_energy(curve, Decoded(), max_iter=max_iter, eval_grid=eval_grid)
    finally:
        for p in parameters:
            p.requires_grad_(True)
    seconds = time.perf_counter() - started
    with torch.no_grad():
        latents = curve(torch.linspace(0, 1, 33, dtype=straight.latents.dtype)).reshape(33, -1)
        images = model.decode(latents, chart)
    path = geodesics.GeodesicPath(length=0.0, nodes=np.full(33, -1), charts=np.full(33, chart),
                                  latents=latents, images=images, data_indices=np.full(33, -1),
                                  steps=[np.zeros(n_steps)] * 32, cross=np.zeros(32, bool))
    return geodesics.measure_path(model, path, n_steps).length, seconds


def bench_model(m: int, n_pairs: int, stochman_pairs: int, args) -> None:
    config = make_config("quick", "mnist", n_charts=m)
    folder = runs.run_path(config)
    if not (folder / "metrics.json").exists():
        print(f"\nm = {m}: {folder} has no metrics.json (not trained yet): skipped")
        return
    run = runs.load_or_train(config, progress=False)
    model = run.model.eval()
    settings = graph_settings("quick")
    x = graph_points("mnist", settings)
    started = time.perf_counter()
    graph = geodesics.build_atlas_graph(model, x, k=settings.k, eps=settings.eps,
                                        n_steps=settings.n_steps, progress=False)
    build = time.perf_counter() - started
    starts, ends = test_pairs("mnist", settings)
    n_pairs = min(n_pairs, len(starts))
    started, cpu_started = time.perf_counter(), time.process_time()
    paths = geodesics.shortest_paths(graph, starts[:n_pairs], ends[:n_pairs],
                                     insert=settings.insert, disconnected="none")
    searched = time.perf_counter()
    solved_paths = [p for p in paths if p is not None]
    refined_all = iter(geodesics.refine_all(graph, solved_paths) if solved_paths else [])
    refined_paths = [next(refined_all) if p is not None else None for p in paths]
    finished, cpu = time.perf_counter(), time.process_time() - cpu_started
    load = os.getloadavg()
    total = finished - started
    print(f"\n{config.model_name}: {n_pairs} pairs in one batch "
          f"({torch.get_num_threads()} threads): search {searched - started:.2f} s, "
          f"refine {finished - searched:.2f} s, total "
          f"{total:.2f} s, {total / n_pairs:.3f} s per pair   (goal <= 10 s for 100 pairs: "
          + ("met" if total * 100 / n_pairs <= 10 else "MISSED") + ")", flush=True)
    # The machine may be shared: the CPU time of this process and the load average
    # (1, 5, 15 minutes) right after the timing say how far the wall time is its own.
    print(f"  CPU time of search and refinement {cpu:.2f} s; load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores", flush=True)
    rows, kinds = [], {}
    for i, (path, refined) in enumerate(zip(paths, refined_paths)):
        straight = straight_path(model, starts[i], ends[i], graph.eps, graph.n_steps)
        spline, spline_seconds = np.nan, np.nan
        if i < stochman_pairs and straight is not None:
            spline, spline_seconds = stochman_length(model, straight, args.spline_nodes,
                                                     args.spline_iterations,
                                                     args.spline_grid, graph.n_steps)
        if path is None:
            rows.append((np.nan,) * 5)
            continue
        best = min(refined.candidates, key=lambda c: np.nanmin([c.start_length, c.length]))
        chosen = best.kind + (" (unrefined)" if best.start_length < best.length
                              or not np.isfinite(best.length) else "")
        kinds[chosen] = kinds.get(chosen, 0) + 1
        rows.append((geodesics.measure_path(graph, path).length,
                     straight.length if straight is not None else np.nan,
                     refined.length, spline, spline_seconds))
        if args.verbose:
            print(f"  pair {i}: graph {rows[-1][0]:.3f} refined {refined.length:.3f} "
                  f"straight {rows[-1][1]:.3f} chosen {chosen} stochman {spline:.3f}",
                  file=sys.stderr, flush=True)
    graph_l, straight_l, refined_l, spline_l, spline_s = np.array(rows, dtype=float).T
    solved = np.isfinite(graph_l)
    both = solved & np.isfinite(straight_l)
    print(f"\n{config.model_name}: N = {len(x)}, k = {graph.k}, n = {graph.n_steps}, "
          f"eps = {graph.eps:g}; graph built in {build:.1f} s; {n_pairs} test pairs, "
          f"{int((~solved).sum())} without a graph path, "
          f"{int((solved & ~np.isfinite(straight_l)).sum())} without a chart holding both ends")
    print(f"  median length    graph {np.nanmedian(graph_l):.3f}   straight "
          f"{np.nanmedian(straight_l):.3f}   refined {np.nanmedian(refined_l):.3f}")
    print(f"  median ratio     graph / straight {np.median(graph_l[both] / straight_l[both]):.3f}"
          f"   refined / straight {np.median(refined_l[both] / straight_l[both]):.3f}"
          f"   graph / refined {np.median(graph_l[solved] / refined_l[solved]):.3f}")
    # Lengths measured apart (the straight segment alone, the refined one in a batch)
    # may differ in a float32 decoder's last digits: compared to FLOAT32_RTOL.
    tol = 1 + geodesics.FLOAT32_RTOL
    below = float(np.mean(refined_l[both] <= straight_l[both] * tol)) if both.any() else np.nan
    print(f"  refined <= straight on {100 * below:.1f}% of {int(both.sum())} pairs   (goal >= "
          f"95%: " + ("met" if below >= 0.95 else "MISSED") + ")")
    print("  chosen candidate: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    never_longer = bool(np.all(refined_l[solved] <= graph_l[solved] * tol))
    print(f"  never longer than the graph path: {never_longer}")
    if args.compare:
        k = min(args.compare, len(solved_paths))
        alone = [geodesics.refine(graph, p).length for p in solved_paths[:k]]
        together = [p.length for p in refined_paths if p is not None][:k]
        gap = np.abs(np.array(together) / np.array(alone) - 1)
        print(f"  batch against one at a time on {k} pairs: largest length gap "
              f"{100 * gap.max():.2f}%   (goal <= 1%: " + ("met" if gap.max() <= 0.01
                                                         else "MISSED") + ")")
    compared = np.isfinite(spline_l) & solved
    if compared.any():
        ratio = refined_l[compared] / spline_l[compared]
        print(f"  stochman cubic spline ({args.spline_nodes} nodes, Adam, {args.spline_iterations}"
              f" iterations, grid {args.spline_grid}) from the straight segment on "
              f"{int(compared.sum())} pairs: median length {np.median(spline_l[compared]):.3f}, "
              f"{np.nanmedian(spline_s):.2f} s per pair; refined / stochman median "
              f"{np.median(ratio):.3f}, max {ratio.max():.3f}; within 3% on "
              f"{100 * np.mean(ratio <= 1.03):.0f}% of pairs   (goal: median within 3%: "
              + ("met" if np.median(ratio) <= 1.03 else "MISSED") + ")")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--charts", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--stochman-pairs", type=int, default=20)
    parser.add_argument("--spline-nodes", type=int, default=8)
    parser.add_argument("--spline-iterations", type=int, default=150)
    parser.add_argument("--spline-grid", type=int, default=20)
    parser.add_argument("--compare", type=int, default=10,
                        help="pairs also refined one at a time, against the batch")
    parser.add_argument("--verbose", action="store_true", help="one line per pair on stderr")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"refinement benchmark: torch {torch.__version__}, {args.threads} threads, "
          f"runs in {runs.runs_root()}")
    for m in args.charts:
        bench_model(m, args.pairs, args.stochman_pairs if m == 1 else 0, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
