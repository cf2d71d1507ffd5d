"""Image data sets on a manifold we construct, so that every geodesic has an exact answer.

Used to test the argument of {ref}`sec-agm-one-chart` on trained models. One base image
(by default a fixed MNIST test digit, :data:`DEFAULT_DIGIT`; any 28 x 28 image in
[0, 1] is accepted) is moved by a smooth group action, and the images it takes form a
closed manifold in pixel space:

- :class:`RotationCircle`: the image rotated by theta about the centre, a closed
  curve (a circle);
- :class:`RotationShiftTorus`: rotated by theta, then shifted cyclically to the right
  by phi / (2 pi) of the width, a torus.

The rotation samples a cubic B-spline of the base image at rotated coordinates. The
cubic B-spline is twice continuously differentiable and its weights are non-negative
and sum to one, so the orbit is a C2 closed curve and every image stays in [0, 1] (a
bicubic interpolation would be only C1 and overshoot). Before rotating, the base image
is cut to the disc of radius :data:`DISC_RADIUS` pixels about the centre, so that the
spline's support never reaches the frame: nothing leaves the picture. The shift moves the
same spline
cyclically along the rows: as smooth as the rotation, exactly 2 pi periodic in phi, and
still in [0, 1] (a band-limited Fourier phase shift would ring below 0).

Distances are computed from the generator itself: on the circle by the orbit's
arc length (a dense chord sum, Richardson-extrapolated); on the torus, whose metric is
not flat, by a shortest path on a fine periodic grid graph of generated images, then
curve refinement in (theta, phi) (:mod:`atlasnb.torus_geodesics`).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch

from atlasnb.checks import check_angles

__all__ = ["DEFAULT_DIGIT", "DISC_RADIUS", "MANIFOLDS", "RotationCircle",
           "RotationShiftTorus", "base_image", "default_image", "manifold"]

#: Index of the default base image in the MNIST test set: a "6", whose ink lies
#: inside the disc and which no rotation maps onto itself.
DEFAULT_DIGIT = 11
#: Pixels of the base image farther than this from the centre are set to 0 (pixel
#: centres sit at -13.5 ... 13.5; the B-spline reaches 2 sqrt(2) further).
DISC_RADIUS = 11.0
SIZE = 28
TWO_PI = 2 * math.pi


def default_image(root=None) -> torch.Tensor:
    """MNIST test image number :data:`DEFAULT_DIGIT`, (28, 28) in [0, 1]."""
    from atlasnb.data import load_images

    images, _ = load_images("mnist", "test", root=root)
    return images[DEFAULT_DIGIT, 0]


def base_image(image=None) -> torch.Tensor:
    """``image`` checked and cut to the disc, as a float64 (28, 28) tensor; ``None``
    gives :func:`default_image`. Accepted: a tensor or array of shape (28, 28) or
    (1, 28, 28), finite, with values in [0, 1]."""
    if image is None:
        image = default_image()
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(image)
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"image must be a torch tensor or numpy array of shape (28, 28) or "
                        f"(1, 28, 28) with values in [0, 1], got {type(image).__name__}")
    if tuple(image.shape) not in ((SIZE, SIZE), (1, SIZE, SIZE)):
        raise ValueError(f"image must have shape (28, 28) or (1, 28, 28), got shape "
                         f"{tuple(image.shape)}")
    if image.dtype == torch.bool or image.is_complex():
        raise ValueError(f"image must hold real numbers in [0, 1], got dtype {image.dtype}")
    image = image.reshape(SIZE, SIZE).to(torch.float64)
    if not torch.isfinite(image).all():
        raise ValueError("image must be finite with values in [0, 1], got NaN or infinity")
    low, high = float(image.min()), float(image.max())
    if low < 0 or high > 1:
        raise ValueError(f"image values must lie in [0, 1], got values in [{low:.4g}, "
                         f"{high:.4g}]")
    if high == 0:
        raise ValueError("image must not be all zero (its orbit would be one point)")
    centre = torch.arange(SIZE, dtype=torch.float64) - (SIZE - 1) / 2
    radius = (centre[:, None] ** 2 + centre[None, :] ** 2).sqrt()
    return image * (radius <= DISC_RADIUS)


def _bspline_weights(t: torch.Tensor) -> torch.Tensor:
    """The four cubic B-spline weights of taps -1, 0, 1, 2 at fractions ``t`` in [0, 1)."""
    s = 1 - t
    return torch.stack([s ** 3 / 6, (3 * t ** 3 - 6 * t ** 2 + 4) / 6,
                        (3 * s ** 3 - 6 * s ** 2 + 4) / 6, t ** 3 / 6], dim=-1)


def sample(base: torch.Tensor, theta: torch.Tensor, phi: torch.Tensor | None = None
           ) -> torch.Tensor:
    """(n, 28, 28) float64: the cubic B-spline of ``base`` rotated by theta about the
    centre (anticlockwise on screen), then, if ``phi`` is given, shifted cyclically to
    the right by phi / (2 pi) of the width. Each pixel centre is moved back by the
    shift (wrapped into the frame) and the rotation, and the spline is read there.
    Since the spline of the disc-cut base vanishes near the frame's edge, the wrap is
    as smooth as the spline: C2 and exactly 2 pi periodic in both angles.
    Differentiable in ``theta`` and ``phi``."""
    c = (SIZE - 1) / 2
    axis = torch.arange(SIZE, dtype=torch.float64) - c
    row, col = torch.meshgrid(axis, axis, indexing="ij")  # y down, x right
    x, y = col.expand(len(theta), SIZE, SIZE), -row  # screen coordinates, y up
    if phi is not None:
        x = torch.remainder(x - (SIZE / TWO_PI) * phi[:, None, None] + SIZE / 2, SIZE) \
            - SIZE / 2
    cos, sin = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    source_x, source_y = cos * x + sin * y, -sin * x + cos * y  # R(-theta) (x, y)
    u, v = c - source_y, c + source_x  # (row, column) indices
    pad = 3
    width = SIZE + 2 * pad
    flat = torch.nn.functional.pad(base, (pad, pad, pad, pad)).reshape(-1)
    u0, v0 = torch.floor(u.detach()), torch.floor(v.detach())
    wu, wv = _bspline_weights(u - u0), _bspline_weights(v - v0)
    corner = (u0.long() + pad - 1).clamp(0, width - 4) * width \
        + (v0.long() + pad - 1).clamp(0, width - 4)
    # The 4 x 4 taps of every pixel read at once, weighted by the two weight vectors.
    taps = torch.arange(4)[:, None] * width + torch.arange(4)[None, :]
    values = flat[corner[..., None, None] + taps]
    return torch.einsum("...i,...ij,...j->...", wu, values, wv)


def rotate(base: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """:func:`sample` without a shift: ``base`` rotated by ``theta``."""
    return sample(base, theta)


class RotationCircle:
    """The orbit of a base image under rotation: a closed curve in pixel space.

    ``images(theta)`` gives (n, 1, 28, 28) float32; ``distance(theta_a, theta_b)`` the
    geodesic (shorter arc) length between the images at two angles, in pixel-space
    L2 units; ``circumference`` the orbit's length. The arc length s(theta) is a
    chord sum over ``n_grid`` equally spaced angles, Richardson-extrapolated with the
    sum over half as many (error O(n_grid^-4)), linear in between.
    """

    dimension = 1

    def __init__(self, image=None, n_grid: int = 1024):
        self.base = base_image(image)
        if not isinstance(n_grid, int) or isinstance(n_grid, bool) or n_grid < 64 \
                or n_grid % 2:
            raise ValueError(f"n_grid must be an even integer >= 64, got {n_grid!r}")
        self.n_grid = n_grid
        theta = torch.arange(n_grid + 1, dtype=torch.float64) * (TWO_PI / n_grid)
        flat = self.generate(theta).flatten(1)
        fine = torch.cat([torch.zeros(1, dtype=torch.float64),
                          (flat[1:] - flat[:-1]).norm(dim=1).cumsum(0)])
        coarse = torch.cat([torch.zeros(1, dtype=torch.float64),
                            (flat[2::2] - flat[:-2:2]).norm(dim=1).cumsum(0)])
        self._grid = theta[::2]
        self._arc = (4 * fine[::2] - coarse) / 3
        self.circumference = float(self._arc[-1])
        if self.circumference < 1e-6:
            raise ValueError("the base image is (nearly) invariant under rotation: its "
                             "orbit has no length")

    def generate(self, theta: torch.Tensor) -> torch.Tensor:
        """(n, 28, 28) float64 images at angles ``theta`` (float64 tensor), differentiable."""
        return rotate(self.base, theta)

    def images(self, theta) -> torch.Tensor:
        """(n, 1, 28, 28) float32 images at angles ``theta`` (radians, any real)."""
        return self.generate(check_angles("theta", theta)).unsqueeze(1).to(torch.float32)

    def arc_length(self, theta, name: str = "theta") -> torch.Tensor:
        """s(theta): the orbit's length from angle 0 to ``theta`` mod 2 pi (float64)."""
        theta = torch.remainder(check_angles(name, theta), TWO_PI)
        step = TWO_PI / len(self._arc[1:])
        index = torch.clamp((theta / step).long(), max=len(self._arc) - 2)
        fraction = (theta - self._grid[index]) / step
        return self._arc[index] + fraction * (self._arc[index + 1] - self._arc[index])

    def distance(self, theta_a, theta_b) -> np.ndarray:
        """The geodesic distance (shorter arc) between the images at ``theta_a`` and
        ``theta_b`` (broadcast against each other), as a float64 array."""
        a, b = self.arc_length(theta_a, "theta_a"), self.arc_length(theta_b, "theta_b")
        a, b = torch.broadcast_tensors(a, b)
        along = (a - b).abs()
        return torch.minimum(along, self.circumference - along).numpy()

    def sample_parameters(self, n: int, generator: np.random.Generator) -> np.ndarray:
        """(n, 1) angles drawn uniformly from [0, 2 pi) with ``generator``."""
        return generator.uniform(0, TWO_PI, size=(n, 1))

    def images_at(self, parameters) -> torch.Tensor:
        """(n, 1, 28, 28) float32 images at rows of (n, 1) ``parameters``."""
        return self.images(np.asarray(parameters)[:, 0])


