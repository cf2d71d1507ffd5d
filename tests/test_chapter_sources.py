"""Static checks of every chapter's source that executing it cannot see: each number or
figure the prose pastes is glued by a cell of the same chapter, glue names are unique,
every equation referenced is defined somewhere in the book and defined only once, and
every citation key is in ``references.bib``."""

import re

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
