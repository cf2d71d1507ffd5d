"""One resolution for every length: straight, graph and refined paths measured alike.

Used by {ref}`sec-experiments` ("Shorter than the straight line"). A sum of chords
grows as the curve is cut finer, so two paths compare only when they are cut at the
same resolution. Eq. (10) with n steps per segment does not do that: a straight
latent segment is one segment, a graph path of many edges gets n steps on each, and
the path with more vertices is measured more finely. :func:`measure` cuts every
within-chart segment into steps of at most ``resolution`` in the latent space, so a
straight segment, a graph path and a refined curve along the same latent line give
the same length. :func:`graph_resolution` picks the resolution at which a median
within-chart edge of the graph gets the paper's n steps. A chart change is one jump
||G_i(z) - G_j(z')||, as in Algorithm 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from atlasnb.checks import check_positive
from atlasnb.geodesics import GeodesicPath
from atlasnb.geodesics.curve import step_lengths
from atlasnb.geodesics.decoding import Decoder, evaluating


def graph_resolution(graph) -> float:
    """The latent step at which the median within-chart edge of ``graph`` (an
    :class:`atlasnb.geodesics.AtlasGraph`) is cut into the graph's n steps."""
    inside = ~np.asarray(graph.edge_cross, dtype=bool)
    if not inside.any():
        raise ValueError("graph has no within-chart edge to take a resolution from")
    u, v = np.asarray(graph.edges)[inside].T
    latent = graph.node_latent.double()
    spans = (latent[torch.from_numpy(u)] - latent[torch.from_numpy(v)]).norm(dim=1)
    return float(spans.median()) / graph.n_steps


def segment_steps(span: float, resolution: float) -> int:
    """The number of eq. (10) steps for a latent segment of length ``span``: the
    fewest steps of at most ``resolution`` each (at least one)."""
    return max(1, math.ceil(span / resolution - 1e-9))


def measure(model, path: GeodesicPath, resolution: float,
            batch_size: int = 4096) -> GeodesicPath:
    """``path`` measured at ``resolution``: a copy whose ``steps`` and ``length``
    are eq. (10) with :func:`segment_steps` steps on every within-chart segment
    (the jump ||G_i(z) - G_j(z')|| on a chart change, as one step)."""
    resolution = check_positive("resolution", resolution)
    if not isinstance(path, GeodesicPath):
        raise TypeError(f"path must be a GeodesicPath, got {type(path).__name__}")
    decoder = Decoder(model, batch_size)
    steps = []
    with evaluating(model):
        for a in range(len(path.charts) - 1):
            image0, image1 = path.images[a:a + 1], path.images[a + 1:a + 2]
            if path.charts[a] != path.charts[a + 1]:
                steps.append(np.array([float((image0.double() - image1.double()).norm())]))
                continue
            z0, z1 = path.latents[a:a + 1], path.latents[a + 1:a + 2]
            n = segment_steps(float((z1.double() - z0.double()).norm()), resolution)
            chart = int(path.charts[a])
            steps.append(step_lengths(lambda z, chart=chart: decoder(z, chart), z0, z1,
                                       image0, image1,
                                       n, decoder.batch_size)[0])
    return GeodesicPath(length=float(sum(s.sum() for s in steps)), nodes=path.nodes,
                        charts=path.charts, latents=path.latents, images=path.images,
                        data_indices=path.data_indices, steps=steps, cross=path.cross,
                        n_decoded=path.n_decoded + decoder.n_decoded)
