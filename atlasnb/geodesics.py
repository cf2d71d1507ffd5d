"""Graph geodesics in Atlas Generative Models: Algorithm 1, A* and interpolation.

Derived in {ref}`sec-graph-geodesics`. Everything here talks to a model only
through the AGM interface (:mod:`atlasnb.agm`): ``n_charts`` (m),
``latent_dim`` (d), ``partition`` (psi), ``encode`` (F) and ``decode`` (G).

- :func:`curve_length`: eq. (10), the length of a straight latent segment
  measured in data space.
- :func:`build_atlas_graph`: Algorithm 1, part 1. With m = 1 it is the
  single-chart graph of Chen et al. (2019), by the same code.
- :func:`shortest_path`: Algorithm 1, part 2, A* with the data-space
  straight-line heuristic.
- :func:`interpolate`: points equally spaced in length along a path, decoded and
  labelled with their chart (Figure 3b).
- :func:`graph_statistics`: the numbers of Table 1.

Decoding is the cost of Algorithm 1, so every point is decoded once: each
node's image G_y(F_y(x)) is decoded once and reused as the end point of its
edges, and each undirected within-chart edge decodes only its ``n_steps - 1``
interior points, in large per-chart batches.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import Callable

import networkx as nx
import numpy as np
import torch
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from atlasnb.agm import check_agm

#: The paper's graph settings (section 4): k = 20 neighbours, n = 15 steps in eq. (10).
DEFAULT_K = 20
DEFAULT_N_STEPS = 15
#: The cap on the default cut-off eps (see :func:`default_eps`).
EPS_CAP = 0.1


class DisconnectedGraphError(ValueError):
    """The two end points of a path search lie in different connected components."""


# --------------------------------------------------------------------------- checks


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


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


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) \
            or not 0 <= eps < 1:
        raise ValueError(f"eps must be a number in [0, 1), got {eps!r}")
    return float(eps)


def _as_points(x, name: str = "x") -> torch.Tensor:
    """``x`` as a torch tensor of shape (N, ...) with N >= 1 and at least one feature axis."""
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor or numpy array of data points "
                        f"shaped (N, ...), got {type(x).__name__}")
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(f"{name} must hold N >= 1 data points shaped (N, ...) with at least "
                         f"one feature axis, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    return x


# ------------------------------------------------------------------ model helpers


def _model_device(model) -> torch.device:
    """The device of the model's parameters; CPU for parameter-free models."""
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        try:
            return next(iter(parameters())).device
        except (StopIteration, TypeError):
            pass
    return torch.device("cpu")


@contextlib.contextmanager
def _evaluating(model):
    """Put ``model`` in eval mode (if it has one) under inference mode; restore after.

    BatchNorm and dropout must act deterministically while decoding, so a torch
    module is switched to ``eval()`` and, if it was training, back to ``train()``.
    """
    was_training = getattr(model, "training", False) is True
    if callable(getattr(model, "eval", None)):
        model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        if was_training and callable(getattr(model, "train", None)):
            model.train(True)


class _Decoder:
    """Decodes codes of one chart in batches on the model's device, counting rows."""

    def __init__(self, model, batch_size: int, bar=None):
        self.model, self.batch_size, self.bar = model, batch_size, bar
        self.device = _model_device(model)
        self.n_decoded = 0

    def __call__(self, z: torch.Tensor, chart: int) -> torch.Tensor:
        images = []
        for start in range(0, len(z), self.batch_size):
            batch = z[start:start + self.batch_size].to(self.device)
            images.append(self.model.decode(batch, int(chart)).cpu())
            self.n_decoded += len(batch)
            if self.bar is not None:
                self.bar.update(len(batch))
        if not images:
            return torch.empty(0)
        return torch.cat(images)


