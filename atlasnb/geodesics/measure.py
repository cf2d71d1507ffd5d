"""A path measured finely: eq. (10) on every segment, at one number of steps.

Derived in {ref}`sec-graph-refinement`: graph, straight and refined paths compare on
the same terms.
"""

from __future__ import annotations

from atlasnb.agm import check_agm
from atlasnb.checks import check_eps, check_int
from atlasnb.geodesics.batch import measure_polylines
from atlasnb.geodesics.curve import DEFAULT_N_STEPS
from atlasnb.geodesics.decoding import Decoder, evaluating
from atlasnb.geodesics.graph import AtlasGraph, default_eps
from atlasnb.geodesics.path import GeodesicPath
from atlasnb.geodesics.validate import check_path

#: Steps of eq. (10) on every straight latent segment when a path is measured:
#: the paper's n, so a graph path's own edge weights are already measured so.
MEASURE_STEPS = DEFAULT_N_STEPS

def _model_and_eps(model_or_graph, eps):
    if isinstance(model_or_graph, AtlasGraph):
        model = model_or_graph.model
        eps = model_or_graph.eps if eps is None else check_eps(eps)
    else:
        model = model_or_graph
        check_agm(model, encoder=False)
        eps = default_eps(model.n_charts) if eps is None else check_eps(eps)
    check_agm(model, encoder=False)  # a semi-AGM's path is refined from its own codes
    return model, eps


def measure_path(model_or_graph, path: GeodesicPath, n_steps: int = MEASURE_STEPS,
                 batch_size: int = 4096) -> GeodesicPath:
    """``path`` measured finely: a copy whose ``steps`` and ``length`` are eq. (10)
    with ``n_steps`` steps on every within-chart segment (the jump
    ||G_i(z) - G_j(z')|| on a chart change), so that paths built in different ways
    compare on the same terms. Derived in {ref}`sec-graph-refinement`.
    """
    model, _ = _model_and_eps(model_or_graph, None)
    path = check_path(model, path)
    check_int("n_steps", n_steps, minimum=1)
    decoder = Decoder(model, batch_size)
    with evaluating(model):
        steps = measure_polylines(decoder, [(path.charts, path.latents, path.images)],
                                  n_steps)[0]
    return GeodesicPath(length=float(sum(s.sum() for s in steps)), nodes=path.nodes,
                        charts=path.charts, latents=path.latents, images=path.images,
                        data_indices=path.data_indices, steps=steps, cross=path.cross,
                        n_decoded=path.n_decoded + decoder.n_decoded,
                        n_evaluated=path.n_evaluated, n_searches=path.n_searches,
                        placements=path.placements)
