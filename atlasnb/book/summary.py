"""What a sweep or a preparation prints when it ends: the finished configurations,
their spread over seeds, and every failed task.

Described in {ref}`sec-intro-running`; the outcomes come from
:func:`atlasnb.book.tasks.execute`.
"""

from __future__ import annotations

#: The scalar metrics of ``metrics.json`` shown per configuration and averaged over seeds.
SUMMARY_METRICS = ("parameters", "reconstruction_error", "confidence_median",
                   "confidence_mean")
RESUME_HINT = ("run again to resume (the same command: finished run folders are reused "
               "and an interrupted training resumes from its last checkpoint)")


def print_summary(outcomes: list, total: int, interrupted: bool = False) -> int:
    """Print one row per finished configuration, the mean and standard deviation over
    seeds where a configuration has several, then the failures; return the exit code
    (0 all finished, 1 some failed, 130 interrupted)."""
    import pandas as pd

    done = [o for o in outcomes if o.ok and o.kind != "train"]
    failed = [o for o in outcomes if not o.ok]
    if done:
        rows = pd.DataFrame([
            {"dataset": o.point.dataset, "m": o.point.n_charts, "seed": o.point.seed,
             **{k: o.metrics.get(k, float("nan")) for k in SUMMARY_METRICS},
             "labels/chart": _spread(o.metrics.get("labels_per_chart")),
             "seconds": round(o.seconds), "run folder": o.folder} for o in done])
        rows = rows.sort_values(["dataset", "m", "seed"]).set_index(["dataset", "m", "seed"])
        with pd.option_context("display.width", 200, "display.max_columns", 20,
                               "display.max_colwidth", 120, "display.float_format",
                               "{:.4f}".format):
            print("\n" + rows.to_string())
            if rows.reset_index()["seed"].nunique() > 1:
                print("\nmean ± standard deviation over seeds")
                print(over_seeds(rows).to_string())
    if failed:
        print(f"\n{len(failed)} task(s) failed:")
        for o in failed:
            print(f"  {o.label()}: {o.error}")
            print(f"    notebook: {o.notebook or '(none written)'}")
            print(f"    run folder: {o.folder}")
    if interrupted:
        print(f"\ninterrupted: {len(done)} of {total} configurations finished; {RESUME_HINT}")
        return 130
    if failed:
        return 1
    print(f"\nall {len(done)} configurations done")
    return 0


def over_seeds(rows):
    """Per data set and chart count: the seeds finished and, for each metric of
    :data:`SUMMARY_METRICS`, "mean ± standard deviation" over those seeds."""
    groups = rows[list(SUMMARY_METRICS)].groupby(level=["dataset", "m"])
    mean, std = groups.mean(), groups.std()
    table = groups.size().to_frame("seeds")
    for name in SUMMARY_METRICS:
        digits = 0 if name == "parameters" else 4
        table[name] = [f"{a:,.{digits}f} ± {b:,.{digits}f}"
                       for a, b in zip(mean[name], std[name])]
    return table


def _spread(values) -> str:
    return f"{min(values)}-{max(values)}" if values else ""