def _psi_and_codes(model, x: torch.Tensor, batch_size: int) -> tuple[np.ndarray, torch.Tensor]:
    """psi(x) as a (N, m) numpy array and F(x) as a (N, m, d) tensor, checked."""
    device = _model_device(model)
    psi, codes = [], []
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size].to(device)
        try:
            psi.append(model.partition(batch).cpu())
            codes.append(model.encode(batch).cpu())
        except Exception as error:  # wrong point shape or dtype for this model
            raise ValueError(f"the model could not take data points shaped "
                             f"{tuple(x.shape[1:])} (dtype {x.dtype}): {error}") from error
    psi, codes = torch.cat(psi), torch.cat(codes)
    m, d, n = model.n_charts, model.latent_dim, len(x)
    if tuple(psi.shape) != (n, m):
        raise ValueError(f"model.partition returned shape {tuple(psi.shape)}, "
                         f"expected (N, n_charts) = {(n, m)}")
    if tuple(codes.shape) != (n, m, d):
        raise ValueError(f"model.encode returned shape {tuple(codes.shape)}, "
                         f"expected (N, n_charts, latent_dim) = {(n, m, d)}")
    return psi.double().numpy(), codes


# ------------------------------------------------------------------------ eq. (10)


def _step_lengths(decode_chart: Callable[[torch.Tensor], torch.Tensor], z0: torch.Tensor,
                  z1: torch.Tensor, image0: torch.Tensor, image1: torch.Tensor,
                  n_steps: int, batch_size: int) -> np.ndarray:
    """The n_steps terms ||G(gamma(t_i)) - G(gamma(t_{i+1}))|| of eq. (10) per segment.

    gamma is the straight segment from ``z0`` to ``z1`` (both (E, d)); the images
    at t = 0 and t = 1 are given, so only the ``n_steps - 1`` interior points
    t_i = i / n_steps are decoded, in batches of about ``batch_size`` points.
    Returns an (E, n_steps) float64 array.
    """
    n_edges = len(z0)
    steps = np.zeros((n_edges, n_steps))
    t = torch.arange(1, n_steps, dtype=z0.dtype) / n_steps
    edges_per_batch = max(1, batch_size // max(1, n_steps - 1))
    for start in range(0, n_edges, edges_per_batch):
        stop = min(start + edges_per_batch, n_edges)
        a, b = z0[start:stop], z1[start:stop]
        ends0 = image0[start:stop].reshape(stop - start, 1, -1).double()
        ends1 = image1[start:stop].reshape(stop - start, 1, -1).double()
        if n_steps > 1:
            interior = a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]
            decoded = decode_chart(interior.reshape(-1, a.shape[1]))
            decoded = decoded.reshape(stop - start, n_steps - 1, -1).double()
            points = torch.cat([ends0, decoded, ends1], dim=1)
        else:
            points = torch.cat([ends0, ends1], dim=1)
        steps[start:stop] = (points[:, 1:] - points[:, :-1]).norm(dim=-1).numpy()
    return steps


def curve_length(decode: Callable[[torch.Tensor], torch.Tensor], z0, z1,
                 n_steps: int = DEFAULT_N_STEPS, batch_size: int = 4096) -> torch.Tensor:
    """Eq. (10): the data-space length of the straight latent segments z0 -> z1.

    ``decode`` maps latent codes (B, d) to images (B, ...) (one chart, e.g.
    ``lambda z: model.decode(z, y)``); ``z0`` and ``z1`` are (E, d) or (d,).
    The segment gamma(t) = z0 + t (z1 - z0) is cut at t_i = i / n_steps and the
    lengths ||G(gamma(t_i)) - G(gamma(t_{i+1}))||_2 are summed, decoding
    ``(n_steps + 1) E`` points in batches of ``batch_size`` under
    ``torch.inference_mode()`` (put a torch model in eval mode first). Returns
    (E,) float64 lengths, or a 0-d tensor for (d,) inputs. Derived in
    {ref}`sec-graph-geodesics`.
    """
    _check_int("n_steps", n_steps, minimum=1)
    _check_int("batch_size", batch_size, minimum=1)
    z0, z1 = torch.as_tensor(z0), torch.as_tensor(z1)
    single = z0.ndim == 1
    z0, z1 = torch.atleast_2d(z0), torch.atleast_2d(z1)
    if z0.shape != z1.shape or z0.ndim != 2:
        raise ValueError(f"z0 and z1 must both be shaped (E, d) or (d,), got "
                         f"{tuple(z0.shape)} and {tuple(z1.shape)}")
    with torch.inference_mode():
        ends = torch.cat([decode(z) for z in torch.cat([z0, z1]).split(batch_size)])
        steps = _step_lengths(decode, z0, z1, ends[:len(z0)], ends[len(z0):], n_steps,
                              batch_size)
    lengths = torch.from_numpy(steps.sum(axis=1))
    return lengths[0] if single else lengths


