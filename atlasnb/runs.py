"""Run folders: train once, load ever after.

Described in {ref}`sec-wae-gan`. A run folder is keyed by the whole
:class:`~atlasnb.config.TrainConfig` and holds ``config.json``,
``checkpoint.pt`` (written atomically after every epoch), ``metrics.json``
and ``train.log``. :func:`load_or_train` loads a finished run, resumes an
interrupted one from its last checkpoint, and trains a missing one; it holds the
folder's ``run.lock`` meanwhile, so a second process asking for the same run
waits, then loads it. A damaged or foreign file is named with the way out.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from filelock import FileLock, Timeout

from atlasnb import files, metrics
from atlasnb.config import DEFAULT_MODEL, TrainConfig
from atlasnb.data import load_images
from atlasnb.files import RunFolderError, atomic_torch_save
from atlasnb.fingerprint import mismatch
from atlasnb.reproducibility import choose_device
from atlasnb.train import Trainer, train


def runs_root() -> Path:
    """``$ATLASNB_RUNS`` if set, else ``$XDG_CACHE_HOME/atlasnb/runs`` (``~/.cache``)."""
    if os.environ.get("ATLASNB_RUNS"):
        return Path(os.path.abspath(Path(os.environ["ATLASNB_RUNS"]).expanduser()))
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "atlasnb" / "runs"


def check_runs_root(root: str | os.PathLike | None = None) -> Path:
    """The runs folder (``root``, else :func:`runs_root`), made if missing and checked
    writable before any work starts: a file in its place or a folder that cannot be
    written is a :class:`~atlasnb.files.RunFolderError` naming it."""
    root = Path(root) if root is not None else runs_root()
    if root.exists() and not root.is_dir():
        raise RunFolderError(errno.ENOTDIR, f"the runs folder {root} is a file, not a "
                             "folder; point ATLASNB_RUNS at a folder, or move the file away")
    files.make_folder(root)
    files.check_writable(root)
    return root


def run_path(config: TrainConfig, root: str | os.PathLike | None = None) -> Path:
    """The folder of ``config``'s run: readable prefix, then the config's hash."""
    root = Path(root) if root is not None else runs_root()
    family = "" if config.model == DEFAULT_MODEL else f"{config.model}-"
    return root / f"{config.dataset}-{family}m{config.n_charts}-{config.scale}-{config.key()}"


def atomic_write_json(path: Path, data: dict) -> None:
    files.atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


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


class RunFileError(RuntimeError):
    """A file of a run folder is damaged, foreign or unreadable."""


#: What to do about a damaged file of a run folder.
_REMEDY = {
    "config.json": "delete it and run again: it is written anew from the config, and the "
                   "checkpoint is still checked against that config",
    "checkpoint.pt": "delete it (or the whole run folder) to retrain the run from its first "
                     "epoch",
}
#: The keys every checkpoint written by :func:`load_or_train` holds.
CHECKPOINT_KEYS = ("epoch", "model", "critic", "optimizer", "critic_optimizer", "schedulers",
                   "config")


def _read_json(file: Path):
    """The JSON in ``file``; :class:`RunFileError` naming it when it cannot be read."""
    try:
        text = file.read_text()
    except OSError as error:
        raise RunFileError(f"{file} is there but cannot be read ({error.strerror}); fix its "
                           f"permissions, or {_REMEDY[file.name]}") from error
    try:
        return json.loads(text)
    except ValueError as error:
        problem = "is empty" if not text.strip() else f"is not valid JSON ({error})"
        raise RunFileError(f"{file} {problem}; {_REMEDY[file.name]}") from error


def first_line(error: BaseException) -> str:
    """The error's type and its first sentence (the detail line after a heading)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if text.endswith(":") and len(lines) > 1:
        text = f"{text} {lines[1]}"
    return f"{type(error).__name__}: {text.split('. ')[0].rstrip('.')}"


def _load_checkpoint(file: Path, trainer: Trainer, config: TrainConfig) -> None:
    """Restore ``trainer`` from ``file``, naming the file if it is damaged or foreign."""
    remedy = _REMEDY["checkpoint.pt"]
    try:
        state = torch.load(file, map_location=trainer.device, weights_only=False)
    except Exception as error:  # truncated zip, another format, unpickling errors
        raise RunFileError(f"{file} cannot be read as a checkpoint ({first_line(error)}): it "
                           f"is truncated or not an atlasnb checkpoint; {remedy}") from error
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise RunFileError(f"{file} is not an atlasnb checkpoint (it lacks {missing}); {remedy}")
    _check_config(file.parent, config, state["config"], "checkpoint.pt")
    try:
        trainer.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        raise RunFileError(f"{file} holds weights of another architecture than its config "
                           f"({first_line(error)}); {remedy}") from error


def _stored_metrics(file: Path, model, config: TrainConfig) -> dict | None:
    """The metrics in ``file``, or None (with a warning naming it) if they must be recomputed."""
    try:
        text = file.read_text()
        data = json.loads(text)
    except OSError as error:
        problem = f"cannot be read ({error.strerror})"
    except ValueError as error:
        problem = "is empty" if not text.strip() else f"is not valid JSON ({error})"
    else:
        problem = metrics.stored_problem(data, model, config)
    if problem is None:
        return data
    warnings.warn(f"{file} {problem}; computing the metrics again (the trained model is kept)",
                  RuntimeWarning, stacklevel=3)
    return None


