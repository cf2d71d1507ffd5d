"""Sweeps: the Atlas WAE-GAN chapter run for many configurations.

Described in {ref}`sec-intro-running`. A configuration
(:class:`~atlasnb.book.configs.BookConfig`) is a data set, a chart count m and a seed;
its run folder is the unit of work, so a finished configuration is reused and an
interrupted one resumes. :func:`sweep` first trains every model the chapter loads for
the configurations (:func:`chapter_points`, each model once), then runs the chapter
with papermill for each, as tasks of :mod:`atlasnb.book.tasks`, each after the
trainings it needs; :func:`~atlasnb.book.summary.print_summary` reports the metrics,
their mean and spread over seeds, and every failed task with its notebook.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from atlasnb.book.configs import BookConfig
from atlasnb.book.summary import print_summary
from atlasnb.book.tasks import Outcome, Task, enter_environment, execute

SWEEP_CHAPTER = "atlas_wae_gan"


def run_point(point: BookConfig, scale: str, environ: dict, gpus: int, book_root: str) -> Outcome:
    """Run the Atlas WAE-GAN chapter for ``point`` with papermill (the sweep's task).

    The executed notebook is written to the run folder. A failure is returned, not
    raised: the exception's type and message are taken from the notebook's failing cell.
    """
    enter_environment(environ, gpus)
    from papermill.exceptions import PapermillExecutionError

    from atlasnb.book.chapters import run_chapter
    from atlasnb.runs import run_path

    folder = run_path(point.config(scale))
    notebook = folder / f"{SWEEP_CHAPTER}.ipynb"
    chapter = Path(book_root) / "book" / f"{SWEEP_CHAPTER}.md"
    outcome = Outcome(point, str(folder), ok=False, notebook=str(notebook), kind="chapter")
    started = time.perf_counter()
    try:
        run_chapter(chapter, notebook, dict(n_charts=point.n_charts, dataset=point.dataset,
                                            scale=scale, seed=point.seed), progress=False)
        outcome.metrics = _read_metrics(folder)
        outcome.ok = True
    except PapermillExecutionError as error:
        outcome.error = f"{error.ename}: {error.evalue} (cell [{error.exec_count}])"
    except Exception as error:  # reported with the others, never stops the sweep
        outcome.error = f"{type(error).__name__}: {error}"
    outcome.seconds = time.perf_counter() - started
    return outcome


def train_point(point: BookConfig, scale: str, environ: dict, gpus: int) -> Outcome:
    """Train (or load) ``point``'s model, ahead of the chapters that load it. A failure
    is returned, not raised."""
    enter_environment(environ, gpus)
    from atlasnb.runs import load_or_train, run_path

    config = point.config(scale)
    outcome = Outcome(point, str(run_path(config)), ok=False, kind="train")
    started = time.perf_counter()
    try:
        outcome.metrics = dict(load_or_train(config, progress=False).metrics)
        outcome.ok = True
    except Exception as error:  # reported with the others, never stops the sweep
        outcome.error = f"{type(error).__name__}: {error}"
    outcome.seconds = time.perf_counter() - started
    return outcome


def chapter_points(point: BookConfig) -> list[BookConfig]:
    """Every model the Atlas WAE-GAN chapter loads when run for ``point``: its own,
    the other data set's with the same m and seed (Figures 2a and 2b show both), and
    for m > 1 the joint reading of the latent penalty (the chapter's comparison)."""
    from atlasnb.config import IMAGE_DATASETS

    models = [point] + [BookConfig(d, point.n_charts, point.seed, point.overrides)
                        for d in IMAGE_DATASETS if d != point.dataset]
    if point.n_charts > 1:
        overrides = dict(point.overrides, latent_penalty="joint")
        models.append(BookConfig(point.dataset, point.n_charts, point.seed,
                            tuple(sorted(overrides.items()))))
    return models


def _read_metrics(folder: Path) -> dict:
    import json

    return json.loads((Path(folder) / "metrics.json").read_text())


def task_key(kind: str, scale: str, point: BookConfig) -> str:
    """The task's name on the scheduler: the kind of work and the whole config's hash,
    so two tasks of one scheduler never train the same configuration."""
    return (f"{kind}-{point.dataset}-m{point.n_charts}-s{point.seed}-{scale}-"
            f"{point.config(scale).key()}")


def sweep_tasks(points: list[BookConfig], scale: str, book_root: str | os.PathLike) -> list[Task]:
    """The sweep's tasks: one training per model any point's chapter loads
    (:func:`chapter_points`; a model shared by two points is trained once), then the
    Atlas WAE-GAN chapter for every point, after the trainings of its models. So
    parallel workers train distinct models instead of waiting on each other's run
    folders, and the chapters only load."""
    from atlasnb.runs import run_path

    trainings: dict[str, Task] = {}
    chapters = []
    for p in points:
        needs = []
        for model in chapter_points(p):
            key = task_key("train", scale, model)
            trainings.setdefault(key, Task(key, model, train_point,
                                           folder=str(run_path(model.config(scale)))))
            needs.append(key)
        folder = run_path(p.config(scale))
        chapters.append(Task(task_key("chapter", scale, p), p, run_point, (str(book_root),),
                             str(folder), str(folder / f"{SWEEP_CHAPTER}.ipynb"),
                             after=tuple(needs)))
    return list(trainings.values()) + chapters


def sweep(points: list[BookConfig], scale: str, book_root: str | os.PathLike,
          workers: int | None = None, scheduler: str | None = None) -> int:
    """Run the Atlas WAE-GAN chapter for every point, print the summary, return the
    exit code (see :func:`~atlasnb.book.summary.print_summary`). The runs folder is
    checked first."""
    from atlasnb.runs import check_runs_root

    check_runs_root()
    outcomes, interrupted = execute(sweep_tasks(points, scale, book_root), scale,
                                    workers=workers, scheduler=scheduler)
    return print_summary(outcomes, len(points), interrupted)
