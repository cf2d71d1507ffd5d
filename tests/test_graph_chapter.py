"""Static checks of the chapter on graph geodesics (book/graph_geodesics.md).

nbval only runs the cells; these check what a cell run cannot see: every number and
figure the prose pastes is glued by a cell, every equation referenced is defined, and
the parameters cell holds what papermill sweeps over.
"""

import re

from atlasnb.chapters import BOOK_ROOT, to_notebook

CHAPTER = BOOK_ROOT / "book" / "graph_geodesics.md"
TEXT = CHAPTER.read_text()


def _glued_names() -> set:
    return set(re.findall(r"""\bglue\(\s*["']([A-Za-z0-9_]+)["']""", TEXT))


def test_every_pasted_name_is_glued():
    pasted = set(re.findall(r"\{glue:text\}`([A-Za-z0-9_]+)", TEXT))
    pasted |= set(re.findall(r"```\{glue:figure\}\s+([A-Za-z0-9_]+)", TEXT))
    assert pasted, "the chapter pastes no glued value"
    missing = sorted(pasted - _glued_names())
    assert not missing, f"pasted but never glued: {missing}"


def test_glued_names_are_unique():
    names = re.findall(r"""\bglue\(\s*["']([A-Za-z0-9_]+)["']""", TEXT)
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, f"glued more than once: {repeated}"


def test_every_equation_referenced_in_this_chapter_is_defined_in_the_book():
    labels = set()
    for path in (BOOK_ROOT / "book").glob("*.md"):
        labels |= set(re.findall(r":label:\s*(\S+)", path.read_text()))
    referenced = set(re.findall(r"\{eq\}`([^`]+)`", TEXT))
    assert referenced - labels == set()
    own = set(re.findall(r":label:\s*(\S+)", TEXT))
    assert own and all(label.startswith("eq-graph-") for label in own)


def test_parameters_cell():
    notebook = to_notebook(CHAPTER, {"scale": "smoke", "n_charts": 4})
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    parameters = cells[1].source
    for name in ("scale", "dataset", "n_charts", "seed"):
        assert re.search(rf"^{name} = ", parameters, re.MULTILINE), name
    assert 'os.environ.get("ATLASNB_SCALE", "quick")' in parameters
    assert "n_charts = 4" in cells[2].source  # papermill's injected cell follows