def read_cached(json_path: str | os.PathLike, tensors: str | None = None,
                keys: tuple = (), model=None) -> dict | None:
    """A result an experiment cached in a run folder: the JSON object in ``json_path``
    (holding every name in ``keys``) and, with ``tensors``, what
    ``json_path.with_suffix(".pt")`` holds under that key.

    None when a file is missing, or, with a warning naming the file and what is wrong,
    when one cannot be read (empty, truncated, not what was written) or, with
    ``model``, when its ``fingerprint`` is not that model's (a file copied from
    another run folder): the caller then computes the result again and overwrites
    both files. Cached results are derived
    from the run's model, so nothing is lost.
    """
    json_path = Path(json_path)
    paths = [json_path] + ([json_path.with_suffix(".pt")] if tensors else [])
    if not all(path.exists() for path in paths):
        return None
    current = json_path
    try:
        result = json.loads(json_path.read_text())
        if not isinstance(result, dict):
            raise ValueError(f"it holds a JSON {type(result).__name__}, not an object")
        missing = [key for key in keys if key not in result]
        if missing:
            raise KeyError(f"it lacks {missing}")
        differ = mismatch(result.get("fingerprint"), model) if model is not None else None
        if differ is not None:
            warnings.warn(f"{json_path} was computed by another model than this run's "
                          f"({differ}); computing the cached result again",
                          RuntimeWarning, stacklevel=2)
            return None
        if tensors:
            current = paths[1]
            result[tensors] = torch.load(paths[1], weights_only=False)
    except Exception as error:  # empty, truncated, foreign or unreadable
        warnings.warn(f"{current} cannot be read ({first_line(error)}); computing the "
                      "cached result again", RuntimeWarning, stacklevel=2)
        return None
    return result


def _as_json(data: dict) -> dict:
    return json.loads(json.dumps(data))


def _check_config(path: Path, config: TrainConfig, stored, what: str) -> None:
    if not isinstance(stored, dict):
        raise RunFileError(f"{path / what} holds a {type(stored).__name__}, not a config; "
                           f"{_REMEDY[what]}")
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
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig (from make_config), got "
                        f"{type(config).__name__}")
    if path is not None and (not isinstance(path, (str, os.PathLike))
                             or not os.fspath(path).strip()):
        raise ValueError(f"path must be a run folder (or None for run_path(config)), got "
                         f"{path!r}; an empty path would train into the current folder")
    path = Path(path) if path is not None else run_path(config)
    device = choose_device(device)
    with _locked(path):
        return _load_or_train(config, path, device, progress, stop_after_epoch)


@contextmanager
def _locked(path: Path):
    """Hold the run folder's file lock, so that one process at a time trains or
    evaluates a run; the others wait (saying so), then load what it wrote.

    A folder that cannot be written is refused here, before any training, unless
    it holds a finished run (a read-only shared folder), which is only read.
    """
    files.make_folder(path)
    try:
        files.check_writable(path)
    except RunFolderError:
        if not (path / "metrics.json").exists():
            raise
        yield
        return
    if (path / "run.lock").exists() and not (path / "run.lock").is_file():
        raise RunFolderError(errno.EISDIR, f"{path / 'run.lock'} is not a file (a folder or "
                             "another "
                             "kind of entry); it is the run's lock file: remove it and run "
                             "again")
    lock = FileLock(path / "run.lock", mode=files.file_mode())
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"{path} is in use by another process (training or evaluating this run); "
              "waiting for it to finish", file=sys.stderr, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _load_or_train(config: TrainConfig, path: Path, device: torch.device, progress: bool,
                   stop_after_epoch: int | None) -> Run:
    config_file, checkpoint_file = path / "config.json", path / "checkpoint.pt"
    metrics_file, log_file = path / "metrics.json", path / "train.log"
    if config_file.exists():
        _check_config(path, config, _read_json(config_file), "config.json")
    else:
        atomic_write_json(config_file, config.to_dict())

    trainer = Trainer(config, device)
    if checkpoint_file.exists():
        _load_checkpoint(checkpoint_file, trainer, config)

    if trainer.epoch < config.epochs:
        images, _ = load_images(config.dataset, "train", limit=config.train_size,
                                seed=config.seed)

        def save(trainer: Trainer, losses: dict) -> None:
            atomic_torch_save(checkpoint_file, {**trainer.state_dict(),
                                                "config": config.to_dict()})
            line = {"epoch": trainer.epoch, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    "device": str(device), **losses}
            files.append_line(log_file, json.dumps(line))
            if stop_after_epoch is not None and trainer.epoch >= stop_after_epoch:
                raise _StopTraining

        try:
            train(trainer, images, progress=progress, on_epoch_end=save)
        except _StopTraining:
            trainer.model.eval()
            return Run(config, path, trainer.model, trainer.critic, {})

    trainer.model.eval()
    if trainer.critic is not None:
        trainer.critic.eval()
    run_metrics = None
    if metrics_file.exists():
        run_metrics = _stored_metrics(metrics_file, trainer.model, config)
    if run_metrics is None:
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
    data = _read_json(config_file)
    try:
        config = TrainConfig.from_dict(data)
    except (ValueError, TypeError) as error:
        raise RunFileError(f"{config_file} is not a valid config ({error}); "
                           f"{_REMEDY['config.json']}") from error
    if not (path / "metrics.json").exists():
        raise FileNotFoundError(f"the run in {path} is not finished (no metrics.json); "
                                "resume it with load_or_train(config)")
    return load_or_train(config, path=path, device=device, progress=False)