# ----------------------------------------------------------------------- the graph


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


# ---------------------------------------------------------------------- statistics


def hop_diameter(graph: AtlasGraph, chunk: int = 512) -> int:
    """The hop diameter of the largest connected component: the longest shortest
    path counted in edges (Table 1's "graph diameter"), by breadth-first search
    from every node (scipy.sparse.csgraph), ``chunk`` sources at a time."""
    labels = graph.component_labels()
    largest = np.flatnonzero(labels == np.bincount(labels).argmax())
    if len(largest) == 1:
        return 0
    # One per edge (not the weights: a zero-weight edge is still a hop).
    ones = sparse.csr_matrix((np.ones(len(graph.edges)), (graph.edges[:, 0], graph.edges[:, 1])),
                             shape=(graph.n_nodes, graph.n_nodes))
    hops = ones[largest][:, largest]
    diameter = 0
    for start in range(0, len(largest), chunk):
        sources = np.arange(start, min(start + chunk, len(largest)))
        distances = csgraph.shortest_path(hops, method="D", directed=False,
                                          unweighted=True, indices=sources)
        diameter = max(diameter, int(distances.max()))
    return diameter


def graph_statistics(graph: AtlasGraph) -> dict:
    """Table 1's numbers and a few more, as a dict.

    ``nodes``, ``edges`` (undirected), ``within_chart_edges``,
    ``cross_chart_edges``, ``nodes_per_chart`` (list), ``components`` (connected),
    ``largest_component`` (its node count) and ``hop_diameter`` (of the largest
    component; see :func:`hop_diameter`).
    """
    labels = graph.component_labels()
    n_cross = int(graph.edge_cross.sum())
    return {
        "nodes": graph.n_nodes,
        "edges": len(graph.edges),
        "within_chart_edges": len(graph.edges) - n_cross,
        "cross_chart_edges": n_cross,
        "nodes_per_chart": np.diff(graph.chart_offsets).tolist(),
        "components": int(labels.max()) + 1,
        "largest_component": int(np.bincount(labels).max()),
        "hop_diameter": hop_diameter(graph),
    }


# --------------------------------------------------------------------- path search


@dataclass
class GeodesicPath:
    """A shortest path through an :class:`AtlasGraph`, end points included.

    Attributes
    ----------
    length: the path length, the sum of its edge weights.
    nodes: (L,) graph node ids along the path; -1 for an inserted end point.
    charts: (L,) the chart y of each vertex (numbered from 0).
    latents: (L, d) the latent code of each vertex in its chart.
    images: (L, ...) the decoded image G_y(z) of each vertex.
    data_indices: (L,) index of each vertex's data point in the graph's ``x``;
        -1 for an inserted end point.
    steps: L - 1 arrays, the eq. (10) terms of each segment in the direction of
        travel (n_steps values; a cross-chart segment spreads its weight evenly).
    cross: (L - 1,) True where a segment changes chart.
    n_decoded: points decoded to insert the end points.
    """

    length: float
    nodes: np.ndarray
    charts: np.ndarray
    latents: torch.Tensor
    images: torch.Tensor
    data_indices: np.ndarray
    steps: list
    cross: np.ndarray
    n_decoded: int = 0

    @property
    def segment_lengths(self) -> np.ndarray:
        """(L - 1,) the length of each segment."""
        return np.array([s.sum() for s in self.steps])


