"""Table 1's graph numbers: nodes, edges, components and the hop diameter.

Derived in {ref}`sec-graph-geodesics`. Bulk graph statistics use
``scipy.sparse.csgraph``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from atlasnb.geodesics.graph import AtlasGraph


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
