"""Algorithm 1, part 1: the latent graph over the charts of an AGM.

Derived in {ref}`sec-graph-geodesics`. With m = 1 it is the single-chart graph of
Chen et al. (2019), by the same code. Each node's image is decoded once and
reused as the end point of its edges; each undirected within-chart edge decodes
only its ``n_steps - 1`` interior points, in large per-chart batches.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import torch
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from atlasnb.agm import check_agm
from atlasnb.geodesics._common import (_as_points, _check_eps, _check_int, _Decoder,
                                       _evaluating, _psi_and_codes)
from atlasnb.geodesics.curve import DEFAULT_N_STEPS, _step_lengths

#: The paper's number of neighbours k (section 4).
DEFAULT_K = 20
#: The cap on the default cut-off eps (see :func:`default_eps`).
EPS_CAP = 0.1


def default_eps(n_charts: int) -> float:
    """The default cut-off eps for a model with ``n_charts`` charts: min(0.1, 0.5 / m).

    A point x becomes a node of chart i when psi_i(x) > eps. The paper leaves eps
    open; we pick it for three reasons:

    - eps < 1/m guarantees that every point lies in at least one chart, since the
      largest of m weights summing to 1 is at least 1/m; 0.5/m keeps a margin;
    - an atlas model trains chart i on x in proportion to psi_i(x) (the
      reconstruction is weighted by psi), so where psi_i is tiny F_i and G_i were
      hardly trained and their codes are unreliable; the cap 0.1 keeps only
      memberships carrying at least a tenth of the weight;
    - with m = 1, psi = 1 > eps, so every point is a node: the single-chart graph.

    For m = 2, 4, 8, 16 this gives 0.1, 0.1, 0.0625, 0.03125.
    """
    _check_int("n_charts", n_charts, minimum=1)
    return min(EPS_CAP, 0.5 / n_charts)


@dataclass(eq=False)
class AtlasGraph:
    """The latent graph of Algorithm 1 over the charts of an AGM.

    Nodes are pairs (x, y) of a data point and a chart with psi_y(x) > eps,
    ordered by chart then data index; chart y's nodes are
    ``range(chart_offsets[y], chart_offsets[y + 1])``. Integer bookkeeping is
    numpy; latent codes and images are torch tensors (what the model takes and
    returns). Charts are numbered from 0, as ``model.decode`` takes them.

    Attributes
    ----------
    model: the AGM the graph was built from (used to insert end points).
    node_index: (n,) index of each node's data point in the ``x`` given.
    node_chart: (n,) chart y of each node.
    node_latent: (n, d) F_y(x) of each node.
    node_images: (n, ...) G_y(F_y(x)) of each node, decoded once.
    chart_offsets: (m + 1,) first node of each chart.
    edges: (E, 2) node pairs u < v of the undirected edges; within-chart edges
        first, then cross-chart edges.
    edge_weights: (E,) eq. (10) lengths (within a chart) or
        ||G_i F_i(x) - G_j F_j(x)|| (across charts).
    edge_cross: (E,) True for cross-chart edges.
    edge_steps: (E, n_steps) the terms of eq. (10) from u to v (summing to the
        weight); a cross-chart edge, one straight jump in data space, holds
        weight / n_steps in every column.
    adjacency: symmetric (n, n) ``scipy.sparse.csr_matrix`` of the weights
        (explicit zeros are kept as edges).
    k, eps, n_steps: the parameters used.
    n_decoded: the number of points decoded to build the graph
        (nodes + within-chart edges * (n_steps - 1)).
    point_shape: the shape of one data point.
    """

    model: object
    node_index: np.ndarray
    node_chart: np.ndarray
    node_latent: torch.Tensor
    node_images: torch.Tensor
    chart_offsets: np.ndarray
    edges: np.ndarray
    edge_weights: np.ndarray
    edge_cross: np.ndarray
    edge_steps: np.ndarray
    k: int
    eps: float
    n_steps: int
    n_decoded: int
    point_shape: tuple
    _cache: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (f"AtlasGraph({self.n_nodes} nodes in {self.n_charts} charts, "
                f"{len(self.edges)} edges ({int(self.edge_cross.sum())} cross-chart), "
                f"k={self.k}, eps={self.eps:g}, n_steps={self.n_steps})")

    @property
    def n_nodes(self) -> int:
        return len(self.node_index)

    @property
    def n_charts(self) -> int:
        return len(self.chart_offsets) - 1

    @property
    def adjacency(self) -> sparse.csr_matrix:
        if "adjacency" not in self._cache:
            u, v = self.edges[:, 0], self.edges[:, 1]
            self._cache["adjacency"] = sparse.csr_matrix(
                (np.concatenate([self.edge_weights, self.edge_weights]),
                 (np.concatenate([u, v]), np.concatenate([v, u]))),
                shape=(self.n_nodes, self.n_nodes))
        return self._cache["adjacency"]

    def chart_nodes(self, chart: int) -> np.ndarray:
        """The node ids of ``chart``."""
        return np.arange(self.chart_offsets[chart], self.chart_offsets[chart + 1])

    def component_labels(self) -> np.ndarray:
        """(n,) the connected component of each node (scipy.sparse.csgraph)."""
        if "components" not in self._cache:
            _, labels = csgraph.connected_components(self.adjacency, directed=False)
            self._cache["components"] = labels
        return self._cache["components"]

    def to_networkx(self) -> nx.Graph:
        """The graph as a networkx ``Graph`` (built once, cached), for A*.

        Nodes are the integer node ids; edges carry ``weight`` and ``edge_id``.
        """
        if "networkx" not in self._cache:
            graph = nx.Graph()
            graph.add_nodes_from(range(self.n_nodes))
            graph.add_edges_from(
                (int(u), int(v), {"weight": float(w), "edge_id": e})
                for e, ((u, v), w) in enumerate(zip(self.edges, self.edge_weights)))
            self._cache["networkx"] = graph
        return self._cache["networkx"]

    def chart_tree(self, chart: int) -> cKDTree | None:
        """A k-d tree over the latent codes of ``chart`` (cached); None if it is empty."""
        key = ("tree", chart)
        if key not in self._cache:
            codes = self.node_latent[self.chart_nodes(chart)]
            self._cache[key] = cKDTree(codes.double().numpy()) if len(codes) else None
        return self._cache[key]

    def flat_images(self) -> tuple[torch.Tensor, np.ndarray]:
        """(n, D) node images flattened to float64 and their (n,) squared norms,
        for the A* heuristic (cached)."""
        if "flat" not in self._cache:
            flat = self.node_images.reshape(self.n_nodes, -1).double()
            self._cache["flat"] = flat, (flat ** 2).sum(dim=1).numpy()
        return self._cache["flat"]

    def statistics(self) -> dict:
        """Table 1's numbers for this graph; see :func:`graph_statistics`."""
        from atlasnb.geodesics.statistics import graph_statistics

        return graph_statistics(self)


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


