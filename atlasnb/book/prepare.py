"""The book's long work, done before any chapter executes.

Described in {ref}`sec-intro-running`. :func:`book_configs` lists every model the
chapters load; :func:`prepare` trains each (or loads it from its run folder) and runs
{func}`atlasnb.experiments.geodesic_experiment` on it, whose graph and results are kept
in the run folder. The chapters then only load, so building the book does not depend
on the machine's speed; an interrupted preparation resumes when run again.
"""

from __future__ import annotations

import time

from atlasnb.book.sweep import (
    Outcome,
    Point,
    Task,
    enter_environment,
    execute,
    grid,
    print_summary,
    task_key,
)

#: The data sets and chart counts of section 4 (the experiments chapter); the other
#: chapters load models of this grid (MNIST with m = 1 and m = 8, seed 0).
BOOK_DATASETS = ("mnist", "fashion-mnist")
BOOK_CHART_COUNTS = (1, 2, 4, 8, 16)
#: The seeds of that grid: Table 1, Figure 3a and the findings give the mean and the
#: spread over them (one seed: the page says so). More seeds are one edit here.
BOOK_SEEDS = (0,)
#: Models a chapter loads beyond that grid: the Atlas WAE-GAN chapter's comparison of
#: the two readings of the latent penalty (MNIST, m = 8).
BOOK_EXTRA_POINTS = (Point("mnist", 8, 0, overrides=(("latent_penalty", "joint"),)),)
#: Models whose graph paths the experiments chapter refines (every seed) and scans
#: over N (the first seed).
REFINED_POINTS = tuple(Point("mnist", m, s) for m in (1, 8) for s in BOOK_SEEDS)
SCANNED_POINTS = (Point("mnist", 1, BOOK_SEEDS[0]), Point("mnist", 8, BOOK_SEEDS[0]))
#: The model whose eager graph (every weight decoded) the graph geodesics chapter
#: checks its lazy search against.
EAGER_POINTS = (Point("mnist", 8, 0),)
#: The other AGM families of the AGM class chapter (MNIST, m = 8, seed 0), each run
#: through the family experiment ({mod}`atlasnb.family_experiment`) beside the Atlas
#: WAE-GAN of the grid. Prepared with ``prepare(scale, points=list(FAMILY_POINTS))``;
#: :func:`book_configs` takes them in once a chapter loads them.
FAMILY_POINTS = tuple(Point("mnist", 8, 0, overrides=(("model", family),))
                      for family in ("atlas-vae", "cae", "infogan"))


def book_configs(scale: str) -> list[Point]:
    """Every configuration the book's chapters load at ``scale``. A chapter that needs
    another model adds it here, so that preparing the book trains it too."""
    from atlasnb.config import SCALES

    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    return grid(BOOK_DATASETS, BOOK_CHART_COUNTS, BOOK_SEEDS) + list(BOOK_EXTRA_POINTS)


def prepare_refinement(run, scale: str, progress: bool = False, scan: bool = True) -> None:
    """The refinement measurements of the experiments chapter for ``run``: refined and
    straight lengths of every test pair, then (if ``scan``) the graph's excess over N
    (both cached in the run folder, see :mod:`atlasnb.refinement`)."""
    import numpy as np

    from atlasnb import experiments, refinement

    graph_settings = experiments.graph_settings(scale)
    settings = refinement.refine_settings(scale)
    result = refinement.refinement_experiment(run, graph_settings, settings, progress)
    if not scan:
        return
    table = refinement.lengths_table(result)
    reference = np.fmin(table["straight"].to_numpy(), table["refined"].to_numpy())
    refinement.length_scan(run, graph_settings, settings, reference, progress)


def prepare_point(point: Point, scale: str, environ: dict, gpus: int,
                  progress: bool = False) -> Outcome:
    """Train (or load) ``point``'s model and run its geodesic experiment (the
    preparation's task). A failure is returned, not raised."""
    enter_environment(environ, gpus)
    from atlasnb import experiments, runs
    from atlasnb.data import MANIFOLD_DATASETS

    config = point.config(scale)
    outcome = Outcome(point, str(runs.run_path(config)), ok=False, kind="prepare")
    started = time.perf_counter()
    try:
        run = runs.load_or_train(config, progress=progress)
        outcome.metrics = dict(run.metrics)
        if point.dataset in MANIFOLD_DATASETS:  # the known manifolds' experiment
            from atlasnb import known_experiment

            result = known_experiment.manifold_experiment(
                run, known_experiment.graph_settings(scale), progress=progress)
            outcome.metrics.update(pairs=len(result["truth"]))
        elif point in FAMILY_POINTS:  # the AGM class chapter's families
            from atlasnb import family_experiment, refinement

            settings = experiments.graph_settings(scale)
            result = family_experiment.family_experiment(run, settings, progress)
            family_experiment.family_refinement(run, settings,
                                                refinement.refine_settings(scale), progress)
            outcome.metrics.update(failed_pairs=len(result["failed_pairs"]),
                                   pairs=len(result["lengths"]))
        elif not point.overrides:  # section 4's models: their geodesic experiment too
            result = experiments.geodesic_experiment(run, experiments.graph_settings(scale),
                                                     progress=progress)
            outcome.metrics.update(failed_pairs=len(result["failed_pairs"]),
                                   pairs=len(result["lengths"]))
        if point in REFINED_POINTS:
            prepare_refinement(run, scale, progress, scan=point in SCANNED_POINTS)
        if point in EAGER_POINTS:
            experiments.load_or_build_eager_graph(run, experiments.graph_settings(scale),
                                                  progress)
        outcome.ok = True
    except Exception as error:  # reported with the others, never stops the preparation
        outcome.error = f"{type(error).__name__}: {error}"
    outcome.seconds = time.perf_counter() - started
    return outcome


def list_configs(scale: str) -> list[str]:
    """One line per configuration of :func:`book_configs`, as ``mnist m=8 seed=0``
    followed by any overrides (``latent_penalty=joint``)."""
    return [point.label() for point in book_configs(scale)]


def prepare_tasks(points: list[Point], scale: str, progress: bool = False) -> list[Task]:
    from atlasnb.runs import run_path

    return [Task(task_key("prepare", scale, p), p, prepare_point, (progress,),
                 str(run_path(p.config(scale))))
            for p in points]


def prepare(scale: str, workers: int | None = None, scheduler: str | None = None,
            points: list[Point] | None = None) -> int:
    """Train every model of :func:`book_configs` and run its geodesic experiment,
    sequentially or on Dask; print what finished and failed; return the exit code
    (0 all done, 1 some failed, 130 interrupted: run again to resume)."""
    from atlasnb.runs import check_runs_root

    points = book_configs(scale) if points is None else points
    check_runs_root()
    sequential = workers is None and scheduler is None
    tasks = prepare_tasks(points, scale, progress=sequential)
    outcomes, interrupted = execute(tasks, scale, workers=workers, scheduler=scheduler,
                                    desc=f"prepare ({scale})")
    return print_summary(outcomes, len(points), interrupted)
