"""Sweeps: one task per configuration, run one after another or in parallel on Dask.

Described in {ref}`sec-intro-running`. A configuration is a data set, a chart count m
and a seed; its run folder ({func}`atlasnb.runs.run_path`) is the unit of work, so a
finished configuration is reused and an interrupted one resumes. :func:`execute` runs
a list of :class:`Task` s sequentially, on a local Dask cluster (``workers``) or on an
existing Dask scheduler (``scheduler``), each after the tasks it needs. :func:`sweep`
first trains every model the Atlas WAE-GAN chapter loads for the configurations
(:func:`chapter_points`, each model once), then runs the chapter with papermill for
each configuration; :func:`~atlasnb.book.summary.print_summary` reports the metrics,
their mean and spread over seeds, and every failed task with its notebook.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

# The summary's names stay importable from here.
from atlasnb.book.summary import RESUME_HINT, SUMMARY_METRICS, over_seeds, print_summary  # noqa: F401

SWEEP_CHAPTER = "atlas_wae_gan"


class SchedulerUnreachable(ConnectionError):
    """No Dask scheduler answered at the address given."""


@dataclass(frozen=True)
class Point:
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


def grid(datasets, chart_counts, seeds=(0,)) -> list[Point]:
    """Every combination of ``datasets``, ``chart_counts`` and ``seeds``, in that order."""
    return [Point(d, int(m), int(s)) for d in datasets for m in chart_counts for s in seeds]


@dataclass
class Outcome:
    """What one task gave: metrics when it finished, else the error and its notebook."""

    point: Point
    folder: str
    ok: bool
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)
    error: str = ""
    notebook: str = ""
    #: The kind of task, the first word of its key: ``"train"`` for a model trained
    #: ahead of the chapters that load it (left out of the summary's table),
    #: ``"chapter"`` or ``"prepare"``.
    kind: str = ""

    def label(self) -> str:
        return ("train " if self.kind == "train" else "") + self.point.label()


@dataclass(frozen=True)
class Task:
    """A unit of work: ``function(point, scale, environ, gpus, *args)`` returning an
    :class:`Outcome`; ``key`` names the configuration (one task per key on a cluster);
    ``folder`` and ``notebook`` say where to look when its worker dies; ``after``
    holds the keys of tasks that must finish first (earlier in the list)."""

    key: str
    point: Point
    function: Callable
    args: tuple = ()
    folder: str = ""
    notebook: str = ""
    after: tuple = ()


def environment() -> dict:
    """The run and data folders of this process, as absolute paths, for the workers
    (they must see the same paths: a shared filesystem on a cluster)."""
    from atlasnb.runs import runs_root

    environ = {"ATLASNB_RUNS": str(Path(runs_root()).resolve())}
    if os.environ.get("ATLASNB_DATA"):
        environ["ATLASNB_DATA"] = str(Path(os.environ["ATLASNB_DATA"]).expanduser().resolve())
    return environ


def enter_environment(environ: dict, gpus: int) -> None:
    """Set the caller's folders in this (worker) process, and on a local cluster with
    ``gpus`` GPUs pin this worker to one of them, so its kernels inherit both."""
    os.environ.update(environ)
    if gpus:
        try:
            from distributed import get_worker

            index = int(get_worker().name)
        except (ImportError, ValueError, TypeError):
            return
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)


def run_point(point: Point, scale: str, environ: dict, gpus: int, book_root: str) -> Outcome:
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


def train_point(point: Point, scale: str, environ: dict, gpus: int) -> Outcome:
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


def chapter_points(point: Point) -> list[Point]:
    """Every model the Atlas WAE-GAN chapter loads when run for ``point``: its own,
    the other data set's with the same m and seed (Figures 2a and 2b show both), and
    for m > 1 the joint reading of the latent penalty (the chapter's comparison)."""
    from atlasnb.config import IMAGE_DATASETS

    models = [point] + [Point(d, point.n_charts, point.seed, point.overrides)
                        for d in IMAGE_DATASETS if d != point.dataset]
    if point.n_charts > 1:
        overrides = dict(point.overrides, latent_penalty="joint")
        models.append(Point(point.dataset, point.n_charts, point.seed,
                            tuple(sorted(overrides.items()))))
    return models


def _read_metrics(folder: Path) -> dict:
    import json

    return json.loads((Path(folder) / "metrics.json").read_text())


def task_key(kind: str, scale: str, point: Point) -> str:
    """The task's name on the scheduler: the kind of work and the whole config's hash,
    so two tasks of one scheduler never train the same configuration."""
    return (f"{kind}-{point.dataset}-m{point.n_charts}-s{point.seed}-{scale}-"
            f"{point.config(scale).key()}")


def sweep_tasks(points: list[Point], scale: str, book_root: str | os.PathLike) -> list[Task]:
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


def _failed(task: Task, error: BaseException, seconds: float) -> Outcome:
    """The outcome of a task whose worker died or that raised outside the task."""
    notebook = task.notebook if task.notebook and Path(task.notebook).exists() else ""
    return Outcome(task.point, task.folder, ok=False, seconds=seconds,
                   error=f"{type(error).__name__}: {error}", notebook=notebook,
                   kind=task.key.split("-", 1)[0])


def execute(tasks: list[Task], scale: str, workers: int | None = None,
            scheduler: str | None = None, desc: str = "sweep") -> tuple[list[Outcome], bool]:
    """Run ``tasks`` and return (their outcomes in the order they finished, whether
    the run was interrupted by Ctrl-C).

    Without ``workers`` or ``scheduler`` the tasks run one after another in this
    process. ``workers`` starts a local Dask cluster of that many processes, each with
    its share of the CPU threads (or one GPU each where there are GPUs); ``scheduler``
    submits to a running Dask scheduler. One progress bar counts finished tasks; a
    failed task is written out as soon as it is known, and the others carry on.
    """
    from tqdm import tqdm

    keys = [task.key for task in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError(f"two tasks share a key: {sorted(k for k in keys if keys.count(k) > 1)}")
    for i, task in enumerate(tasks):
        missing = set(task.after) - set(keys[:i])
        if missing:
            raise ValueError(f"task {task.key} must come after {sorted(missing)}, which are "
                             "not earlier in the list")
    environ = environment()
    outcomes: list[Outcome] = []
    bar = tqdm(total=len(tasks), desc=desc, unit="task")

    def finished(outcome: Outcome) -> None:
        outcomes.append(outcome)
        bar.update(1)
        if outcome.ok:
            bar.write(f"done {outcome.label()} in {outcome.seconds:.0f} s")
        else:
            bar.write(f"FAILED {outcome.label()}: {outcome.error}"
                      + (f"\n  notebook: {outcome.notebook}" if outcome.notebook else ""))

    try:
        if workers is None and scheduler is None:
            by_key = {}
            for task in tasks:
                by_key[task.key] = _after([by_key[key] for key in task.after], task, scale,
                                          environ, 0)
                finished(by_key[task.key])
        else:
            _execute_dask(tasks, scale, environ, workers, scheduler, finished)
    except KeyboardInterrupt:
        return outcomes, True
    finally:
        bar.close()
    return outcomes, False


def _after(_needed: list, task: Task, scale: str, environ: dict, gpus: int) -> Outcome:
    """``task`` run (on a worker) once the outcomes ``_needed`` of the tasks it comes
    after are in (Dask waits for the futures passed in it). When one of them failed,
    the task does not start: its outcome names the failed tasks instead (a worker
    that died makes Dask report the task as failed too)."""
    failed = [o for o in _needed if not o.ok]
    if failed:
        return Outcome(task.point, task.folder, ok=False, kind=task.key.split("-", 1)[0],
                       error="not started, as what it needs failed: "
                             + "; ".join(f"{o.label()} ({o.error})" for o in failed))
    return task.function(task.point, scale, environ, gpus, *task.args)


def _execute_dask(tasks, scale, environ, workers, scheduler, finished) -> None:
    import dask
    from distributed import Client, LocalCluster, as_completed

    cluster, gpus = None, 0
    if scheduler is None:
        import torch

        gpus = torch.cuda.device_count()
        threads = str(max(1, (os.cpu_count() or 1) // workers))
        # A worker that dies is retried once on another worker, then reported as failed.
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None,
                                   env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads})
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as error:
            raise SchedulerUnreachable(f"no Dask scheduler answered at {scheduler} within "
                                       f"30 s ({error}); start one (dask scheduler, or "
                                       "dask-jobqueue) and give its address") from None
    futures = {}
    try:
        started = time.perf_counter()
        by_key = {}
        for task in tasks:
            needs = [by_key[key] for key in task.after]
            future = client.submit(_after, needs, task, scale, environ, gpus,
                                   key=task.key, pure=False)
            futures[future] = task
            by_key[task.key] = future
        for future in as_completed(list(futures)):
            task = futures[future]
            try:
                outcome = future.result()
            except Exception as error:  # a dead worker (KilledWorker) or a lost task
                outcome = _failed(task, error, time.perf_counter() - started)
            finished(outcome)
    finally:
        # Unfinished tasks stop unless another client of a shared scheduler wants them.
        client.cancel(list(futures))
        client.close()
        if cluster is not None:
            cluster.close()


def sweep(points: list[Point], scale: str, book_root: str | os.PathLike,
          workers: int | None = None, scheduler: str | None = None) -> int:
    """Run the Atlas WAE-GAN chapter for every point, print the summary, return the
    exit code (see :func:`~atlasnb.book.summary.print_summary`). The runs folder is
    checked first."""
    from atlasnb.runs import check_runs_root

    check_runs_root()
    outcomes, interrupted = execute(sweep_tasks(points, scale, book_root), scale,
                                    workers=workers, scheduler=scheduler)
    return print_summary(outcomes, len(points), interrupted)
