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

from atlasnb.geodesics._common import _check_values
from atlasnb.geodesics.curve import step_lengths
from atlasnb.geodesics.decoding import Decoder, evaluating, psi_and_codes
from atlasnb.geodesics.graph import AtlasGraph
from atlasnb.geodesics.inversion import codes_by_inversion
from atlasnb.geodesics.path import GeodesicPath

#: How a data-point end point enters the graph (see :func:`shortest_path`).
INSERT_MODES = ("own", "all")


class DisconnectedGraphError(ValueError):
    """The two end points of a path search lie in different connected components."""


@dataclass
class _Query:
    """The end points of one search as extra vertices n, n + 1, ... beside the graph's
    nodes, and their edges as extra edges E, E + 1, ... beside the graph's edges."""

    graph: AtlasGraph
    decoder: Decoder
    charts: list = field(default_factory=list)    # chart of each extra vertex
    latents: list = field(default_factory=list)   # its code
    images: list = field(default_factory=list)    # its decoding
    ends: list = field(default_factory=list)      # (a, b) of each extra edge
    weights: list = field(default_factory=list)   # best weight known
    steps: list = field(default_factory=list)     # eq. (10) terms, None until evaluated
    placed: dict = field(default_factory=dict)    # side -> (charts, codes) holding it

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
        same = [int(point)] if graph.node_index[point] < 0 else \
            np.flatnonzero(graph.node_index == graph.node_index[point]).tolist()
        query.placed[side] = (graph.node_chart[same], graph.node_latent[same])
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
        z = z.reshape(d).to(graph.node_latent.dtype)
        query.placed[side] = (np.array([int(y)]), z[None])
        return [_join(query, int(y), z)]
    x = torch.from_numpy(point) if isinstance(point, np.ndarray) else point
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{side} must be a data point (tensor shaped {graph.point_shape}), "
                        f"a (z, y) pair or an int node id, got {type(point).__name__}")
    if tuple(x.shape) not in (graph.point_shape, (1,) + graph.point_shape):
        raise ValueError(f"{side} as a data point must be shaped {graph.point_shape} (one "
                         f"row of x), got {tuple(x.shape)}")
    x = x.reshape((1,) + graph.point_shape)
    x = _check_values(x, side, rows=False)
    psi, codes = psi_and_codes(graph.model, x, batch_size=1)
    if codes is None:  # a semi-AGM: its codes by decoder inversion
        codes = codes_by_inversion(graph, x, psi)
    return _place_codes(query, psi[0], codes[0], side, insert)


def _place_codes(query: _Query, psi: np.ndarray, codes: torch.Tensor, side: str,
                 insert: str, images: dict | None = None) -> list[int]:
    """The vertices of a data point with memberships ``psi`` (m,) and codes (m, d);
    ``images`` may hold the decoding of the code of each chart placed, by chart."""
    graph = query.graph
    holding = np.flatnonzero(psi > graph.eps)
    if len(holding) == 0:
        holding = np.array([int(np.argmax(psi))])
    query.placed[side] = (holding, codes[holding].to(graph.node_latent.dtype))
    psi = psi[None]
    if insert == "own":
        charts = [int(np.argmax(psi[0]))]
    else:
        charts = np.flatnonzero(psi[0] > graph.eps).tolist()
        if not charts:
            raise ValueError(f"{side} has psi_y(x) <= eps = {graph.eps} in every chart, so "
                             "it lies in no chart of the graph (insert='own' places it in "
                             "its most confident chart)")
    images = images or {}
    placed = [_join(query, y, codes[y].to(graph.node_latent.dtype), images.get(y))
              for y in charts]
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            jump = float((query.image(a).double() - query.image(b).double()).norm())
            query.edge(a, b, jump, np.full(graph.n_steps, jump / graph.n_steps))
    return placed


def _join(query: _Query, chart: int, latent: torch.Tensor, image=None) -> int:
    """A new vertex (latent, chart) joined to its k nearest nodes of that chart, each
    edge starting at its chord lower bound (``image``: its decoding, if known)."""
    graph = query.graph
    v = query.vertex(chart, latent, image)
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
      and joined to its k nearest nodes there (a model without ``encode``, a
      semi-AGM, inverts its decoder at the point instead: its code in chart y is
      z' = argmin ||G_y(z') - x||, :mod:`~atlasnb.geodesics.inversion`); with
      ``insert="all"`` it is
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
    decoder = Decoder(graph.model, batch_size)
    query = _Query(graph, decoder)
    node_ids = all(isinstance(p, (int, np.integer)) for p in (start, end))
    with contextlib.nullcontext() if node_ids else evaluating(graph.model):
        sources = _place(query, start, "start", insert)
        goals = _place(query, end, "end", insert)
    _check_connected(query, sources, goals)
    return _solve([_Search(query, sources, goals)])[0]


