"""The experiments' settings at every scale, in one place.

Used by {ref}`sec-graph-geodesics` and {ref}`sec-experiments`. The settings of the
paper are N = 2000 data points, k = 20 neighbours, n = 15 steps of eq. (10) and 100
random test pairs; smaller scales use fewer points, never another algorithm.

- :class:`GraphSettings` and :func:`graph_settings`: Algorithm 1's parameters;
- :class:`RefineSettings` and :func:`refine_settings`: the refinement's and what it
  measures.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from atlasnb.checks import (
    check_eps,
    check_int,
    check_int_sequence,
    check_optional_int,
    replace_settings,
)
from atlasnb.geodesics.refine import OPTIMISERS, POINTS_PER_RUN
from atlasnb.geodesics.search import INSERT_MODES
from atlasnb.geodesics.storage import GRAPH_LAYOUT

#: The fields of :class:`GraphSettings` a graph depends on (the rest: the queries).
GRAPH_FIELDS = ("n_points", "k", "n_steps", "eps", "seed")


@dataclass(frozen=True)
class GraphSettings:
    """Algorithm 1's parameters in an experiment (eps None: the package default)."""

    n_points: int = 2000
    k: int = 20
    n_steps: int = 15
    eps: float | None = None
    n_pairs: int = 100
    n_interpolations: int = 4
    interpolation_points: int = 10
    seed: int = 0
    insert: str = "own"

    def __post_init__(self):
        minimums = {"n_points": 1, "k": 1, "n_steps": 1, "n_pairs": 1,
                    "interpolation_points": 2, "n_interpolations": 0, "seed": 0}
        for name, minimum in minimums.items():
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum))
        if self.eps is not None:
            object.__setattr__(self, "eps", check_eps(self.eps))
        if self.insert not in INSERT_MODES:
            raise ValueError(f"insert must be one of {INSERT_MODES}, got {self.insert!r}")
        if self.n_interpolations > self.n_pairs:
            raise ValueError(f"n_interpolations ({self.n_interpolations}) must be at most "
                             f"n_pairs ({self.n_pairs})")

    def graph_key(self) -> str:
        """A short hash of the fields the graph depends on and the saved graph's layout,
        naming the graph file."""
        fields = {name: getattr(self, name) for name in GRAPH_FIELDS}
        fields["layout"] = GRAPH_LAYOUT
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class RefineSettings:
    """The refinement's parameters (see :func:`atlasnb.geodesics.refine`) and what
    is measured: ``n_frames`` frames per path for the data-likeness measures, the
    frames of the first ``n_shown`` pairs kept for a figure, and the graph sizes
    ``scan_points`` of the length scan on its first ``scan_pairs`` pairs."""

    points_per_run: int = POINTS_PER_RUN
    optimiser: str = "lbfgs"
    n_iterations: int | None = None
    n_frames: int = 10
    n_shown: int = 3
    scan_points: tuple = (1000, 2000, 8000, 30000)
    scan_pairs: int = 20

    def __post_init__(self):
        minimums = {"points_per_run": 2, "n_iterations": 0, "n_frames": 2, "n_shown": 0,
                    "scan_pairs": 0}
        for name, minimum in minimums.items():
            check = check_optional_int if name == "n_iterations" else check_int
            object.__setattr__(self, name, check(name, getattr(self, name), minimum))
        if self.optimiser not in OPTIMISERS:
            raise ValueError(f"optimiser must be one of {tuple(OPTIMISERS)}, "
                             f"got {self.optimiser!r}")
        object.__setattr__(self, "scan_points",
                           check_int_sequence("scan_points", self.scan_points, 2))
        if not self.scan_points:
            raise ValueError("scan_points must hold at least one graph size >= 2, got ()")


#: Graph settings of each scale: section 4 of the paper at ``paper`` and ``quick``
#: (lazy edge weights make N = 2000 and 100 pairs cheap).
GRAPH_SCALES = {
    "paper": GraphSettings(),
    "quick": GraphSettings(),
    "smoke": GraphSettings(n_points=120, k=6, n_pairs=6, n_interpolations=2,
                           interpolation_points=6),
}
#: Refinement settings of each scale.
REFINE_SCALES = {
    "paper": RefineSettings(),
    "quick": RefineSettings(),
    "smoke": RefineSettings(n_iterations=5, n_frames=6, n_shown=2, scan_points=(60, 120),
                            scan_pairs=3),
}


def _at_scale(table: dict, scale: str, overrides: dict):
    if scale not in table:
        raise ValueError(f"scale must be one of {tuple(table)}, got {scale!r}")
    return replace_settings(table[scale], **overrides)


def graph_settings(scale: str, **overrides) -> GraphSettings:
    """The graph settings of ``scale``, with overrides."""
    return _at_scale(GRAPH_SCALES, scale, overrides)


def refine_settings(scale: str, **overrides) -> RefineSettings:
    """The refinement settings of ``scale``, with overrides."""
    return _at_scale(REFINE_SCALES, scale, overrides)

