"""Which model a saved graph or cached result belongs to: a model's fingerprint.

Derived in {ref}`sec-graph-geodesics`. A graph file or a cached result holds
numbers that only mean something for the model that made them, so each carries
the fingerprint of that model and is refused (or made again) for any other:

- ``architecture``: the model's class (module and qualified name);
- ``n_charts`` and ``latent_dim``: m and d of the AGM interface;
- ``weights``: a SHA-256 digest of a torch module's ``state_dict`` (every
  parameter and buffer), or, for a hand-written AGM that is no torch module, of
  its plain attributes (numbers, strings, arrays, tensors).
"""

from __future__ import annotations

import hashlib
import numbers
import weakref

import numpy as np
import torch

from atlasnb.agm import check_agm

#: What a fingerprint holds, in the order a mismatch is reported.
FINGERPRINT_KEYS = ("architecture", "n_charts", "latent_dim", "weights")

_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class ModelMismatchError(ValueError):
    """A saved graph, cached result or path was made by another model."""


def _hash_value(digest, name: str, value) -> None:
    digest.update(name.encode())
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().contiguous()
        digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, np.ndarray):
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    else:
        digest.update(repr(value).encode())


def _state(model) -> dict:
    """The values the weights digest covers."""
    if isinstance(model, torch.nn.Module):
        return model.state_dict()
    plain = (numbers.Number, str, torch.Tensor, np.ndarray)
    return {name: value for name, value in sorted(vars(model).items())
            if isinstance(value, plain) or (isinstance(value, tuple)
                                             and all(isinstance(v, plain) for v in value))}


def model_fingerprint(model) -> dict:
    """The fingerprint of ``model`` (see the module's docstring) as a dict of strings
    and ints, which JSON and ``torch.load(weights_only=True)`` keep as they are.

    For a torch module the digest is remembered until one of its tensors changes
    in place (training, ``load_state_dict``), so asking again is cheap."""
    check_agm(model, encoder=False)  # a semi-AGM (no encode) has a fingerprint too
    state = _state(model)
    module = isinstance(model, torch.nn.Module)
    versions = tuple((name, value._version, value.data_ptr(), str(value.device))
                     for name, value in state.items()) if module else None
    remembered = _cache.get(model) if module else None
    if remembered is not None and remembered[0] == versions:
        return dict(remembered[1])
    digest = hashlib.sha256()
    for name, value in state.items():
        _hash_value(digest, name, value)
    kind = type(model)
    fingerprint = {"architecture": f"{kind.__module__}.{kind.__qualname__}",
                   "n_charts": int(model.n_charts), "latent_dim": int(model.latent_dim),
                   "weights": digest.hexdigest()[:16]}
    if module:
        _cache[model] = (versions, fingerprint)
    return dict(fingerprint)


def mismatch(saved, model) -> str | None:
    """None if ``saved`` is ``model``'s fingerprint, else what differs, in words."""
    current = model_fingerprint(model)
    if not isinstance(saved, dict):
        return f"it holds no model fingerprint (got {type(saved).__name__})"
    differ = [f"{key} {saved.get(key)!r} there, {current[key]!r} here"
              for key in FINGERPRINT_KEYS if saved.get(key) != current[key]]
    return "; ".join(differ) if differ else None


def check_fingerprint(what: str, saved, model) -> None:
    """Raise :class:`ModelMismatchError` if ``saved`` is not ``model``'s fingerprint;
    ``what`` names the thing that carries it (e.g. "the graph")."""
    differ = mismatch(saved, model)
    if differ is not None:
        raise ModelMismatchError(f"{what} was made by another model than the one given "
                                 f"({differ}); use it with the model that made it, or "
                                 "make it again from this one")
