"""Points equally spaced in length along a graph path, decoded and labelled with
their chart (Figure 3b).

Derived in {ref}`sec-graph-geodesics`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from atlasnb.agm import check_agm
from atlasnb.checks import check_int
from atlasnb.geodesics.decoding import Decoder, evaluating
from atlasnb.geodesics.graph import AtlasGraph
from atlasnb.geodesics.search import GeodesicPath
from atlasnb.geodesics.validate import check_path


@dataclass
class Interpolation:
    """Points equally spaced in length along a :class:`GeodesicPath` (Figure 3b).

    Attributes
    ----------
    images: (n_points, ...) decoded images.
    latents: (n_points, d) the code each image was decoded from.
    charts: (n_points,) the chart each image was decoded in (from 0).
    labels: n_points strings naming the chart counted from 1 as in the paper,
        "i/j" for a point on an edge from chart i to chart j.
    positions: (n_points,) the length along the path of each point.
    cross: (n_points,) True for points on a cross-chart edge.
    """

    images: torch.Tensor
    latents: torch.Tensor
    charts: np.ndarray
    labels: list
    positions: np.ndarray
    cross: np.ndarray


def _locate(path: GeodesicPath, position: float) -> tuple[int, float]:
    """The segment holding ``position`` and the parameter t in [0, 1] along it.

    Arc length is interpolated (``np.interp``) between the path's step knots:
    the cumulative eq. (10) terms against the latent parameter, segment j's
    step i ending at j + (i + 1) / n_steps, so t moves linearly inside a step.
    """
    if len(path.steps) == 0:
        return -1, 0.0
    if position <= 0:
        return 0, 0.0
    knots = np.concatenate([[0.0]] + [j + np.arange(1, len(s) + 1) / len(s)
                                      for j, s in enumerate(path.steps)])
    cumulative = np.concatenate([[0.0], np.cumsum(np.concatenate(path.steps))])
    parameter = float(np.interp(position, cumulative, knots))
    segment = min(int(parameter), len(path.steps) - 1)
    return segment, parameter - segment


def _place(path: GeodesicPath, position: float) -> tuple:
    """Where a point at ``position`` along the path is decoded.

    Returns (latent, chart, vertex, label, on_cross): ``vertex`` is the index of
    the path vertex whose image it shows, or None if it must be decoded at
    ``latent`` in ``chart``.
    """
    segment, t = _locate(path, position)
    on_cross = segment >= 0 and bool(path.cross[segment]) and 0.0 < t < 1.0
    if segment < 0 or on_cross or t <= 0.0 or t >= 1.0:
        vertex = max(segment, 0) + (1 if segment >= 0 and t >= 0.5 else 0)
        chart = int(path.charts[vertex])
        label = (f"{path.charts[segment] + 1}/{path.charts[segment + 1] + 1}"
                 if on_cross else str(chart + 1))
        return path.latents[vertex], chart, vertex, label, on_cross
    a, b = path.latents[segment], path.latents[segment + 1]
    chart = int(path.charts[segment])
    return a + t * (b - a), chart, None, str(chart + 1), False


def interpolate(model_or_graph, path: GeodesicPath, n_points: int = 10,
                batch_size: int = 4096) -> Interpolation:
    """``n_points`` points equally spaced in eq. (10) length along ``path``, decoded.

    The first and last points are the path's end points. A point inside a
    within-chart segment is decoded in that chart at the latent parameter found
    from the segment's cumulative eq. (10) terms (linear within one of its
    n_steps sub-steps). A point on a cross-chart edge, a jump in data space with
    no latent curve, shows the decoding of the nearer end of that edge (every
    image is a model output) and is labelled "i/j". Labels count charts from 1,
    as the paper does; the ``charts`` array counts from 0, as ``decode`` does.
    ``model_or_graph`` is the AGM or the :class:`AtlasGraph` holding it.
    Derived in {ref}`sec-graph-geodesics`.
    """
    model = model_or_graph.model if isinstance(model_or_graph, AtlasGraph) else model_or_graph
    check_agm(model, encoder=False)
    path = check_path(model, path)
    check_int("n_points", n_points, minimum=2)
    positions = np.linspace(0.0, path.length, n_points)
    latents, charts, vertices, labels, cross = zip(*(_place(path, p) for p in positions))
    images = [path.images[v] if v is not None else None for v in vertices]
    decoder = Decoder(model, batch_size)
    with evaluating(model):
        for chart in set(charts):
            todo = [j for j in range(n_points) if vertices[j] is None and charts[j] == chart]
            if todo:
                decoded = decoder(torch.stack([latents[j] for j in todo]), chart)
                for j, image in zip(todo, decoded):
                    images[j] = image
    return Interpolation(images=torch.stack(images), latents=torch.stack(latents),
                         charts=np.array(charts), labels=list(labels), positions=positions,
                         cross=np.array(cross, dtype=bool))
