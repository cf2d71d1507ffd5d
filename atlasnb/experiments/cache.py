"""Cached results: an experiment computed once per model and kept in its run folder.

Used by every experiment of {ref}`sec-experiments`. :func:`cached` is the one way a
result is cached: its file name is a hash of every input (settings, derived arrays
such as the length scan's reference, by the bytes they hold), the model's
fingerprint and the result's version, so that a result is never read for other
inputs. A damaged file or one of another model is named in a warning and the result
computed again; both files are written atomically, the JSON last.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from atlasnb import files
from atlasnb.fingerprint import model_fingerprint
from atlasnb.runs import atomic_write_json, read_cached

#: The key of a result's tensors in the value :func:`atlasnb.runs.read_cached` returns.
_TENSORS = "tensors"


def plain(value):
    """``value`` as JSON-ready data that names it exactly: a settings dataclass as its
    class and fields, an array or tensor as its dtype, shape and the SHA-256 of its
    bytes, containers element by element."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"class": type(value).__name__, **plain(dataclasses.asdict(value))}
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return {"dtype": str(array.dtype), "shape": list(array.shape),
                "sha256": hashlib.sha256(array.tobytes()).hexdigest()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"a cached result's input must be settings, an array or plain data, "
                    f"got {type(value).__name__}")


def cache_key(inputs: dict, model, version: int) -> str:
    """A short hash of ``inputs`` (see :func:`plain`), ``model``'s fingerprint and
    ``version``."""
    fields = {"inputs": plain(inputs), "fingerprint": model_fingerprint(model),
              "version": int(version)}
    text = json.dumps(fields, sort_keys=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_path(folder: str | os.PathLike, name: str, inputs: dict, model,
               version: int) -> Path:
    """The JSON file of the result ``name`` for ``inputs`` in ``folder`` (its tensors,
    if any, in the ``.pt`` file beside it)."""
    return Path(folder) / f"{name}-{cache_key(inputs, model, version)}.json"


def cached(folder: str | os.PathLike, name: str, inputs: dict, compute: Callable[[], dict],
           model, version: int, tensors: tuple = ()) -> dict:
    """The result ``compute()`` returns for ``inputs``, read from ``folder`` when it
    was computed before (:func:`cache_path`), else computed and written.

    ``compute`` returns a dict; the names in ``tensors`` hold what JSON cannot (images,
    paths) and go to the ``.pt`` file. The JSON file records ``inputs`` (see
    :func:`plain`), ``version`` and the model's ``fingerprint``. A file that is empty,
    truncated or not what was written, or one computed by another model, is named in a
    warning and the result computed again and overwritten.
    """
    path = cache_path(folder, name, inputs, model, version)
    result = read_cached(path, tensors=_TENSORS if tensors else None, model=model)
    if result is not None:
        problem = _problem(result, tensors, version)
        if problem is None:
            return {**result, **result.pop(_TENSORS, {})}
        bad = path.with_suffix(".pt") if problem.startswith("holds a") else path
        warnings.warn(f"{bad} {problem}; computing the cached result again",
                      RuntimeWarning, stacklevel=2)
    result = compute()
    missing = [key for key in tensors if key not in result]
    if missing:
        raise KeyError(f"the result {name} lacks its tensors {missing}")
    stored = {key: value for key, value in result.items() if key not in tensors}
    stored.update(inputs=plain(inputs), version=int(version),
                  fingerprint=model_fingerprint(model))
    if tensors:
        files.atomic_torch_save(path.with_suffix(".pt"), {key: result[key] for key in tensors})
    atomic_write_json(path, stored)
    return {**stored, **{key: result[key] for key in tensors}}


def _problem(result: dict, tensors: tuple, version: int) -> str | None:
    if result.get("version") != version:
        return f"is version {result.get('version')!r} of the result, not {version}"
    if tensors:
        held = result.get(_TENSORS)
        if not isinstance(held, dict) or any(key not in held for key in tensors):
            return (f"holds a {type(held).__name__}, not the tensors {list(tensors)} of "
                    "the result")
    return None