@dataclass
class _Terminal:
    """An end point placed in one chart: an existing node, or a new code (label a tuple)."""

    label: object
    chart: int
    latent: torch.Tensor
    image: torch.Tensor | None = None

    @property
    def node(self) -> int:
        return self.label if isinstance(self.label, int) else -1


def _terminals(graph: AtlasGraph, point, side: str) -> list[_Terminal]:
    """The chart placements of an end point: a node id, a (z, y) pair or a data point."""
    m, d = graph.n_charts, graph.node_latent.shape[1]
    if isinstance(point, (int, np.integer)) and not isinstance(point, bool):
        if not 0 <= point < graph.n_nodes:
            raise ValueError(f"{side} as a node id must lie in [0, {graph.n_nodes}), "
                             f"got {point}")
        point = int(point)
        return [_Terminal(point, int(graph.node_chart[point]), graph.node_latent[point],
                          graph.node_images[point])]
    if isinstance(point, tuple):
        if len(point) != 2:
            raise ValueError(f"{side} as a latent point must be a (z, y) pair, got a tuple "
                             f"of length {len(point)}")
        z, y = torch.as_tensor(point[0]), point[1]
        if isinstance(y, bool) or not isinstance(y, (int, np.integer)) or not 0 <= y < m \
                or tuple(z.shape) not in ((d,), (1, d)):
            raise ValueError(f"{side} = (z, y) needs z of shape ({d},) and an integer chart "
                             f"y in [0, {m}), got z of shape {tuple(z.shape)} and y = {y!r}")
        return [_Terminal((side, 0), int(y), z.reshape(d).to(graph.node_latent.dtype))]
    x = torch.from_numpy(point) if isinstance(point, np.ndarray) else point
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{side} must be a data point (tensor shaped {graph.point_shape}), "
                        f"a (z, y) pair or an int node id, got {type(point).__name__}")
    if tuple(x.shape) not in (graph.point_shape, (1,) + graph.point_shape):
        raise ValueError(f"{side} as a data point must be shaped {graph.point_shape} (one "
                         f"row of x), got {tuple(x.shape)}")
    x = x.reshape((1,) + graph.point_shape)
    x = x if x.is_floating_point() else x.float()
    psi, codes = _psi_and_codes(graph.model, x, batch_size=1)
    charts = np.flatnonzero(psi[0] > graph.eps)
    if len(charts) == 0:
        raise ValueError(f"{side} has psi_y(x) <= eps = {graph.eps} in every chart, so it "
                         "lies in no chart of the graph")
    return [_Terminal((side, i), int(y), codes[0, y].to(graph.node_latent.dtype))
            for i, y in enumerate(charts)]


def _temporary_edges(graph: AtlasGraph, terminals: list[_Terminal], decoder: _Decoder):
    """Edges of new placements: to their k nearest nodes in their chart (eq. (10),
    the node images reused) and between a point's placements in different charts.

    Returns (a, b, steps) triples, ``steps`` the eq. (10) terms from a to b.
    """
    for terminal in terminals:
        if terminal.image is None:
            terminal.image = decoder(terminal.latent[None], terminal.chart)[0]
    edges = []
    for terminal in terminals:
        tree = graph.chart_tree(terminal.chart) if terminal.node < 0 else None
        if tree is None:
            continue
        _, local = tree.query(terminal.latent.double().numpy(), k=min(graph.k, tree.n))
        neighbours = graph.chart_offsets[terminal.chart] + np.atleast_1d(local)
        targets, count = torch.from_numpy(neighbours), len(neighbours)
        steps = _step_lengths(lambda z: decoder(z, terminal.chart),
                              terminal.latent[None].expand(count, -1),
                              graph.node_latent[targets],
                              terminal.image[None].expand(count, *terminal.image.shape),
                              graph.node_images[targets], graph.n_steps, decoder.batch_size)
        edges += [(terminal.label, int(v), s) for v, s in zip(neighbours, steps)]
    for i, a in enumerate(terminals):
        for b in terminals[i + 1:]:
            jump = float((a.image.double() - b.image.double()).norm())
            edges.append((a.label, b.label, np.full(graph.n_steps, jump / graph.n_steps)))
    return edges