class RotationShiftTorus:
    """The orbit of a base image under rotation by theta and cyclic shift by phi.

    ``images(theta, phi)`` gives (n, 1, 28, 28) float32; ``distance(a, b)`` the
    geodesic distance between points ``a`` and ``b`` given as (theta, phi) pairs
    (shape (2,) or (n, 2)), in pixel-space L2 units, computed by
    :func:`atlasnb.torus_geodesics.torus_distance` on a periodic grid of ``n_grid`` x
    ``n_grid`` angles followed by curve refinement.
    """

    dimension = 2

    def __init__(self, image=None, n_grid: int = 48, n_points: int = 32):
        self.base = base_image(image)
        if not isinstance(n_points, int) or isinstance(n_points, bool) or n_points < 3:
            raise ValueError(f"n_points must be an integer >= 3, got {n_points!r}")
        self.n_grid, self.n_points = n_grid, n_points
        self._graph = None

    @property
    def graph(self):
        """The :class:`atlasnb.torus_geodesics.TorusGraph` of ``n_grid`` angles, built
        on first use."""
        from atlasnb.torus_geodesics import TorusGraph

        if self._graph is None:
            self._graph = TorusGraph(self, self.n_grid)
        return self._graph

    def generate(self, theta: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """(n, 28, 28) float64 images at (``theta``, ``phi``), differentiable."""
        return sample(self.base, theta, phi)

    def images(self, theta, phi) -> torch.Tensor:
        """(n, 1, 28, 28) float32 images at angles ``theta`` and ``phi`` (radians)."""
        theta, phi = check_angles("theta", theta), check_angles("phi", phi)
        if len(theta) != len(phi):
            raise ValueError(f"theta and phi must have the same length, got {len(theta)} "
                             f"and {len(phi)}")
        return self.generate(theta, phi).unsqueeze(1).to(torch.float32)

    def distance(self, a, b) -> np.ndarray:
        """Geodesic distances between (theta, phi) points ``a`` and ``b`` ((2,) or
        (n, 2), matched row by row), as a float64 array of shape (n,)."""
        from atlasnb.torus_geodesics import torus_distance

        return torus_distance(self, a, b, n_points=self.n_points)

    def sample_parameters(self, n: int, generator: np.random.Generator) -> np.ndarray:
        """(n, 2) angles (theta, phi) drawn uniformly from [0, 2 pi)^2 with ``generator``."""
        return generator.uniform(0, TWO_PI, size=(n, 2))

    def images_at(self, parameters) -> torch.Tensor:
        """(n, 1, 28, 28) float32 images at rows (theta, phi) of ``parameters``."""
        parameters = np.asarray(parameters)
        return self.images(parameters[:, 0], parameters[:, 1])


#: The data set names of :func:`atlasnb.data.load_images` made by this module.
MANIFOLDS = {"circle": RotationCircle, "torus": RotationShiftTorus}


@cache
def manifold(name: str):
    """The manifold of data set ``name`` ("circle" or "torus") on the default digit."""
    if name not in MANIFOLDS:
        raise ValueError(f"unknown manifold name={name!r}; accepted: {sorted(MANIFOLDS)}")
    return MANIFOLDS[name]()
