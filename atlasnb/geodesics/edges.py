"""The edges of Algorithm 1's graph: nodes per chart, k nearest neighbours within
a chart, the cross-chart pairs, the chord lower bounds and the eq. (10) terms.

Derived in {ref}`sec-graph-geodesics`; :class:`~atlasnb.geodesics.graph.AtlasGraph`
assembles them.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.spatial import cKDTree

from atlasnb.geodesics.curve import step_lengths
from atlasnb.geodesics.decoding import Decoder


def _select_nodes(member: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node data indices and charts, ordered by chart, and each chart's first node,
    from the (N, m) table of psi_y(x) > eps."""
    counts = member.sum(axis=0)
    node_index = np.concatenate([np.flatnonzero(column) for column in member.T])
    node_chart = np.repeat(np.arange(member.shape[1]), counts)
    return node_index, node_chart, np.concatenate([[0], np.cumsum(counts)])


def _check_membership(member: np.ndarray, eps: float, m: int) -> None:
    """Fail if no point lies in any chart; warn about points that lie in none."""
    if not member.any():
        raise ValueError(f"no data point has psi_y(x) > eps = {eps} in any of the {m} "
                         f"charts; choose eps < 1/m = {1 / m:.4g}, which puts every point "
                         "in at least one chart")
    uncovered = int((~member.any(axis=1)).sum())
    if uncovered:
        warnings.warn(f"{uncovered} of {len(member)} points have psi_y(x) <= eps = {eps} in "
                      f"every chart and are left out of the graph; eps < 1/m = {1 / m:.4g} "
                      "keeps every point", stacklevel=3)


def _knn_edges(codes: np.ndarray, k: int) -> np.ndarray:
    """Undirected k-nearest-neighbour edges (local index pairs a < b) among ``codes``.

    Each point is joined to its k nearest other points (Euclidean, cKDTree); an
    edge found from both ends is kept once. Fewer than k + 1 points: all pairs.
    """
    n = len(codes)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    n_query = min(k + 1, n)
    _, neighbours = cKDTree(codes).query(codes, k=n_query)
    neighbours = neighbours.reshape(n, n_query)
    rows = np.repeat(np.arange(n), n_query)
    cols = neighbours.ravel()
    # Drop each point itself; with duplicate codes the point may not come first,
    # so keep at most k others per row.
    keep = rows != cols
    rank = np.cumsum(keep.reshape(n, n_query), axis=1).ravel()
    keep &= rank <= k
    pairs = np.sort(np.stack([rows[keep], cols[keep]], axis=1), axis=1)
    return np.unique(pairs, axis=0).astype(np.int64)


def _cross_chart_edges(member: np.ndarray, chart_offsets: np.ndarray) -> np.ndarray:
    """(E, 2) node pairs joining the nodes of the same data point in charts i < j."""
    node_of = np.full(member.shape, -1, dtype=np.int64)
    for y in range(member.shape[1]):
        node_of[member[:, y], y] = np.arange(chart_offsets[y], chart_offsets[y + 1])
    pairs = [np.stack([node_of[both, i], node_of[both, j]], axis=1)
             for i in range(member.shape[1]) for j in range(i + 1, member.shape[1])
             for both in [member[:, i] & member[:, j]]]
    return np.concatenate(pairs).astype(np.int64) if pairs else np.zeros((0, 2), np.int64)


def _chords(node_images: torch.Tensor, edges: np.ndarray) -> np.ndarray:
    """(E,) the data-space chords ||G(u) - G(v)|| of the edges, in float64."""
    u, v = torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1])
    return (node_images[u].flatten(1).double()
            - node_images[v].flatten(1).double()).norm(dim=1).numpy()


def _chart_edge_steps(decoder: Decoder, chart: int, edges: np.ndarray,
                      node_latent: torch.Tensor, node_images: torch.Tensor,
                      n_steps: int, batch_size: int) -> np.ndarray:
    """(E, n_steps) eq. (10) terms of chart ``chart``'s edges, node images reused."""
    u, v = torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1])
    return step_lengths(lambda z: decoder(z, chart), node_latent[u], node_latent[v],
                         node_images[u], node_images[v], n_steps, batch_size)