def shortest_path(graph: AtlasGraph, start, end, batch_size: int = 4096) -> GeodesicPath:
    """Algorithm 1, part 2: the shortest graph path from ``start`` to ``end`` by A*.

    Each end point is one of:

    - a data point shaped like one row of ``x``: it is encoded in every chart
      where psi > eps, and each placement is joined to its k nearest nodes in
      that chart by eq. (10) edges (only their interior points are decoded) and
      to the point's placements in other charts by the jump between decodings;
    - a latent point ``(z, y)``: placed in chart y only, joined to its k
      nearest nodes there;
    - an int: an existing node id of the graph.

    A* (``networkx.astar_path``) uses h(n) = ||G(n) - G(goal)||_2, the straight
    line in data space between decoded images (node images are precomputed, so
    h is one vector norm). An eq. (10) length sums chords of a curve between
    two images, so by the triangle inequality no path is shorter than h: h never
    overestimates and A* stays exact. Several placements of an end point are
    joined to a virtual source or goal by zero-weight edges, and h is the
    minimum over the goal images, still a lower bound. The temporary nodes live
    on the graph's cached networkx copy only during the search and are removed
    afterwards, so ``graph`` is unchanged. End points in different connected
    components raise :class:`DisconnectedGraphError`. Derived in
    {ref}`sec-graph-geodesics`.
    """
    if not isinstance(graph, AtlasGraph):
        raise TypeError(f"graph must be an AtlasGraph from build_atlas_graph, "
                        f"got {type(graph).__name__}")
    decoder = _Decoder(graph.model, batch_size)
    node_ids = all(isinstance(p, (int, np.integer)) for p in (start, end))
    with contextlib.nullcontext() if node_ids else _evaluating(graph.model):
        sources, goals = _terminals(graph, start, "start"), _terminals(graph, end, "end")
        new_edges = (_temporary_edges(graph, sources, decoder)
                     + _temporary_edges(graph, goals, decoder))
    _check_connected(graph, sources, goals, new_edges)

    network = graph.to_networkx()
    added = [t.label for t in sources + goals if t.node < 0] + ["source", "goal"]
    try:
        network.add_edges_from(("source", t.label, {"weight": 0.0}) for t in sources)
        network.add_edges_from(("goal", t.label, {"weight": 0.0}) for t in goals)
        network.add_edges_from((a, b, {"weight": float(s.sum()), "steps": s, "first": a})
                               for a, b, s in new_edges)
        route = nx.astar_path(network, "source", "goal",
                              heuristic=_heuristic(graph, sources + goals, goals),
                              weight="weight")
        return _make_path(graph, network, route[1:-1], sources + goals, decoder.n_decoded)
    finally:
        network.remove_nodes_from(added)


def _check_connected(graph: AtlasGraph, sources, goals, new_edges) -> None:
    """Raise DisconnectedGraphError if no graph component holds both end points."""
    labels = graph.component_labels()

    def components(terminals) -> set:
        own = {t.label for t in terminals}
        nodes = [t.node for t in terminals if t.node >= 0]
        nodes += [b for a, b, _ in new_edges if a in own and isinstance(b, int)]
        return set(labels[nodes].tolist())

    start_parts, end_parts = components(sources), components(goals)
    if not start_parts & end_parts:
        sizes = np.bincount(labels)

        def describe(parts) -> str:
            return (", ".join(f"{c} ({sizes[c]} nodes)" for c in sorted(parts))
                    or "none (no graph node in its charts)")

        raise DisconnectedGraphError(
            f"start and end lie in different connected components of the graph, which has "
            f"{len(sizes)}: start in component {describe(start_parts)}, end in component "
            f"{describe(end_parts)}; no path joins them (raise k or sample more points)")


