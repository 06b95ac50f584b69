"""Claims a notebook makes about its own results, asserted where they are made.

Every "what to notice" sentence that states a result is backed by one of these calls in the
cell above it, stated so that it holds on any CPU (a ratio, an ordering, an interval). When the
numbers and the prose drift apart, the notebook stops with the claim that failed, and the test
suite's strict run fails.

Introduced in notebooks/00_welcome.ipynb, "The running example: real handwritten digits".
"""

from __future__ import annotations

import math

from labkit._validate import check_float


class ClaimFailed(AssertionError):
    """A result the notebook states did not come out as stated.

    Lesson: notebooks/00_welcome.ipynb, "The running example: real handwritten digits".
    """


def expect(condition: bool, message: str) -> None:
    """Stop the notebook with ``message`` when a result that must hold does not.

    Lesson: notebooks/00_welcome.ipynb, "The running example: real handwritten digits".
    """
    if not isinstance(condition, bool) and type(condition).__name__ != "bool_":
        raise TypeError(f"argument 'condition' must be True or False, got {condition!r}")
    if not condition:
        raise ClaimFailed(message)


def expect_between(name: str, value: float, low: float, high: float) -> float:
    """Assert that a measured value lies in [low, high]; returns it, for chaining.

    Lesson: notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".
    """
    value = float(value)
    low = check_float("low", low)
    high = check_float("high", high)
    if math.isnan(value) or not low <= value <= high:
        raise ClaimFailed(f"{name} = {value:g}, expected between {low:g} and {high:g}")
    return value
