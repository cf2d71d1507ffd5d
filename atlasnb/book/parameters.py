"""Check a chapter's papermill parameters against the ones it declares.

Described in {ref}`sec-intro-running`. papermill injects ``-p name value`` as a cell of
plain assignments after a chapter's ``parameters`` cell, whatever the name: a misspelt
``-p n_chart 4`` would define a new variable and leave ``n_charts`` at its default.
The cell after the parameters cell therefore calls :func:`check_parameters` with the names the
chapter declares, and a name it does not declare stops the chapter::

    check_parameters(globals(), ["scale", "dataset", "n_charts", "seed"])
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Mapping

from atlasnb.config import SCALES

#: The types papermill can inject: it writes each value as a Python literal.
PARAMETER_TYPES = (str, int, float, bool, list, dict, tuple, type(None))
#: Names of plain data that IPython itself defines in a notebook's namespace.
IPYTHON_NAMES = frozenset({"In", "Out"})


_MISSING = object()


class UnknownParameterError(NameError):
    """A parameter was given to a chapter that does not declare it."""


def unknown(namespace: Mapping[str, object], declared: Iterable[str]) -> list[str]:
    """The names in ``namespace`` that look like injected parameters but are not declared.

    Everything a chapter defines before its parameters have been checked is an import
    (a module, function or class), a declared parameter or an injected one; injected
    values are plain data (strings, numbers, lists, dicts, None). Private names
    (``_x``), IPython's own ``In``/``Out`` and data imported from a module under its
    own name (``from atlasnb.config import TABLE1_WIDTHS``) are not parameters.
    """
    declared = set(declared)
    return sorted(name for name, value in namespace.items()
                  if name not in declared and not name.startswith("_")
                  and name not in IPYTHON_NAMES and isinstance(value, PARAMETER_TYPES)
                  and not _imported(name, value, namespace))


def _imported(name: str, value: object, namespace: Mapping[str, object]) -> bool:
    """Whether ``value`` is the object another loaded module holds under ``name`` (the
    notebook's own ``__main__``, whose namespace this is, does not count)."""
    with warnings.catch_warnings():  # a module's __getattr__ may warn about a name
        warnings.simplefilter("ignore")
        for module in list(sys.modules.values()):
            try:
                if (module is not None and getattr(module, "__dict__", None) is not namespace
                        and getattr(module, name, _MISSING) is value):
                    return True
            except Exception:  # a lazy module that fails to load is not where it came from
                continue
    return False


def check_parameters(namespace: Mapping[str, object], declared: Iterable[str]) -> None:
    """Fail, naming it, on a parameter in ``namespace`` that the chapter does not declare,
    and on a ``scale`` that is not one of ``atlasnb.config.SCALES``.

    ``namespace`` is the chapter's ``globals()``; ``declared`` lists the names its
    parameters cell assigns. Raises :class:`UnknownParameterError` listing the accepted
    names, or :class:`ValueError` for a bad scale.
    """
    declared = list(declared)
    missing = [name for name in declared if name not in namespace]
    if missing:
        raise ValueError(f"parameters {missing} are declared but not defined; "
                         "run the parameters cell first")
    extra = unknown(namespace, declared)
    if extra:
        given = ", ".join(f"{name} = {namespace[name]!r}" for name in extra)
        noun = "parameter" if len(extra) == 1 else "parameters"
        raise UnknownParameterError(
            f"unknown {noun} {given}: this chapter accepts {', '.join(declared)}")
    if "scale" in declared and namespace["scale"] not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {namespace['scale']!r}")
