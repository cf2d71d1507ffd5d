"""Command line: ``python -m atlasnb {notebooks,sweep}``.

``notebooks`` writes every chapter as an ``.ipynb`` (for nbval or download);
``sweep`` runs the Atlas WAE-GAN chapter over a grid of chart counts with
papermill, reusing finished runs and reporting failed configurations at the end.
Described in {ref}`sec-intro-running`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from atlasnb.config import DATASETS, SCALES, make_config

SWEEP_CHAPTER = "atlas_wae_gan"


def _notebooks(args) -> int:
    import nbformat

    from atlasnb.book.chapters import chapter_paths, to_notebook

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for chapter in chapter_paths(args.book_root):
        notebook = to_notebook(chapter, {"scale": args.scale} if args.scale else None)
        target = out / f"{chapter.stem}.ipynb"
        nbformat.write(notebook, target)
        print(f"{chapter} -> {target}")
    return 0


def _sweep(args) -> int:
    from tqdm import tqdm

    from atlasnb.book.chapters import run_chapter
    from atlasnb.runs import run_path

    chapter = Path(args.book_root) / "book" / f"{SWEEP_CHAPTER}.md"
    failures, rows = [], []
    grid = [(dataset, m) for dataset in args.dataset for m in args.charts]
    for dataset, m in tqdm(grid, desc="sweep", unit="config"):
        config = make_config(args.scale, dataset, m, seed=args.seed)
        folder = run_path(config)
        output = folder / f"{SWEEP_CHAPTER}.ipynb"
        started = time.perf_counter()
        try:
            run_chapter(chapter, output, dict(n_charts=m, dataset=dataset, scale=args.scale,
                                              seed=args.seed), progress=False)
            metrics = json.loads((folder / "metrics.json").read_text())
            rows.append((dataset, m, metrics, time.perf_counter() - started, folder))
        except Exception as error:  # keep going; report at the end
            failures.append((dataset, m, f"{type(error).__name__}: {str(error)[:300]}"))
            tqdm.write(f"FAILED {dataset} m={m}: {failures[-1][2]}")
    print(f"\n{'dataset':<14}{'m':>3}{'params':>12}{'rec. error':>12}{'median psi':>12}"
          f"{'labels/chart':>14}{'seconds':>9}  run folder")
    for dataset, m, metrics, seconds, folder in rows:
        per_chart = metrics["labels_per_chart"]
        print(f"{dataset:<14}{m:>3}{metrics['parameters']:>12,}"
              f"{metrics['reconstruction_error']:>12.4f}{metrics['confidence_median']:>12.3f}"
              f"{min(per_chart):>6}-{max(per_chart):<7}{seconds:>9.0f}  {folder}")
    if failures:
        print(f"\n{len(failures)} configuration(s) failed:")
        for dataset, m, message in failures:
            print(f"  {dataset} m={m}: {message}")
        return 1
    print(f"\nall {len(rows)} configurations done")
    return 0


def main(argv: list[str] | None = None) -> int:
    from atlasnb.book.chapters import BOOK_ROOT

    parser = argparse.ArgumentParser(prog="python -m atlasnb", description=__doc__.split("\n")[0])
    parser.add_argument("--book-root", default=str(BOOK_ROOT),
                        help="folder holding _toc.yml and book/ (default: %(default)s)")
    commands = parser.add_subparsers(dest="command", required=True)

    notebooks = commands.add_parser("notebooks", help="write every chapter as .ipynb")
    notebooks.add_argument("--out", required=True, help="output folder")
    notebooks.add_argument("--scale", choices=SCALES, default=None,
                           help="inject this scale as the chapters' parameter")
    notebooks.set_defaults(run=_notebooks)

    sweep = commands.add_parser("sweep", help="run the Atlas WAE-GAN chapter over chart counts")
    sweep.add_argument("--charts", type=int, nargs="+", default=[1, 2, 4, 8, 16],
                       help="chart counts m (1 is the WAE-GAN)")
    sweep.add_argument("--dataset", nargs="+", choices=DATASETS, default=["mnist"])
    sweep.add_argument("--scale", choices=SCALES, default="quick")
    sweep.add_argument("--seed", type=int, default=0)
    sweep.set_defaults(run=_sweep)

    args = parser.parse_args(argv)
    if args.command == "sweep":
        bad = [m for m in args.charts if m < 1]
        if bad:
            parser.error(f"--charts must be integers >= 1, got {bad}")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
