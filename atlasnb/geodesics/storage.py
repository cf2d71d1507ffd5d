"""An :class:`~atlasnb.geodesics.graph.AtlasGraph` as plain tensors and numbers, and
back: what a saved graph holds (no model), evaluated weights included.

Derived in {ref}`sec-graph-geodesics`.
"""

from __future__ import annotations

import numpy as np
import torch

from atlasnb.agm import check_agm

#: The numpy fields of an AtlasGraph saved by ``AtlasGraph.to_arrays``.
_ARRAY_FIELDS = ("node_index", "node_chart", "chart_offsets", "edges", "edge_weights",
                 "edge_bounds", "edge_exact", "edge_cross", "edge_steps")
#: The version of ``AtlasGraph.to_arrays``'s layout.
GRAPH_LAYOUT = 1


def graph_to_arrays(graph) -> dict:
    """``graph`` as a dict of tensors and numbers, loadable with
    ``torch.load(weights_only=True)``."""
    arrays = {name: torch.from_numpy(np.ascontiguousarray(getattr(graph, name)))
              for name in _ARRAY_FIELDS}
    arrays.update(node_latent=graph.node_latent, node_images=graph.node_images,
                  k=graph.k, eps=graph.eps, n_steps=graph.n_steps, n_decoded=graph.n_decoded,
                  point_shape=list(graph.point_shape), layout=GRAPH_LAYOUT)
    return arrays


def graph_fields(model, arrays: dict) -> dict:
    """The AtlasGraph fields (all but the model) of ``arrays`` from
    :func:`graph_to_arrays`, checked."""
    check_agm(model, encoder=False)
    if not isinstance(arrays, dict) or arrays.get("layout") != GRAPH_LAYOUT:
        raise ValueError(f"arrays must be a dict from AtlasGraph.to_arrays with layout "
                         f"{GRAPH_LAYOUT}, got "
                         f"{arrays.get('layout') if isinstance(arrays, dict) else arrays!r}")
    return dict(**{name: arrays[name].numpy() for name in _ARRAY_FIELDS},
                node_latent=arrays["node_latent"], node_images=arrays["node_images"],
                k=int(arrays["k"]), eps=float(arrays["eps"]),
                n_steps=int(arrays["n_steps"]), n_decoded=int(arrays["n_decoded"]),
                point_shape=tuple(arrays["point_shape"]))
