"""Algorithm 1, part 2: end points into the graph, and exact lazy A* between them.

Derived in {ref}`sec-graph-geodesics`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import sparse
from scipy.sparse import csgraph

from atlasnb.geodesics._common import _check_values, _Decoder, _evaluating, _psi_and_codes
from atlasnb.geodesics.curve import _step_lengths
from atlasnb.geodesics.graph import AtlasGraph

#: How a data-point end point enters the graph (see :func:`shortest_path`).
INSERT_MODES = ("own", "all")


class DisconnectedGraphError(ValueError):
    """The two end points of a path search lie in different connected components."""


@dataclass
class GeodesicPath:
    """A shortest path through an :class:`AtlasGraph`, end points included.

    Attributes
    ----------
    length: the path length, the sum of its edge weights (all exact).
    nodes: (L,) graph node ids along the path; -1 for an inserted end point.
    charts: (L,) the chart y of each vertex (numbered from 0).
    latents: (L, d) the latent code of each vertex in its chart.
    images: (L, ...) the decoded image G_y(z) of each vertex.
    data_indices: (L,) index of each vertex's data point in the graph's ``x``;
        -1 for an inserted end point.
    steps: L - 1 arrays, the eq. (10) terms of each segment in the direction of
        travel (n_steps values; a cross-chart segment spreads its weight evenly).
    cross: (L - 1,) True where a segment changes chart.
    n_decoded: points this query decoded: the inserted end points' images and
        every edge interior it evaluated (graph edges and end-point edges).
    n_evaluated: edges whose eq. (10) weight this query evaluated.
    n_searches: A* searches run (one more than the evaluation rounds).
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
    n_evaluated: int = 0
    n_searches: int = 0

    @property
    def segment_lengths(self) -> np.ndarray:
        """(L - 1,) the length of each segment."""
        return np.array([s.sum() for s in self.steps])


@dataclass
class _Query:
    """The end points of one search as extra vertices n, n + 1, ... beside the graph's
    nodes, and their edges as extra edges E, E + 1, ... beside the graph's edges."""

    graph: AtlasGraph
    decoder: _Decoder
    charts: list = field(default_factory=list)    # chart of each extra vertex
    latents: list = field(default_factory=list)   # its code
    images: list = field(default_factory=list)    # its decoding
    ends: list = field(default_factory=list)      # (a, b) of each extra edge
    weights: list = field(default_factory=list)   # best weight known
    steps: list = field(default_factory=list)     # eq. (10) terms, None until evaluated

    def vertex(self, chart: int, latent: torch.Tensor, image=None) -> int:
        if image is None:
            image = self.decoder(latent[None], chart)[0]
        self.charts.append(chart)
        self.latents.append(latent)
        self.images.append(image)
        return self.graph.n_nodes + len(self.charts) - 1

    def edge(self, a: int, b: int, weight: float, steps=None) -> None:
        self.ends.append((a, b))
        self.weights.append(weight)
        self.steps.append(steps)

    def chart(self, v: int) -> int:
        n = self.graph.n_nodes
        return int(self.graph.node_chart[v]) if v < n else self.charts[v - n]

    def latent(self, v: int) -> torch.Tensor:
        n = self.graph.n_nodes
        return self.graph.node_latent[v] if v < n else self.latents[v - n]

    def image(self, v: int) -> torch.Tensor:
        n = self.graph.n_nodes
        return self.graph.node_images[v] if v < n else self.images[v - n]


