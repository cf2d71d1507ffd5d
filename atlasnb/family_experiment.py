"""Section 4's experiment for every AGM family, on the same data and the same test pairs.

For the AGM class ({ref}`sec-agm-class`): each family of :data:`atlasnb.config.MODELS` (the Atlas
WAE-GAN, the Atlas VAE, the Chart Auto-Encoder, the InfoGAN-type semi-AGM) gets what
{ref}`sec-experiments` gives the Atlas WAE-GAN: Table 1's row, Figure 2a and 2b's
numbers (the charts that generate each label, the histogram of max psi), Figure 3a's
graph and refined lengths, and Figure 3b's interpolations with chart labels.

The machinery is the experiments chapter's. A family with charts F_y goes through
{func}`atlasnb.experiments.geodesic.geodesic_experiment` (Algorithm 1's graph over the N
training images) and {func}`atlasnb.experiments.refinement.refinement_experiment`. A semi-AGM
cannot encode, so its graph is the prior-sampled graph of
{func}`atlasnb.geodesics.build_prior_graph` over N draws, its charts linked by decoder
inversion; :func:`prior_graph` keeps it in the file where the experiment looks for its
graph, so that the same :func:`~atlasnb.experiments.geodesic.geodesic_experiment` then joins the
same test pairs on it (each test image placed by inversion). Its refinement
(:func:`semi_refinement`) refines the graph paths from their own latent codes with
{func}`atlasnb.geodesics.refine_all`; the straight segment between two encodings and
the data-likeness measures need F_y and are not computed for it (NaN).
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from atlasnb import experiments, geodesics, lengths, runs
from atlasnb.agm import has_encoder
from atlasnb.config import DEFAULT_MODEL, MODELS, make_config
from atlasnb.experiments import GraphSettings, RefineSettings
from atlasnb.experiments.cache import cache_key
from atlasnb.experiments.geodesic import save_graph
from atlasnb.fingerprint import model_fingerprint
from atlasnb.runs import Run, atomic_write_json

#: How the book names each family (its run's ``model_name`` adds m).
FAMILY_TITLES = {"atlas-wae-gan": "Atlas WAE-GAN", "atlas-vae": "Atlas VAE",
                 "cae": "Chart Auto-Encoder", "infogan": "InfoGAN"}
#: Bumped whenever the layout of the cached ``family-refinement-<key>.json`` changes.
RESULT_VERSION = 1
#: Table 1's columns of :func:`family_table`, in the paper's order, and the path columns.
TABLE_COLUMNS = ("parameters", "reconstruction_error", "nodes", "edges", "hop_diameter",
                 "graph", "failed_pairs", "length_median", "refined_median")


def check_family(family: str) -> str:
    if family not in MODELS:
        raise ValueError(f"family must be one of {MODELS}, got {family!r}")
    return family


def family_config(scale: str, family: str, dataset: str = "mnist", n_charts: int = 8,
                  seed: int = 0, **overrides):
    """``make_config(scale, dataset, n_charts, model=family, seed=seed, **overrides)``;
    the Atlas WAE-GAN's is the default config (no ``model`` field in its run key)."""
    check_family(family)
    model = {} if family == DEFAULT_MODEL else {"model": family}
    return make_config(scale, dataset, n_charts, seed=seed, **model, **overrides)


def _statistics(graph, settings: GraphSettings, seconds: float) -> dict:
    statistics = geodesics.graph_statistics(graph)
    statistics.update(build_seconds=seconds, decoded_points=graph.n_decoded, eps=graph.eps,
                      k=graph.k, n_steps=graph.n_steps, n_points=settings.n_points)
    return statistics


def prior_graph(run: Run, settings: GraphSettings, progress: bool = False):
    """(graph, statistics) of the prior-sampled graph of a semi-AGM over
    ``settings.n_points`` draws (seed ``settings.seed``), built once and kept in
    :func:`atlasnb.experiments.geodesic.graph_path` (plain tensors), where
    :func:`~atlasnb.experiments.geodesic.geodesic_experiment` reads it. A damaged file or one of
    another model is named in a warning and built again."""
    if has_encoder(run.model):
        raise TypeError(f"{run.config.model_name} has an encoder: its graph is Algorithm 1's "
                        "over data (atlasnb.experiments.load_or_build_graph)")
    path = experiments.graph_path(run, settings)
    if path.exists():
        try:
            saved = torch.load(path, weights_only=True)
            return (geodesics.AtlasGraph.from_arrays(run.model, saved["graph"]),
                    saved["statistics"])
        except Exception as error:  # damaged, or another model's graph
            warnings.warn(f"{path} cannot be read as this model's graph "
                          f"({runs.first_line(error)}); building it again", RuntimeWarning,
                          stacklevel=2)
    started = time.perf_counter()
    graph = geodesics.build_prior_graph(run.model, settings.n_points, k=settings.k,
                                        eps=settings.eps, n_steps=settings.n_steps,
                                        seed=settings.seed, progress=progress)
    statistics = _statistics(graph, settings, time.perf_counter() - started)
    save_graph(run, settings, graph, statistics)
    return graph, statistics


