"""Hand-written Atlas Generative Models of a circle, with known geometry.

Derived in {ref}`sec-graph-geodesics`. These are plain Python objects, not
trained networks, that offer the AGM interface (:mod:`atlasnb.agm`), so
Algorithm 1 (:mod:`atlasnb.geodesics`) can be checked against exact answers:

- :class:`CircleAtlas`: a circle of radius ``radius`` embedded isometrically in
  R^D, covered by ``n_charts`` overlapping angle charts (d = 1) with a smooth
  partition of unity. Graph geodesics on it converge to arc lengths.
- :class:`CircleSingleChart`: the same circle with one chart, the angle in
  (-pi, pi]. A single interval cannot cover a circle continuously: two points
  just either side of the angle pi are close on the circle but about 2 pi
  apart in the chart, so the graph geodesic between them runs the long way
  round. This is the failure of a simply connected latent space that motivates
  atlases (section 2.2 of the paper).
- :class:`SphereAtlas`: a 2-sphere in R^D with two stereographic charts
  overlapping on a band around the equator; geodesics are great-circle arcs,
  so the refinement of graph paths (:func:`atlasnb.geodesics.refine`) can be
  checked across a chart change.

All three offer the optional ``sample_latent(n, generator)`` of the AGM
interface, a prior P(Z, Y) whose decodings cover the manifold, for the
prior-sampled graph (:func:`atlasnb.geodesics.build_prior_graph`).

Every method takes and returns torch tensors and keeps the dtype of its input,
so float64 data gives float64 codes and images.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from atlasnb.checks import check_int

TWO_PI = 2 * math.pi


def wrap_angle(angle: torch.Tensor) -> torch.Tensor:
    """``angle`` wrapped into (-pi, pi]."""
    wrapped = torch.remainder(angle + math.pi, TWO_PI) - math.pi
    return torch.where(wrapped == -math.pi, torch.full_like(wrapped, math.pi), wrapped)


def _check_count(n) -> None:
    check_int("n", n, 1)


def _orthonormal_frame(ambient_dim: int, seed: int) -> torch.Tensor:
    """A fixed (D, 2) matrix with orthonormal columns, from a seeded Gaussian."""
    check_int("ambient_dim", ambient_dim, 2)
    rng = np.random.default_rng(seed)
    frame, _ = np.linalg.qr(rng.standard_normal((ambient_dim, 2)))
    return torch.from_numpy(frame)


class _Circle:
    """The circle of ``radius`` in the plane spanned by a fixed orthonormal 2-frame of R^D."""

    latent_dim = 1

    def __init__(self, ambient_dim: int = 3, radius: float = 1.0, seed: int = 0):
        if not radius > 0:
            raise ValueError(f"radius must be a positive number, got {radius!r}")
        self.ambient_dim = ambient_dim
        self.radius = float(radius)
        self.frame = _orthonormal_frame(ambient_dim, seed)

    def embed(self, theta: torch.Tensor) -> torch.Tensor:
        """The points of angle ``theta`` (shape (B,)) on the circle: (B, D)."""
        theta = torch.as_tensor(theta)
        if not theta.is_floating_point():
            theta = theta.double()
        plane = torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1) * self.radius
        return plane @ self.frame.to(theta.dtype).T

    def angle(self, x: torch.Tensor) -> torch.Tensor:
        """The angle in (-pi, pi] of each point of ``x`` (B, D), projected onto the plane."""
        plane = torch.as_tensor(x) @ self.frame.to(torch.as_tensor(x).dtype)
        return torch.atan2(plane[:, 1], plane[:, 0])

    def sample(self, n: int, seed: int = 0, noise: float = 0.0) -> torch.Tensor:
        """``n`` float64 points at uniformly random angles, plus Gaussian ``noise`` in R^D."""
        generator = torch.Generator().manual_seed(seed)
        theta = torch.rand(n, generator=generator, dtype=torch.float64) * TWO_PI
        x = self.embed(theta)
        if noise > 0:
            x = x + noise * torch.randn(x.shape, generator=generator, dtype=torch.float64)
        return x

    def arc_distance(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """The exact geodesic distance on the circle: radius times the smaller angle."""
        return self.radius * wrap_angle(self.angle(x1) - self.angle(x0)).abs()


class CircleAtlas(_Circle):
    """A circle in R^D covered by ``n_charts`` overlapping angle charts.

    Chart ``y`` is centred at the angle ``c_y = 2 pi y / m`` and covers the open
    arc of half-width ``w = pi / m + overlap / 2`` around it. Its coordinate is
    the angle relative to the centre, ``F_y(x) = wrap(theta(x) - c_y)``, and its
    decoder puts that angle back on the circle, ``G_y(z) = r (cos, sin)(z + c_y
    + y * mismatch) Q^T``. With ``mismatch = 0`` every chart decodes a point to
    itself and the charts agree exactly; a small ``mismatch`` rotates chart y's
    decodings by ``y * mismatch``, mimicking trained charts whose decodings of
    the same point differ slightly (the cross-chart edges of Algorithm 1 then
    have positive weight).

    The partition of unity normalises smooth bumps ``exp(-1 / (1 - (u / w)^2))``
    of the angular distance ``u`` to each centre, so ``psi_y`` is positive
    exactly on chart y's arc.
    """

    def __init__(self, ambient_dim: int = 3, radius: float = 1.0, n_charts: int = 2,
                 overlap: float = math.pi / 3, mismatch: float = 0.0, seed: int = 0):
        super().__init__(ambient_dim, radius, seed)
        if isinstance(n_charts, bool) or not isinstance(n_charts, int) or n_charts < 2:
            raise ValueError(f"n_charts must be an integer >= 2, got {n_charts!r} "
                             "(use CircleSingleChart for one chart)")
        self.n_charts = n_charts
        self.half_width = math.pi / n_charts + overlap / 2
        if not (overlap > 0 and self.half_width < math.pi):
            raise ValueError(f"overlap must lie in (0, {TWO_PI - TWO_PI / n_charts:.4f}) for "
                             f"{n_charts} charts (arcs must overlap and stay shorter than "
                             f"the circle), got {overlap!r}")
        self.centres = torch.arange(n_charts, dtype=torch.float64) * TWO_PI / n_charts
        self.mismatch = float(mismatch)

    def _relative_angles(self, x: torch.Tensor) -> torch.Tensor:
        theta = self.angle(x)
        return wrap_angle(theta[:, None] - self.centres.to(theta.dtype)[None, :])

    def partition(self, x: torch.Tensor) -> torch.Tensor:
        """psi(x): (B, m) normalised bumps, psi_y > 0 exactly on chart y's arc."""
        u = (self._relative_angles(x) / self.half_width).abs()
        inside = u < 1
        bumps = torch.where(inside, torch.exp(-1 / (1 - torch.where(inside, u, 0) ** 2)), 0)
        return bumps / bumps.sum(dim=1, keepdim=True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """F_y(x) for every chart: (B, m, 1), the angle relative to chart y's centre."""
        return self._relative_angles(x)[:, :, None]

    def decode(self, z: torch.Tensor, y) -> torch.Tensor:
        """G_y(z): (B, D) points on the circle at angle z + c_y (+ y * mismatch)."""
        z = torch.as_tensor(z)
        y = torch.as_tensor(y, dtype=torch.long)
        shift = self.centres.to(z.dtype)[y] + y.to(z.dtype) * self.mismatch
        return self.embed(z[:, 0] + shift)

    def sample_latent(self, n: int, generator: torch.Generator | None = None):
        """(z, y) ~ P(Z, Y): y uniform over the m charts, z uniform on chart y's arc
        (-w, w), so G_y(z) covers the circle; float64 z (n, 1) and long y (n,)."""
        _check_count(n)
        y = torch.randint(self.n_charts, (n,), generator=generator)
        z = (2 * torch.rand(n, 1, generator=generator, dtype=torch.float64) - 1) * self.half_width
        return z, y


class CircleSingleChart(_Circle):
    """A circle in R^D with one chart, the angle in (-pi, pi]: the failure case.

    ``psi = 1``, ``F(x) = theta(x)`` and ``G(z) = r (cos z, sin z) Q^T``. The
    chart is a bijection from (-pi, pi] onto the circle but its inverse jumps at
    the angle pi, so points on either side of that seam are close on the circle
    and far apart in the chart.
    """

    n_charts = 1

    def partition(self, x: torch.Tensor) -> torch.Tensor:
        """psi(x) = 1: a (B, 1) tensor of ones."""
        x = torch.as_tensor(x)
        return torch.ones(x.shape[0], 1, dtype=x.dtype)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """F(x): (B, 1, 1), the angle in (-pi, pi]."""
        return self.angle(x)[:, None, None]

    def decode(self, z: torch.Tensor, y=0) -> torch.Tensor:
        """G(z): (B, D) the point at angle z."""
        return self.embed(torch.as_tensor(z)[:, 0])

    def sample_latent(self, n: int, generator: torch.Generator | None = None):
        """(z, y) ~ P(Z, Y): z uniform on the chart (-pi, pi), y = 0; float64 z (n, 1)
        and long y (n,)."""
        _check_count(n)
        z = (2 * torch.rand(n, 1, generator=generator, dtype=torch.float64) - 1) * math.pi
        return z, torch.zeros(n, dtype=torch.long)


def _orthonormal_3frame(ambient_dim: int, seed: int) -> torch.Tensor:
    """A fixed (D, 3) matrix with orthonormal columns, from a seeded Gaussian."""
    if isinstance(ambient_dim, bool) or not isinstance(ambient_dim, int) or ambient_dim < 3:
        raise ValueError(f"ambient_dim must be an integer >= 3, got {ambient_dim!r}")
    rng = np.random.default_rng(seed)
    frame, _ = np.linalg.qr(rng.standard_normal((ambient_dim, 3)))
    return torch.from_numpy(frame)


class SphereAtlas:
    """A 2-sphere of ``radius`` in R^D covered by two stereographic charts (d = 2).

    In the sphere's own coordinates p = (p1, p2, p3) (unit sphere, embedded by a
    fixed orthonormal 3-frame Q and scaled by the radius), chart 0 projects from
    the north pole and chart 1 from the south pole onto the equatorial plane::

        F_0(p) = (p1, p2) / (1 - p3),   G_0(u) = (2 u, |u|^2 - 1) / (|u|^2 + 1),
        F_1(p) = (p1, p2) / (1 + p3),   G_1(u) = (2 u, 1 - |u|^2) / (|u|^2 + 1).

    Chart 0 is used on the cap p3 < h, chart 1 on p3 > -h (``h = overlap``), so
    they overlap on the band ``|p3| < h`` around the equator. The partition of unity
    normalises smooth bumps ``exp(-1 / (h - p3))`` and ``exp(-1 / (h + p3))``, so
    psi_y is positive exactly on chart y's cap. A small ``mismatch`` turns chart
    1's decodings by that angle about the polar axis (its encoder does not undo
    it), like trained charts whose decodings of one point differ slightly.
    Geodesics are great-circle arcs, of length :meth:`arc_distance`.
    """

    n_charts = 2
    latent_dim = 2

    def __init__(self, ambient_dim: int = 3, radius: float = 1.0, overlap: float = 0.5,
                 mismatch: float = 0.0, seed: int = 0):
        if not radius > 0:
            raise ValueError(f"radius must be a positive number, got {radius!r}")
        if not 0 < overlap < 1:
            raise ValueError(f"overlap (the half-height h of the band |p3| < h where the "
                             f"charts overlap) must lie in (0, 1), got {overlap!r}")
        self.ambient_dim = ambient_dim
        self.radius, self.overlap, self.mismatch = float(radius), float(overlap), float(mismatch)
        self.frame = _orthonormal_3frame(ambient_dim, seed)

    def embed(self, p: torch.Tensor) -> torch.Tensor:
        """Unit-sphere coordinates (B, 3) to points (B, D) on the sphere of ``radius``."""
        return self.radius * p @ self.frame.to(p.dtype).T

    def coordinates(self, x: torch.Tensor) -> torch.Tensor:
        """Unit-sphere coordinates (B, 3) of points ``x`` (B, D), projected and normalised."""
        x = torch.as_tensor(x)
        p = x @ self.frame.to(x.dtype)
        return p / p.norm(dim=1, keepdim=True)

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` float64 points uniformly distributed on the sphere."""
        generator = torch.Generator().manual_seed(seed)
        p = torch.randn(n, 3, generator=generator, dtype=torch.float64)
        return self.embed(p / p.norm(dim=1, keepdim=True))

    def arc_distance(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """The exact geodesic distance: radius times the angle between the points."""
        cosine = (self.coordinates(x0) * self.coordinates(x1)).sum(dim=1)
        return self.radius * torch.arccos(cosine.clamp(-1, 1))

    def partition(self, x: torch.Tensor) -> torch.Tensor:
        """psi(x): (B, 2), psi_0 > 0 exactly where p3 < h and psi_1 where p3 > -h."""
        p3 = self.coordinates(x)[:, 2]
        h = self.overlap
        gaps = torch.stack([h - p3, h + p3], dim=1)
        inside = gaps > 0
        bumps = torch.where(inside, torch.exp(-1 / torch.where(inside, gaps, 1)), 0)
        return bumps / bumps.sum(dim=1, keepdim=True)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """F_y(x) for both charts: (B, 2, 2), the two stereographic projections."""
        p = self.coordinates(x)
        north = p[:, :2] / (1 - p[:, 2:]).clamp_min(1e-12)
        south = p[:, :2] / (1 + p[:, 2:]).clamp_min(1e-12)
        return torch.stack([north, south], dim=1)

    def decode(self, z: torch.Tensor, y) -> torch.Tensor:
        """G_y(z): (B, D) points on the sphere; ``y`` one chart or a (B,) tensor."""
        z = torch.as_tensor(z)
        y = torch.as_tensor(y, dtype=torch.long).expand(z.shape[0]).to(z.device)
        squared = (z ** 2).sum(dim=1, keepdim=True)
        sign = torch.where(y == 0, 1.0, -1.0).to(z.dtype)[:, None]
        p = torch.cat([2 * z, sign * (squared - 1)], dim=1) / (squared + 1)
        turn = y.to(z.dtype) * self.mismatch
        cos, sin = torch.cos(turn), torch.sin(turn)
        p = torch.stack([cos * p[:, 0] - sin * p[:, 1], sin * p[:, 0] + cos * p[:, 1],
                         p[:, 2]], dim=1)
        return self.embed(p)

    def sample_latent(self, n: int, generator: torch.Generator | None = None):
        """(z, y) ~ P(Z, Y): y uniform over the two charts and G_y(z) uniform on chart
        y's cap; float64 z (n, 2) and long y (n,).

        On the unit sphere the height of a uniform point is uniform (Archimedes), so
        the cap of chart 0, p3 < h, is drawn as p3 ~ U(-1, h) and an azimuth
        ~ U(0, 2 pi), and projected from the north pole; chart 1 is its mirror image,
        with the same formula for z in its own projection."""
        _check_count(n)
        y = torch.randint(2, (n,), generator=generator)
        height = torch.rand(n, generator=generator, dtype=torch.float64) * (1 + self.overlap) - 1
        azimuth = torch.rand(n, generator=generator, dtype=torch.float64) * TWO_PI
        scale = torch.sqrt(1 - height ** 2) / (1 - height)
        return torch.stack([torch.cos(azimuth), torch.sin(azimuth)], dim=1) * scale[:, None], y