def build_atlas_graph(model, x, k: int = DEFAULT_K, eps: float | None = None,
                      n_steps: int = DEFAULT_N_STEPS, batch_size: int = 4096,
                      progress: bool = True) -> AtlasGraph:
    """Algorithm 1, part 1: the latent graph of an AGM over the data points ``x``.

    For each chart i the points with psi_i(x) > ``eps`` are encoded by F_i and
    joined to their ``k`` nearest neighbours in chart i (undirected), each edge
    weighted by eq. (10) with ``n_steps`` steps; a point in charts i and j joins
    its two nodes by an edge of weight ||G_i F_i(x) - G_j F_j(x)||. With one chart
    (psi = 1) this is the single-chart graph of Chen et al. (2019).

    ``eps=None`` takes :func:`default_eps` (min(0.1, 0.5 / m)). The model is put in
    eval mode (and back in train mode afterwards if it was training), and all
    work runs under ``torch.inference_mode()``. Each node image is decoded once
    and each within-chart edge decodes its ``n_steps - 1`` interior points once,
    in per-chart batches of ``batch_size``; ``progress`` shows a tqdm bar.
    Returns an :class:`AtlasGraph`. Derived in {ref}`sec-graph-geodesics`.
    """
    check_agm(model)
    _check_int("k", k, minimum=1)
    _check_int("n_steps", n_steps, minimum=1)
    _check_int("batch_size", batch_size, minimum=1)
    m = model.n_charts
    eps = default_eps(m) if eps is None else _check_eps(eps)
    x = _as_points(x)

    with _evaluating(model):
        psi, codes = _psi_and_codes(model, x, batch_size)
        member = psi > eps
        _check_membership(member, eps, m)
        node_index, node_chart, chart_offsets = _select_nodes(member)
        node_latent = codes[torch.from_numpy(node_index), torch.from_numpy(node_chart)]
        within = [_knn_edges(node_latent[chart_offsets[y]:chart_offsets[y + 1]]
                             .double().numpy(), k) + chart_offsets[y] for y in range(m)]
        n_interior = sum(len(e) for e in within) * (n_steps - 1)
        with tqdm(total=len(node_index) + n_interior, desc="Algorithm 1: decoding",
                  unit="pt", disable=not progress) as bar:
            decoder = _Decoder(model, batch_size, bar)
            node_images = torch.cat([
                decoder(node_latent[chart_offsets[y]:chart_offsets[y + 1]], y)
                for y in range(m) if chart_offsets[y + 1] > chart_offsets[y]])
            within_steps = [_chart_edge_steps(decoder, y, e, node_latent, node_images,
                                              n_steps, batch_size)
                            for y, e in enumerate(within)]

    cross = _cross_chart_edges(member, chart_offsets)
    edges = np.concatenate(within + [cross])
    steps = np.concatenate(within_steps + [_jump_steps(cross, node_images, n_steps)])
    return AtlasGraph(
        model=model, node_index=node_index, node_chart=node_chart,
        node_latent=node_latent.clone(), node_images=node_images.clone(),
        chart_offsets=chart_offsets, edges=edges, edge_weights=steps.sum(axis=1),
        edge_cross=np.arange(len(edges)) >= len(edges) - len(cross), edge_steps=steps,
        k=int(k), eps=eps, n_steps=int(n_steps), n_decoded=decoder.n_decoded,
        point_shape=tuple(x.shape[1:]))


