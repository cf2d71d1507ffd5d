"""The book's long work, done before any chapter executes.

Described in {ref}`sec-intro-running`. :func:`prepare` runs the plan of
:mod:`atlasnb.book.plan`: one task per model, which trains it (or loads it from its
run folder) and computes every experiment a chapter declared for it, in order, each
graph read once (:func:`atlasnb.experiments.geodesic.sharing_graphs`). Everything is kept in the
run folders: the chapters then only load, so building the book does not depend on
the machine's speed; an interrupted preparation resumes when run again.
"""

from __future__ import annotations

import time

from atlasnb.book.configs import BookConfig
from atlasnb.book.plan import plan
from atlasnb.book.summary import print_summary
from atlasnb.book.sweep import task_key
from atlasnb.book.tasks import Outcome, Task, enter_environment, execute


def book_configs(scale: str) -> list[BookConfig]:
    """Every configuration the book's chapters load at ``scale`` (the plan's models)."""
    return list(plan(scale))


def prepare_config(config: BookConfig, scale: str, environ: dict, gpus: int,
                   experiments: dict, progress: bool = False) -> Outcome:
    """Train (or load) ``config``'s model and run its planned ``experiments``
    ({name: settings}, in order), each graph read once (the preparation's task). A
    failure is returned, not raised."""
    enter_environment(environ, gpus)
    from atlasnb import runs
    from atlasnb.book.plan import EXPERIMENTS
    from atlasnb.experiments import sharing_graphs

    outcome = Outcome(config, str(runs.run_path(config.config(scale))), ok=False,
                      kind="prepare")
    started = time.perf_counter()
    try:
        run = runs.load_or_train(config.config(scale), progress=progress)
        outcome.metrics = dict(run.metrics)
        with sharing_graphs():
            for name, settings in experiments.items():
                outcome.metrics.update(EXPERIMENTS[name].run(run, scale, settings, progress))
        outcome.ok = True
    except Exception as error:  # reported with the others, never stops the preparation
        outcome.error = f"{type(error).__name__}: {error}"
    outcome.seconds = time.perf_counter() - started
    return outcome


def list_configs(scale: str) -> list[str]:
    """One line per configuration of :func:`book_configs`, as ``mnist m=8 seed=0``
    followed by any overrides (``latent_penalty=joint``)."""
    return [config.label() for config in book_configs(scale)]


def prepare_tasks(planned: dict, scale: str, progress: bool = False) -> list[Task]:
    """One task per configuration of ``planned`` (:func:`atlasnb.book.plan.plan`), its
    folder the run folder of the configuration with its overrides."""
    from atlasnb.runs import run_path

    return [Task(task_key("prepare", scale, config), config, prepare_config,
                 (experiments, progress), str(run_path(config.config(scale))))
            for config, experiments in planned.items()]


def prepare(scale: str, workers: int | None = None, scheduler: str | None = None,
            configs: list[BookConfig] | None = None) -> int:
    """Compute the plan of the book (or only its ``configs``), sequentially or on Dask;
    print what finished and failed; return the exit code (0 all done, 1 some failed,
    130 interrupted: run again to resume)."""
    from atlasnb.runs import check_runs_root

    planned = plan(scale)
    if configs is not None:
        missing = [c.label() for c in configs if c not in planned]
        if missing:
            raise ValueError(f"configs must be configurations of the plan, got {missing}")
        planned = {c: planned[c] for c in configs}
    check_runs_root()
    sequential = workers is None and scheduler is None
    tasks = prepare_tasks(planned, scale, progress=sequential)
    outcomes, interrupted = execute(tasks, scale, workers=workers, scheduler=scheduler,
                                    desc=f"prepare ({scale})")
    return print_summary(outcomes, len(planned), interrupted)
