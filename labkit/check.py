"""Checked exercises, in the manner of Kaggle's learntools.

Each question is a ``Question`` with ``check(answer)``, ``hint()`` and
``solution()``. The placeholder ``____`` means "not attempted yet" and is
reported kindly. Wrong answers get a message in the learner's terms.
Notebooks also use ``expect`` and ``expect_between`` to assert what matters,
so that a notebook run under the test suite fails when a result goes wrong.

Set LABKIT_STRICT_CHECKS=1 (the test suite does, with solutions filled in) to
make a wrong or missing answer raise instead of print.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


class _Placeholder:
    """The blank a learner replaces with an answer."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "____"

    def __bool__(self) -> bool:
        return False


____ = _Placeholder()


def is_placeholder(value: Any) -> bool:
    if value is ____:
        return True
    if isinstance(value, list | tuple | set):
        return any(is_placeholder(v) for v in value)
    if isinstance(value, dict):
        return any(is_placeholder(v) for v in value.values())
    return False


class Wrong(Exception):
    """Raised by a checker with a message that tells the learner what is off."""


class NotAttempted(Exception):
    """Raised by a checker when the answer still holds a blank somewhere inside (a function
    that returns ____, say)."""


class ExerciseFailed(AssertionError):
    """A check failed while LABKIT_STRICT_CHECKS=1 (the test suite)."""


def _strict() -> bool:
    return os.environ.get("LABKIT_STRICT_CHECKS") == "1"


def _say(kind: str, text: str) -> None:
    colours = {"correct": "#009E73", "wrong": "#D55E00", "blank": "#0072B2", "info": "#555555"}
    plain = {"correct": "Correct", "wrong": "Not yet", "blank": "Not attempted", "info": ""}
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        shell = get_ipython()
        if shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell":
            import html

            head = f"<b>{plain[kind]}:</b> " if plain[kind] else ""
            display(
                HTML(
                    f'<div style="color:{colours[kind]}">{head}'
                    f'<span style="white-space:pre-wrap">{html.escape(text)}</span></div>'
                )
            )
            return
    except ImportError:
        pass
    print(f"{plain[kind]}: {text}" if plain[kind] else text)


class Question:
    """One exercise: ``checker(*answers)`` raises Wrong(message) or returns a note on success."""

    def __init__(
        self,
        name: str,
        checker: Callable[..., str | None],
        hint: str,
        solution: str,
        blank_message: str = "replace ____ with your answer, then run the cell again.",
    ) -> None:
        self.name = name
        self._checker = checker
        self._hint = hint
        self._solution = solution.strip()
        self._blank = blank_message

    def check(self, *answers: Any) -> bool:
        """Check your answer; prints what is right or wrong and returns True if correct."""
        if not answers or any(is_placeholder(a) for a in answers):
            _say("blank", f"{self.name}: {self._blank}")
            if _strict():
                raise ExerciseFailed(f"{self.name} was not attempted")
            return False
        try:
            note = self._checker(*answers)
        except NotAttempted:
            _say("blank", f"{self.name}: {self._blank}")
            if _strict():
                raise ExerciseFailed(f"{self.name} was not attempted") from None
            return False
        except Wrong as wrong:
            _say("wrong", f"{self.name}: {wrong}\n(Need a hint? Run {self.name}.hint())")
            if _strict():
                raise ExerciseFailed(f"{self.name}: {wrong}") from None
            return False
        _say("correct", f"{self.name}. {note or ''}".strip())
        return True

    def hint(self) -> None:
        _say("info", f"Hint for {self.name}: {self._hint}")

    def solution(self) -> None:
        _say("info", f"Solution for {self.name}:\n{self._solution}")

    @property
    def solution_code(self) -> str:
        """The reference solution as code: the exercise cell, completed."""
        return self._solution

    def __repr__(self) -> str:
        return f"<exercise {self.name}: call .check(answer), .hint() or .solution()>"


def expect(condition: bool, message: str) -> None:
    """Stop the notebook with ``message`` when a result that must hold does not."""
    if not condition:
        raise AssertionError(message)


def expect_between(name: str, value: float, low: float, high: float) -> float:
    """Assert that a measured value lies in [low, high]; returns it, for chaining."""
    value = float(value)
    if not low <= value <= high:
        raise AssertionError(f"{name} = {value:g}, expected between {low:g} and {high:g}")
    return value
