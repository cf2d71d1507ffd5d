"""A Sphinx extension for the book's API page: docstrings written with MyST roles.

The package's docstrings point to the chapters the way the chapters themselves do,
with MyST roles such as ``{ref}`sec-wae-gan``` and ``{cite}`key```. Autodoc parses
docstrings as reStructuredText, where those would show as raw braces, so this
extension rewrites each MyST role into its reST spelling (``:ref:`sec-wae-gan```)
before autodoc parses the docstring, and writes the plain ``Attributes`` sections of
the data classes as lists. Listed in ``_config.yml`` under
``sphinx.extra_extensions``; described in {ref}`sec-api`.
"""

from __future__ import annotations

import re

#: A MyST role, ``{name}`content``` or ``{domain:name}`content```, not already reST.
MYST_ROLE = re.compile(r"(?<![\w:`])\{([a-z][\w-]*(?::[a-z][\w-]*)*)\}(`[^`]+`)")


def myst_roles_to_rest(text: str) -> str:
    """``text`` with every MyST role ``{role}`x``` written as the reST role ``:role:`x```."""
    return MYST_ROLE.sub(r":\1:\2", text)


#: A line ``name: description`` of an ``Attributes`` section (``k, eps: ...`` too).
ATTRIBUTE_LINE = re.compile(r"^([A-Za-z_][\w, ]*):(?:\s+(.*))?$")


def attributes_as_list(lines: list[str]) -> list[str]:
    """``lines`` with each ``Attributes`` section (a heading underlined with dashes, then
    ``name: description`` lines, continuations indented) written as a rubric and a
    bullet list, which reST renders as it reads in the source."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        if (lines[i].strip() == "Attributes" and i + 1 < len(lines)
                and set(lines[i + 1].strip()) == {"-"}):
            out += [".. rubric:: Attributes", ""]
            i += 2
            while i < len(lines) and lines[i].strip():
                match = ATTRIBUTE_LINE.match(lines[i])
                if match and not lines[i].startswith(" "):
                    names = ", ".join(f"``{name.strip()}``" for name in match[1].split(","))
                    out.append(f"- {names}: {match[2] or ''}".rstrip())
                else:
                    out.append("  " + lines[i].strip())
                i += 1
            out.append("")
            continue
        out.append(lines[i])
        i += 1
    return out


def _process_docstring(app, what, name, obj, options, lines: list[str]) -> None:
    lines[:] = attributes_as_list([myst_roles_to_rest(line) for line in lines])


def setup(app):
    app.setup_extension("sphinx.ext.autodoc")
    app.connect("autodoc-process-docstring", _process_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