def family_graph(run: Run, settings: GraphSettings, progress: bool = False):
    """(graph, statistics, kind): Algorithm 1's graph over data (``"data"``) for a model
    with charts F_y, the prior-sampled graph (``"prior"``) for a semi-AGM."""
    if has_encoder(run.model):
        return (*experiments.load_or_build_graph(run, settings, progress), "data")
    return (*prior_graph(run, settings, progress), "prior")


def family_experiment(run: Run, settings: GraphSettings, progress: bool = False) -> dict:
    """{func}`atlasnb.experiments.geodesic.geodesic_experiment` of ``run`` (its graph made by
    :func:`family_graph` first), with ``graph_kind`` added."""
    _, _, kind = family_graph(run, settings, progress)
    result = experiments.geodesic_experiment(run, settings, progress=progress)
    return {**result, "graph_kind": kind}


def semi_refinement(run: Run, graph_settings: GraphSettings, settings: RefineSettings,
                    progress: bool = False) -> dict:
    """The refinement measurements of a semi-AGM, in the layout of
    {func}`atlasnb.experiments.refinement.refinement_experiment`: per test pair the graph and
    refined lengths at one resolution ({func}`atlasnb.lengths.measure`), the graph
    path's own length, the distance between its end images, its chart changes and the
    refinement's time; ``straight`` and the data-likeness columns are NaN (they need
    F_y). Cached in ``family-refinement-<key>.json`` in the run folder."""
    key = cache_key({"refine": settings, "graph": graph_settings}, run.model, RESULT_VERSION)
    path = run.path / f"family-refinement-{key}.json"
    cached = runs.read_cached(path, keys=("graph",), model=run.model)
    if cached is not None:
        return {**cached, "frames": []}
    graph, _ = prior_graph(run, graph_settings, progress)
    starts, ends = experiments.test_pairs(run.config.dataset, graph_settings)
    resolution = lengths.graph_resolution(graph)
    found = geodesics.shortest_paths(graph, starts, ends, insert=graph_settings.insert,
                                     disconnected="none")
    solved = [p for p in found if p is not None]
    started = time.perf_counter()
    refined = iter(geodesics.refine_all(graph, solved, points_per_run=settings.points_per_run,
                                        optimiser=settings.optimiser,
                                        n_iterations=settings.n_iterations)
                   if solved else [])
    share = (time.perf_counter() - started) / max(1, len(solved))
    nan = float("nan")
    columns = {name: [] for name in ("graph", "straight", "refined", "graph_algorithm1",
                                     "end_distance", "refine_seconds", "chart_changes")}
    columns.update({f"{kind}_{what}": [nan] * len(found) for kind in experiments.KINDS
                    for what in ("nearest", "reconstruction")})
    for found_path in found:
        joined = found_path is not None
        columns["straight"].append(nan)
        columns["graph"].append(float(lengths.measure(run.model, found_path, resolution)
                                      .length) if joined else nan)
        columns["refined"].append(float(lengths.measure(run.model, next(refined), resolution)
                                        .length) if joined else nan)
        columns["graph_algorithm1"].append(float(found_path.length) if joined else nan)
        columns["end_distance"].append(float((found_path.images[0].double()
                                              - found_path.images[-1].double()).norm())
                                       if joined else nan)
        columns["refine_seconds"].append(share if joined else nan)
        columns["chart_changes"].append(int(found_path.cross.sum()) if joined else -1)
    result = {**columns, "model": run.config.model_name, "n_charts": run.config.n_charts,
              "resolution": resolution, "settings": dataclasses.asdict(settings),
              "graph_settings": dataclasses.asdict(graph_settings), "run": str(run.path),
              "version": RESULT_VERSION, "fingerprint": model_fingerprint(run.model)}
    atomic_write_json(path, result)
    return {**result, "frames": []}


def family_refinement(run: Run, graph_settings: GraphSettings, settings: RefineSettings,
                      progress: bool = False) -> dict:
    """{func}`atlasnb.experiments.refinement.refinement_experiment` for a model with charts F_y,
    :func:`semi_refinement` for a semi-AGM; the same layout either way."""
    if has_encoder(run.model):
        return experiments.refinement_experiment(run, graph_settings, settings, progress)
    return semi_refinement(run, graph_settings, settings, progress)


@dataclass
class FamilyCollection:
    """The family experiment's numbers.

    Attributes
    ----------
    summary: one row per family (index ``family``), the experiments chapter's
        :func:`atlasnb.experiments.collect.summary_row` with ``graph`` (its kind) and
        ``refined_median`` added.
    lengths: one row per family and test pair: ``graph`` and ``refined`` lengths
        (one resolution), ``end_distance``, ``chart_changes``.
    interpolations: family -> Figure 3b's interpolations (same pairs for every family).
    metrics: family -> the run's test metrics (Figure 2a and 2b's numbers).
    settings: the graph settings used.
    """

    summary: pd.DataFrame
    lengths: pd.DataFrame
    interpolations: dict
    metrics: dict
    settings: GraphSettings