def _place(query: _Query, point, side: str, insert: str) -> list[int]:
    """The vertices of an end point: a node id, a (z, y) pair or a data point."""
    graph = query.graph
    m, d = graph.n_charts, graph.node_latent.shape[1]
    if isinstance(point, (int, np.integer)) and not isinstance(point, bool):
        if not 0 <= point < graph.n_nodes:
            raise ValueError(f"{side} as a node id must lie in [0, {graph.n_nodes}), "
                             f"got {point}")
        return [int(point)]
    if isinstance(point, tuple):
        if len(point) != 2:
            raise ValueError(f"{side} as a latent point must be a (z, y) pair, got a tuple "
                             f"of length {len(point)}")
        z, y = torch.as_tensor(point[0]), point[1]
        if isinstance(y, bool) or not isinstance(y, (int, np.integer)) or not 0 <= y < m \
                or tuple(z.shape) not in ((d,), (1, d)):
            raise ValueError(f"{side} = (z, y) needs z of shape ({d},) and an integer chart "
                             f"y in [0, {m}), got z of shape {tuple(z.shape)} and y = {y!r}")
        return [_join(query, int(y), z.reshape(d).to(graph.node_latent.dtype))]
    x = torch.from_numpy(point) if isinstance(point, np.ndarray) else point
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{side} must be a data point (tensor shaped {graph.point_shape}), "
                        f"a (z, y) pair or an int node id, got {type(point).__name__}")
    if tuple(x.shape) not in (graph.point_shape, (1,) + graph.point_shape):
        raise ValueError(f"{side} as a data point must be shaped {graph.point_shape} (one "
                         f"row of x), got {tuple(x.shape)}")
    x = x.reshape((1,) + graph.point_shape)
    x = _check_values(x, side, rows=False)
    psi, codes = _psi_and_codes(graph.model, x, batch_size=1)
    if insert == "own":
        charts = [int(np.argmax(psi[0]))]
    else:
        charts = np.flatnonzero(psi[0] > graph.eps).tolist()
        if not charts:
            raise ValueError(f"{side} has psi_y(x) <= eps = {graph.eps} in every chart, so "
                             "it lies in no chart of the graph (insert='own' places it in "
                             "its most confident chart)")
    placed = [_join(query, y, codes[0, y].to(graph.node_latent.dtype)) for y in charts]
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            jump = float((query.image(a).double() - query.image(b).double()).norm())
            query.edge(a, b, jump, np.full(graph.n_steps, jump / graph.n_steps))
    return placed


def _join(query: _Query, chart: int, latent: torch.Tensor) -> int:
    """A new vertex (latent, chart) joined to its k nearest nodes of that chart, each
    edge starting at its chord lower bound."""
    graph = query.graph
    v = query.vertex(chart, latent)
    tree = graph.chart_tree(chart)
    if tree is not None:
        _, local = tree.query(latent.double().numpy(), k=min(graph.k, tree.n))
        image = query.image(v).reshape(1, -1).double()
        for u in graph.chart_offsets[chart] + np.atleast_1d(local):
            chord = float((graph.flat_images()[u] - image[0]).norm())
            query.edge(v, int(u), chord)
    return v


def shortest_path(graph: AtlasGraph, start, end, batch_size: int = 4096,
                  insert: str = "own") -> GeodesicPath:
    """Algorithm 1, part 2: the shortest graph path from ``start`` to ``end``, by A*
    on the best weights known, evaluating only the edges it needs.

    Each end point is one of:

    - a data point shaped like one row of ``x``: with ``insert="own"`` (the
      paper's reading) it is encoded in its most confident chart, argmax psi,
      and joined to its k nearest nodes there; with ``insert="all"`` it is
      encoded in every chart where psi > eps, each placement joined to its k
      nearest nodes in that chart and to the point's other placements by the
      jump between decodings (more ways in, so never a longer path);
    - a latent point ``(z, y)``: placed in chart y only, joined to its k
      nearest nodes there;
    - an int: an existing node id of the graph.

    The search is exact on a lazy graph: A* runs on the best weights known
    (eq. (10) where evaluated, the chord lower bound elsewhere); the path's
    not-yet-exact edges are evaluated in one batch, and the search repeats
    until the path it finds has only exact weights. That path is a shortest
    path of the eager graph, since every other path weighs at least its lower
    bound. Evaluated graph edges stay evaluated for later queries. The
    heuristic h(n) = min over goal images ||G(n) - G(goal)||_2 never
    overestimates (every weight is at least the chord of its edge, so the
    triangle inequality applies); each search runs A* as Dijkstra's algorithm
    on the reduced weights w(u, v) - h(u) + h(v), in C (scipy.sparse.csgraph).
    End points in different connected components raise
    :class:`DisconnectedGraphError`. Derived in {ref}`sec-graph-geodesics`.
    """
    if not isinstance(graph, AtlasGraph):
        raise TypeError(f"graph must be an AtlasGraph from build_atlas_graph, "
                        f"got {type(graph).__name__}")
    if insert not in INSERT_MODES:
        raise ValueError(f"insert must be one of {INSERT_MODES}, got {insert!r}")
    decoder = _Decoder(graph.model, batch_size)
    query = _Query(graph, decoder)
    node_ids = all(isinstance(p, (int, np.integer)) for p in (start, end))
    with contextlib.nullcontext() if node_ids else _evaluating(graph.model):
        sources = _place(query, start, "start", insert)
        goals = _place(query, end, "end", insert)
    _check_connected(query, sources, goals)

    n_evaluated, n_searches = 0, 0
    search = _Search(query, sources, goals)
    while True:
        n_searches += 1
        route, edge_ids = search.run()
        pending = [e for e in edge_ids if not _exact(query, e)]
        if not pending:
            break
        n_evaluated += len(pending)
        with _evaluating(graph.model):
            _evaluate_path(query, pending)
    n_decoded = decoder.n_decoded  # end points and every edge evaluated
    return _make_path(query, route, edge_ids, n_decoded, n_evaluated, n_searches)


