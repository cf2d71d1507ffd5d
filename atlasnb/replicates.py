"""Section 4's numbers over several seeds: the mean and the spread.

Used by {ref}`sec-experiments`. Each seed trains its own models and draws its own
graph; :func:`collect_seeds` gathers one :class:`atlasnb.experiments.collect.Collection` per
seed, :func:`mean_and_spread` averages their summaries, :func:`table1` gives Table 1 of
both, :func:`pooled_lengths` puts
every seed's test pairs into one tidy table (with a ``seed`` column), and
:func:`format_table1` prints Table 1 as "mean ± spread" (the standard deviation over
seeds; with one seed, the value alone).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from atlasnb import experiments
from atlasnb import table1 as tables


def collect_seeds(scale: str, datasets, chart_counts, seeds, **kwargs) -> dict:
    """seed -> :func:`atlasnb.experiments.collect.collect` for each of ``seeds`` (distinct)."""
    if isinstance(seeds, (str, bytes)) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0
            for s in seeds) \
            or not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a list of distinct integers >= 0, at least one, "
                         f"got {seeds!r}")
    seeds = [int(s) for s in seeds]
    return {s: experiments.collect(scale, datasets, chart_counts, s, **kwargs) for s in seeds}


def mean_and_spread(collections: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The numeric columns of the seeds' summaries: their mean and their standard
    deviation over seeds (NaN with one seed), indexed like one summary."""
    frames = [c.summary.select_dtypes("number") for c in collections.values()]
    stacked = pd.concat(frames, keys=list(collections), names=["seed"])
    grouped = stacked.groupby(level=["dataset", "n_charts"], sort=False)
    return grouped.mean(), grouped.std(ddof=1)


def pooled_lengths(collections: dict) -> pd.DataFrame:
    """Every seed's :attr:`~atlasnb.experiments.collect.Collection.lengths`, with a ``seed``
    column and the ``stretch`` (length / end-image distance) of each path."""
    table = pd.concat([c.lengths.assign(seed=s) for s, c in collections.items()],
                      ignore_index=True)
    table["stretch"] = table["length"] / table["end_distance"]
    return table


def table1(mean: pd.DataFrame, spread: pd.DataFrame, dataset: str) -> tuple:
    """(Table 1 of the mean, Table 1 of the spread) for ``dataset``; the "/ N" rows
    of the spread divide by the mean number of graph points."""
    spread = spread.assign(n_points=mean["n_points"])
    return tables.table1(mean, dataset), tables.table1(spread, dataset)


def format_table1(mean: pd.DataFrame, spread: pd.DataFrame) -> pd.DataFrame:
    """Table 1 (:func:`atlasnb.table1.table1` of the mean and of the spread) as
    strings: "mean ± spread" in our rows where the spread is known, the paper's rows
    and single-seed values as :func:`atlasnb.table1.format_table1` prints them."""
    shown = tables.format_table1(mean)
    for (quantity, source), row in mean.iterrows():
        if source != "ours":
            continue
        template = tables.TABLE1_FORMATS[quantity]
        for column, value in row.items():
            s = spread.loc[(quantity, source), column]
            if np.isfinite(value) and np.isfinite(s):
                shown.loc[(quantity, source), column] = (f"{template.format(value)} ± "
                                                         f"{template.format(s)}")
    return shown


def distance_variation(refinements: dict, kinds=("graph", "straight", "refined")) -> pd.DataFrame:
    """How reproducible the distances are over retrainings, the measure
    {cite:t}`syrota2024decoder` use for decoder ensembles: for every test pair, the
    coefficient of variation (standard deviation over seeds / mean) of each kind of
    length, then its median over the pairs measured in every seed. ``refinements``:
    seed -> {m: :func:`atlasnb.experiments.refinement.refinement_experiment` result}. One row per
    m, one column per kind; NaN with fewer than two seeds."""
    seeds = list(refinements)
    charts = sorted(refinements[seeds[0]]) if seeds else []
    table = {}
    for m in charts:
        row = {}
        for kind in kinds:
            values = np.array([refinements[s][m][kind] for s in seeds], dtype=float)
            keep = np.isfinite(values).all(axis=0)
            if len(seeds) < 2 or not keep.any():
                row[kind] = float("nan")
                continue
            kept = values[:, keep]
            row[kind] = float(np.median(kept.std(axis=0, ddof=1) / kept.mean(axis=0)))
        table[m] = row
    return pd.DataFrame(table).T.rename_axis("n_charts")


def more_reproducible(variation: pd.DataFrame, first: str = "refined",
                      second: str = "graph") -> str:
    """Which way ``first`` compares with ``second`` in every row of
    :func:`distance_variation`: "more reproducible", "less reproducible", "mixed",
    or "not measured" (fewer than two seeds)."""
    a, b = variation[first].to_numpy(), variation[second].to_numpy()
    if len(a) == 0 or not (np.isfinite(a) & np.isfinite(b)).all():
        return "not measured"
    if (a < b).all():
        return "more reproducible"
    if (a > b).all():
        return "less reproducible"
    return "mixed"
