"""The rendered book: a page per chapter, no error output, no warning the code emits
beyond a short list of expected ones, every figure present, every reference to the
package linked to the API page, and maths typeset by the bundled MathJax in headless
Chromium.

Runs when ``ATLASNB_BOOK_HTML`` names a built book's HTML folder (``.ci/test`` builds
one at smoke scale and sets it); skipped otherwise.
"""

import builtins
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from atlasnb.book.chapters import BOOK_ROOT

HTML = os.environ.get("ATLASNB_BOOK_HTML")
pytestmark = pytest.mark.skipif(not HTML, reason="ATLASNB_BOOK_HTML is not set (no built book)")

TOC = yaml.safe_load((BOOK_ROOT / "_toc.yml").read_text())
PAGES = [TOC["root"]] + [entry["file"] for entry in TOC.get("chapters", [])]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


def page(entry: str) -> Path:
    return Path(HTML) / f"{entry}.html"


def executed_notebook(entry: str) -> Path:
    return Path(HTML).parent / "jupyter_execute" / f"{entry}.ipynb"


@pytest.mark.parametrize("entry", PAGES)
def test_every_toc_entry_has_a_page(entry):
    assert page(entry).exists(), f"no page for {entry}"
    assert (Path(HTML) / "index.html").exists()


@pytest.mark.parametrize("entry", PAGES)
def test_no_error_output_on_any_page(entry):
    text = page(entry).read_text()
    for marker in ("Traceback (most recent call last)", "output traceback", "output error"):
        assert marker not in text, f"{entry}: found {marker!r}"


#: Warnings a chapter may show on its page (stderr is shown, not removed): (pattern, why).
#: None today: the package's progress bars are tqdm's text bars, which do not warn.
EXPECTED_WARNINGS: list[tuple[str, str]] = []


def stderr_outputs(text: str) -> list[str]:
    """The text of every stderr output on a rendered page."""
    blocks = re.findall(
        r'<div class="output stderr[^"]*">\s*<div class="highlight"><pre>(.*?)</pre>',
        text, re.DOTALL)
    return [html.unescape(re.sub(r"<[^>]+>", "", block)) for block in blocks]


def unexpected_warnings(outputs: list[str]) -> list[str]:
    """The lines naming a warning or an error that no expected pattern covers."""
    lines = [line.strip() for output in outputs for line in output.splitlines()]
    return [line for line in lines if re.search(r"Warning|Error|warn", line)
            and not any(re.search(pattern, line) for pattern, _ in EXPECTED_WARNINGS)]


@pytest.mark.parametrize("entry", PAGES)
def test_no_unexpected_warning_on_any_page(entry):
    unexpected = unexpected_warnings(stderr_outputs(page(entry).read_text()))
    assert not unexpected, f"{entry}: unexpected warnings shown: {unexpected[:5]}"


def test_the_warning_check_catches_a_warning_shown_on_a_page():
    text = ('<div class="output stderr highlight-myst-ansi notranslate"><div class="highlight">'
            '<pre><span></span>x.py:3: UserWarning: 2 points lie in no chart\n  warn()\n'
            '</pre></div></div>')
    assert unexpected_warnings(stderr_outputs(text)) == [
        "x.py:3: UserWarning: 2 points lie in no chart", "warn()"]


def builder_paths(text: str) -> list[str]:
    """The folders of the machine that built the book that a page shows (its Python
    installation, its virtual environment's packages)."""
    prefixes = {sys.prefix, sys.base_prefix, os.path.realpath(sys.prefix)}
    return sorted({found for found in re.findall(r"\S*site-packages\S*", text)}
                  | {prefix for prefix in prefixes if prefix in text})


@pytest.mark.parametrize("entry", PAGES)
def test_no_page_shows_the_builders_paths(entry):
    text = page(entry).read_text()
    assert "IProgress" not in text, f"{entry}: tqdm's IProgress warning is on the page"
    shown = builder_paths(text)
    assert not shown, f"{entry}: the page shows the builder's paths {shown[:3]}"


def cut_cells(text: str) -> list[str]:
    """Table cells of a page whose text pandas cut short with "..."."""
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", text, re.DOTALL)
    texts = [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in cells]
    return [cell for cell in texts if cell.endswith("...") and cell != "..."]


@pytest.mark.parametrize("entry", PAGES)
def test_no_table_cell_is_cut_short(entry):
    cut = cut_cells(page(entry).read_text())
    assert not cut, f"{entry}: table cells cut short: {cut[:3]}"


