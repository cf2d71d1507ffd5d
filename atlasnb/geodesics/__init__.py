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

The subpackage holds one idea a module: :mod:`~atlasnb.geodesics.curve` (eq. (10)),
:mod:`~atlasnb.geodesics.graph` (Algorithm 1's graph),
:mod:`~atlasnb.geodesics.statistics` (Table 1's numbers),
:mod:`~atlasnb.geodesics.search` (end points and A*) and
:mod:`~atlasnb.geodesics.interpolate` (Figure 3b's points). The public names are
importable from here.
"""

from atlasnb.geodesics.curve import DEFAULT_N_STEPS, curve_length
from atlasnb.geodesics.graph import (DEFAULT_K, EPS_CAP, AtlasGraph, build_atlas_graph,
                                     default_eps)
from atlasnb.geodesics.interpolate import Interpolation, interpolate
from atlasnb.geodesics.search import DisconnectedGraphError, GeodesicPath, shortest_path
from atlasnb.geodesics.statistics import graph_statistics, hop_diameter

__all__ = ["DEFAULT_K", "DEFAULT_N_STEPS", "EPS_CAP", "AtlasGraph", "DisconnectedGraphError",
           "GeodesicPath", "Interpolation", "build_atlas_graph", "curve_length",
           "default_eps", "graph_statistics", "hop_diameter", "interpolate",
           "shortest_path"]
