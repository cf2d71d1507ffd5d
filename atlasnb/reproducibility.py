"""One seeding helper and an explicit device choice.

Described in {ref}`sec-intro-scales`.
"""

from __future__ import annotations

import numbers
import random

import numpy as np
import torch

from atlasnb.checks import check_int


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""
    seed = check_int("seed", seed, 0)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def choose_device(device: str | torch.device | None = None) -> torch.device:
    """``cuda`` when available, else ``cpu``; an explicit request is honoured or refused.

    Any spelling torch accepts names the same device (``"CPU"``, ``"cpu:0"``,
    ``torch.device("cuda", 0)``); the CPU is one device, whatever its index. Asking
    for a device that is not there raises instead of falling back.
    """
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    given = device
    if isinstance(device, str):
        device = device.strip().lower()
    elif isinstance(device, numbers.Integral) and not isinstance(device, bool):
        device = int(device)  # torch's spelling of cuda:N
    try:
        chosen = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as error:
        raise ValueError(f"device={given!r} is not a torch device; use 'cpu', 'cuda' "
                         "or 'cuda:N'") from error
    if chosen.type == "cpu":
        return torch.device("cpu")
    if chosen.type != "cuda":
        raise ValueError(f"device={given!r} is not supported; accepted: 'cpu', 'cuda', "
                         "'cuda:N', None")
    if not torch.cuda.is_available():
        raise ValueError(f"device={given!r} was asked for but CUDA is not available here; "
                         "use device='cpu' or None (automatic)")
    if chosen.index is not None and chosen.index >= torch.cuda.device_count():
        raise ValueError(f"device={given!r} was asked for but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s): 'cuda:0' to "
                         f"'cuda:{torch.cuda.device_count() - 1}'")
    return chosen