def _heuristic(graph: AtlasGraph, terminals, goals) -> Callable:
    """h(n) = min over goal images of ||G(n) - G(goal)||_2, as a lookup table.

    For all nodes at once, ||a - g||^2 = ||a||^2 - 2 a.g + ||g||^2 in float64
    (one matrix-vector product per goal). Its rounding error is below
    1e-12 (||a||^2 + ||g||^2) for images of up to millions of pixels, so that
    much is taken off before the square root: h stays a lower bound and A*
    exact.
    """
    flat, squared = graph.flat_images()
    goal_images = torch.stack([g.image.reshape(-1).double() for g in goals])
    goal_squared = (goal_images ** 2).sum(dim=1).numpy()
    # The product in torch, the small (n, goals) rest in numpy: cheaper than
    # torch's threaded elementwise kernels on a busy machine.
    h2 = squared[:, None] - 2 * (flat @ goal_images.T).numpy() + goal_squared[None, :]
    h2 -= 1e-12 * (squared[:, None] + goal_squared[None, :])
    node_h = np.sqrt(np.maximum(h2, 0).min(axis=1)).tolist()
    extra = {"source": 0.0, "goal": 0.0}
    for t in terminals:
        if t.node < 0:
            image = t.image.reshape(1, -1).double()
            extra[t.label] = float((goal_images - image).norm(dim=1).min()) * (1 - 1e-12)

    def h(node, _target) -> float:
        return node_h[node] if isinstance(node, int) else extra[node]

    return h


def _make_path(graph: AtlasGraph, network: nx.Graph, route, terminals,
               n_decoded: int) -> GeodesicPath:
    """A GeodesicPath from the A* route between the virtual source and goal."""
    placed = {t.label: t for t in terminals}

    def vertex(label) -> _Terminal:
        if label in placed:
            return placed[label]
        return _Terminal(label, int(graph.node_chart[label]), graph.node_latent[label],
                         graph.node_images[label])

    vertices = [vertex(label) for label in route]
    steps = []
    for a, b in zip(route[:-1], route[1:]):
        data = network.edges[a, b]
        if "edge_id" in data:
            segment = graph.edge_steps[data["edge_id"]]
            forward = graph.edges[data["edge_id"], 0] == a
        else:
            segment, forward = data["steps"], data["first"] == a
        steps.append(np.array(segment if forward else segment[::-1], dtype=float))
    nodes = np.array([v.node for v in vertices])
    charts = np.array([v.chart for v in vertices])
    return GeodesicPath(
        length=float(sum(s.sum() for s in steps)), nodes=nodes, charts=charts,
        latents=torch.stack([v.latent for v in vertices]),
        images=torch.stack([v.image for v in vertices]),
        data_indices=np.where(nodes >= 0, graph.node_index[np.maximum(nodes, 0)], -1),
        steps=steps, cross=charts[1:] != charts[:-1], n_decoded=n_decoded)


# ------------------------------------------------------------------- interpolation


@dataclass
class Interpolation:
    """Points equally spaced in length along a :class:`GeodesicPath` (Figure 3b).

    Attributes
    ----------
    images: (n_points, ...) decoded images.
    latents: (n_points, d) the code each image was decoded from.
    charts: (n_points,) the chart each image was decoded in (from 0).
    labels: n_points strings naming the chart counted from 1 as in the paper,
        "i/j" for a point on an edge from chart i to chart j.
    positions: (n_points,) the length along the path of each point.
    cross: (n_points,) True for points on a cross-chart edge.
    """

    images: torch.Tensor
    latents: torch.Tensor
    charts: np.ndarray
    labels: list
    positions: np.ndarray
    cross: np.ndarray


