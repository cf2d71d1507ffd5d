"""The chapters as notebooks: the book's structure, papermill parameters (injected values
take effect, unknown ones stop the chapter), and that a raising cell fails both nbval and
a jupyter-book build with the book's configuration."""

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

from atlasnb.book.chapters import BOOK_ROOT, chapter_paths, to_notebook
from atlasnb.book.parameters import UnknownParameterError, check_parameters, unknown

CHAPTERS = chapter_paths()


def test_every_toc_entry_exists_and_chapters_are_myst_notebooks():
    toc = yaml.safe_load((BOOK_ROOT / "_toc.yml").read_text())
    entries = [toc["root"]] + [entry["file"] for entry in toc.get("chapters", [])]
    for entry in entries:
        assert (BOOK_ROOT / f"{entry}.md").exists(), entry
    assert CHAPTERS, "no notebook chapter found in _toc.yml"
    assert not list((BOOK_ROOT / "book").rglob("*.ipynb")), "no .ipynb belongs in book/"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_chapter_follows_the_skeleton(chapter):
    """A label, one imports cell first, then a parameters cell with a scale."""
    text = chapter.read_text()
    assert "\n(sec-" in text, "chapter has no (sec-...)= label"
    notebook = to_notebook(chapter)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    imports, parameters = code[0], code[1]
    for line in imports.source.splitlines():
        assert line == "" or line.startswith(("import ", "from ")), line
    assert "import *" not in imports.source
    assert "parameters" in parameters.metadata.get("tags", [])
    assert "scale" in parameters.source


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_papermill_parameters_are_injected_after_the_parameters_cell(chapter):
    notebook = to_notebook(chapter, {"scale": "smoke"})
    tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
    injected = [i for i, t in enumerate(tags) if "injected-parameters" in t]
    declared = [i for i, t in enumerate(tags) if "parameters" in t]
    assert len(injected) == 1 and injected[0] == declared[0] + 1
    assert "scale = \"smoke\"" in notebook.cells[injected[0]].source


def _nbval(tmp_path, source):
    chapter = tmp_path / "chapter.md"
    chapter.write_text(source)
    nbformat.write(to_notebook(chapter), tmp_path / "chapter.ipynb")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
         str(tmp_path / "chapter.ipynb")], capture_output=True, text=True, cwd=tmp_path)


HEADER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation: {extension: .md, format_name: myst}
    kernelspec: {display_name: Python 3, language: python, name: python3}
    ---
    # A chapter
    ```{code-cell} ipython3
    x = 1
    ```
    """)


def test_a_raising_cell_fails_nbval(tmp_path):
    result = _nbval(tmp_path, HEADER + "```{code-cell} ipython3\n1 / 0\n```\n")
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.stdout


def test_a_chapter_without_errors_passes_nbval(tmp_path):
    result = _nbval(tmp_path, HEADER + "```{code-cell} ipython3\nassert x == 1\n```\n")
    assert result.returncode == 0, result.stdout


ONE_CELL_CHAPTER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A chapter of one cell

```{{code-cell}} ipython3
{cell}
```
"""


def _build_one_cell_book(folder: Path, cell: str) -> subprocess.CompletedProcess:
    """Build a one-chapter book with the project's _config.yml, as .ci/book builds the
    book (jupyter-book, warnings as errors)."""
    config = yaml.safe_load((BOOK_ROOT / "_config.yml").read_text())
    config["sphinx"]["config"].pop("html_static_path")  # the bundled MathJax is not needed
    folder.mkdir()
    (folder / "_config.yml").write_text(yaml.safe_dump(config))
    (folder / "_toc.yml").write_text("format: jb-book\nroot: chapter\n")
    (folder / "references.bib").write_text((BOOK_ROOT / "references.bib").read_text())
    (folder / "chapter.md").write_text(ONE_CELL_CHAPTER.format(cell=cell))
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    return subprocess.run([str(jupyter_book), "build", "--all", "-W", "-n", "--keep-going",
                           str(folder)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(BOOK_ROOT)})


def test_the_book_build_fails_on_a_raising_cell(tmp_path):
    fine = _build_one_cell_book(tmp_path / "fine", 'print("this cell runs")')
    assert fine.returncode == 0, f"a one-cell book does not build:\n{fine.stdout[-2000:]}"
    raising = _build_one_cell_book(tmp_path / "raising",
                                   'raise RuntimeError("this cell raises on purpose")')
    log = raising.stdout + raising.stderr
    assert raising.returncode != 0, f"the build of a raising chapter succeeded:\n{log[-2000:]}"
    assert "this cell raises on purpose" in log, f"the error is not named:\n{log[-2000:]}"


# Parameters: injected values take effect, unknown ones stop the chapter ---------------

