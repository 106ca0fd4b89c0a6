"""Checking a number from a user or a file: its type, finiteness and range, with a one-line error.

Shared by the edit settings (``edit_settings``) and the training settings (``training.config``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .errors import InputError

SEED_MAX = 2**32 - 1


def check_int(name: str, value: Any, low: int, high: int, what: str = "") -> None:
    """``what``: how the message names the kind of setting, e.g. "training setting "."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{what}{name}={value!r} is not a whole number", f"use {low} to {high}")
    if not low <= int(value) <= high:
        raise InputError(f"{what}{name}={value} is out of range", f"use {low} to {high}")


def check_float(name: str, value: Any, low: float, high: float, hint: str = "", what: str = "") -> None:
    fix = f"use {low:g} to {high:g}" + (f" ({hint})" if hint else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{what}{name}={value!r} is not a number", fix)
    try:
        as_float = float(value)
    except OverflowError:  # an integer beyond any float (JSON allows 400 digits)
        as_float = math.inf
    if not math.isfinite(as_float):
        raise InputError(f"{what}{name}={value} is not a finite number", fix)
    if not low <= as_float <= high:
        raise InputError(f"{what}{name}={value:g} is out of range", fix)
