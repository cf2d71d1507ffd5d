"""Run folders: train once, load ever after.

Described in {ref}`sec-wae-gan`. A run folder is keyed by the whole
:class:`~atlasnb.config.TrainConfig` and holds ``config.json``,
``checkpoint.pt`` (written atomically after every epoch), ``metrics.json``
and ``train.log``. :func:`load_or_train` loads a finished run, resumes an
interrupted one from its last checkpoint, and trains a missing one.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from atlasnb import metrics
from atlasnb.config import TrainConfig
from atlasnb.data import load_images
from atlasnb.reproducibility import choose_device
from atlasnb.train import Trainer, train


def runs_root() -> Path:
    """``$ATLASNB_RUNS`` if set, else ``$XDG_CACHE_HOME/atlasnb/runs`` (``~/.cache``)."""
    if os.environ.get("ATLASNB_RUNS"):
        return Path(os.environ["ATLASNB_RUNS"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "atlasnb" / "runs"


def run_path(config: TrainConfig, root: str | os.PathLike | None = None) -> Path:
    """The folder of ``config``'s run: readable prefix, then the config's hash."""
    root = Path(root) if root is not None else runs_root()
    return root / f"{config.dataset}-m{config.n_charts}-{config.scale}-{config.key()}"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def atomic_torch_save(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@dataclass
class Run:
    """A trained model with the config that made it and its test metrics."""

    config: TrainConfig
    path: Path
    model: torch.nn.Module
    critic: torch.nn.Module
    metrics: dict


class ConfigMismatchError(RuntimeError):
    """A run folder or checkpoint was made by another config."""


def _as_json(data: dict) -> dict:
    return json.loads(json.dumps(data))


def _check_config(path: Path, config: TrainConfig, stored: dict, what: str) -> None:
    stored, wanted = _as_json(stored), _as_json(config.to_dict())
    if stored != wanted:
        changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        raise ConfigMismatchError(
            f"{what} in {path} was made by another config (fields that differ: {changed}); "
            "refusing to load or resume it. Use another folder, or delete this one to retrain.")


def load_or_train(config: TrainConfig, path: str | os.PathLike | None = None,
                  device: str | torch.device | None = None, progress: bool = True,
                  stop_after_epoch: int | None = None) -> Run:
    """The run of ``config``: loaded if finished, resumed if interrupted, else trained.

    ``path`` defaults to :func:`run_path`. ``device`` is ``None`` for CUDA when
    available, else CPU. ``stop_after_epoch`` ends training early (as an
    interruption would), leaving a resumable checkpoint; the returned run then has
    no metrics.
    """
    path = Path(path) if path is not None else run_path(config)
    device = choose_device(device)
    config_file, checkpoint_file = path / "config.json", path / "checkpoint.pt"
    metrics_file, log_file = path / "metrics.json", path / "train.log"
    if config_file.exists():
        _check_config(path, config, json.loads(config_file.read_text()), "config.json")
    else:
        atomic_write_json(config_file, config.to_dict())

    trainer = Trainer(config, device)
    if checkpoint_file.exists():
        state = torch.load(checkpoint_file, map_location=device, weights_only=False)
        _check_config(path, config, state["config"], "checkpoint.pt")
        trainer.load_state_dict(state)

    if trainer.epoch < config.epochs:
        images, _ = load_images(config.dataset, "train", limit=config.train_size,
                                seed=config.seed)

        def save(trainer: Trainer, losses: dict) -> None:
            atomic_torch_save(checkpoint_file, {**trainer.state_dict(),
                                                "config": config.to_dict()})
            line = {"epoch": trainer.epoch, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "device": str(device), **losses}
            with open(log_file, "a") as log:
                log.write(json.dumps(line) + "\n")
            if stop_after_epoch is not None and trainer.epoch >= stop_after_epoch:
                raise _StopTraining

        try:
            train(trainer, images, progress=progress, on_epoch_end=save)
        except _StopTraining:
            trainer.model.eval()
            return Run(config, path, trainer.model, trainer.critic, {})

    trainer.model.eval()
    trainer.critic.eval()
    if metrics_file.exists():
        run_metrics = json.loads(metrics_file.read_text())
    else:
        run_metrics = metrics.evaluate(trainer.model, config, device=device)
        run_metrics["device"] = str(device)
        atomic_write_json(metrics_file, run_metrics)
    return Run(config, path, trainer.model, trainer.critic, run_metrics)


class _StopTraining(Exception):
    pass


def load_run(path: str | os.PathLike, device: str | torch.device | None = None) -> Run:
    """Load a finished run from its folder (no training)."""
    path = Path(path)
    config_file = path / "config.json"
    if not config_file.exists():
        raise FileNotFoundError(f"no run in {path}: config.json is missing")
    config = TrainConfig.from_dict(json.loads(config_file.read_text()))
    if not (path / "metrics.json").exists():
        raise FileNotFoundError(f"the run in {path} is not finished (no metrics.json); "
                                "resume it with load_or_train(config)")
    return load_or_train(config, path=path, device=device, progress=False)
