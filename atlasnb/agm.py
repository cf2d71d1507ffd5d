"""The Atlas Generative Model interface (Definition 1 of the paper).

Derived in {ref}`sec-agm`. Everything downstream of training (Algorithm 1,
interpolation, the figures) talks to a model only through this interface, so
any model that offers it, an Atlas VAE, a Chart Auto-Encoder or a hand-written
analytic atlas, can be used with :mod:`atlasnb.geodesics`.
"""

from __future__ import annotations

from typing import Protocol, Union, runtime_checkable

import torch

Chart = Union[int, torch.Tensor]


@runtime_checkable
class AGM(Protocol):
    """An Atlas Generative Model: m charts of a d-dimensional latent space.

    Attributes
    ----------
    n_charts:
        m, the number of charts (1 for a single-latent-space model, where
        ``partition`` is identically 1).
    latent_dim:
        d, the dimension of every chart's coordinate space.

    All methods take and return batches of torch tensors.
    """

    n_charts: int
    latent_dim: int

    def partition(self, x: torch.Tensor) -> torch.Tensor:
        """psi(x): a (B, m) tensor whose rows lie on the simplex."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """F_y(x) for every chart y: a (B, m, d) tensor."""

    def decode(self, z: torch.Tensor, y: Chart) -> torch.Tensor:
        """G_y(z): images (B, ...) decoded from (B, d) codes in chart ``y``.

        ``y`` is one chart index for the whole batch or a (B,) tensor of
        chart indices, one per row of ``z``.
        """


def check_agm(model: object) -> None:
    """Raise a TypeError naming what is missing if ``model`` is not an AGM."""
    missing = [name for name in ("n_charts", "latent_dim", "partition", "encode", "decode")
               if not hasattr(model, name)]
    if missing:
        raise TypeError(
            f"model of type {type(model).__name__} does not offer the AGM interface: "
            f"missing {', '.join(missing)}; an AGM needs n_charts, latent_dim, "
            "partition(x), encode(x) and decode(z, y) (see atlasnb.agm.AGM)"
        )
    m = model.n_charts
    if not isinstance(m, int) or m < 1:
        raise ValueError(f"n_charts must be an integer >= 1, got {m!r}")
