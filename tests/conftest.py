"""Shared test set-up: the data root and a scratch runs folder."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

if not os.environ.get("ATLASNB_DATA") and SHARED_DATA.exists():
    os.environ["ATLASNB_DATA"] = str(SHARED_DATA)


@pytest.fixture
def runs_root(tmp_path, monkeypatch):
    """A fresh, empty runs folder for tests that train."""
    root = tmp_path / "runs"
    monkeypatch.setenv("ATLASNB_RUNS", str(root))
    return root