def _exact(query: _Query, e: int) -> bool:
    n_edges = len(query.graph.edges)
    return bool(query.graph.edge_exact[e]) if e < n_edges else \
        query.steps[e - n_edges] is not None


def _evaluate_path(query: _Query, pending: list) -> None:
    """Evaluate the eq. (10) weights of a found path's not-yet-exact edges
    ``pending``, graph edges (kept in the graph) and end-point edges alike, in one
    decoding batch per chart."""
    graph = query.graph
    n_edges = len(graph.edges)
    ends = [tuple(graph.edges[e].tolist()) if e < n_edges else query.ends[e - n_edges]
            for e in pending]
    charts = [query.chart(a) for a, _ in ends]
    for chart in sorted(set(charts)):
        chosen = [i for i, y in enumerate(charts) if y == chart]
        a = [ends[i][0] for i in chosen]
        b = [ends[i][1] for i in chosen]
        steps = _step_lengths(lambda z, chart=chart: query.decoder(z, chart),
                              torch.stack([query.latent(v) for v in a]),
                              torch.stack([query.latent(v) for v in b]),
                              torch.stack([query.image(v) for v in a]),
                              torch.stack([query.image(v) for v in b]),
                              graph.n_steps, query.decoder.batch_size)
        on_graph = [k for k, i in enumerate(chosen) if pending[i] < n_edges]
        if on_graph:
            graph._set_exact(np.array([pending[chosen[k]] for k in on_graph]),
                             steps[on_graph], len(on_graph) * (graph.n_steps - 1))
        for k, i in enumerate(chosen):
            if pending[i] >= n_edges:
                j = pending[i] - n_edges
                query.steps[j] = steps[k]
                query.weights[j] = float(steps[k].sum())


