"""A configuration of the book: a data set, a chart count m, a seed and overrides.

Described in {ref}`sec-intro-running`. Its run folder ({func}`atlasnb.runs.run_path`)
is the unit of work of a sweep and of the book's preparation.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BookConfig:
    """One configuration of a grid: a data set, a chart count m, a seed and any other
    config fields that differ from the scale's (``overrides``, (name, value) pairs)."""

    dataset: str
    n_charts: int
    seed: int = 0
    overrides: tuple = ()

    def label(self) -> str:
        extra = "".join(f" {name}={value}" for name, value in self.overrides)
        return f"{self.dataset} m={self.n_charts} seed={self.seed}{extra}"

    def config(self, scale: str):
        """The :class:`atlasnb.config.TrainConfig` of this point at ``scale``."""
        from atlasnb.config import make_config

        return make_config(scale, self.dataset, self.n_charts, seed=self.seed,
                           **dict(self.overrides))


def grid(datasets, chart_counts, seeds=(0,)) -> list[BookConfig]:
    """Every combination of ``datasets``, ``chart_counts`` and ``seeds``, in that order."""
    return [BookConfig(d, int(m), int(s)) for d in datasets for m in chart_counts for s in seeds]
