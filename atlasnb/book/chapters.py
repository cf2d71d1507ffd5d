"""The book's chapters as notebooks: list them, convert them, run them with papermill.

Described in {ref}`sec-intro-running`. Chapters are MyST markdown notebooks;
papermill needs ``.ipynb``, so each is converted with jupytext in memory first.
"""

from __future__ import annotations

import os
from pathlib import Path

BOOK_ROOT = Path(__file__).resolve().parents[2]


def chapter_paths(book_root: str | os.PathLike = BOOK_ROOT) -> list[Path]:
    """The notebook chapters listed in ``_toc.yml``, in reading order (plain
    markdown pages without a jupytext header, like the references, are skipped)."""
    import yaml

    root = Path(book_root)
    toc_file = root / "_toc.yml"
    if not toc_file.exists():
        raise FileNotFoundError(f"no _toc.yml in {root}; pass the book's root folder")
    toc = yaml.safe_load(toc_file.read_text())
    files = [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]
    paths = [root / f"{name}.md" for name in files]
    return [path for path in paths if "jupytext:" in path.read_text().split("\n---", 1)[0]]


def to_notebook(chapter: str | os.PathLike, parameters: dict | None = None):
    """The chapter as an nbformat notebook, with ``parameters`` injected after its
    ``parameters`` cell (papermill's ``injected-parameters`` cell)."""
    import jupytext
    import papermill

    notebook = jupytext.read(chapter)
    # papermill expects its own metadata block and a tags list on every cell.
    notebook.metadata.setdefault("papermill", {"default_parameters": {}, "parameters": {},
                                               "environment_variables": {}})
    for cell in notebook.cells:
        cell.metadata.setdefault("tags", [])
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                                "language": "python"})
    if parameters:
        notebook = papermill.parameterize.parameterize_notebook(notebook, parameters)
    return notebook


def run_chapter(chapter: str | os.PathLike, output: str | os.PathLike,
                parameters: dict | None = None, progress: bool = True):
    """Execute ``chapter`` with papermill, writing the executed notebook to ``output``."""
    import papermill

    from atlasnb.paths import absolutise_environment

    absolutise_environment()  # the kernel starts in the chapter's folder
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    return papermill.execute_notebook(
        to_notebook(chapter), str(output), parameters=parameters or {},
        cwd=str(Path(chapter).parent), progress_bar=progress, kernel_name="python3")
