"""Static checks of every chapter's source that executing it cannot see: each number or
figure the prose pastes is glued by a cell of the same chapter, glue names are unique,
every equation referenced is defined somewhere in the book and defined only once,
every citation key is in ``references.bib``, and every code cell can be copied with the
few cells it depends on."""

import ast
import builtins
import re
import textwrap

import jupytext
import pytest

from atlasnb.book.chapters import BOOK_ROOT, chapter_paths

CHAPTERS = chapter_paths()
PAGES = sorted((BOOK_ROOT / "book").glob("*.md"))
GLUE_CALL = re.compile(r"""\bglue\(\s*["']([A-Za-z0-9_]+)["']""")


def _equation_labels(text: str) -> list[str]:
    return re.findall(r"^:label:\s*(\S+)", text, re.MULTILINE)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_every_pasted_name_is_glued_in_the_same_chapter(chapter):
    text = chapter.read_text()
    pasted = set(re.findall(r"\{glue:(?:text|any|md)\}`([A-Za-z0-9_]+)", text))
    pasted |= set(re.findall(r"```\{glue:(?:figure|any)\}\s+([A-Za-z0-9_]+)", text))
    missing = sorted(pasted - set(GLUE_CALL.findall(text)))
    assert not missing, f"{chapter.name}: pasted but never glued: {missing}"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_glue_names_are_unique_within_a_chapter(chapter):
    names = GLUE_CALL.findall(chapter.read_text())
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, f"{chapter.name}: glued more than once: {repeated}"


def test_equation_labels_are_unique_and_every_reference_is_defined():
    labels = [label for page in PAGES for label in _equation_labels(page.read_text())]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    assert not repeated, f"equation labels defined twice: {repeated}"
    for page in PAGES:
        referenced = set(re.findall(r"\{eq\}`([^`]+)`", page.read_text()))
        undefined = sorted(referenced - set(labels))
        assert not undefined, f"{page.name}: undefined equations {undefined}"


def test_every_citation_is_in_the_bibliography():
    keys = set(re.findall(r"^@\w+\{([^,]+),", (BOOK_ROOT / "references.bib").read_text(),
                          re.MULTILINE))
    for page in PAGES:
        cited = {key.strip() for group in re.findall(r"\{cite[tp]?\}`([^`]+)`", page.read_text())
                 for key in group.split(",")}
        unknown = sorted(cited - keys)
        assert not unknown, f"{page.name}: citations missing from references.bib: {unknown}"


# Cells a reader can copy -------------------------------------------------------------
#
# A cell may use the names of the imports cell, of the parameters cell and of the cell
# after it (the chapter's settings: parameters checked and values derived from them),
# of its own, and of the visible code cell just before it. A value needed further down
# is recomputed there by one call to atlasnb, or named again. Hidden cells (tag
# ``remove-cell``, the glue bookkeeping) are not on the page: they do not count as "the
# cell before" and are not held to the rule.

IPYTHON_NAMES = {"display", "get_ipython", "In", "Out"}


