"""The result of a geodesic query: a chart-labelled path through latent codes.

Derived in {ref}`sec-graph-geodesics`; :func:`~atlasnb.geodesics.shortest_path` and
:func:`~atlasnb.geodesics.refine` return it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


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
    placements: for the start and the end, the charts (k,) and codes (k, d) of every
        chart holding that end point (psi > eps; for a node, its data point's nodes;
        for a (z, y) pair, chart y only), where refinement may let the path begin
        or end; None where unknown.
    candidates: the chart sequences refinement tried, as
        :class:`~atlasnb.geodesics.choose.Candidate` records (empty for a graph path).
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
    placements: tuple | None = None
    candidates: list = field(default_factory=list)

    @property
    def segment_lengths(self) -> np.ndarray:
        """(L - 1,) the length of each segment."""
        return np.array([s.sum() for s in self.steps])
