"""Many geodesic queries at once, and the next best graph paths of a query.

Derived in {ref}`sec-graph-geodesics` and {ref}`sec-graph-refinement`.
:func:`~atlasnb.geodesics.shortest_paths` answers many start and end pairs on one
graph: the end points are encoded and decoded together, and the A* searches run
in lockstep, so the edges that all found paths still need are evaluated in one
decoding batch per chart and every later search reuses them. Each answer is the
path :func:`~atlasnb.geodesics.shortest_path` finds alone (both are exact shortest
paths of the eager graph).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from atlasnb.geodesics._common import _check_values
from atlasnb.geodesics.decoding import Decoder, evaluating, psi_and_codes
from atlasnb.geodesics.graph import AtlasGraph
from atlasnb.geodesics.inversion import codes_by_inversion
from atlasnb.geodesics.search import (
    INSERT_MODES,
    DisconnectedGraphError,
    _check_connected,
    _join,
    _place,
    _place_codes,
    _Query,
    _Search,
    _solve,
)

DISCONNECTED = ("raise", "none")


def _end_points(graph: AtlasGraph, points, name: str) -> list:
    """``points`` as a list of end points: the rows of a (B, ...) tensor or array of
    data points, or a sequence of data points, (z, y) pairs or node ids."""
    if isinstance(points, np.ndarray) and not np.issubdtype(points.dtype, np.integer):
        points = torch.from_numpy(points)
    if isinstance(points, torch.Tensor):
        if tuple(points.shape[1:]) != graph.point_shape:
            raise ValueError(f"{name} as a tensor must hold data points shaped (B,) + "
                             f"{graph.point_shape}, got {tuple(points.shape)}")
        return list(points)
    if isinstance(points, np.ndarray):
        return [int(p) for p in points.ravel()]
    if not isinstance(points, (list, tuple)):
        raise TypeError(f"{name} must be a tensor of data points (B, ...) or a list of end "
                        f"points (data points, (z, y) pairs or node ids), got "
                        f"{type(points).__name__}")
    return list(points)


def shortest_paths(graph: AtlasGraph, starts, ends, batch_size: int = 4096,
                   insert: str = "own", disconnected: str = "raise") -> list:
    """Algorithm 1, part 2, for many pairs: the shortest graph path from each of
    ``starts`` to the matching one of ``ends``.

    ``starts`` and ``ends`` are tensors of data points shaped (B, ...) or lists of
    end points as :func:`~atlasnb.geodesics.shortest_path` takes them, of one length
    B >= 1. The data points are encoded in one batch and their placements decoded
    in one batch per chart; the A* searches then run in lockstep, the not-yet-exact
    edges of all found paths evaluated together, until every path has only exact
    weights. Returns B :class:`~atlasnb.geodesics.GeodesicPath` s, each the one
    :func:`~atlasnb.geodesics.shortest_path` returns for its pair. A pair whose ends
    lie in different components raises :class:`DisconnectedGraphError` naming it
    (``disconnected="raise"``) or gets None (``"none"``). In a batch, an edge that
    several searches evaluate is counted in ``n_decoded`` of the first.
    """
    if not isinstance(graph, AtlasGraph):
        raise TypeError(f"graph must be an AtlasGraph from build_atlas_graph, "
                        f"got {type(graph).__name__}")
    if insert not in INSERT_MODES:
        raise ValueError(f"insert must be one of {INSERT_MODES}, got {insert!r}")
    if disconnected not in DISCONNECTED:
        raise ValueError(f"disconnected must be one of {DISCONNECTED}, got {disconnected!r}")
    starts, ends = _end_points(graph, starts, "starts"), _end_points(graph, ends, "ends")
    if len(starts) != len(ends):
        raise ValueError(f"starts and ends must hold as many end points, got "
                         f"{len(starts)} starts and {len(ends)} ends")
    if not starts:
        raise ValueError("starts and ends are empty: give at least one pair")
    queries = [_Query(graph, Decoder(graph.model, batch_size)) for _ in starts]
    data = [(i, side, p) for i, pair in enumerate(zip(starts, ends))
            for side, p in zip(("start", "end"), pair) if isinstance(p, torch.Tensor)]
    placed = {}
    with evaluating(graph.model):
        placed.update(_place_data(graph, queries, data, insert, batch_size))
        for i, pair in enumerate(zip(starts, ends)):
            for side, point in zip(("start", "end"), pair):
                if (i, side) not in placed:
                    placed[i, side] = _place(queries[i], point, side, insert)
    searches, index, result = [], [], [None] * len(starts)
    for i, query in enumerate(queries):
        try:
            _check_connected(query, placed[i, "start"], placed[i, "end"])
        except DisconnectedGraphError as error:
            if disconnected == "raise":
                raise DisconnectedGraphError(f"pair {i}: {error}") from None
            continue
        searches.append(_Search(query, placed[i, "start"], placed[i, "end"]))
        index.append(i)
    for i, path in zip(index, _solve(searches) if searches else []):
        result[i] = path
    return result


def _place_data(graph: AtlasGraph, queries: list, data: list, insert: str,
                batch_size: int) -> dict:
    """Place every data-point end (pair, side, x): one encoding batch for all, one
    decoding batch per chart for their placements."""
    if not data:
        return {}
    rows = []
    for i, side, point in data:
        if tuple(point.shape) not in (graph.point_shape, (1,) + graph.point_shape):
            raise ValueError(f"{side} of pair {i} as a data point must be shaped "
                             f"{graph.point_shape} (one row of x), got {tuple(point.shape)}")
        rows.append(_check_values(point.reshape(graph.point_shape), f"{side} of pair {i}",
                                  rows=False))
    x = torch.stack(rows)
    psi, codes = psi_and_codes(graph.model, x, batch_size)
    if codes is None:  # a semi-AGM: each point's codes by decoder inversion
        codes = torch.cat([codes_by_inversion(graph, x[i:i + 1], psi[i:i + 1])
                           for i in range(len(x))])
    wanted = [[int(np.argmax(row))] if insert == "own" else np.flatnonzero(row > graph.eps)
              .tolist() for row in psi]
    images = [dict() for _ in data]
    decoder = Decoder(graph.model, batch_size)
    for y in range(graph.n_charts):
        chosen = [k for k, charts in enumerate(wanted) if y in charts]
        if chosen:
            decoded = decoder(codes[chosen, y].to(graph.node_latent.dtype), y)
            for k, image in zip(chosen, decoded):
                images[k][y] = image
                queries[data[k][0]].decoder.n_decoded += 1
    return {(i, side): _place_codes(queries[i], psi[k], codes[k], side, insert, images[k])
            for k, (i, side, _) in enumerate(data)}


def chart_sequence(charts) -> tuple:
    """The charts a path visits (its ``charts``), in order, each run of one chart once."""
    charts = np.asarray(charts)
    return tuple(int(y) for y in charts[np.r_[True, charts[1:] != charts[:-1]]])


def alternative_paths(graph: AtlasGraph, paths: list, n_alternatives: int,
                      batch_size: int = 4096) -> list:
    """For each graph path, up to ``n_alternatives`` next best graph paths with other
    chart sequences (a list per path).

    Each path's end points enter at every chart holding them (its ``placements``,
    as ``insert="all"`` does); each round adds, to every cross-chart edge (and
    end-point jump) between two charts that a path found so far changes between,
    that path's length, and searches again (all pairs in lockstep). A path whose
    chart sequence was found before is dropped. Paths without placements, or whose
    found paths change no chart and whose ends lie in one chart each, get none.
    """
    found = [[p] for p in paths]
    extra = [[] for _ in paths]
    edge_pairs = np.sort(graph.node_chart[graph.edges], axis=1)
    eligible = [i for i, path in enumerate(paths) if path is not None
                and path.placements is not None and None not in path.placements]
    images = _placement_images(graph, [paths[i] for i in eligible], batch_size)
    images = dict(zip(eligible, images))
    for _ in range(n_alternatives):
        searches, penalties, index = [], [], []
        for i in eligible:
            path = paths[i]
            changes = {tuple(sorted(pair)) for p in found[i]
                       for pair in zip(chart_sequence(p.charts)[:-1], chart_sequence(p.charts)[1:])}
            several = any(len(np.unique(charts)) > 1 for charts, _ in path.placements)
            if not changes and not several:
                continue
            query = _Query(graph, Decoder(graph.model, batch_size))
            query.decoder.n_decoded += sum(len(side) for side in images[i])
            with evaluating(graph.model):
                sources = _join_all(query, *path.placements[0], images[i][0])
                goals = _join_all(query, *path.placements[1], images[i][1])
            penalty = np.zeros(len(graph.edges) + len(query.ends))
            ends = np.sort(np.array([[query.chart(a), query.chart(b)] for a, b in query.ends],
                                    dtype=np.int64).reshape(-1, 2), axis=1)
            pairs = np.concatenate([edge_pairs, ends])
            for a, b in changes:
                penalty[(pairs[:, 0] == a) & (pairs[:, 1] == b)] += path.length
            with contextlib.suppress(DisconnectedGraphError):
                _check_connected(query, sources, goals)
                searches.append(_Search(query, sources, goals))
                penalties.append(penalty)
                index.append(i)
        if not searches:
            break
        for i, new in zip(index, _solve(searches, penalties)):
            if all(chart_sequence(new.charts) != chart_sequence(p.charts) for p in found[i]):
                extra[i].append(new)
            found[i].append(new)
    return extra


def _placement_images(graph: AtlasGraph, paths: list, batch_size: int) -> list:
    """The decodings of every placement of both ends of every path, (start images,
    end images) per path, decoded in one batch per chart for all paths."""
    rows = [(p, side, k, int(y), z) for p, path in enumerate(paths)
            for side, (charts, codes) in enumerate(path.placements)
            for k, (y, z) in enumerate(zip(charts, codes))]
    images = [[[None] * len(charts) for charts, _ in path.placements] for path in paths]
    decoder = Decoder(graph.model, batch_size)
    with evaluating(graph.model):
        for y in sorted({row[3] for row in rows}):
            chosen = [row for row in rows if row[3] == y]
            decoded = decoder(torch.stack([z for *_, z in chosen])
                              .to(graph.node_latent.dtype), y)
            for (p, side, k, _, _), image in zip(chosen, decoded):
                images[p][side][k] = image
    return images


def _join_all(query: _Query, charts, codes, images) -> list:
    """The placements (charts, codes, their decodings) of one end point as query
    vertices, each joined to its k nearest nodes and to the others by the jump
    between decodings."""
    placed = [_join(query, int(y), z, image) for y, z, image in zip(charts, codes, images)]
    n_steps = query.graph.n_steps
    for i, a in enumerate(placed):
        for b in placed[i + 1:]:
            jump = float((query.image(a).double() - query.image(b).double()).norm())
            query.edge(a, b, jump, np.full(n_steps, jump / n_steps))
    return placed