class _Search:
    """A* from any source to any goal on the best weights known, run in C.

    A* with a consistent heuristic h is Dijkstra's algorithm on the reduced
    weights w(u, v) - h(u) + h(v) >= 0 (the order in which A* settles vertices
    is the order of g + h); so each search is one call of
    ``scipy.sparse.csgraph.dijkstra`` on the query's directed graph with those
    weights, from a super-source joined to each source s by h(s) - min h.
    h(v) = min over goal images ||G(v) - G(goal)||_2 is computed once per query
    for every vertex (exact norms in float64) and vanishes at the goals, so the
    reduced distance of a goal plus min h is its length g. The layout (rows,
    columns, edge id of each directed entry: the graph's, cached, and the end
    points') is built once per query; a search only refreshes the weights,
    which change as edges are evaluated. A reduced weight a rounding below 0
    counts as 0.
    """

    def __init__(self, query: _Query, sources, goals):
        graph = query.graph
        self.query, self.goals = query, np.asarray(goals, dtype=np.int64)
        n_edges, n_vertices = len(graph.edges), graph.n_nodes + len(query.charts)
        self.source = n_vertices  # the super-source
        rows, cols, ids = graph.directed_edges()
        ends = np.asarray(query.ends, dtype=np.int64).reshape(-1, 2)
        extra_ids = n_edges + np.arange(len(ends))
        sources = np.asarray(sources, dtype=np.int64)
        rows = np.concatenate([rows, ends[:, 0], ends[:, 1],
                               np.full(len(sources), self.source)])
        cols = np.concatenate([cols, ends[:, 1], ends[:, 0], sources])
        ids = np.concatenate([ids, extra_ids, extra_ids, np.full(len(sources), -1)])
        order = np.argsort(rows, kind="stable")  # rows holds a sorted run, then a few more
        self.rows, self.cols, self.ids = rows[order], cols[order], ids[order]
        self.indptr = np.searchsorted(self.rows, np.arange(n_vertices + 2))
        self.shape = (n_vertices + 1, n_vertices + 1)
        goal_images = [query.image(g).reshape(-1).double() for g in goals]
        vertex_images = [graph.flat_images()]
        if query.images:
            vertex_images.append(torch.stack(query.images).reshape(
                len(query.images), -1).double())
        h = np.concatenate([
            torch.stack([(images - image).norm(dim=1) for image in goal_images])
            .min(dim=0).values.numpy() for images in vertex_images])
        h[self.goals] = 0.0
        self.h = np.concatenate([h, [h[sources].min()]])

    def run(self) -> tuple[list, list]:
        """The vertex route of a shortest path from a source to a goal, and its edge ids."""
        query = self.query
        weights = np.concatenate([query.graph.edge_weights,
                                  np.asarray(query.weights, dtype=float), [0.0]])
        reduced = weights[self.ids] - self.h[self.rows] + self.h[self.cols]
        np.maximum(reduced, 0.0, out=reduced)
        matrix = sparse.csr_matrix((reduced, self.cols, self.indptr), shape=self.shape)
        distance, parent = csgraph.dijkstra(matrix, indices=self.source,
                                            return_predecessors=True)
        goal = int(self.goals[np.argmin(distance[self.goals])])
        if not np.isfinite(distance[goal]):
            raise DisconnectedGraphError("no path joins start and end")  # checked before
        route, used = [goal], []
        while parent[route[-1]] != self.source:
            u, v = int(parent[route[-1]]), route[-1]
            start, stop = self.indptr[u], self.indptr[u + 1]
            used.append(int(self.ids[start + np.flatnonzero(self.cols[start:stop] == v)[0]]))
            route.append(u)
        return route[::-1], used[::-1]


def _check_connected(query: _Query, sources, goals) -> None:
    """Raise DisconnectedGraphError if no graph component holds both end points."""
    graph = query.graph
    labels = graph.component_labels()
    n = graph.n_nodes

    def components(vertices) -> set:
        own = set(vertices)
        nodes = [v for v in vertices if v < n]
        nodes += [b for a, b in query.ends if a in own and b < n]
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


def _make_path(query: _Query, route, edge_ids, n_decoded: int, n_evaluated: int,
               n_searches: int) -> GeodesicPath:
    """A GeodesicPath from an A* route whose edges are all exact."""
    graph = query.graph
    n, n_edges = graph.n_nodes, len(graph.edges)
    steps = []
    for a, e in zip(route[:-1], edge_ids):
        if e < n_edges:
            segment, forward = graph.edge_steps[e], graph.edges[e, 0] == a
        else:
            segment, forward = query.steps[e - n_edges], query.ends[e - n_edges][0] == a
        steps.append(np.array(segment if forward else segment[::-1], dtype=float))
    nodes = np.array([v if v < n else -1 for v in route])
    charts = np.array([query.chart(v) for v in route])
    return GeodesicPath(
        length=float(sum(s.sum() for s in steps)), nodes=nodes, charts=charts,
        latents=torch.stack([query.latent(v) for v in route]),
        images=torch.stack([query.image(v) for v in route]),
        data_indices=np.where(nodes >= 0, graph.node_index[np.maximum(nodes, 0)], -1),
        steps=steps, cross=charts[1:] != charts[:-1], n_decoded=n_decoded,
        n_evaluated=n_evaluated, n_searches=n_searches)
