"""Algorithm 1, part 1: the latent graph over the charts of an AGM.

Derived in {ref}`sec-graph-geodesics`. With m = 1 it is the single-chart graph of
Chen et al. (2019), by the same code. Two steps:
:func:`~atlasnb.geodesics.build_atlas_graph` encodes data points into nodes and decodes
their images; :meth:`~atlasnb.geodesics.AtlasGraph.from_nodes` joins given nodes (k
nearest neighbours per chart and given cross-chart pairs) and weighs the edges, lazily
by default. Each node's image is decoded once and reused as the end point of its edges;
a within-chart edge decodes its ``n_steps - 1`` interior points only when evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import torch
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree
from tqdm import tqdm  # text bars: they render on a page; tqdm.auto warns without ipywidgets

from atlasnb.agm import check_agm
from atlasnb.checks import check_eps, check_int
from atlasnb.geodesics._common import (_as_points, _check_cross_edges, _check_index_array,
                                      _check_nodes)
from atlasnb.geodesics.decoding import Decoder, evaluating, psi_and_codes
from atlasnb.geodesics.curve import DEFAULT_N_STEPS
from atlasnb.geodesics.edges import (_chart_edge_steps, _check_membership, _chords,
                                     _cross_chart_edges, _knn_edges, _select_nodes)
from atlasnb.geodesics.validate import check_edge_ids
from atlasnb.geodesics.storage import graph_fields, graph_to_arrays

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
    check_int("n_charts", n_charts, minimum=1)
    return min(EPS_CAP, 0.5 / n_charts)


@dataclass(eq=False)
class AtlasGraph:
    """The latent graph of Algorithm 1 over the charts of an AGM.

    Nodes are pairs (z, y) of a latent code and a chart, ordered by chart;
    chart y's nodes are ``range(chart_offsets[y], chart_offsets[y + 1])``.
    Integer bookkeeping is numpy; latent codes and images are torch tensors
    (what the model takes and returns). Charts are numbered from 0, as
    ``model.decode`` takes them.

    Edge weights are *lazy* until evaluated: a within-chart edge starts at the
    chord ||G(u) - G(v)|| between its two node images, a lower bound of its
    eq. (10) length (derived in {ref}`sec-graph-geodesics`), and becomes exact
    when :meth:`evaluate` decodes its interior. :func:`shortest_path` evaluates
    only what a query needs; :meth:`evaluate_all` gives the eager graph.

    Attributes
    ----------
    model: the AGM the graph was built from (used to insert end points).
    node_index: (n,) index of each node's data point in the ``x`` given
        (-1 for a node made from no data point).
    node_chart: (n,) chart y of each node.
    node_latent: (n, d) latent code of each node (F_y(x) in Algorithm 1).
    node_images: (n, ...) G_y(z) of each node, decoded once.
    chart_offsets: (m + 1,) first node of each chart.
    edges: (E, 2) node pairs u < v of the undirected edges; within-chart edges
        first, then cross-chart edges.
    edge_weights: (E,) the best weights known: eq. (10) lengths where
        ``edge_exact``, else the lower bounds ``edge_bounds``; cross-chart edges
        weigh the jump ||G_i(z_u) - G_j(z_v)|| and are always exact.
    edge_bounds: (E,) the chord ||G(u) - G(v)|| of each edge, a lower bound of
        its weight (equal to it for cross-chart edges).
    edge_exact: (E,) True where the weight is exact.
    edge_cross: (E,) True for cross-chart edges.
    edge_steps: (E, n_steps) the terms of eq. (10) from u to v (summing to the
        weight), NaN until evaluated; a cross-chart edge, one straight jump in
        data space, holds weight / n_steps in every column.
    adjacency: symmetric (n, n) ``scipy.sparse.csr_matrix`` of the current
        weights (explicit zeros are kept as edges).
    k, eps, n_steps: the parameters used.
    n_decoded: the running total of points decoded for the graph: node images
        plus every edge interior evaluated so far (n_steps - 1 points each).
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
    edge_bounds: np.ndarray
    edge_exact: np.ndarray
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
                f"{len(self.edges)} edges ({int(self.edge_cross.sum())} cross-chart, "
                f"{self.n_exact} exact), k={self.k}, eps={self.eps:g}, "
                f"n_steps={self.n_steps})")

    @classmethod
    def from_nodes(cls, model, node_chart, node_latent, node_images=None, cross_edges=None,
                   k: int = DEFAULT_K, eps: float | None = None,
                   n_steps: int = DEFAULT_N_STEPS, node_index=None, lazy: bool = True,
                   n_decoded: int = 0, batch_size: int = 4096,
                   progress: bool = False) -> AtlasGraph:
        """The graph of Algorithm 1 over given nodes (z, y).

        ``node_chart`` (n,) gives each node's chart, in non-decreasing order
        (sort nodes by chart first); ``node_latent`` (n, d) its code;
        ``node_images`` (n, ...) its decoding G_y(z), or None to decode them here.
        Within each chart, every node is joined to its ``k`` nearest nodes
        (Euclidean in the chart's latent space, undirected); ``cross_edges``
        (E, 2) are node pairs in different charts, each weighing the jump
        ||G_i(z_u) - G_j(z_v)|| between the two node images. ``eps`` (None:
        :func:`default_eps`) is the membership cut-off used when end points are
        inserted; ``node_index`` (n,) names each node's data point (None: -1,
        none). ``n_decoded`` counts points the caller decoded to make the nodes.

        ``lazy=True`` starts each within-chart edge at its chord lower bound and
        decodes nothing more; ``lazy=False`` evaluates every eq. (10) weight now
        (:meth:`evaluate_all`). :func:`build_atlas_graph` is this after encoding
        data points. Derived in {ref}`sec-graph-geodesics`.
        """
        check_agm(model, encoder=False)
        check_int("k", k, minimum=1)
        check_int("n_steps", n_steps, minimum=1)
        check_int("batch_size", batch_size, minimum=1)
        check_int("n_decoded", n_decoded, minimum=0)
        if not isinstance(lazy, bool):
            raise ValueError(f"lazy must be True or False, got {lazy!r}")
        m = model.n_charts
        eps = default_eps(m) if eps is None else check_eps(eps)
        node_chart, node_latent = _check_nodes(model, node_chart, node_latent)
        n = len(node_chart)
        counts = np.bincount(node_chart, minlength=m)
        chart_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        node_index = (np.full(n, -1, dtype=np.int64) if node_index is None
                      else _check_index_array("node_index", node_index, (n,)))
        cross = _check_cross_edges(cross_edges, node_chart)
        within = [_knn_edges(node_latent[chart_offsets[y]:chart_offsets[y + 1]]
                             .double().numpy(), k) + chart_offsets[y] for y in range(m)]
        if node_images is None:
            with evaluating(model):
                decoder = Decoder(model, batch_size)
                node_images = torch.cat([
                    decoder(node_latent[chart_offsets[y]:chart_offsets[y + 1]], y)
                    for y in range(m) if counts[y]])
            n_decoded += decoder.n_decoded
        elif not isinstance(node_images, torch.Tensor) or len(node_images) != n:
            raise ValueError(f"node_images must be a tensor with one image per node ({n}), "
                             f"got {type(node_images).__name__} of length "
                             f"{len(node_images) if hasattr(node_images, '__len__') else '?'}")
        edges = np.concatenate(within + [cross]).astype(np.int64)
        bounds = _chords(node_images, edges)
        is_cross = np.arange(len(edges)) >= len(edges) - len(cross)
        steps = np.full((len(edges), n_steps), np.nan)
        steps[is_cross] = bounds[is_cross, None] / n_steps
        graph = cls(model=model, node_index=node_index, node_chart=node_chart,
                    node_latent=node_latent.clone(), node_images=node_images.clone(),
                    chart_offsets=chart_offsets, edges=edges, edge_weights=bounds.copy(),
                    edge_bounds=bounds, edge_exact=is_cross.copy(), edge_cross=is_cross,
                    edge_steps=steps, k=int(k), eps=eps, n_steps=int(n_steps),
                    n_decoded=int(n_decoded), point_shape=tuple(node_images.shape[1:]))
        if not lazy:
            graph.evaluate_all(batch_size=batch_size, progress=progress)
        return graph

    @property
    def n_nodes(self) -> int:
        return len(self.node_index)

    @property
    def n_charts(self) -> int:
        return len(self.chart_offsets) - 1

    @property
    def n_exact(self) -> int:
        """The number of edges whose eq. (10) weight is known exactly."""
        return int(self.edge_exact.sum())

    def evaluate(self, edge_ids, batch_size: int = 4096, progress: bool = False) -> int:
        """Decode the interiors of the not-yet-exact edges among ``edge_ids`` (one
        batch per chart) and store their eq. (10) weights and terms. Returns the
        number of points decoded (also added to :attr:`n_decoded`)."""
        check_int("batch_size", batch_size, minimum=1)
        ids = check_edge_ids(edge_ids, len(self.edges))
        ids = ids[~self.edge_exact[ids]]
        if len(ids) == 0:
            return 0
        charts = self.node_chart[self.edges[ids, 0]]
        with tqdm(total=len(ids) * (self.n_steps - 1), desc="Algorithm 1: decoding edges",
                  unit="pt", disable=not progress) as bar, evaluating(self.model):
            decoder = Decoder(self.model, batch_size, bar)
            for y in np.unique(charts):
                chosen = ids[charts == y]
                steps = _chart_edge_steps(decoder, int(y), self.edges[chosen],
                                          self.node_latent, self.node_images,
                                          self.n_steps, batch_size)
                self.set_exact_weights(chosen, steps)
        self.n_decoded += decoder.n_decoded
        return decoder.n_decoded

    def set_exact_weights(self, ids: np.ndarray, steps: np.ndarray, n_decoded: int = 0) -> None:
        """Store the eq. (10) terms ``steps`` (len(ids), n_steps) of edges ``ids``,
        evaluated elsewhere (the path search decodes them together with its end
        points' edges), and count the ``n_decoded`` points it took."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and (not np.issubdtype(ids.dtype, np.integer)
                                           or ids.min() < 0 or ids.max() >= len(self.edges))):
            raise ValueError(f"ids must be a 1-d array of edge ids in [0, {len(self.edges)}), "
                             f"got {ids.dtype} shaped {ids.shape}")
        steps = np.asarray(steps, dtype=np.float64)
        if steps.shape != (len(ids), self.n_steps) or not (np.isfinite(steps) & (steps >= 0)).all():
            raise ValueError(f"steps must be finite eq. (10) terms >= 0 shaped (len(ids), "
                             f"n_steps) = {(len(ids), self.n_steps)}, got shape {steps.shape}")
        self.edge_steps[ids] = steps
        self.edge_weights[ids] = steps.sum(axis=1)
        self.edge_exact[ids] = True
        self.n_decoded += int(n_decoded)
        for key in ("adjacency", "networkx"):
            self._cache.pop(key, None)

    def evaluate_all(self, batch_size: int = 4096, progress: bool = False) -> AtlasGraph:
        """Evaluate every remaining edge: the eager graph of Algorithm 1 (e.g. for
        all-pairs distances). Returns the graph itself."""
        self.evaluate(np.flatnonzero(~self.edge_exact), batch_size, progress)
        return self

    @property
    def adjacency(self) -> sparse.csr_matrix:
        if "adjacency" not in self._cache:
            u, v = self.edges[:, 0], self.edges[:, 1]
            self._cache["adjacency"] = sparse.csr_matrix(
                (np.concatenate([self.edge_weights, self.edge_weights]),
                 (np.concatenate([u, v]), np.concatenate([v, u]))),
                shape=(self.n_nodes, self.n_nodes))
        return self._cache["adjacency"]

    def neighbours(self) -> tuple[list, list]:
        """Per node, the list of its neighbours and the list of the joining edge ids
        (cached), for the path search."""
        if "neighbours" not in self._cache:
            u, v = self.edges[:, 0], self.edges[:, 1]
            ids = np.arange(len(self.edges))
            ends, others = np.concatenate([u, v]), np.concatenate([v, u])
            order = np.argsort(ends, kind="stable")
            starts = np.searchsorted(ends[order], np.arange(self.n_nodes + 1))
            others, ids = others[order].tolist(), np.concatenate([ids, ids])[order].tolist()
            self._cache["neighbours"] = (
                [others[a:b] for a, b in zip(starts[:-1], starts[1:])],
                [ids[a:b] for a, b in zip(starts[:-1], starts[1:])])
        return self._cache["neighbours"]

    def directed_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each undirected edge as two directed entries, sorted by (tail, head): the
        tails, the heads and the edge ids (cached; they depend on the edges only),
        the layout of the path search's sparse matrix."""
        if "directed" not in self._cache:
            u, v = self.edges[:, 0], self.edges[:, 1]
            rows, cols = np.concatenate([u, v]), np.concatenate([v, u])
            ids = np.tile(np.arange(len(self.edges)), 2)
            order = np.lexsort((cols, rows))
            self._cache["directed"] = (rows[order], cols[order], ids[order])
        return self._cache["directed"]

    def chart_nodes(self, chart: int) -> np.ndarray:
        """The node ids of ``chart``."""
        return np.arange(self.chart_offsets[chart], self.chart_offsets[chart + 1])

    def component_labels(self) -> np.ndarray:
        """(n,) the connected component of each node (scipy.sparse.csgraph); it
        depends on the edges only, not on their weights."""
        if "components" not in self._cache:
            ones = sparse.csr_matrix((np.ones(len(self.edges)),
                                      (self.edges[:, 0], self.edges[:, 1])),
                                     shape=(self.n_nodes, self.n_nodes))
            _, labels = csgraph.connected_components(ones, directed=False)
            self._cache["components"] = labels
        return self._cache["components"]

    def to_networkx(self) -> nx.Graph:
        """The graph as a networkx ``Graph`` with the current weights (cached until
        more edges are evaluated). Edges carry ``weight``, ``exact`` and ``edge_id``."""
        if "networkx" not in self._cache:
            graph = nx.Graph()
            graph.add_nodes_from(range(self.n_nodes))
            graph.add_edges_from(
                (int(u), int(v), {"weight": float(w), "exact": bool(x), "edge_id": e})
                for e, ((u, v), w, x) in enumerate(zip(self.edges, self.edge_weights,
                                                       self.edge_exact)))
            self._cache["networkx"] = graph
        return self._cache["networkx"]

    def chart_tree(self, chart: int) -> cKDTree | None:
        """A k-d tree over the latent codes of ``chart`` (cached); None if it is empty."""
        key = ("tree", chart)
        if key not in self._cache:
            codes = self.node_latent[self.chart_nodes(chart)]
            self._cache[key] = cKDTree(codes.double().numpy()) if len(codes) else None
        return self._cache[key]

    def flat_images(self) -> torch.Tensor:
        """(n, D) node images flattened to float64, for the A* heuristic (cached)."""
        if "flat" not in self._cache:
            self._cache["flat"] = self.node_images.reshape(self.n_nodes, -1).double()
        return self._cache["flat"]

    def to_arrays(self) -> dict:
        """The graph as a dict of tensors and numbers (no model), loadable with
        ``torch.load(weights_only=True)``; the evaluated weights are kept."""
        return graph_to_arrays(self)

    @classmethod
    def from_arrays(cls, model, arrays: dict) -> AtlasGraph:
        """The graph saved by :meth:`to_arrays`, attached to ``model``: every array is
        checked (the first thing wrong is named), and a model other than the one the
        graph was built from is refused with a
        :class:`~atlasnb.fingerprint.ModelMismatchError`."""
        return cls(model=model, **graph_fields(model, arrays))


