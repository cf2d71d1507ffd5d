"""Graph geodesics in Atlas Generative Models: Algorithm 1, A* and interpolation.

Derived in {ref}`sec-graph-geodesics`. Everything here talks to a model only
through the AGM interface (:mod:`atlasnb.agm`): ``n_charts`` (m),
``latent_dim`` (d), ``partition`` (psi), ``encode`` (F) and ``decode`` (G).

- :func:`curve_length`: eq. (10), the length of a straight latent segment
  measured in data space.
- :func:`build_atlas_graph`: Algorithm 1, part 1: encode data points, decode
  the node images and hand them to :meth:`AtlasGraph.from_nodes`, which joins
  k nearest neighbours per chart and the given cross-chart edges. With m = 1 it
  is the single-chart graph of Chen et al. (2019), by the same code.
- :func:`shortest_path`: Algorithm 1, part 2, A* with the data-space
  straight-line heuristic, exact on lazy weights.
- :func:`shortest_paths`: many queries at once, the searches in lockstep.
- :func:`refine`, :func:`refine_all`: graph paths straightened through the
  decoders, trying other chart sequences, one path or many at once.
- :func:`straight_path`: the straight latent segment between two data points.
- :func:`interpolate`: points equally spaced in length along a path, decoded and
  labelled with their chart (Figure 3b).
- :func:`graph_statistics`: the numbers of Table 1.

Decoding is the cost of Algorithm 1, so every point is decoded at most once
and only when needed: each node's image G_y(F_y(x)) is decoded once and reused
as the end point of its edges; a within-chart edge starts at the chord between
its end images, a lower bound of its eq. (10) length, and decodes its
``n_steps - 1`` interior points only when a search needs its exact weight
(or all at once with :meth:`AtlasGraph.evaluate_all`).

The subpackage holds one idea a module: :mod:`~atlasnb.geodesics.curve` (eq. (10)),
:mod:`~atlasnb.geodesics.graph` (Algorithm 1's graph),
:mod:`~atlasnb.geodesics.edges` (its nodes, neighbours and edge weights),
:mod:`~atlasnb.geodesics.storage` (a graph saved as tensors),
:mod:`~atlasnb.geodesics.statistics` (Table 1's numbers),
:mod:`~atlasnb.geodesics.search` (end points and A*),
:mod:`~atlasnb.geodesics.validate` (paths and edge ids checked where they enter),
:mod:`~atlasnb.geodesics.many` (many queries at once),
:mod:`~atlasnb.geodesics.inversion` (codes of a model without an encoder),
:mod:`~atlasnb.geodesics.path` (a query's result),
:mod:`~atlasnb.geodesics.straight` (the straight latent segment),
:mod:`~atlasnb.geodesics.measure` (a path measured finely),
:mod:`~atlasnb.geodesics.decoding` (decoding and encoding in batches),
:mod:`~atlasnb.geodesics.refine`, :mod:`~atlasnb.geodesics.choose` and
:mod:`~atlasnb.geodesics.batch` (refinement) and
``atlasnb/geodesics/interpolate.py`` (Figure 3b's points) and
:mod:`~atlasnb.geodesics.prior` (the graph over points drawn from the prior). The public
names are importable from here.
"""

from atlasnb.geodesics.choose import Candidate
from atlasnb.geodesics.curve import DEFAULT_N_STEPS, FLOAT32_RTOL, curve_length
from atlasnb.geodesics.graph import DEFAULT_K, EPS_CAP, AtlasGraph, build_atlas_graph, default_eps
from atlasnb.geodesics.interpolate import Interpolation, interpolate
from atlasnb.geodesics.many import shortest_paths
from atlasnb.geodesics.measure import measure_path
from atlasnb.geodesics.path import GeodesicPath
from atlasnb.geodesics.prior import PriorGraph, build_prior_graph, prior_memberships
from atlasnb.geodesics.refine import refine, refine_all
from atlasnb.geodesics.search import INSERT_MODES, DisconnectedGraphError, shortest_path
from atlasnb.geodesics.statistics import graph_statistics, hop_diameter
from atlasnb.geodesics.straight import straight_path

__all__ = ["DEFAULT_K", "DEFAULT_N_STEPS", "EPS_CAP", "FLOAT32_RTOL", "AtlasGraph", "Candidate",
           "DisconnectedGraphError", "GeodesicPath", "INSERT_MODES", "Interpolation",
           "PriorGraph", "build_atlas_graph", "build_prior_graph", "curve_length",
           "default_eps", "graph_statistics", "hop_diameter", "interpolate", "measure_path",
           "prior_memberships", "refine", "refine_all", "shortest_path", "shortest_paths",
           "straight_path"]
