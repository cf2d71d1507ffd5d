"""The package's own lists: every module of atlasnb, atlasnb.geodesics and atlasnb.book
is named in its package's docstring and documented on the API page."""

import importlib
import pkgutil
import re

import pytest

from atlasnb.book.chapters import BOOK_ROOT

PACKAGES = ("atlasnb", "atlasnb.geodesics", "atlasnb.book")


def public_modules(package: str) -> list[str]:
    path = importlib.import_module(package).__path__
    return sorted(f"{package}.{info.name}" for info in pkgutil.iter_modules(path)
                  if not info.name.startswith("_"))


def named(module: str, text: str) -> bool:
    """``text`` names ``module`` as a dotted name (``:mod:`~atlasnb.x``) or a path."""
    dotted = re.escape(module)
    path = re.escape(module.replace(".", "/") + ".py")
    return bool(re.search(rf"(?<![\w.]){dotted}(?![\w.])|{path}", text))


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_is_named_in_its_packages_docstring(package):
    doc = importlib.import_module(package).__doc__
    missing = [m for m in public_modules(package) if not named(m, doc)]
    assert not missing, f"{package}'s docstring does not name {missing}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_is_on_the_api_page(package):
    api = (BOOK_ROOT / "book" / "api.md").read_text()
    documented = set(re.findall(r"\.\. automodule:: (\S+)", api))
    missing = sorted(set(public_modules(package)) - documented)
    assert not missing, f"book/api.md documents no {missing}"


def test_a_missing_module_is_caught():
    assert named("atlasnb.geodesics.prior", ":mod:`~atlasnb.geodesics.prior` (the graph)")
    assert named("atlasnb.geodesics.interpolate", "``atlasnb/geodesics/interpolate.py``")
    assert not named("atlasnb.geodesics.prior", ":mod:`~atlasnb.geodesics.priors`")
    assert not named("atlasnb.book", ":mod:`atlasnb.book.sweep`")