def collect_families(scale: str, families=MODELS, dataset: str = "mnist", n_charts: int = 8,
                     seed: int = 0, settings: GraphSettings | None = None,
                     refine: RefineSettings | None = None, progress: bool = False,
                     **config_overrides) -> FamilyCollection:
    """Load (or train) every family's model of :func:`family_config` and run
    :func:`family_experiment` and :func:`family_refinement` on it; the settings default
    to the scale's ({func}`atlasnb.experiments.settings.graph_settings`,
    {func}`atlasnb.experiments.settings.refine_settings`)."""
    settings = settings if settings is not None else experiments.graph_settings(scale)
    refine = refine if refine is not None else experiments.refine_settings(scale)
    rows, length_rows, interpolations, metrics = [], [], {}, {}
    for family in families:
        config = family_config(scale, family, dataset, n_charts, seed, **config_overrides)
        run = runs.load_or_train(config, progress=progress)
        result = family_experiment(run, settings, progress)
        refined = family_refinement(run, settings, refine, progress)
        row = experiments.summary_row(run, result)
        solved = np.asarray(refined["refined"], dtype=float)
        row.update(family=family, graph=result["graph_kind"],
                   refined_median=float(np.nanmedian(solved)) if np.isfinite(solved).any()
                   else float("nan"))
        rows.append(row)
        for pair, (graph, better, distance, change) in enumerate(zip(
                refined["graph"], refined["refined"], refined["end_distance"],
                refined["chart_changes"])):
            length_rows.append({"family": family, "pair": pair, "graph": graph,
                                "refined": better, "end_distance": distance,
                                "chart_changes": change})
        interpolations[family] = result["interpolations"]
        metrics[family] = dict(run.metrics)
    summary = pd.DataFrame(rows).set_index("family")
    return FamilyCollection(summary, pd.DataFrame(length_rows), interpolations, metrics,
                            settings)


def family_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Table 1's rows of :attr:`FamilyCollection.summary`, one column per family
    (named by :data:`FAMILY_TITLES`), the rows in :data:`TABLE_COLUMNS`' order."""
    table = summary.loc[:, list(TABLE_COLUMNS)].T
    table.columns = [FAMILY_TITLES[family] for family in summary.index]
    return table


# Sentences chosen by rule ------------------------------------------------------------

#: Two values whose relative difference is at most this count as "about the same".
SAME_MARGIN = 0.05
#: The measures :func:`family_sentences` compares, with the direction that is worse
#: (None: neither direction is worse) and how the sentence names them.
COMPARED = {"reconstruction_error": ("higher", "reconstruction error"),
            "confidence_median": ("lower", "median max psi"),
            "hop_diameter": (None, "hop diameter"),
            "length_median": (None, "median graph geodesic length"),
            "failed_pairs": ("higher", "test pairs left unjoined")}


def compare(value, reference, margin: float = SAME_MARGIN) -> str:
    """``"higher"``, ``"lower"`` or ``"about the same"`` for ``value`` against
    ``reference`` (equal within ``margin`` of the reference, relatively; two zeros are
    the same); ``"not measured"`` when either is None or NaN."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    if value is None or reference is None or not (np.isfinite(value)
                                                  and np.isfinite(reference)):
        return "not measured"
    if abs(value - reference) <= margin * abs(reference):
        return "about the same"
    return "higher" if value > reference else "lower"


def family_sentences(summary: pd.DataFrame, reference: str = DEFAULT_MODEL,
                     margin: float = SAME_MARGIN) -> dict[str, str]:
    """One sentence per family of ``summary`` (rows indexed by family, the columns of
    :data:`COMPARED`) other than ``reference``: each measure against the reference's,
    worded by :func:`compare`, the worse ones named first as such."""
    if reference not in summary.index:
        raise ValueError(f"reference must be a family of the summary {list(summary.index)}, "
                         f"got {reference!r}")
    base = summary.loc[reference]
    sentences = {}
    for family, row in summary.drop(index=reference).iterrows():
        worse, other = [], []
        for column, (bad, name) in COMPARED.items():
            word = compare(_number(row[column]), _number(base[column]), margin)
            if word == "not measured":
                other.append(f"its {name} is not measured")
            elif word == bad:
                worse.append(f"its {name} is {word} ({_number(row[column]):.4g} against "
                             f"{_number(base[column]):.4g})")
            else:
                other.append(f"its {name} is {word}")
        title, against = FAMILY_TITLES[family], FAMILY_TITLES[reference]
        head = (f"Worse than the {against}: " + "; ".join(worse) + ". Otherwise "
                if worse else f"Nowhere worse than the {against}: ")
        sentences[family] = f"{title}. {head}" + ", ".join(other) + "."
    return sentences


def _number(value):
    return float("nan") if value is None else float(value)