def build_atlas_graph(model, x, k: int = DEFAULT_K, eps: float | None = None,
                      n_steps: int = DEFAULT_N_STEPS, batch_size: int = 4096,
                      progress: bool = True, lazy: bool = True) -> AtlasGraph:
    """Algorithm 1, part 1: the latent graph of an AGM over the data points ``x``.

    For each chart i the points with psi_i(x) > ``eps`` are encoded by F_i and
    joined to their ``k`` nearest neighbours in chart i (undirected), each edge
    weighted by eq. (10) with ``n_steps`` steps; a point in charts i and j joins
    its two nodes by an edge of weight ||G_i F_i(x) - G_j F_j(x)||. With one chart
    (psi = 1) this is the single-chart graph of Chen et al. (2019).

    ``eps=None`` takes :func:`default_eps` (min(0.1, 0.5 / m)). The model is put in
    eval mode (and back in train mode afterwards if it was training), and all
    work runs under ``torch.inference_mode()``. Each node image is decoded once,
    in per-chart batches of ``batch_size``. With ``lazy=True`` (the default) no
    edge interior is decoded: within-chart edges start at their chord lower
    bound and :func:`shortest_path` evaluates what a query needs, with the same
    results as the eager graph; ``lazy=False`` decodes every edge's
    ``n_steps - 1`` interior points now (``progress`` shows a tqdm bar). This is
    the nodes of ``x`` handed to :meth:`AtlasGraph.from_nodes`. Returns an
    :class:`AtlasGraph`. Derived in {ref}`sec-graph-geodesics`.
    """
    check_agm(model)
    check_int("k", k, minimum=1)
    check_int("n_steps", n_steps, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    if not isinstance(lazy, bool):
        raise ValueError(f"lazy must be True or False, got {lazy!r}")
    m = model.n_charts
    eps = default_eps(m) if eps is None else check_eps(eps)
    x = _as_points(x)

    with evaluating(model):
        psi, codes = psi_and_codes(model, x, batch_size)
        member = psi > eps
        _check_membership(member, eps, m)
        node_index, node_chart, chart_offsets = _select_nodes(member)
        node_latent = codes[torch.from_numpy(node_index), torch.from_numpy(node_chart)]
        with tqdm(total=len(node_index), desc="Algorithm 1: decoding nodes", unit="pt",
                  disable=not progress) as bar:
            decoder = Decoder(model, batch_size, bar)
            node_images = torch.cat([
                decoder(node_latent[chart_offsets[y]:chart_offsets[y + 1]], y)
                for y in range(m) if chart_offsets[y + 1] > chart_offsets[y]])
    return AtlasGraph.from_nodes(
        model, node_chart, node_latent, node_images, _cross_chart_edges(member, chart_offsets),
        k=k, eps=eps, n_steps=n_steps, node_index=node_index, lazy=lazy,
        n_decoded=decoder.n_decoded, batch_size=batch_size, progress=progress)
