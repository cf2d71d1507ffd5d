"""Tasks run one after another or in parallel on Dask, each after those it needs.

Described in {ref}`sec-intro-running`. A :class:`Task` is a function of one
configuration returning an :class:`Outcome`; :func:`execute` runs a list of them
sequentially, on a local Dask cluster (``workers``) or on an existing Dask scheduler
(``scheduler``). A failed task is reported, never stops the others.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class SchedulerUnreachable(ConnectionError):
    """No Dask scheduler answered at the address given."""


@dataclass
class Outcome:
    """What one task gave: metrics when it finished, else the error and its notebook."""

    point: object
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
    point: object
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
