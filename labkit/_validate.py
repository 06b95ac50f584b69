"""Argument checks for labkit's public functions.

Every public function validates its arguments here, so a learner who passes a
wrong value gets one clear sentence that names the argument and what is allowed,
before any work starts (nothing is left half-done).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import torch


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_int(
    name: str, value: Any, *, min_value: int | None = None, max_value: int | None = None
) -> int:
    """Return ``value`` if it is an int in [min_value, max_value], else raise a clear error."""
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
            f"argument '{name}' must be a number in {left}{lo}, {hi}{right}, got {value!r}"
        )
    return value


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"argument '{name}' must be one of {allowed}; got {_show(value)}")
    return value


def check_module(name: str, value: Any) -> torch.nn.Module:
    """Return ``value`` if it is a torch.nn.Module."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"argument '{name}' must be a torch.nn.Module, got {type(value).__name__}")
    return value


def check_tensor(
    name: str, value: Any, *, ndim: int | None = None, min_ndim: int | None = None
) -> torch.Tensor:
    """Return ``value`` if it is a tensor with the expected number of dimensions."""
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
    return value
