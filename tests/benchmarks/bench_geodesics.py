"""Benchmark of Algorithm 1 (atlasnb.geodesics) on a quick-scale m = 8 model.

Run: ``.venv/bin/python tests/benchmarks/bench_geodesics.py [--untrained] [--n 2000]``.

Prints, on 2 CPU threads, for N points, k = 20, n_steps = 15, on the eager graph
(every edge weight decoded at build time; ``bench_lazy.py`` measures the lazy one):

- the graph build time, the number of distinct points decoded, the time to
  decode that many points in one batched pass (the floor) and their ratio
  (goal <= 1.3), and whether any point was decoded twice;
- the time of 100 A* queries between random graph nodes (goal <= 0.5 s), the
  lengths checked against Dijkstra (scipy.sparse.csgraph), and the time of a
  few queries whose end points are new data points (inserted with their k
  nearest neighbours, which decodes their segments);
- the time of the hop diameter (scipy.sparse.csgraph).

The model: the book's quick-scale m = 8 run (``atlasnb.runs.load_or_train``,
trained if missing). With ``--untrained``, an untrained model of the same widths;
its nearly uniform psi would put every point in most charts, so its partition is
standardised per chart and sharpened (softmax temperature) until the graph has
about Table 1's 1.27 nodes per point, so the decoding work matches a trained model's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.sparse import csgraph

from atlasnb import geodesics
from atlasnb.config import make_config
from atlasnb.data import load_images
from atlasnb.models import AtlasWAEGAN
from atlasnb.runs import load_or_train

# The data beside the repository, as in .ci/setup, unless ATLASNB_DATA says otherwise.
os.environ.setdefault("ATLASNB_DATA", str(Path(__file__).resolve().parents[3] / "shared" / "data"))


class SpreadPartition:
    """An AGM whose psi is the model's, standardised per chart and sharpened.

    An untrained partition network gives nearly uniform psi with the same
    largest chart for most points. Here log psi is centred and scaled per chart
    over the benchmark data (so every chart gets points) and divided by
    ``temperature`` before the softmax (so most points are confidently in one
    chart, as Figure 2b shows for a trained model).
    """

    def __init__(self, model, x, temperature: float):
        self.model, self.temperature = model, temperature
        self.n_charts, self.latent_dim = model.n_charts, model.latent_dim
        with torch.inference_mode():
            model.eval()
            logits = torch.log(model.partition(x))
        self.mean, self.std = logits.mean(dim=0), logits.std(dim=0)

    def partition(self, x):
        logits = (torch.log(self.model.partition(x)) - self.mean) / self.std
        return torch.softmax(logits / self.temperature, dim=1)

    def encode(self, x):
        return self.model.encode(x)

    def decode(self, z, y):
        return self.model.decode(z, y)

    def eval(self):
        self.model.eval()
        return self

    def parameters(self):
        return self.model.parameters()


def load_model(untrained: bool):
    """The quick-scale m = 8 AWAE-GAN of the book (trained if its run is missing), or
    an untrained one with the same widths."""
    config = make_config("quick", "mnist", 8)
    if untrained:
        return (AtlasWAEGAN(8, h=config.model_width),
                f"untrained AtlasWAEGAN(8, h={config.model_width})")
    return load_or_train(config).model, f"trained quick AtlasWAEGAN(8, h={config.model_width})"


def load_data(n: int):
    train, _ = load_images("mnist", "train", limit=n, seed=0)
    test, _ = load_images("mnist", "test", limit=20, seed=1)
    return train, test, "MNIST"


def spread_partition(model, x, eps: float, nodes_per_point: float = 1.27) -> SpreadPartition:
    """``model`` with a spread, sharpened psi: psi > eps in ``nodes_per_point`` charts
    on average (Table 1, m = 8: 2,546 nodes from 2,000 points)."""
    spread = SpreadPartition(model, x, 1.0)
    with torch.inference_mode():
        logits = (torch.log(model.partition(x)) - spread.mean) / spread.std
    for temperature in np.geomspace(1.0, 1e-3, 100):
        if (torch.softmax(logits / temperature, dim=1) > eps).sum(dim=1).float().mean() \
                <= nodes_per_point:
            break
    spread.temperature = float(temperature)
    return spread


def decode_floor(model, n_points: int, batch_size: int) -> float:
    """Seconds to decode ``n_points`` codes in one batched pass, charts in turn."""
    m, d = model.n_charts, model.latent_dim
    z = torch.randn(n_points, d)
    start = time.perf_counter()
    with torch.inference_mode():
        model.eval()
        for y, chunk in enumerate(torch.chunk(z, m)):
            for s in range(0, len(chunk), batch_size):
                model.decode(chunk[s:s + batch_size], y)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--untrained", action="store_true")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--n-steps", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=4096)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)

    model, what = load_model(args.untrained)
    x, test, data = load_data(args.n)
    eps = geodesics.default_eps(model.n_charts)
    if args.untrained:
        model = spread_partition(model, x, eps)
        what += f", psi spread over charts and sharpened (temperature {model.temperature:.3g})"
    print(f"model: {what}; data: {args.n} {data} points; k={args.k}, "
          f"n_steps={args.n_steps}, eps={eps:g}, threads={torch.get_num_threads()}")

    start = time.perf_counter()
    graph = geodesics.build_atlas_graph(model, x, k=args.k, n_steps=args.n_steps,
                                        batch_size=args.batch_size, progress=True,
                                        lazy=False)
    build = time.perf_counter() - start
    n_within = int((~graph.edge_cross).sum())
    expected = graph.n_nodes + n_within * (args.n_steps - 1)
    floor = decode_floor(model, graph.n_decoded, args.batch_size)
    print(f"graph: {graph}")
    print(f"build time            {build:8.2f} s")
    print(f"points decoded        {graph.n_decoded:8d}  (nodes {graph.n_nodes} + "
          f"within-chart edges {n_within} x {args.n_steps - 1} = {expected}; "
          f"decoded twice: {graph.n_decoded - expected})")
    print(f"decode floor          {floor:8.2f} s  ({graph.n_decoded / floor:.0f} points/s)")
    print(f"build / floor         {build / floor:8.2f}   (goal <= 1.3)")

    rng = np.random.default_rng(0)
    pairs = rng.integers(0, graph.n_nodes, size=(100, 2))
    labels = graph.component_labels()
    pairs = pairs[labels[pairs[:, 0]] == labels[pairs[:, 1]]]
    graph.neighbours()  # built once; its cost belongs to the first use, timed here
    start = time.perf_counter()
    paths = [geodesics.shortest_path(graph, int(a), int(b)) for a, b in pairs]
    astar = time.perf_counter() - start
    reference = csgraph.dijkstra(graph.adjacency, directed=False, indices=pairs[:, 0])
    worst = max(abs(p.length - reference[i, b]) / max(reference[i, b], 1e-12)
                for i, (p, (_, b)) in enumerate(zip(paths, pairs)))
    print(f"A* {len(pairs)} node queries  {astar:8.3f} s  (goal <= 0.5 s; largest relative "
          f"difference to Dijkstra {worst:.1e}; mean hops "
          f"{np.mean([len(p.nodes) - 1 for p in paths]):.1f})")

    start = time.perf_counter()
    inserted = [geodesics.shortest_path(graph, test[2 * i], test[2 * i + 1]) for i in range(10)]
    insert = time.perf_counter() - start
    print(f"A* 10 data-point queries {insert:5.2f} s  ({sum(p.n_decoded for p in inserted)} "
          "points decoded to insert the end points)")

    start = time.perf_counter()
    diameter = geodesics.hop_diameter(graph)
    print(f"hop diameter          {time.perf_counter() - start:8.2f} s  (= {diameter})")
    print(f"statistics            {geodesics.graph_statistics(graph)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
