"""The book's plan: what each chapter loads, declared once, and the union prepared.

Described in {ref}`sec-intro-running`. Each chapter of :data:`CHAPTERS` lists its
:class:`Need` s: an experiment of :data:`EXPERIMENTS` for one model's configuration
(:class:`~atlasnb.book.configs.BookConfig`) and any overrides of the experiment's
settings. :func:`plan` joins them into what :func:`atlasnb.book.prepare.prepare`
computes, one task per model; two chapters that declare one experiment of one model
with other settings are a :class:`PlanConflictError`, never a silent choice. A
chapter that needs another model or experiment adds its needs here, so that
preparing the book computes them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from atlasnb.book.configs import BookConfig, grid

#: The data sets and chart counts of section 4 (the experiments chapter); the other
#: chapters load models of this grid (MNIST with m = 1 and m = 8, seed 0).
BOOK_DATASETS = ("mnist", "fashion-mnist")
BOOK_CHART_COUNTS = (1, 2, 4, 8, 16)
#: The seeds of that grid: Table 1, Figure 3a and the findings give the mean and the
#: spread over them (one seed: the page says so). More seeds are one edit here.
BOOK_SEEDS = (0,)
#: The chart counts whose MNIST models the experiments chapter refines (every seed)
#: and scans over N (the first seed); the single-chart chapters' m = 8.
REFINED_CHART_COUNTS = (1, 8)


@dataclass(frozen=True)
class Need:
    """What a chapter loads: ``experiment`` (a name of :data:`EXPERIMENTS`) of the model
    of ``config``, with ``settings`` ((name, value) pairs) overriding the scale's
    settings of that experiment."""

    experiment: str
    config: BookConfig
    settings: tuple = ()

    def __post_init__(self):
        if self.experiment not in EXPERIMENTS:
            raise ValueError(f"experiment must be one of {tuple(EXPERIMENTS)}, got "
                             f"{self.experiment!r}")
        if not isinstance(self.config, BookConfig):
            raise TypeError(f"config must be a BookConfig, got {type(self.config).__name__}")
        object.__setattr__(self, "settings", tuple(sorted(tuple(self.settings))))


@dataclass(frozen=True)
class Experiment:
    """An experiment of the plan: ``run(run, scale, settings, progress)`` computes (or
    loads) it for a trained model and returns the numbers a task reports; ``after``
    names the experiments it reads, which the plan runs first on the same model."""

    run: Callable
    after: tuple = ()


class PlanConflictError(ValueError):
    """Two chapters declare one experiment of one model with other settings."""


def _train(run, scale, settings, progress) -> dict:
    return {}


def _geodesics(run, scale, settings, progress) -> dict:
    from atlasnb import experiments

    result = experiments.geodesic_experiment(run, _graph(scale, settings), progress=progress)
    return {"failed_pairs": len(result["failed_pairs"]), "pairs": len(result["lengths"])}


def _refinement(run, scale, settings, progress) -> dict:
    from atlasnb import experiments

    result = experiments.refinement_experiment(run, _graph(scale, settings),
                                               _refine(scale, settings), progress)
    return {"refined_pairs": int(sum(x == x for x in result["refined"]))}


def _scan(run, scale, settings, progress) -> dict:
    from atlasnb import experiments

    rows = experiments.length_scan(run, _graph(scale, settings), _refine(scale, settings),
                                   progress=progress)
    return {"scan_rows": len(rows)}


def _eager(run, scale, settings, progress) -> dict:
    from atlasnb import experiments

    experiments.load_or_build_eager_graph(run, _graph(scale, settings), progress)
    return {}


def _manifold(run, scale, settings, progress) -> dict:
    from atlasnb import known_experiment
    from atlasnb.checks import replace_settings

    graph = replace_settings(known_experiment.graph_settings(scale), **dict(settings))
    result = known_experiment.manifold_experiment(run, graph, progress=progress)
    return {"pairs": len(result["truth"])}


def _split(settings: tuple) -> tuple[dict, dict]:
    """Settings overrides split into the graph's and the refinement's; a name of
    neither is refused."""
    import dataclasses

    from atlasnb.experiments import GraphSettings, RefineSettings

    graph_names = {f.name for f in dataclasses.fields(GraphSettings)}
    refine_names = {f.name for f in dataclasses.fields(RefineSettings)}
    unknown = sorted(name for name, _ in settings if name not in graph_names | refine_names)
    if unknown:
        raise ValueError(f"settings name no field of GraphSettings or RefineSettings: "
                         f"{unknown}")
    return ({n: v for n, v in settings if n in graph_names},
            {n: v for n, v in settings if n in refine_names})


def _read_by(experiment: str, settings: tuple) -> tuple:
    """The part of ``settings`` that ``experiment`` reads: the graph's alone for the
    geodesic experiment, all for the others."""
    if experiment != "geodesics":
        return settings
    graph, _ = _split(settings)
    return tuple(sorted(graph.items()))


def _graph(scale, settings):
    from atlasnb.experiments import graph_settings

    return graph_settings(scale, **_split(settings)[0])


def _refine(scale, settings):
    from atlasnb.experiments import refine_settings

    return refine_settings(scale, **_split(settings)[1])


#: Every experiment a chapter can need, in an order that runs each after those it reads.
EXPERIMENTS = {
    "train": Experiment(_train),
    "geodesics": Experiment(_geodesics),
    "refinement": Experiment(_refinement, after=("geodesics",)),
    "scan": Experiment(_scan, after=("refinement",)),
    "eager-graph": Experiment(_eager),
    "manifold": Experiment(_manifold),
}


def _experiments_chapter() -> tuple:
    refined = [BookConfig("mnist", m, s) for m in REFINED_CHART_COUNTS for s in BOOK_SEEDS]
    return (tuple(Need("geodesics", c) for c in grid(BOOK_DATASETS, BOOK_CHART_COUNTS,
                                                     BOOK_SEEDS))
            + tuple(Need("refinement", c) for c in refined)
            + tuple(Need("scan", c) for c in refined if c.seed == BOOK_SEEDS[0]))


def _atlas_wae_gan_chapter() -> tuple:
    m = REFINED_CHART_COUNTS[-1]
    return (Need("train", BookConfig("mnist", m, 0)),
            Need("train", BookConfig("fashion-mnist", m, 0)),
            Need("train", BookConfig("mnist", m, 0, (("latent_penalty", "joint"),))))


def _atlas() -> BookConfig:
    """The model of the single-model chapters: MNIST, m = 8, seed 0."""
    return BookConfig("mnist", REFINED_CHART_COUNTS[-1], 0)


def _known_manifolds_chapter() -> tuple:
    from atlasnb.known_experiment import MANIFOLD_POINTS

    return tuple(Need("manifold", c) for c in MANIFOLD_POINTS)


#: chapter -> a function returning its needs (called when the plan is made, so that
#: the grid above is read then).
CHAPTERS: dict[str, Callable[[], tuple]] = {
    "wae_gan": lambda: (Need("train", BookConfig("mnist", 1, 0)),),
    "atlas_wae_gan": _atlas_wae_gan_chapter,
    "graph_geodesics": lambda: (Need("geodesics", _atlas()), Need("eager-graph", _atlas())),
    "graph_search": lambda: (Need("eager-graph", _atlas()),
                             Need("geodesics", BookConfig("mnist", 1, 0))),
    "beyond_the_paper": lambda: (Need("geodesics", _atlas()),),
    "experiments": _experiments_chapter,
    "known_manifolds": _known_manifolds_chapter,
}


def declared(chapters: dict | None = None) -> dict[str, tuple]:
    """chapter -> its tuple of needs (:data:`CHAPTERS` by default)."""
    chapters = CHAPTERS if chapters is None else chapters
    return {name: tuple(needs() if callable(needs) else needs)
            for name, needs in chapters.items()}


def check_plan(chapters: dict[str, tuple]) -> dict[BookConfig, dict[str, tuple]]:
    """config -> {experiment: settings} for every need of ``chapters`` (chapter -> needs)
    and the experiments they read (with the same settings), each experiment in the
    order of :data:`EXPERIMENTS`. Raises :class:`PlanConflictError` naming both chapters,
    the experiment, the model and both settings where two declarations differ."""
    where: dict[tuple, tuple[str, tuple]] = {}

    def add(chapter: str, experiment: str, config: BookConfig, settings: tuple) -> None:
        key = (config, experiment)
        if key in where and where[key][1] != settings:
            other, theirs = where[key]
            raise PlanConflictError(
                f"chapters {other!r} and {chapter!r} declare the experiment {experiment!r} "
                f"of the model {config.label()!r} with other settings: {dict(theirs)} and "
                f"{dict(settings)}; declare it once, or give one of them other settings "
                "in both")
        where.setdefault(key, (chapter, settings))
        for first in EXPERIMENTS[experiment].after:
            add(chapter, first, config, _read_by(first, settings))

    for chapter, needs in chapters.items():
        for need in needs:
            if not isinstance(need, Need):
                raise TypeError(f"chapter {chapter!r} declares a {type(need).__name__}, "
                                "not a Need")
            add(chapter, need.experiment, need.config, need.settings)
    planned: dict[BookConfig, dict[str, tuple]] = {}
    for (config, experiment), (_, settings) in where.items():
        planned.setdefault(config, {})[experiment] = settings
    order = list(EXPERIMENTS)
    return {config: dict(sorted(todo.items(), key=lambda item: order.index(item[0])))
            for config, todo in planned.items()}


def plan(scale: str, chapters: dict | None = None) -> dict[BookConfig, dict[str, tuple]]:
    """The checked union of every chapter's needs at ``scale`` (see :func:`check_plan`)."""
    from atlasnb.config import SCALES

    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return check_plan(declared(chapters))
