"""atlasnb.runs and atlasnb.train: run folders, atomic checkpoints, exact resume."""

import json
import os

import pytest
import torch

from atlasnb import objective, runs, train
from atlasnb.config import make_config


def tiny_config(**changes):
    """Two charts, two epochs on 200 images: seconds on a CPU."""
    values = dict(train_size=200, test_size=100, epochs=2, batch_size=50, width=2,
                  lr_halving_epochs=(1,))
    values.update(changes)
    return make_config("smoke", "mnist", 2, **values)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def log_epochs(path):
    return [json.loads(line)["epoch"] for line in (path / "train.log").read_text().splitlines()]


def test_a_run_folder_holds_config_checkpoint_metrics_and_log(runs_root):
    config = tiny_config()
    run = runs.load_or_train(config, device="cpu", progress=False)
    assert run.path == runs.run_path(config) and run.path.parent == runs_root
    for name in ("config.json", "checkpoint.pt", "metrics.json", "train.log"):
        assert (run.path / name).exists(), name
    assert json.loads((run.path / "config.json").read_text())["seed"] == config.seed
    assert log_epochs(run.path) == [1, 2]
    assert 0 < run.metrics["reconstruction_error"] < 1
    assert run.metrics["test_images"] == 100


def test_interrupted_run_resumes_to_the_weights_of_an_uninterrupted_one(tmp_path):
    config = tiny_config()
    interrupted = runs.load_or_train(config, path=tmp_path / "a", device="cpu",
                                     progress=False, stop_after_epoch=1)
    assert log_epochs(tmp_path / "a") == [1] and interrupted.metrics == {}
    resumed = runs.load_or_train(config, path=tmp_path / "a", device="cpu", progress=False)
    assert log_epochs(tmp_path / "a") == [1, 2]  # resumed at epoch 2, epoch 1 not redone
    straight = runs.load_or_train(config, path=tmp_path / "b", device="cpu", progress=False)
    assert same_weights(resumed.model, straight.model)
    assert same_weights(resumed.critic, straight.critic)
    assert resumed.metrics == straight.metrics


def test_a_finished_run_is_loaded_never_retrained(runs_root, monkeypatch):
    config = tiny_config(epochs=1)
    first = runs.load_or_train(config, device="cpu", progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(train.Trainer, "train_epoch", no_training)
    again = runs.load_or_train(config, device="cpu", progress=False)
    assert same_weights(first.model, again.model) and again.metrics == first.metrics
    assert log_epochs(first.path) == [1]


def test_a_folder_of_another_config_is_refused(tmp_path):
    runs.load_or_train(tiny_config(epochs=1), path=tmp_path, device="cpu", progress=False)
    with pytest.raises(runs.ConfigMismatchError, match=r"seed"):
        runs.load_or_train(tiny_config(epochs=1, seed=5), path=tmp_path, device="cpu")


def test_a_checkpoint_of_another_config_is_refused(tmp_path):
    runs.load_or_train(tiny_config(epochs=1), path=tmp_path, device="cpu", progress=False)
    other = tiny_config(epochs=1, lr=1e-3)
    (tmp_path / "config.json").write_text(json.dumps(other.to_dict()))
    with pytest.raises(runs.ConfigMismatchError, match=r"checkpoint.pt.*\['lr'\]"):
        runs.load_or_train(other, path=tmp_path, device="cpu", progress=False)


def test_a_failed_checkpoint_write_leaves_the_previous_one_intact(tmp_path, monkeypatch):
    config = tiny_config()
    runs.load_or_train(config, path=tmp_path, device="cpu", progress=False,
                       stop_after_epoch=1)
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def crash_midway(descriptor):  # the new checkpoint is written, not yet renamed
        raise KeyboardInterrupt("interrupted while saving")

    monkeypatch.setattr(os, "fsync", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        runs.load_or_train(config, path=tmp_path, device="cpu", progress=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_non_finite_loss_stops_with_the_step_named(tmp_path, monkeypatch):
    real_loss = objective.autoencoder_loss

    def nan_loss(*args, **kwargs):
        loss, parts = real_loss(*args, **kwargs)
        return loss * float("nan"), parts

    monkeypatch.setattr(objective, "autoencoder_loss", nan_loss)
    with pytest.raises(FloatingPointError, match=r"auto-encoder loss became nan at epoch 1, "
                                                 r"step 1"):
        runs.load_or_train(tiny_config(), path=tmp_path, device="cpu", progress=False)


def test_an_unavailable_device_is_refused_not_substituted(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match=r"device='cuda'.*not available"):
        runs.load_or_train(tiny_config(), path=tmp_path, device="cuda")


def test_read_cached_names_a_result_lacking_a_key_and_returns_none(tmp_path):
    cached = tmp_path / "refinement-scan-x.json"
    cached.write_text(json.dumps({"version": 1}))
    with pytest.warns(RuntimeWarning, match=r"refinement-scan-x\.json cannot be read .*"
                                            r"lacks \['rows'\]"):
        assert runs.read_cached(cached, keys=("rows",)) is None
    cached.write_text(json.dumps({"rows": [1]}))
    assert runs.read_cached(cached, keys=("rows",)) == {"rows": [1]}
    assert runs.read_cached(tmp_path / "missing.json") is None