def _bound_and_loaded(source: str) -> tuple[set[str], set[str]]:
    """The names a cell binds (anywhere in it) and the names it loads."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))
    bound, loaded = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound, loaded


def far_names(notebook) -> list[tuple[int, str, list[str]]]:
    """For each code cell that breaks the rule: (its number among the code cells, its
    first line, the names it takes from further up)."""
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    names = [_bound_and_loaded(cell.source) for cell in cells]
    parameters = next(i for i, cell in enumerate(cells)
                      if "parameters" in cell.metadata.get("tags", []))
    # The imports, the parameters, the settings and the cells tagged "load" (a chapter's
    # models and results, loaded once) bind the names every cell may use.
    shared = [0, parameters, parameters + 1] + [
        i for i, cell in enumerate(cells) if "load" in cell.metadata.get("tags", [])]
    settings = set().union(*(names[i][0] for i in shared))
    allowed_everywhere = settings | set(dir(builtins)) | IPYTHON_NAMES
    problems, previous_visible = [], None
    for i, (cell, (bound, loaded)) in enumerate(zip(cells, names)):
        hidden = "remove-cell" in cell.metadata.get("tags", [])
        allowed = allowed_everywhere | bound
        if previous_visible is not None:
            allowed |= names[previous_visible][0]
        far = sorted(loaded - allowed)
        if far and i > parameters + 1 and not hidden:
            problems.append((i, cell.source.splitlines()[0], far))
        if not hidden:
            previous_visible = i
    return problems


#: Chapters whose cells still take values from far up (the rule is checked, and expected to
#: fail, until they are rewritten; strict, so a fixed chapter must leave this set).
NOT_YET_COPYABLE: set[str] = set()
COPYABLE = [pytest.param(chapter, id=chapter.stem, marks=pytest.mark.xfail(
    strict=True, reason="cells not yet rewritten to the copy rule"))
    if chapter.stem in NOT_YET_COPYABLE else pytest.param(chapter, id=chapter.stem)
    for chapter in CHAPTERS]


@pytest.mark.parametrize("chapter", COPYABLE)
def test_every_cell_uses_only_the_settings_itself_and_the_cell_before(chapter):
    problems = far_names(jupytext.read(chapter))
    assert not problems, f"{chapter.name}: cells using names from further up " + "; ".join(
        f"code cell {i} ({first!r}): {far}" for i, first, far in problems)


def test_the_cell_rule_catches_a_name_from_two_cells_up():
    notebook = jupytext.reads(textwrap.dedent("""\
        ```{code-cell} ipython3
        import math
        ```
        ```{code-cell} ipython3
        :tags: [parameters]
        scale = "smoke"
        ```
        ```{code-cell} ipython3
        n = {"smoke": 2}[scale]
        ```
        ```{code-cell} ipython3
        a = math.sqrt(n)
        ```
        ```{code-cell} ipython3
        :tags: [remove-cell]
        shown = a + n
        ```
        ```{code-cell} ipython3
        b = [a + i for i in range(n)]
        ```
        ```{code-cell} ipython3
        c = sum(b) + a
        ```
        """), fmt="md:myst")
    assert far_names(notebook) == [(6, "c = sum(b) + a", ["a"])]


def _glue_calls_at_top_level(source: str) -> int:
    tree = ast.parse("\n".join(line for line in source.splitlines()
                               if not line.lstrip().startswith(("%", "!"))))
    return sum(isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
               and getattr(node.value.func, "id", None) == "glue" for node in tree.body)


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_glue_bookkeeping_is_hidden_from_the_page(chapter):
    """A visible cell computes; the glue calls that hand its values to the text sit in a
    hidden cell (tag ``remove-cell``) after it."""
    visible = [cell.source.splitlines()[0] for cell in jupytext.read(chapter).cells
               if cell.cell_type == "code" and "remove-cell" not in cell.metadata.get("tags", [])
               and _glue_calls_at_top_level(cell.source)]
    assert not visible, f"{chapter.name}: visible cells calling glue: {visible}"


# One idea per chapter ----------------------------------------------------------------

MAX_CHAPTER_LINES = 800


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda path: path.stem)
def test_a_chapter_is_at_most_800_lines(chapter):
    lines = len(chapter.read_text().splitlines())
    assert lines <= MAX_CHAPTER_LINES, (
        f"{chapter.name}: {lines} lines, more than {MAX_CHAPTER_LINES}; "
        "split it into chapters of one idea each")


#: An outline that names a chapter's sections: "**What you will see**, one section each:"
#: and a list whose items start with a section's heading in italics.
SECTION_OUTLINE = re.compile(r"^\*\*What you will see\*\*, one section each:\n\n"
                             r"((?:- .*\n(?:  .*\n)*)+)", re.MULTILINE)


def outline_and_headings(text: str) -> tuple[list[str], list[str]] | None:
    """The section names an outline lists and the chapter's ``##`` headings, in order
    (headings inside code blocks do not count); None for a chapter without one."""
    outline = SECTION_OUTLINE.search(text)
    if outline is None:
        return None
    named = re.findall(r"^- \*(.+?)\*(?=[:.]|$)", outline[1], re.MULTILINE)
    prose = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return named, re.findall(r"^## (.+?)\s*$", prose, re.MULTILINE)


OUTLINED = [chapter for chapter in CHAPTERS if outline_and_headings(chapter.read_text())]


def test_the_graph_chapters_outline_their_sections():
    assert {"graph_geodesics", "graph_search", "beyond_the_paper"} <= {
        chapter.stem for chapter in OUTLINED}


@pytest.mark.parametrize("chapter", OUTLINED, ids=lambda path: path.stem)
def test_an_outline_names_the_headings_in_order(chapter):
    named, headings = outline_and_headings(chapter.read_text())
    assert named == headings, f"{chapter.name}: outline {named} but headings {headings}"


def test_the_outline_rule_catches_a_missing_heading():
    text = textwrap.dedent("""\
        **What you will see**, one section each:

        - *A\\* search*: one.
        - *Summary*.

        ## A\\* search

        ```{code-cell} ipython3
        ## not a heading
        ```

        ## Lazy weights

        ## Summary
        """)
    assert outline_and_headings(text) == (["A\\* search", "Summary"],
                                          ["A\\* search", "Lazy weights", "Summary"])
