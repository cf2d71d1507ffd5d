"""atlasnb.experiments.cache: one key from every input, damaged files named and
computed again; the length scan's reference is part of its key."""

import numpy as np
import pytest
import torch

from atlasnb import experiments, geodesics, runs, toy
from atlasnb.config import make_config
from atlasnb.experiments import cache

#: The tiny models and graph of tests/test_experiments.py: seconds on a CPU.
TINY = dict(width=2, train_size=200, test_size=100, epochs=1, batch_size=50,
            lr_halving_epochs=(1,))
SETTINGS = experiments.graph_settings("smoke", n_points=40, k=4, n_steps=4, n_pairs=4,
                                      n_interpolations=2, interpolation_points=5)


def tiny_run(n_charts):
    return runs.load_or_train(make_config("smoke", "mnist", n_charts, **TINY), device="cpu",
                              progress=False)


def counted(values):
    """A compute function returning ``values`` and counting its calls."""
    calls = []

    def compute():
        calls.append(1)
        return {"rows": list(values), "images": torch.arange(3.0)}

    return compute, calls


def test_a_result_is_computed_once_per_inputs(tmp_path):
    model = toy.CircleAtlas()
    compute, calls = counted([1.0, 2.0])
    inputs = {"settings": SETTINGS, "reference": np.array([1.0, 2.0])}
    first = cache.cached(tmp_path, "demo", inputs, compute, model, 1, tensors=("images",))
    again = cache.cached(tmp_path, "demo", inputs, compute, model, 1, tensors=("images",))
    assert len(calls) == 1 and again["rows"] == first["rows"] == [1.0, 2.0]
    assert torch.equal(again["images"], torch.arange(3.0))
    assert again["inputs"]["reference"]["shape"] == [2]  # recorded by its bytes' hash
    other = {"settings": SETTINGS, "reference": np.array([1.0, 2.5])}
    cache.cached(tmp_path, "demo", other, compute, model, 1, tensors=("images",))
    assert len(calls) == 2 and len(list(tmp_path.glob("demo-*.json"))) == 2
    with pytest.raises(TypeError, match="must be settings, an array or plain data"):
        cache.cache_key({"model": object()}, model, 1)


@pytest.mark.parametrize("damaged", ["json", "pt"])
def test_a_damaged_file_is_named_and_the_result_computed_again(tmp_path, damaged):
    model = toy.CircleAtlas()
    compute, calls = counted([3.0])
    inputs = {"settings": SETTINGS}
    cache.cached(tmp_path, "demo", inputs, compute, model, 1, tensors=("images",))
    path = cache.cache_path(tmp_path, "demo", inputs, model, 1)
    broken = path if damaged == "json" else path.with_suffix(".pt")
    broken.write_bytes(broken.read_bytes()[:10])
    with pytest.warns(RuntimeWarning, match=str(broken)):
        result = cache.cached(tmp_path, "demo", inputs, compute, model, 1, tensors=("images",))
    assert len(calls) == 2 and result["rows"] == [3.0]
    cache.cached(tmp_path, "demo", inputs, compute, model, 1, tensors=("images",))
    assert len(calls) == 2  # rewritten whole


def test_the_scan_keys_its_reference(runs_root, monkeypatch):
    run = tiny_run(2)
    settings = experiments.refine_settings("smoke", scan_points=(20, SETTINGS.n_points),
                                           scan_pairs=2, n_iterations=2, n_frames=3,
                                           n_shown=1)
    reference = np.array([1.0, 2.0, 3.0, 4.0])
    first = experiments.length_scan(run, SETTINGS, settings, reference, progress=False)
    assert list(first["reference"]) == [1.0, 2.0] * 2
    scans = sorted(run.path.glob("refinement-scan-*.json"))
    assert len(scans) == 1

    def no_graph(*args, **kwargs):
        raise AssertionError("a cached scan must not build a graph again")

    monkeypatch.setattr(geodesics, "build_atlas_graph", no_graph)
    again = experiments.length_scan(run, SETTINGS, settings, reference.copy(), progress=False)
    assert again.equals(first)  # the same reference: the same entry, columns in order
    monkeypatch.undo()
    changed = experiments.length_scan(run, SETTINGS, settings, reference * 2, progress=False)
    assert len(sorted(run.path.glob("refinement-scan-*.json"))) == 2  # a new entry
    np.testing.assert_allclose(changed["excess"] + 1, (again["excess"] + 1) / 2, rtol=1e-12)
    # Without a reference given, the refinement's shorter of straight and refined.
    derived = experiments.length_scan(run, SETTINGS, settings, progress=False)
    result = experiments.refinement_experiment(run, SETTINGS, settings)
    expected = experiments.scan_reference(result)[:2]
    np.testing.assert_array_equal(derived["reference"].to_numpy()[:2], expected)
