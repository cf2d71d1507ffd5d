"""One seeding helper and an explicit device choice.

Described in {ref}`sec-intro-scales`.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def choose_device(device: str | torch.device | None = None) -> torch.device:
    """``cuda`` when available, else ``cpu``; an explicit request is honoured or refused.

    Asking for a device that is not there raises instead of falling back.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r} is not a torch device; use 'cpu', 'cuda' "
                         "or 'cuda:N'") from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available here; "
                         "use device='cpu' or None (automatic)")
    if chosen.type not in ("cpu", "cuda"):
        raise ValueError(f"device={device!r} is not supported; accepted: 'cpu', 'cuda', None")
    return chosen
