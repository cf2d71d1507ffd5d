"""The Atlas Generative Model interface (Definition 1 of the paper).

Derived in {ref}`sec-agm`. Everything downstream of training (Algorithm 1,
interpolation, the figures) talks to a model only through this interface, so
any model that offers it, an Atlas VAE, a Chart Auto-Encoder or a hand-written
analytic atlas, can be used with :mod:`atlasnb.geodesics`.

One method is optional: ``sample_latent(n, generator)`` draws latent points
(z, y) from the model's prior P(Z, Y) (:class:`SampledAGM`). Only the
prior-sampled graph (:func:`atlasnb.geodesics.build_prior_graph`) needs it;
:func:`draw_latent` calls it, checks what it returns, and names the model type
in its error when the model has none.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch

from atlasnb.checks import check_int

Chart = int | torch.Tensor


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


def has_encoder(model: object) -> bool:
    """Whether ``model`` offers the charts F_y (``encode``); a semi-AGM does not."""
    return callable(getattr(model, "encode", None))


def check_agm(model: object, encoder: bool = True) -> None:
    """Raise a TypeError naming what is missing if ``model`` is not an AGM.

    With ``encoder=False`` a semi-AGM (no ``encode``, e.g. an InfoGAN-type model) is
    accepted: what only decodes, or finds codes by decoder inversion
    (:mod:`atlasnb.geodesics.inversion`), needs no F_y."""
    names = ("n_charts", "latent_dim", "partition", "encode", "decode")
    missing = [name for name in names
               if not hasattr(model, name) and (encoder or name != "encode")]
    if missing:
        needs = ("partition(x), encode(x) and decode(z, y)" if encoder else
                 "partition(x) and decode(z, y) (encode(x) is optional here)")
        raise TypeError(
            f"model of type {type(model).__name__} does not offer the AGM interface: "
            f"missing {', '.join(missing)}; an AGM needs n_charts, latent_dim, "
            f"{needs} (see atlasnb.agm.AGM)"
        )
    check_int("n_charts", model.n_charts, 1)


@runtime_checkable
class SampledAGM(AGM, Protocol):
    """An AGM that also offers its prior P(Z, Y) (optional in the interface).

    ``sample_latent(n, generator)`` returns ``(z, y)``: ``z`` an (n, d) float
    tensor and ``y`` an (n,) long tensor of charts in [0, m), the n rows drawn
    independently from P(Z, Y), all randomness taken from ``generator`` (a
    ``torch.Generator``; the tensors lie on its device). A trained model's prior
    is the one its objective matches the encodings to. Derived in
    {ref}`sec-graph-prior`.
    """

    def sample_latent(self, n: int,
                      generator: torch.Generator | None = None) -> tuple[torch.Tensor,
                                                                         torch.Tensor]:
        """(z, y) ~ P(Z, Y): n codes (n, d) and their charts (n,)."""


def draw_latent(model: object, n: int,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``model.sample_latent(n, generator)``, checked: (z (n, d), y (n,) long).

    Raises a TypeError naming the model type when it offers no
    ``sample_latent``, and a ValueError when what it returns does not have the
    shapes, dtypes or chart range of :class:`SampledAGM`.
    """
    check_agm(model, encoder=False)
    n = check_int("n", n, 1)
    if not callable(getattr(model, "sample_latent", None)):
        raise TypeError(
            f"model of type {type(model).__name__} offers no sample_latent(n, generator), "
            "so its prior P(Z, Y) is unknown; the prior-sampled graph needs it (see "
            "atlasnb.agm.SampledAGM), while Algorithm 1 (build_atlas_graph) works from "
            "data points without it")
    z, y = model.sample_latent(int(n), generator)
    m, d = model.n_charts, model.latent_dim
    if not isinstance(z, torch.Tensor) or not z.is_floating_point() \
            or tuple(z.shape) != (n, d):
        shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise ValueError(f"{type(model).__name__}.sample_latent must return z as an (n, d) = "
                         f"{(n, d)} float tensor, got {shape}")
    if not isinstance(y, torch.Tensor) or y.dtype != torch.long or tuple(y.shape) != (n,):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"{type(model).__name__}.sample_latent must return y as an (n,) = "
                         f"({n},) long tensor, got {shape}"
                         + (f" of dtype {y.dtype}" if isinstance(y, torch.Tensor) else ""))
    if len(y) and not (0 <= int(y.min()) and int(y.max()) < m):
        raise ValueError(f"{type(model).__name__}.sample_latent returned charts outside "
                         f"[0, {m}): from {int(y.min())} to {int(y.max())}")
    return z, y
