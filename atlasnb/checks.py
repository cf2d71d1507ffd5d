"""Argument checks shared by every module: one message for one kind of mistake.

Each check names the parameter, the value given and what is accepted, and returns the
value as a plain Python number (NumPy integers and floats are accepted wherever
Python ones are; ``bool`` is never taken for a number).
"""

from __future__ import annotations

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
    """``value`` if it is a number > 0 (an int stays an int), else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)
