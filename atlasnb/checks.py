"""Argument checks shared by every module: one message for one kind of mistake.

Each check names the parameter, the value given and what is accepted, and returns the
value as a plain Python number (NumPy integers and floats are accepted wherever
Python ones are; ``bool`` is never taken for a number).
"""

from __future__ import annotations

import dataclasses
import math
import numbers


def check_int(name: str, value, minimum: int = 0) -> int:
    """``value`` as a Python int if it is an integer >= ``minimum``, else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_optional_int(name: str, value, minimum: int = 0) -> int | None:
    """None, or ``value`` checked by :func:`check_int`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be None or an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive(name: str, value) -> int | float:
    """``value`` if it is a finite number > 0 (an int stays an int), else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def check_int_at_most(name: str, value, maximum: int, why: str, minimum: int = 1) -> int | None:
    """None, or an integer in [``minimum``, ``maximum``]; ``why`` says where the
    maximum comes from (e.g. "the data set has 60,000 training images")."""
    value = check_optional_int(name, value, minimum)
    if value is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum:,} ({why}), got {value!r}")
    return value


def check_int_sequence(name: str, value, minimum: int = 0) -> tuple[int, ...]:
    """A list or tuple of integers >= ``minimum`` as a tuple of Python ints."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list or tuple of integers >= {minimum}, got "
                         f"{value!r}; e.g. ({value!r},) for one entry")
    return tuple(check_int(f"{name} entry", entry, minimum) for entry in value)


def check_unit_pair(name: str, value) -> tuple[float, float]:
    """A pair of numbers in [0, 1) (e.g. Adam's betas) as a tuple of floats."""
    if not isinstance(value, (list, tuple)) or len(value) != 2 or any(
            isinstance(b, bool) or not isinstance(b, numbers.Real) or not 0 <= b < 1
            for b in value):
        raise ValueError(f"{name} must be two numbers in [0, 1), got {value!r}")
    return tuple(float(b) for b in value)


def replace_settings(settings, **overrides):
    """``dataclasses.replace(settings, **overrides)``, an unknown name refused with the
    list of accepted ones."""
    accepted = sorted(f.name for f in dataclasses.fields(settings))
    unknown = sorted(set(overrides) - set(accepted))
    if unknown:
        raise ValueError(f"unknown {type(settings).__name__} fields {unknown}; "
                         f"accepted: {accepted}")
    return dataclasses.replace(settings, **overrides)


def check_eps(eps) -> float:
    """``eps``, the partition threshold of Algorithm 1, as a float in [0, 1)."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) \
            or not 0 <= eps < 1:
        raise ValueError(f"eps must be a number in [0, 1), got {eps!r}")
    return float(eps)


def check_angles(name: str, values):
    """``values`` (a number, sequence, array or tensor of angles in radians) as a
    float64 1-D tensor; a non-finite or non-real value is refused, naming it."""
    import numpy as np
    import torch

    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        values = [values]
    try:
        tensor = torch.as_tensor(np.asarray(values, dtype=np.float64)).reshape(-1)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be real angles in radians (a number, sequence, array "
                        f"or tensor), got {values!r}") from error
    bad = ~torch.isfinite(tensor)
    if bad.any():
        raise ValueError(f"{name} must be finite angles in radians, got "
                         f"{float(tensor[bad][0])!r}")
    return tensor