def _locate(path: GeodesicPath, position: float) -> tuple[int, float]:
    """The segment holding ``position`` and the parameter t in [0, 1] along it.

    Within a segment, t is placed by the cumulative eq. (10) terms: it moves
    linearly inside the step that holds the position.
    """
    if len(path.steps) == 0 or position <= 0:
        return (0 if path.steps else -1), 0.0
    if position >= path.length:
        return len(path.steps) - 1, 1.0
    ends = np.cumsum(path.segment_lengths)
    segment = min(int(np.searchsorted(ends, position, side="left")), len(ends) - 1)
    local = position - (ends[segment - 1] if segment > 0 else 0.0)
    steps = path.steps[segment]
    cumulative = np.concatenate([[0.0], np.cumsum(steps)])
    if cumulative[-1] <= 0:
        return segment, 0.0
    local = min(max(local, 0.0), cumulative[-1])
    i = min(int(np.searchsorted(cumulative, local, side="right")) - 1, len(steps) - 1)
    fraction = (local - cumulative[i]) / steps[i] if steps[i] > 0 else 0.0
    return segment, (i + fraction) / len(steps)


def _place(path: GeodesicPath, position: float) -> tuple:
    """Where a point at ``position`` along the path is decoded.

    Returns (latent, chart, vertex, label, on_cross): ``vertex`` is the index of
    the path vertex whose image it shows, or None if it must be decoded at
    ``latent`` in ``chart``.
    """
    segment, t = _locate(path, position)
    on_cross = segment >= 0 and bool(path.cross[segment]) and 0.0 < t < 1.0
    if segment < 0 or on_cross or t <= 0.0 or t >= 1.0:
        vertex = max(segment, 0) + (1 if segment >= 0 and t >= 0.5 else 0)
        chart = int(path.charts[vertex])
        label = (f"{path.charts[segment] + 1}/{path.charts[segment + 1] + 1}"
                 if on_cross else str(chart + 1))
        return path.latents[vertex], chart, vertex, label, on_cross
    a, b = path.latents[segment], path.latents[segment + 1]
    chart = int(path.charts[segment])
    return a + t * (b - a), chart, None, str(chart + 1), False


def interpolate(model_or_graph, path: GeodesicPath, n_points: int = 10,
                batch_size: int = 4096) -> Interpolation:
    """``n_points`` points equally spaced in eq. (10) length along ``path``, decoded.

    The first and last points are the path's end points. A point inside a
    within-chart segment is decoded in that chart at the latent parameter found
    from the segment's cumulative eq. (10) terms (linear within one of its
    n_steps sub-steps). A point on a cross-chart edge, a jump in data space with
    no latent curve, shows the decoding of the nearer end of that edge (every
    image is a model output) and is labelled "i/j". Labels count charts from 1,
    as the paper does; the ``charts`` array counts from 0, as ``decode`` does.
    ``model_or_graph`` is the AGM or the :class:`AtlasGraph` holding it.
    Derived in {ref}`sec-graph-geodesics`.
    """
    model = model_or_graph.model if isinstance(model_or_graph, AtlasGraph) else model_or_graph
    check_agm(model)
    _check_int("n_points", n_points, minimum=1)
    positions = np.linspace(0.0, path.length, n_points)
    latents, charts, vertices, labels, cross = zip(*(_place(path, p) for p in positions))
    images = [path.images[v] if v is not None else None for v in vertices]
    decoder = _Decoder(model, batch_size)
    with _evaluating(model):
        for chart in set(charts):
            todo = [j for j in range(n_points) if vertices[j] is None and charts[j] == chart]
            if todo:
                decoded = decoder(torch.stack([latents[j] for j in todo]), chart)
                for j, image in zip(todo, decoded):
                    images[j] = image
    return Interpolation(images=torch.stack(images), latents=torch.stack(latents),
                         charts=np.array(charts), labels=list(labels), positions=positions,
                         cross=np.array(cross, dtype=bool))
