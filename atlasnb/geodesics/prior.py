"""The prior-sampled graph: Algorithm 1's graph over latent points drawn from P(Z, Y).

Derived in {ref}`sec-graph-prior`. Section 3.1 of the paper ends by proposing
another source of nodes than encoded data: draw (z, y) from the prior, decode
x = G_y(z), and join (z, y) to the encodings (F_j(x), j) of x in the other charts
j whose sets U_j = {psi_j > eps} hold x (optionally only where U_y holds x too).
Within each chart the nodes are joined as in Algorithm 1 (k nearest neighbours,
eq. (10) weights), so the result is an
:class:`~atlasnb.geodesics.AtlasGraph` that :func:`~atlasnb.geodesics.shortest_path`,
:func:`~atlasnb.geodesics.interpolate` and
:func:`~atlasnb.geodesics.graph_statistics` take unchanged.

The prior comes from the model, through the optional ``sample_latent`` of the AGM
interface (:class:`atlasnb.agm.SampledAGM`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm  # text bars: they render on a page; tqdm.auto warns without ipywidgets

from atlasnb.agm import check_agm, draw_latent
from atlasnb.checks import check_eps, check_int
from atlasnb.geodesics.curve import DEFAULT_N_STEPS
from atlasnb.geodesics.decoding import Decoder, evaluating, psi_and_codes
from atlasnb.geodesics.graph import DEFAULT_K, AtlasGraph, default_eps
from atlasnb.geodesics.inversion import link_by_inversion


@dataclass(eq=False, repr=False)
class PriorGraph(AtlasGraph):
    """An :class:`~atlasnb.geodesics.AtlasGraph` whose nodes come from prior samples.

    Node ``v`` comes from sample ``node_index[v]``: it is either the sample itself,
    (z_i, y_i) (``node_sampled[v]``), or an encoding (F_j(x_i), j) of its decoding
    x_i = G_{y_i}(z_i) in another chart j. Cross-chart edges join a sample's own
    node to its encodings, weighted by the jump ||G_{y_i}(z_i) - G_j(F_j(x_i))||.

    Extra attributes
    ----------------
    sample_codes: (n_points, d) the drawn codes z_i.
    sample_charts: (n_points,) the drawn charts y_i.
    sample_psi: (n_points, m) psi(x_i) at each decoded sample.
    seed: the seed the samples were drawn with.
    require_own_chart: whether links needed psi > eps in the sample's own chart too.
    """

    sample_codes: torch.Tensor | None = None
    sample_charts: np.ndarray | None = None
    sample_psi: np.ndarray | None = None
    seed: int | None = None
    require_own_chart: bool = False

    def __repr__(self) -> str:
        return "Prior" + super().__repr__() + f" from {self.n_samples} samples (seed {self.seed})"

    @property
    def n_samples(self) -> int:
        return len(self.sample_charts)

    @property
    def node_sampled(self) -> np.ndarray:
        """(n,) True for a sample's own node (z_i, y_i), False for an encoding."""
        return self.node_chart == self.sample_charts[self.node_index]


def prior_memberships(psi: np.ndarray, charts: np.ndarray, eps: float,
                      require_own_chart: bool = False) -> np.ndarray:
    """(n_points, m) table of the charts each decoded sample becomes a node of.

    Sample i is always a node of its own chart y_i. It is also a node of every
    other chart j, as the encoding F_j(x_i), where its decoding lies in U_j:
    psi_j(x_i) > eps (the paper's condition). With ``require_own_chart`` the
    decoding must also lie in U_{y_i} (psi_{y_i}(x_i) > eps), so that a chart
    change always joins two charts that both hold the point.
    """
    rows = np.arange(len(charts))
    member = psi > eps
    if require_own_chart:
        member &= (psi[rows, charts] > eps)[:, None]
    member[rows, charts] = True
    return member