def _solve(searches: list, penalties=None) -> list[GeodesicPath]:
    """Run the searches (of one graph) in lockstep until each found path has only
    exact weights: the not-yet-exact edges of all found paths are evaluated
    together, one decoding batch per chart. ``penalties`` (one (E,) array or None
    per search) is added to the graph's weights while searching (the path found
    is measured with the true weights)."""
    penalties = penalties or [None] * len(searches)
    found = [None] * len(searches)
    todo = list(range(len(searches)))
    while todo:
        pending = []
        for i in todo:
            searches[i].n_searches += 1
            route, edge_ids = searches[i].run(penalties[i])
            found[i] = (route, edge_ids)
            pending.append([e for e in edge_ids if not _exact(searches[i].query, e)])
        waiting = [(i, p) for i, p in zip(todo, pending) if p]
        if not waiting:
            break
        graph = searches[0].query.graph
        with evaluating(graph.model):
            _evaluate_paths([(searches[i].query, p) for i, p in waiting])
        for i, p in waiting:
            searches[i].n_evaluated += len(p)
        todo = [i for i, _ in waiting]
    return [_make_path(s.query, route, edge_ids, s.query.decoder.n_decoded, s.n_evaluated,
                       s.n_searches) for s, (route, edge_ids) in zip(searches, found)]


def _exact(query: _Query, e: int) -> bool:
    n_edges = len(query.graph.edges)
    return bool(query.graph.edge_exact[e]) if e < n_edges else \
        query.steps[e - n_edges] is not None


def _evaluate_paths(work: list) -> None:
    """Evaluate the eq. (10) weights of found paths' not-yet-exact edges: ``work``
    holds (query, pending edge ids) pairs; graph edges (kept in the graph, each once)
    and end-point edges alike are decoded in one batch per chart."""
    graph = work[0][0].graph
    n_edges = len(graph.edges)
    items, seen = [], set()  # (query, edge id, a, b) to evaluate
    for query, pending in work:
        for e in pending:
            if e < n_edges:
                if e in seen:
                    continue
                seen.add(e)
                items.append((query, e) + tuple(graph.edges[e].tolist()))
            else:
                items.append((query, e) + tuple(query.ends[e - n_edges]))
    charts = [q.chart(a) for q, _, a, _ in items]
    decoder = Decoder(graph.model, work[0][0].decoder.batch_size)
    for q, _, _, _ in items:  # each query counts the points decoded for it
        q.decoder.n_decoded += graph.n_steps - 1
    for chart in sorted(set(charts)):
        chosen = [items[i] for i, y in enumerate(charts) if y == chart]
        steps = step_lengths(lambda z, chart=chart: decoder(z, chart),
                              torch.stack([q.latent(a) for q, _, a, _ in chosen]),
                              torch.stack([q.latent(b) for q, _, _, b in chosen]),
                              torch.stack([q.image(a) for q, _, a, _ in chosen]),
                              torch.stack([q.image(b) for q, _, _, b in chosen]),
                              graph.n_steps, decoder.batch_size)
        on_graph = [k for k, item in enumerate(chosen) if item[1] < n_edges]
        if on_graph:
            graph.set_exact_weights(np.array([chosen[k][1] for k in on_graph]),
                             steps[on_graph], len(on_graph) * (graph.n_steps - 1))
        for k, (q, e, _, _) in enumerate(chosen):
            if e >= n_edges:
                q.steps[e - n_edges] = steps[k]
                q.weights[e - n_edges] = float(steps[k].sum())


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
        self.n_evaluated, self.n_searches = 0, 0
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

    def run(self, penalty=None) -> tuple[list, list]:
        """The vertex route of a shortest path from a source to a goal, and its edge
        ids; ``penalty`` (graph and end-point edges, as ids) is added to the weights."""
        query = self.query
        weights = np.concatenate([query.graph.edge_weights,
                                  np.asarray(query.weights, dtype=float), [0.0]])
        if penalty is not None:
            weights[:len(penalty)] += penalty
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
        n_evaluated=n_evaluated, n_searches=n_searches,
        placements=(query.placed.get("start"), query.placed.get("end")))