def _settings_cells(notebook):
    """The imports cell, the parameters cell, papermill's injected cell if any, and the
    cell after them that checks the parameters and derives the scale's values."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    tags = [cell.metadata.get("tags", []) for cell in code]
    last = max(i for i, t in enumerate(tags) if "parameters" in t or "injected-parameters" in t)
    return code[:last + 2]


def _declared(notebook) -> list[str]:
    parameters = next(cell for cell in notebook.cells
                      if "parameters" in cell.metadata.get("tags", []))
    return [target.id for node in ast.parse(parameters.source).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)]


def _run_settings(chapter, parameters):
    """Execute only the settings cells (no training) with ``parameters`` injected."""
    namespace = {}
    for cell in _settings_cells(to_notebook(chapter, parameters)):
        exec(compile(cell.source, f"{chapter.name}:{cell.source[:30]!r}", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_the_cell_after_the_parameters_checks_the_declared_names(chapter):
    notebook = to_notebook(chapter)
    check = _settings_cells(notebook)[-1].source
    call = re.search(r"check_parameters\(globals\(\), (\[[^\]]*\])\)", check)
    assert call, f"{chapter.name}: the cell after the parameters cell does not check them"
    assert ast.literal_eval(call[1]) == _declared(notebook), (
        f"{chapter.name}: the names checked differ from the parameters cell's")


# What the paper scale must change in each chapter's settings (n_charts where declared).
PAPER_SETTINGS = {
    "intro": lambda ns: ns["scale"] == "paper",
    "agm": lambda ns: (ns["n_points"], ns["n_pairs"]) == (500, 150),
    "wae_gan": lambda ns: ns["config"].scale == "paper" and ns["config"].model_width == 128,
    "atlas_wae_gan": lambda ns: (ns["config"].scale, ns["config"].n_charts) == ("paper", 4),
    "graph_geodesics": lambda ns: ((ns["config"].scale, ns["config"].n_charts) == ("paper", 4)
                                   and ns["settings"].n_points == 2000),
    "graph_search": lambda ns: ((ns["config"].scale, ns["config"].n_charts) == ("paper", 4)
                                and ns["settings"].n_points == 2000),
    "beyond_the_paper": lambda ns: ((ns["config"].scale, ns["config"].n_charts) == ("paper", 4)
                                    and ns["settings"].n_points == 2000),
    "experiments": lambda ns: ns["settings"].n_points == 2000,
    "known_manifolds": lambda ns: ns["settings"].n_points == 2000 and ns["n_halving"] == 20,
    "choices": lambda ns: {m: c.model_width for m, c in ns["configs"].items()} == {
        1: 128, 2: 86, 4: 64, 8: 48, 16: 34},  # Table 1's widths
}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_injected_paper_scale_reaches_the_derived_values(chapter, monkeypatch):
    monkeypatch.setenv("ATLASNB_SCALE", "smoke")  # the default the injection must override
    declared = _declared(to_notebook(chapter))
    injected = {"scale": "paper"} | ({"n_charts": 4} if "n_charts" in declared else {})
    namespace = _run_settings(chapter, injected)
    assert chapter.stem in PAPER_SETTINGS, f"no expectation for {chapter.stem}"
    assert PAPER_SETTINGS[chapter.stem](namespace), f"{chapter.name}: paper scale not in effect"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_a_misspelt_parameter_stops_the_chapter_naming_it(chapter):
    with pytest.raises(UnknownParameterError, match=r"n_chart = 4.*accepts scale"):
        _run_settings(chapter, {"n_chart": 4})


def test_papermill_fails_on_a_misspelt_parameter_naming_it(tmp_path):
    chapter = BOOK_ROOT / "book" / "atlas_wae_gan.md"
    notebook = to_notebook(chapter)
    notebook.cells = _settings_cells(notebook)  # stop before any training
    source = tmp_path / "settings.ipynb"
    nbformat.write(notebook, source)
    with pytest.raises(papermill.PapermillExecutionError) as error:
        papermill.execute_notebook(str(source), str(tmp_path / "out.ipynb"),
                                   parameters={"n_chart": 4}, kernel_name="python3",
                                   progress_bar=False, cwd=str(chapter.parent))
    assert error.value.ename == "UnknownParameterError"
    assert "n_chart = 4" in error.value.evalue and "n_charts" in error.value.evalue


def test_a_bad_dataset_fails_with_the_config_message():
    chapter = BOOK_ROOT / "book" / "atlas_wae_gan.md"
    with pytest.raises(ValueError, match="dataset must be one of .*'emnist'"):
        _run_settings(chapter, {"dataset": "emnist"})


def test_a_bad_scale_fails_naming_the_scales():
    with pytest.raises(ValueError, match=r"scale must be one of .*'papr'"):
        _run_settings(BOOK_ROOT / "book" / "agm.md", {"scale": "papr"})


def test_imported_data_is_not_taken_for_a_parameter():
    from atlasnb.config import TABLE1_WIDTHS
    namespace = {"TABLE1_WIDTHS": TABLE1_WIDTHS, "scale": "smoke", "In": [], "_i1": "x"}
    assert unknown(namespace, ["scale"]) == []
    check_parameters(namespace, ["scale"])
    assert unknown(namespace | {"n_chart": None, "datset": "mnist"}, ["scale"]) == [
        "datset", "n_chart"]
