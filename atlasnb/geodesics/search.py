"""Algorithm 1, part 2: end points into the graph, and A* between them.

Derived in {ref}`sec-graph-geodesics`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import networkx as nx
import numpy as np
import torch

from atlasnb.geodesics._common import _check_values, _Decoder, _evaluating, _psi_and_codes
from atlasnb.geodesics.curve import _step_lengths
from atlasnb.geodesics.graph import AtlasGraph


class DisconnectedGraphError(ValueError):
    """The two end points of a path search lie in different connected components."""


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
    x = _check_values(x, side, rows=False)
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
