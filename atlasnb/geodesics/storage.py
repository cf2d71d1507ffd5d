"""An :class:`~atlasnb.geodesics.graph.AtlasGraph` as plain tensors and numbers, and
back: what a saved graph holds (no model), evaluated weights included.

Derived in {ref}`sec-graph-geodesics`.
"""

from __future__ import annotations

import numpy as np
import torch

from atlasnb.agm import check_agm
from atlasnb.fingerprint import check_fingerprint, model_fingerprint

#: The numpy fields of an AtlasGraph saved by ``AtlasGraph.to_arrays`` and their dtypes.
_ARRAY_FIELDS = {"node_index": torch.int64, "node_chart": torch.int64,
                 "chart_offsets": torch.int64, "edges": torch.int64,
                 "edge_weights": torch.float64, "edge_bounds": torch.float64,
                 "edge_exact": torch.bool, "edge_cross": torch.bool,
                 "edge_steps": torch.float64}
_TENSOR_FIELDS = ("node_latent", "node_images")
_NUMBER_FIELDS = ("k", "eps", "n_steps", "n_decoded", "point_shape", "layout", "fingerprint")
#: The version of ``AtlasGraph.to_arrays``'s layout (2: with the model's fingerprint).
GRAPH_LAYOUT = 2


def graph_to_arrays(graph) -> dict:
    """``graph`` as a dict of tensors and numbers, loadable with
    ``torch.load(weights_only=True)``, with the fingerprint of its model."""
    arrays = {name: torch.from_numpy(np.ascontiguousarray(getattr(graph, name)))
              for name in _ARRAY_FIELDS}
    arrays.update(node_latent=graph.node_latent, node_images=graph.node_images,
                  k=graph.k, eps=graph.eps, n_steps=graph.n_steps, n_decoded=graph.n_decoded,
                  point_shape=list(graph.point_shape), layout=GRAPH_LAYOUT,
                  fingerprint=model_fingerprint(graph.model))
    return arrays


def _fail(what: str) -> None:
    raise ValueError(f"the saved graph is damaged: {what}; save it again with "
                     "AtlasGraph.to_arrays, or build it again")


def _check_types(arrays: dict) -> None:
    """Every key there, every array a tensor of its dtype."""
    if not isinstance(arrays, dict):
        raise ValueError(f"arrays must be a dict from AtlasGraph.to_arrays, got "
                         f"{type(arrays).__name__}")
    if arrays.get("layout") != GRAPH_LAYOUT:
        raise ValueError(f"arrays must come from AtlasGraph.to_arrays with layout "
                         f"{GRAPH_LAYOUT}, got layout {arrays.get('layout')!r} (a graph "
                         "saved by an older atlasnb: build it again)")
    missing = [key for key in (*_ARRAY_FIELDS, *_TENSOR_FIELDS, *_NUMBER_FIELDS)
               if key not in arrays]
    if missing:
        _fail(f"it lacks the keys {missing}")
    for name in (*_ARRAY_FIELDS, *_TENSOR_FIELDS):
        value = arrays[name]
        if not isinstance(value, torch.Tensor):
            _fail(f"{name} is a {type(value).__name__}, not a torch tensor")
        wanted = _ARRAY_FIELDS.get(name)
        if (wanted is not None and value.dtype != wanted) or \
                (wanted is None and not value.is_floating_point()):
            _fail(f"{name} has dtype {value.dtype}, not {wanted or 'a floating point one'}")
    for name in ("k", "n_steps", "n_decoded"):
        if isinstance(arrays[name], bool) or not isinstance(arrays[name], int) \
                or arrays[name] < (0 if name == "n_decoded" else 1):
            _fail(f"{name} is {arrays[name]!r}, not an integer >= "
                  f"{0 if name == 'n_decoded' else 1}")
    shape = arrays["point_shape"]
    if not isinstance(shape, (list, tuple)) or not all(
            isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in shape):
        _fail(f"point_shape is {shape!r}, not a list of sizes >= 1")
    if isinstance(arrays["eps"], bool) or not isinstance(arrays["eps"], (int, float)) \
            or not 0 <= arrays["eps"] < 1:
        _fail(f"eps is {arrays['eps']!r}, not a number in [0, 1)")


