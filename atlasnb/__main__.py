"""Command line: ``python -m atlasnb {notebooks,sweep,prepare}``.

``notebooks`` writes every chapter as an ``.ipynb`` (for nbval or download);
``sweep`` runs the Atlas WAE-GAN chapter with papermill over a grid of data sets,
chart counts and seeds, one after another or in parallel on Dask distributed;
``prepare`` trains every model the book needs and runs its geodesic experiment, so
that building the book only loads (``prepare --list`` prints those models). Every run
folder is reused; an interrupted
command resumes when run again. Described in {ref}`sec-intro-running`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from pathlib import Path

from atlasnb.book.summary import RESUME_HINT
from atlasnb.book.tasks import SchedulerUnreachable
from atlasnb.config import IMAGE_DATASETS, SCALES

#: A Dask scheduler address: protocol://host:port, or host:port (TCP).
ADDRESS = re.compile(r"^(?:(?P<protocol>tcp|tls|ucx|ws|wss)://)?(?P<host>\[[0-9a-fA-F:]+\]"
                     r"|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$")


def integer(minimum: int):
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def scheduler_address(text: str) -> str:
    """An argparse type: a Dask scheduler address such as tcp://10.0.0.5:8786."""
    match = ADDRESS.match(text.strip())
    if not match or not 0 < int(match["port"]) < 65536:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a scheduler address; give protocol://host:port or host:port "
            "with a port from 1 to 65535, e.g. tcp://10.0.0.5:8786")
    return text.strip() if match["protocol"] else f"tcp://{text.strip()}"


def output_folder(text: str) -> str:
    """An argparse type: a folder that exists or can be created and written."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a folder")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} cannot be created: {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text!r} cannot be written: no write permission "
                                         f"in {parent}")
    return str(path)


def book_root(text: str) -> str:
    """An argparse type: the book's root folder (holding _toc.yml and book/)."""
    path = Path(text).expanduser()
    if not (path / "_toc.yml").is_file() or not (path / "book").is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not the book's root folder "
                                         "(it needs _toc.yml and book/)")
    return str(path)


def distinct(parser, option: str, values: list) -> None:
    twice = sorted({v for v in values if values.count(v) > 1}, key=str)
    if twice:
        parser.error(f"argument {option}: {', '.join(map(str, twice))} given more than once")


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
    from atlasnb.book.configs import grid
    from atlasnb.book.sweep import sweep

    return sweep(grid(args.dataset, args.charts, args.seeds), args.scale, args.book_root,
                 workers=args.workers, scheduler=args.scheduler)


def _prepare(args) -> int:
    from atlasnb.book.prepare import list_configs, prepare

    if args.list:
        print("\n".join(list_configs(args.scale)))
        return 0
    return prepare(args.scale, workers=args.workers, scheduler=args.scheduler)


def _add_parallel(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--workers", type=integer(1), default=None, metavar="N",
                       help="run in parallel on a local Dask cluster of N worker processes "
                            "(needs atlasnb[cluster]; default: one after another)")
    group.add_argument("--scheduler", type=scheduler_address, default=None,
                       metavar="ADDRESS", help="submit to a running Dask scheduler, e.g. "
                       "tcp://10.0.0.5:8786 (runs and data folders on a shared filesystem)")


def parser() -> argparse.ArgumentParser:
    from atlasnb.book.chapters import BOOK_ROOT

    main = argparse.ArgumentParser(prog="python -m atlasnb",
                                   description=__doc__.split("\n")[0])
    main.add_argument("--book-root", type=book_root, default=None,
                      help=f"folder holding _toc.yml and book/ (default: {BOOK_ROOT})")
    commands = main.add_subparsers(dest="command", required=True)

    notebooks = commands.add_parser("notebooks", help="write every chapter as .ipynb")
    notebooks.add_argument("--out", type=output_folder, required=True, help="output folder")
    notebooks.add_argument("--scale", choices=SCALES, default=None,
                           help="inject this scale as the chapters' parameter")
    notebooks.set_defaults(run=_notebooks, parser=notebooks)

    sweep = commands.add_parser(
        "sweep", help="run the Atlas WAE-GAN chapter over data sets, chart counts and seeds")
    sweep.add_argument("--charts", type=integer(1), nargs="+", default=[1, 2, 4, 8, 16],
                       metavar="M", help="chart counts m (1 is the WAE-GAN)")
    sweep.add_argument("--dataset", nargs="+", choices=IMAGE_DATASETS, default=["mnist"])
    sweep.add_argument("--seeds", "--seed", type=integer(0), nargs="+", default=[0],
                       metavar="SEED", help="seeds; with several, the summary gives the "
                       "mean and standard deviation over seeds")
    sweep.add_argument("--scale", choices=SCALES, default="quick")
    _add_parallel(sweep)
    sweep.set_defaults(run=_sweep, parser=sweep)

    prepare = commands.add_parser(
        "prepare", help="train every model the book needs and run its geodesic experiments")
    prepare.add_argument("--scale", choices=SCALES,
                         default=os.environ.get("ATLASNB_SCALE") or "quick",
                         help="the scale the book is built at (default: $ATLASNB_SCALE, "
                              "else quick)")
    prepare.add_argument("--list", action="store_true",
                         help="print the configurations the book needs, one a line, and "
                              "train nothing")
    _add_parallel(prepare)
    prepare.set_defaults(run=_prepare, parser=prepare)
    return main


def main(argv: list[str] | None = None) -> int:
    try:
        command_line = parser()
        args = command_line.parse_args(argv)
        if args.book_root is None:
            from atlasnb.book.chapters import BOOK_ROOT

            args.book_root = str(BOOK_ROOT)
        if args.command == "prepare" and args.scale not in SCALES:
            args.parser.error(f"argument --scale: not given, and ATLASNB_SCALE is "
                              f"{args.scale!r}; choose from {', '.join(SCALES)}")
        if args.command == "sweep":
            distinct(args.parser, "--charts", args.charts)
            distinct(args.parser, "--dataset", args.dataset)
            distinct(args.parser, "--seeds", args.seeds)
        if getattr(args, "workers", None) or getattr(args, "scheduler", None):
            if importlib.util.find_spec("distributed") is None:
                args.parser.error("--workers and --scheduler need Dask distributed: "
                                  "pip install 'atlasnb[cluster]'")
        try:
            return args.run(args)
        except SchedulerUnreachable as error:
            args.parser.error(f"argument --scheduler: {error}")
    except KeyboardInterrupt:
        print(f"\ninterrupted before any configuration finished; {RESUME_HINT}")
        return 130


if __name__ == "__main__":
    sys.exit(main())
