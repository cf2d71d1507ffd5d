"""Every model of a grid of data sets and chart counts with its geodesic experiment,
gathered as the tables of section 4.

Used by {ref}`sec-experiments`: :func:`collect` loads each model once and returns a
:class:`Collection`; :func:`summary_row` is one model's row of its summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from atlasnb import runs
from atlasnb.checks import replace_settings
from atlasnb.config import make_config
from atlasnb.experiments.geodesic import geodesic_experiment
from atlasnb.experiments.settings import GraphSettings, graph_settings
from atlasnb.runs import Run

#: How the book names each data set in titles and tables.
DATASET_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


@dataclass
class Collection:
    """The numbers of section 4 for a grid of data sets and chart counts.

    Attributes
    ----------
    summary: one row per model, indexed by (dataset, n_charts): its test metrics
        (:func:`atlasnb.metrics.evaluate`), graph statistics and path summary.
    lengths: one row per model and test pair (tidy): ``dataset``, ``n_charts``,
        ``model``, ``pair``, ``length`` (NaN for a failed pair), ``end_distance``,
        ``chart_changes``.
    interpolations: (dataset, n_charts) -> the model's stored interpolations
        (see :func:`atlasnb.experiments.geodesic.geodesic_experiment`).
    settings: the graph settings used.
    runs: (dataset, n_charts) -> the model's :class:`atlasnb.runs.Run`, for the cells
        that go on with the same models.
    """

    summary: pd.DataFrame
    lengths: pd.DataFrame
    interpolations: dict
    settings: GraphSettings
    runs: dict | None = None


def summary_row(run: Run, result: dict) -> dict:
    """One model's row of :attr:`Collection.summary`, from its run and experiment."""
    statistics, metrics = result["statistics"], run.metrics
    lengths = np.asarray(result["lengths"], dtype=float)
    solved = np.isfinite(lengths)
    return {
        "dataset": run.config.dataset, "n_charts": run.config.n_charts,
        "model": run.config.model_name, "width": metrics["width"],
        "latent_dim": metrics["latent_dim"], "parameters": metrics["parameters"],
        "reconstruction_error": metrics["reconstruction_error"],
        "confidence_median": metrics["confidence_median"],
        "confidence_histogram": metrics["confidence_histogram"],
        "charts_per_label_median": float(np.median(metrics["charts_per_label"])),
        "n_points": statistics["n_points"], "eps": statistics["eps"],
        "nodes": statistics["nodes"], "edges": statistics["edges"],
        "cross_chart_edges": statistics["cross_chart_edges"],
        "components": statistics["components"],
        "largest_component": statistics["largest_component"],
        "hop_diameter": statistics["hop_diameter"],
        "build_seconds": statistics["build_seconds"],
        "pairs": len(lengths), "failed_pairs": int((~solved).sum()),
        "length_median": float(np.median(lengths[solved])) if solved.any() else float("nan"),
        "run": str(run.path),
    }


def collect(scale: str, datasets, chart_counts, seed: int = 0,
            settings: GraphSettings | None = None, progress: bool = False,
            insert: str | None = None, loaded: dict | None = None,
            **config_overrides) -> Collection:
    """Load (or train, if missing) the model of every data set and chart count, run
    :func:`~atlasnb.experiments.geodesic.geodesic_experiment` on it, and gather the results.

    Models come from :func:`atlasnb.runs.load_or_train` with
    ``make_config(scale, dataset, n_charts=m, seed=seed, **config_overrides)``, so
    models trained by other chapters or a sweep are reused, never retrained.
    ``settings`` defaults to :func:`~atlasnb.experiments.settings.graph_settings` of ``scale``;
    ``insert`` (``"own"`` or ``"all"``, see :func:`atlasnb.geodesics.shortest_path`)
    replaces its end-point insertion and so names other cached results. ``loaded``:
    (dataset, n_charts) -> a run already loaded (e.g. :attr:`Collection.runs` of this
    grid), used instead of loading it again.
    Used in {ref}`sec-experiments`.
    """
    settings = settings if settings is not None else graph_settings(scale)
    if insert is not None:
        settings = replace_settings(settings, insert=insert)
    rows, length_rows, interpolations = [], [], {}
    loaded = dict(loaded or {})
    for dataset in datasets:
        for m in chart_counts:
            config = make_config(scale, dataset, n_charts=m, seed=seed, **config_overrides)
            run = loaded.get((dataset, m))
            if run is None or run.config != config:
                run = loaded[dataset, m] = runs.load_or_train(config, progress=progress)
            result = geodesic_experiment(run, settings, progress=progress)
            rows.append(summary_row(run, result))
            for pair, (length, distance, change) in enumerate(zip(
                    result["lengths"], result["end_distances"], result["chart_changes"])):
                length_rows.append({"dataset": dataset, "n_charts": m,
                                    "model": config.model_name, "pair": pair,
                                    "length": length, "end_distance": distance,
                                    "chart_changes": change})
            interpolations[dataset, m] = result["interpolations"]
    summary = pd.DataFrame(rows).set_index(["dataset", "n_charts"])
    return Collection(summary, pd.DataFrame(length_rows), interpolations, settings,
                      {key: loaded[key] for key in summary.index})