def _check_shapes(model, arrays: dict) -> None:
    """Every shape, id range and offset consistent with the model and the others."""
    a = {name: arrays[name] for name in (*_ARRAY_FIELDS, *_TENSOR_FIELDS)}
    n, m, d = len(a["node_chart"]), model.n_charts, model.latent_dim
    n_edges, n_steps = len(a["edges"]), arrays["n_steps"]
    shapes = {"node_index": (n,), "node_chart": (n,), "chart_offsets": (m + 1,),
              "edges": (n_edges, 2), "edge_weights": (n_edges,), "edge_bounds": (n_edges,),
              "edge_exact": (n_edges,), "edge_cross": (n_edges,),
              "edge_steps": (n_edges, n_steps), "node_latent": (n, d),
              "node_images": (n, *arrays["point_shape"])}
    for name, shape in shapes.items():
        if tuple(a[name].shape) != shape:
            _fail(f"{name} has shape {tuple(a[name].shape)}, expected {shape} "
                  f"(n = {n} nodes, E = {n_edges} edges, m = {m}, d = {d})")
    chart, edges = a["node_chart"], a["edges"]
    if n and (int(chart.min()) < 0 or int(chart.max()) >= m):
        _fail(f"node_chart holds charts from {int(chart.min())} to {int(chart.max())}, "
              f"outside [0, {m})")
    if bool((chart[1:] < chart[:-1]).any()):
        _fail("node_chart is not ordered by chart")
    offsets = torch.cat([torch.zeros(1, dtype=torch.int64),
                         torch.cumsum(torch.bincount(chart, minlength=m), 0)])
    if not torch.equal(offsets, a["chart_offsets"]):
        _fail(f"chart_offsets is {a['chart_offsets'].tolist()}, but node_chart gives "
              f"{offsets.tolist()}")
    if n_edges and (int(edges.min()) < 0 or int(edges.max()) >= n):
        _fail(f"edges hold node ids from {int(edges.min())} to {int(edges.max())}, "
              f"outside [0, {n})")
    if n_edges and not bool((edges[:, 0] < edges[:, 1]).all()):
        _fail("edges are not all node pairs u < v")
    if n_edges and not torch.equal(chart[edges[:, 0]] != chart[edges[:, 1]], a["edge_cross"]):
        _fail("edge_cross does not mark the edges between charts")
    for name in ("edge_weights", "edge_bounds"):
        if not bool((torch.isfinite(a[name]) & (a[name] >= 0)).all()):
            _fail(f"{name} holds NaN, infinite or negative values")
    exact_steps = a["edge_steps"][a["edge_exact"]]
    if not bool((torch.isfinite(exact_steps) & (exact_steps >= 0)).all()):
        _fail("edge_steps of exact edges hold NaN, infinite or negative values")
    if n and int(a["node_index"].min()) < -1:
        _fail("node_index holds ids below -1")
    for name in _TENSOR_FIELDS:
        if not bool(torch.isfinite(a[name]).all()):
            _fail(f"{name} holds NaN or infinite values")


def graph_fields(model, arrays: dict) -> dict:
    """The AtlasGraph fields (all but the model) of ``arrays`` from
    :func:`graph_to_arrays`, checked: every key, dtype, shape, id range and offset,
    and that ``model`` is the one the graph was built from (its fingerprint)."""
    check_agm(model, encoder=False)
    _check_types(arrays)
    check_fingerprint("the graph", arrays["fingerprint"], model)
    _check_shapes(model, arrays)
    return dict(**{name: arrays[name].numpy() for name in _ARRAY_FIELDS},
                node_latent=arrays["node_latent"], node_images=arrays["node_images"],
                k=int(arrays["k"]), eps=float(arrays["eps"]),
                n_steps=int(arrays["n_steps"]), n_decoded=int(arrays["n_decoded"]),
                point_shape=tuple(arrays["point_shape"]))