def build_prior_graph(model, n_points: int, k: int = DEFAULT_K, eps: float | None = None,
                      n_steps: int = DEFAULT_N_STEPS, seed: int = 0, lazy: bool = True,
                      require_own_chart: bool = False, batch_size: int = 4096,
                      progress: bool = True, inversion: dict | None = None) -> PriorGraph:
    """The prior-sampled graph of section 3.1 over ``n_points`` draws from P(Z, Y).

    1. Draw (z_i, y_i) ~ P(Z, Y), i < ``n_points``, with ``model.sample_latent``
       and a ``torch.Generator`` seeded with ``seed`` (the same seed gives the
       same graph), and decode x_i = G_{y_i}(z_i).
    2. Compute psi(x_i) and F(x_i). Sample i is a node (z_i, y_i) of its own
       chart, and a node (F_j(x_i), j) of every chart j != y_i with
       psi_j(x_i) > eps (:func:`~atlasnb.geodesics.prior_memberships`), joined to (z_i, y_i) by the
       jump ||x_i - G_j(F_j(x_i))||. ``require_own_chart=True`` links a sample
       to other charts only where psi_{y_i}(x_i) > eps as well.
    3. Within each chart, join every node to its ``k`` nearest nodes with eq. (10)
       weights of ``n_steps`` steps, as Algorithm 1 does
       (:meth:`AtlasGraph.from_nodes`); ``lazy`` as there.

    ``eps=None`` takes :func:`~atlasnb.geodesics.default_eps`. Nodes are ordered by chart, then by
    sample; ``node_index`` gives each node's sample. Each sample and each encoding
    is decoded once. A model without ``sample_latent`` raises a TypeError naming
    its type. A model without ``encode`` (a semi-AGM) gets F_j(x_i) by decoder
    inversion, z' = argmin ||G_j(z') - x_i|| from the chart-j samples whose images lie
    nearest (:func:`~atlasnb.geodesics.inversion.link_by_inversion`; ``inversion``
    holds its options), so the jump is ||x_i - G_j(z')||. Returns a
    :class:`~atlasnb.geodesics.PriorGraph`. Derived in {ref}`sec-graph-prior`.
    """
    check_agm(model, encoder=False)
    check_int("n_points", n_points, minimum=1)
    check_int("k", k, minimum=1)
    check_int("n_steps", n_steps, minimum=1)
    check_int("seed", seed, minimum=0)
    check_int("batch_size", batch_size, minimum=1)
    for name, value in (("lazy", lazy), ("require_own_chart", require_own_chart)):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    m = model.n_charts
    eps = default_eps(m) if eps is None else check_eps(eps)

    z, y = draw_latent(model, n_points, torch.Generator().manual_seed(int(seed)))
    z, y = z.cpu(), y.cpu()
    charts = y.numpy()
    with evaluating(model), tqdm(total=n_points, desc="prior graph: decoding", unit="pt",
                                  disable=not progress) as bar:
        decoder = Decoder(model, batch_size, bar)
        x = _decode_by_chart(decoder, z, charts, m)
        psi, codes = psi_and_codes(model, x, batch_size)
        member = prior_memberships(psi, charts, eps, require_own_chart)
        n_inverted = 0
        if codes is None:  # a semi-AGM: F_j(x_i) by decoder inversion
            codes, n_inverted = link_by_inversion(model, x, member, charts, z,
                                                  **(inversion or {}))
        node_index, node_chart = _nodes(member)
        sampled = node_chart == charts[node_index]
        rows, columns = torch.from_numpy(node_index), torch.from_numpy(node_chart)
        node_latent = torch.where(torch.from_numpy(sampled)[:, None], z[rows],
                                  codes[rows, columns].to(z.dtype))
        node_images = torch.empty((len(node_index),) + tuple(x.shape[1:]), dtype=x.dtype)
        node_images[sampled] = x[rows[sampled]]
        encoded = np.flatnonzero(~sampled)
        bar.total += len(encoded)
        bar.refresh()
        if len(encoded):
            node_images[encoded] = _decode_by_chart(decoder, node_latent[encoded],
                                                    node_chart[encoded], m)

    if m > 1 and not (~sampled).any():
        warnings.warn(f"no decoded sample lies in a chart other than its own (psi > eps = "
                      f"{eps}), so the {m} charts are not joined; draw more points or "
                      "lower eps", stacklevel=2)
    own_node = np.empty(n_points, dtype=np.int64)
    own_node[node_index[sampled]] = np.flatnonzero(sampled)
    cross = np.sort(np.stack([own_node[node_index[encoded]], encoded], axis=1), axis=1)
    graph = PriorGraph.from_nodes(
        model, node_chart, node_latent, node_images, cross, k=k, eps=eps, n_steps=n_steps,
        node_index=node_index, lazy=lazy, n_decoded=decoder.n_decoded + n_inverted,
        batch_size=batch_size, progress=progress)
    graph.sample_codes, graph.sample_charts = z, charts
    graph.sample_psi, graph.seed = psi, int(seed)
    graph.require_own_chart = require_own_chart
    return graph


def _decode_by_chart(decoder: Decoder, z: torch.Tensor, charts: np.ndarray,
                     m: int) -> torch.Tensor:
    """G_{charts[i]}(z[i]) for every row, one batch per chart, in the order of the rows."""
    parts, rows = [], []
    for chart in range(m):
        chosen = np.flatnonzero(charts == chart)
        if len(chosen):
            parts.append(decoder(z[torch.from_numpy(chosen)], chart))
            rows.append(chosen)
    images = torch.cat(parts)
    out = torch.empty_like(images)
    out[torch.from_numpy(np.concatenate(rows))] = images
    return out


def _nodes(member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Node samples and charts, ordered by chart then sample, from the membership table."""
    node_index = np.concatenate([np.flatnonzero(column) for column in member.T])
    node_chart = np.repeat(np.arange(member.shape[1]), member.sum(axis=0))
    return node_index.astype(np.int64), node_chart.astype(np.int64)
