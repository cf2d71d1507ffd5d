"""Algorithm 1, part 2: end points into the graph, and exact lazy A* between them.

Derived in {ref}`sec-graph-geodesics`.
"""

from __future__ import annotations

import contextlib
import heapq
from dataclasses import dataclass, field

import numpy as np
import torch

from atlasnb.geodesics._common import _Decoder, _evaluating, _psi_and_codes
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
    x = x if x.is_floating_point() else x.float()
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
    triangle inequality applies). End points in different connected
    components raise :class:`DisconnectedGraphError`. Derived in
    {ref}`sec-graph-geodesics`.
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

    graph_decoded = graph.n_decoded
    n_evaluated, n_searches = 0, 0
    h = _heuristic(query, goals)
    weights = graph.edge_weights.tolist() + query.weights
    while True:
        n_searches += 1
        route, edge_ids = _astar(query, weights, h, sources, goals)
        pending = [e for e in edge_ids if not _exact(query, e)]
        if not pending:
            break
        n_evaluated += len(pending)
        n_edges = len(graph.edges)
        on_graph = [e for e in pending if e < n_edges]
        graph.evaluate(on_graph, batch_size)
        for e in on_graph:
            weights[e] = float(graph.edge_weights[e])
        with _evaluating(graph.model):
            for e in pending:
                if e >= n_edges:
                    weights[e] = _evaluate_extra(query, e - n_edges)
    n_decoded = decoder.n_decoded + graph.n_decoded - graph_decoded
    return _make_path(query, route, edge_ids, n_decoded, n_evaluated, n_searches)


def _exact(query: _Query, e: int) -> bool:
    n_edges = len(query.graph.edges)
    return bool(query.graph.edge_exact[e]) if e < n_edges else \
        query.steps[e - n_edges] is not None


def _evaluate_extra(query: _Query, j: int) -> float:
    """Evaluate the eq. (10) weight of end-point edge ``j`` (a new vertex to a node)."""
    graph = query.graph
    a, b = query.ends[j]
    chart = query.chart(a)
    steps = _step_lengths(lambda z: query.decoder(z, chart), query.latent(a)[None],
                          query.latent(b)[None], query.image(a)[None], query.image(b)[None],
                          graph.n_steps, query.decoder.batch_size)[0]
    query.steps[j] = steps
    query.weights[j] = float(steps.sum())
    return query.weights[j]


def _astar(query: _Query, weights: list, h: list, sources: list, goals: list):
    """A* from any source to any goal; returns the vertex route and its edge ids.

    ``h`` must be consistent (h(u) <= w(u, v) + h(v)), so a vertex is final when
    first taken from the heap.
    """
    graph = query.graph
    n, n_edges = graph.n_nodes, len(graph.edges)
    neighbours, edge_ids = graph.neighbours()
    extra: dict = {}
    for j, (a, b) in enumerate(query.ends):
        extra.setdefault(a, []).append((b, n_edges + j))
        extra.setdefault(b, []).append((a, n_edges + j))
    goal_set = set(goals)
    distance = {s: 0.0 for s in sources}
    parent = {s: (-1, -1) for s in sources}
    heap = [(h[s], 0.0, s) for s in sources]
    heapq.heapify(heap)
    closed = set()
    while heap:
        _, g, u = heapq.heappop(heap)
        if u in closed:
            continue
        if u in goal_set:
            route, used = [u], []
            while parent[u][0] >= 0:
                u, e = parent[u]
                route.append(u)
                used.append(e)
            return route[::-1], used[::-1]
        closed.add(u)
        pairs = zip(neighbours[u], edge_ids[u]) if u < n else ()
        for v, e in (list(pairs) + extra[u]) if u in extra else pairs:
            if v in closed:
                continue
            d = g + weights[e]
            if d < distance.get(v, float("inf")):
                distance[v] = d
                parent[v] = (u, e)
                heapq.heappush(heap, (d + h[v], d, v))
    raise DisconnectedGraphError("no path joins start and end")  # _check_connected ran first


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


def _heuristic(query: _Query, goals) -> list:
    """h(v) = min over goal images of ||G(v) - G(goal)||_2 for every vertex, exact
    norms of differences in float64."""
    flat = query.graph.flat_images()
    goal_images = torch.stack([query.image(g).reshape(-1).double() for g in goals])
    extra = torch.stack([image.reshape(-1).double() for image in query.images]) \
        if query.images else flat[:0]
    everything = torch.cat([flat, extra])
    h = torch.stack([(everything - g).norm(dim=1) for g in goal_images]).min(dim=0).values
    return h.tolist()


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
