"""The folders named by ``ATLASNB_RUNS`` and ``ATLASNB_DATA``, made absolute before
chapters run.

Described in {ref}`sec-intro-running`. A chapter's kernel starts in the chapter's
own folder, so a relative path in either variable would point inside ``book/``.
The process that starts the kernels rewrites both against its own working folder
first, and the kernels inherit the absolute paths: papermill runs through
:func:`atlasnb.book.chapters.run_chapter`, and a jupyter-book build loads this
module as a Sphinx extension (``sphinx: extra_extensions`` in ``_config.yml``).
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variables that name folders.
FOLDER_VARIABLES = ("ATLASNB_RUNS", "ATLASNB_DATA")


def absolutise_environment(base: str | os.PathLike | None = None) -> dict[str, str]:
    """Rewrite relative folder variables against ``base`` (default: the working folder).

    Returns the variables that changed, with their new values.
    """
    base = Path(base) if base is not None else Path.cwd()
    changed = {}
    for name in FOLDER_VARIABLES:
        value = os.environ.get(name)
        if not value:
            continue
        path = Path(value).expanduser()
        if not path.is_absolute():
            os.environ[name] = changed[name] = os.path.abspath(base / path)
    return changed


def setup(app) -> dict:
    """Sphinx extension hook: absolutise the variables before notebooks execute."""
    absolutise_environment()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