def test_the_page_checks_catch_a_cut_cell_and_a_builders_path():
    table = ("<table><tr><th>finding</th><td>median length above the WAE-GAN's for "
             "most AWAE-GANs ...</td><td>...</td><td>1.02</td></tr></table>")
    assert cut_cells(table) == ["median length above the WAE-GAN's for most AWAE-GANs ..."]
    warning = f"<pre>{sys.prefix}/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning</pre>"
    assert builder_paths(warning)


def test_the_api_page_documents_the_package():
    text = page("book/api").read_text()
    for name in ("atlasnb.agm.AGM", "atlasnb.geodesics.build_atlas_graph",
                 "atlasnb.geodesics.curve_length", "atlasnb.objective.autoencoder_loss",
                 "atlasnb.book.parameters.check_parameters"):
        assert f'id="{name}"' in text, f"the API page does not document {name}"
    prose = re.sub(r"<code[^>]*>.*?</code>", "", text, flags=re.DOTALL)  # literals may show roles
    assert not re.search(r"\{(ref|cite|func|class|mod)\}`", prose), "raw MyST roles on the API page"


def _image_outputs(notebook: Path) -> int:
    """Images a chapter displays (glued figures shown later count through their glue)."""
    cells = json.loads(notebook.read_text())["cells"]
    count = 0
    for cell in cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "scrapbook" in output.get("metadata", {}):
                continue  # glued: shown where a {glue:figure} refers to it
            count += any(key.startswith("image/") for key in data)
    return count


@pytest.mark.parametrize("entry", PAGES)
def test_every_figure_a_chapter_draws_is_on_its_page(entry):
    text = page(entry).read_text()
    sources = re.findall(r'<img[^>]+src="([^"]+)"', text)
    local = [s for s in sources if not s.startswith(("http:", "https:", "data:"))]
    for source in local:
        image = (page(entry).parent / source).resolve()
        assert image.exists() and image.stat().st_size > 0, f"{entry}: missing image {source}"
    notebook = executed_notebook(entry)
    if notebook.exists():
        drawn = _image_outputs(notebook)
        glued = len(re.findall(r"\{glue:figure\}", (BOOK_ROOT / f"{entry}.md").read_text()))
        assert len(local) >= drawn + glued, (f"{entry}: {drawn} figure outputs and {glued} glued "
                                             f"figures, but {len(local)} images on the page")


def _chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is not installed (.ci/setup installs it with ATLASNB_NEED_BROWSER=1)"
    return binary


@pytest.mark.parametrize("entry", PAGES)
def test_page_loads_and_its_maths_is_typeset_in_chromium(entry):
    static = page(entry).read_text()
    n_math = len(re.findall(r'class="math notranslate nohighlight"', static))
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--virtual-time-budget=15000", "--dump-dom", page(entry).resolve().as_uri()],
            capture_output=True, text=True, timeout=180)
    dom = result.stdout
    assert "</html>" in dom, f"{entry}: Chromium returned no page ({result.stderr[-500:]})"
    typeset = dom.count("<mjx-container")
    assert typeset >= n_math, f"{entry}: {n_math} maths elements, {typeset} typeset by MathJax"
    # An expression MathJax cannot parse becomes an <merror> node carrying the message (the
    # stylesheet also names merror, so look for the node itself); an undefined macro is
    # typeset as its own name in red.
    errors = re.findall(r'data-mjx-error="([^"]*)"', dom)
    error_nodes = len(re.findall(r'<[^>]+data-mml-node="merror"', dom))
    undefined = re.findall(r'<mtext mathcolor="red">([^<]*)</mtext>', dom)
    assert not errors and not error_nodes, (
        f"{entry}: MathJax could not typeset {max(len(errors), error_nodes)} expression(s): "
        f"{sorted(set(errors))[:5]}")
    assert not undefined, f"{entry}: undefined TeX macros {sorted(set(undefined))}"


@pytest.mark.parametrize("entry", PAGES)
def test_every_reference_to_the_package_links_to_the_api_page(entry):
    """A {func}/{class}/{mod} role that does not resolve renders as plain code; Python's
    own builtins (``ValueError``) have no page to link to offline."""
    text = page(entry).read_text()
    references = re.findall(r'(<a class="reference internal" href="([^"]*)"[^>]*>)?'
                            r'<code class="xref py[^"]*"><span class="pre">([^<]*)</span>', text)
    unlinked = [name for anchor, _, name in references
                if not anchor and name.strip("~.()") not in dir(builtins)]
    assert not unlinked, f"{entry}: references to the package shown as plain text: {unlinked}"
    if entry != "book/api":
        targets = [href for anchor, href, _ in references if anchor]
        assert all(href.startswith("api.html#") for href in targets), targets
