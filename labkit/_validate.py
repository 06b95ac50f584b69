"""Argument checks for labkit's public functions.

Every public function validates its arguments here, before any work starts, so a learner who
passes a wrong value gets one clear sentence that names the argument and what is allowed, and
nothing is left half-done. Numbers must be finite: NaN and infinity are refused wherever a
number is expected.

Used by: every public labkit function, to check its arguments before any work starts.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain_number(value: Any) -> Any:
    """A one-element tensor or a NumPy scalar as a Python number; anything else unchanged."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.ndim <= 1:
        return value.item()
    if (
        type(value).__module__ == "numpy"
        and hasattr(value, "item")
        and getattr(value, "ndim", 1) == 0
    ):
        return value.item()
    return value


def check_int(
    name: str, value: Any, *, min_value: int | None = None, max_value: int | None = None
) -> int:
    """Return ``value`` if it is an int in [min_value, max_value], else raise a clear error."""
    value = _plain_number(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"argument '{name}' must be an integer, got {_show(value)}")
    value = int(value)
    if (min_value is not None and value < min_value) or (
        max_value is not None and value > max_value
    ):
        lo = "-inf" if min_value is None else min_value
        hi = "inf" if max_value is None else max_value
        raise ValueError(f"argument '{name}' must be an integer in [{lo}, {hi}], got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as float if it is a finite number within the given bounds."""
    value = _plain_number(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"argument '{name}' must be a number, got {_show(value)}")
    value = float(value)
    lo_ok = low is None or (value >= low if low_inclusive else value > low)
    hi_ok = high is None or (value <= high if high_inclusive else value < high)
    if not math.isfinite(value) or not (lo_ok and hi_ok):
        left = "[" if low_inclusive and low is not None else "("
        right = "]" if high_inclusive and high is not None else ")"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(
            f"argument '{name}' must be a finite number in {left}{lo}, {hi}{right}, got {value!r}"
        )
    return value


def check_bits(bits: Any) -> int:
    """Return ``bits`` if it is a whole number of bits from 2 to 16 (a quantization grid)."""
    return check_int("bits", bits, min_value=2, max_value=16)


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is True or False (not 0, 1 or a string)."""
    if not isinstance(value, bool):
        raise TypeError(f"argument '{name}' must be True or False, got {_show(value)}")
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    choices = list(choices)
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against dict keys
        ok = False
    if not ok:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"argument '{name}' must be one of {allowed}; got {_show(value)}")
    return value


def check_names(name: str, value: Any, choices: Iterable[str] | None = None) -> list[str]:
    """Return ``value`` as a list of strings: a list or tuple of names (a single string is refused,
    since it would be read letter by letter), each one of ``choices`` if given.
    """
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise TypeError(
            f"argument '{name}' must be a list of names such as ['a', 'b'], got {_show(value)}"
        )
    names = list(value)
    for item in names:
        if not isinstance(item, str):
            raise TypeError(f"argument '{name}' must hold names (strings), got {_show(item)}")
        if choices is not None:
            check_choice(name, item, choices)
    return names


def check_callable(name: str, value: Any, what: str = "a function") -> Callable:
    """Return ``value`` if it can be called."""
    if not callable(value):
        raise TypeError(f"argument '{name}' must be {what}, got {type(value).__name__}")
    return value


def check_module(name: str, value: Any) -> torch.nn.Module:
    """Return ``value`` if it is a torch.nn.Module."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"argument '{name}' must be a torch.nn.Module, got {type(value).__name__}")
    return value


def check_tensor(
    name: str,
    value: Any,
    *,
    ndim: int | None = None,
    min_ndim: int | None = None,
    finite: bool = False,
) -> torch.Tensor:
    """Return ``value`` if it is a non-empty tensor with the expected number of dimensions
    (and, with ``finite=True``, no NaN or infinity).
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"argument '{name}' must be a torch.Tensor, got {type(value).__name__}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(
            f"argument '{name}' must have {ndim} dimensions, got shape {tuple(value.shape)}"
        )
    if min_ndim is not None and value.ndim < min_ndim:
        raise ValueError(
            f"argument '{name}' must have at least {min_ndim} dimensions, "
            f"got shape {tuple(value.shape)}"
        )
    if value.numel() == 0:
        raise ValueError(f"argument '{name}' is empty (shape {tuple(value.shape)})")
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"argument '{name}' holds NaN or infinite values")
    return value
