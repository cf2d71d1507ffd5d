"""The chapters as notebooks: the book's structure, papermill parameters, and that a
raising cell fails both nbval and the book build's configuration."""

import subprocess
import sys
import textwrap

import nbformat
import pytest
import yaml

from atlasnb.book.chapters import BOOK_ROOT, chapter_paths, to_notebook

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


def test_the_book_build_fails_on_a_raising_cell():
    config = yaml.safe_load((BOOK_ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] in ("cache", "force", "auto")
    assert config["execute"]["allow_errors"] is False
    assert config["sphinx"]["config"]["nb_execution_raise_on_error"] is True