def _select_nodes(member: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node data indices and charts, ordered by chart, and each chart's first node,
    from the (N, m) table of psi_y(x) > eps."""
    counts = member.sum(axis=0)
    node_index = np.concatenate([np.flatnonzero(column) for column in member.T])
    node_chart = np.repeat(np.arange(member.shape[1]), counts)
    return node_index, node_chart, np.concatenate([[0], np.cumsum(counts)])


def _jump_steps(cross: np.ndarray, node_images: torch.Tensor, n_steps: int) -> np.ndarray:
    """(E, n_steps) rows for cross-chart edges: the jump ||G_i F_i(x) - G_j F_j(x)||
    spread evenly over the n_steps columns."""
    u, v = torch.from_numpy(cross[:, 0]), torch.from_numpy(cross[:, 1])
    jumps = (node_images[u].flatten(1).double()
             - node_images[v].flatten(1).double()).norm(dim=1).numpy()
    return np.repeat(jumps[:, None] / n_steps, n_steps, axis=1)


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


def _chart_edge_steps(decoder: _Decoder, chart: int, edges: np.ndarray,
                      node_latent: torch.Tensor, node_images: torch.Tensor,
                      n_steps: int, batch_size: int) -> np.ndarray:
    """(E, n_steps) eq. (10) terms of chart ``chart``'s edges, node images reused."""
    u, v = torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1])
    return _step_lengths(lambda z: decoder(z, chart), node_latent[u], node_latent[v],
                         node_images[u], node_images[v], n_steps, batch_size)


def _cross_chart_edges(member: np.ndarray, chart_offsets: np.ndarray) -> np.ndarray:
    """(E, 2) node pairs joining the nodes of the same data point in charts i < j."""
    node_of = np.full(member.shape, -1, dtype=np.int64)
    for y in range(member.shape[1]):
        node_of[member[:, y], y] = np.arange(chart_offsets[y], chart_offsets[y + 1])
    pairs = [np.stack([node_of[both, i], node_of[both, j]], axis=1)
             for i in range(member.shape[1]) for j in range(i + 1, member.shape[1])
             for both in [member[:, i] & member[:, j]]]
    return np.concatenate(pairs).astype(np.int64) if pairs else np.zeros((0, 2), np.int64)
