"""The package's one set of argument checks, and the settings that use it."""

from __future__ import annotations

import numpy as np
import pytest

from atlasnb import checks, experiments
from atlasnb.experiments import cache, refinement


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_integers_of_every_kind_come_back_as_python_ints(value):
    result = checks.check_int("k", value, 1)
    assert result == 3 and type(result) is int


@pytest.mark.parametrize("value", [True, 2.0, "3", None, 0, -1])
def test_non_integers_and_small_integers_are_named(value):
    with pytest.raises(ValueError, match=r"k must be an integer >= 1, got "):
        checks.check_int("k", value, 1)


def test_optional_integers_and_positive_numbers():
    assert checks.check_optional_int("limit", None, 1) is None
    assert type(checks.check_optional_int("limit", np.int16(5), 1)) is int
    with pytest.raises(ValueError, match="limit must be None or an integer >= 1, got 0"):
        checks.check_optional_int("limit", 0, 1)
    assert type(checks.check_positive("lr", np.float32(0.5))) is float
    assert type(checks.check_positive("lam", np.int64(10))) is int
    for bad in (0, -1.0, True, "1"):
        with pytest.raises(ValueError, match="lr must be a positive number"):
            checks.check_positive("lr", bad)


def test_settings_take_numpy_integers_and_keep_json_keys():
    plain = experiments.GraphSettings(n_points=100, k=5, n_pairs=4, seed=1)
    numpy = experiments.GraphSettings(n_points=np.int64(100), k=np.int32(5),
                                      n_pairs=np.int64(4), seed=np.int64(1))
    assert cache.plain(numpy) == cache.plain(plain) and type(numpy.k) is int
    refine_plain = refinement.RefineSettings(n_frames=6)
    refine_numpy = refinement.RefineSettings(n_frames=np.int64(6))
    assert cache.plain(refine_numpy) == cache.plain(refine_plain)
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        experiments.GraphSettings(k=0)
