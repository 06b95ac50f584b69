"""Checked exercises, in the manner of Kaggle's learntools: each question is one declaration.

Used by: every exercise module (``labkit/exercises/labNN.py``; CONTRIBUTING.md, "Exercises"),
labkit/__init__.py (which gives notebooks the blank ``____``) and tests/test_exercises.py, which
runs every declaration.

Why this module is long: its two question forms and the answer helpers they share are read
together; a contributor learns here, in one sitting, everything a question can declare.

A ``Question`` names the variables the learner fills in (``answers``) and those the check reads
from the notebook (``given``), its checker, graded hints (a nudge first, never the answer), its
solution as real code (a function whose body is the completed exercise cell, so ruff lints it),
the wrong answers planted to prove the checker fails on them, and other right answers (computed
another valid way) to prove it does not fail on those. The tests run every declaration; adding a
question touches its exercise module only.

A ``Numeric`` question (learntools' ``EqualityCheckProblem``, with named mistakes) is a
Question whose answers are one or a few numbers: it states its truth, its tolerance and its
common mistakes once, and both its checker and its planted wrong answers come from that.

The placeholder ``____`` means "not attempted yet" and is reported kindly. ``check()`` prints
its verdict and returns nothing, so Jupyter echoes nothing under the message.

Set LABKIT_STRICT_CHECKS=1 (the test suite does, with solutions filled in) to make a wrong or
missing answer raise instead of print.

Introduced in notebooks/00_welcome.ipynb, "How the course works".
"""

from __future__ import annotations

import ast
import html
import inspect
import math
import numbers
import os
import re
import reprlib
import string
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class _Placeholder:
    """The blank a learner replaces with an answer."""

    _instance = None

    def __new__(cls):
        """The one blank: every ``____`` is the same object."""
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        """Shown as the blank itself."""
        return "____"

    def __bool__(self) -> bool:
        """A blank is falsy, like an empty answer."""
        return False


____ = _Placeholder()


def is_placeholder(value: Any) -> bool:
    """True if ``value`` is the blank, or a list, tuple, set or dict with a blank inside."""
    if value is ____:
        return True
    if isinstance(value, list | tuple | set | frozenset):
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


# --------------------------------------------------------------------------- answer helpers
# What every checker needs to ask of an answer, worded in the learner's terms. Each returns the
# answer as a plain Python value, or raises Wrong (NotAttempted for a blank).


def describe(value: Any) -> str:
    """A learner's answer in a few words: a tensor or array by its shape, anything else by a
    short repr."""
    if hasattr(value, "shape") and hasattr(value, "dtype") and getattr(value, "ndim", 0) > 0:
        return f"a {type(value).__name__} of shape {tuple(value.shape)}"
    return f"{type(value).__name__} {reprlib.repr(value)}"


def want_int(value: Any, what: str) -> int:
    """``value`` as an int (461.0 counts as 461), or Wrong saying that ``what`` is a whole
    number."""
    if is_placeholder(value):
        raise NotAttempted
    value = _plain(value)
    if isinstance(value, str):
        raise Wrong(f"{what} is a whole number, not the text {reprlib.repr(value)}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise Wrong(f"{what} is a whole number, got {describe(value)}")
    return int(value)


def want_number(value: Any, what: str) -> float:
    """``value`` as a finite float (a one-element tensor or NumPy scalar is fine), or Wrong."""
    if is_placeholder(value):
        raise NotAttempted
    value = _plain(value)
    if isinstance(value, str):
        raise Wrong(f"{what} is a number, not the text {reprlib.repr(value)}")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Wrong(f"{what} is a number, got {describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise Wrong(f"{what} must be a finite number, got {value}")
    return value


def want_bool(value: Any, what: str) -> bool:
    """``value`` as a bool: True or False, or a NumPy or one-element torch boolean (what a
    comparison of arrays gives, ``np.False_``); anything else, 1 and "yes" too, is Wrong."""
    if is_placeholder(value):
        raise NotAttempted
    plain = _plain(value)
    if isinstance(plain, bool):
        return plain
    if isinstance(plain, str):
        raise Wrong(f"answer {what} with one of True or False, not the text {reprlib.repr(plain)}")
    raise Wrong(f"answer {what} with one of True or False, got {describe(value)}")


def want_callable(value: Any, what: str) -> Callable:
    """``value`` if it is a function, or Wrong saying to pass the function itself."""
    if is_placeholder(value):
        raise NotAttempted
    if not callable(value):
        raise Wrong(f"give the function {what} itself (no parentheses), got {describe(value)}")
    return value


def want_choice(value: Any, choices: Iterable, what: str) -> Any:
    """``value`` if it is one of ``choices`` (a NumPy string or bool counts as the Python one),
    or Wrong listing them."""
    if is_placeholder(value):
        raise NotAttempted
    choices = list(choices)
    plain = _plain(value)  # np.str_("gp"), read from an array of names, is the name "gp"
    if isinstance(plain, str):
        plain = str(plain)
    try:
        # Same type too: True == 1, but 1 is not an answer to a True-or-False question.
        ok = any(type(plain) is type(c) and plain == c for c in choices)
    except (TypeError, ValueError):  # an array compared with a name
        ok = False
    if not ok:
        raise Wrong(f"answer {what} with one of {choices}, got {describe(value)}")
    return plain


def call_learner(fn: Callable, *args: Any, what: str) -> Any:
    """Call the learner's function; its errors become Wrong, a blank result NotAttempted."""
    try:
        result = fn(*args)
    except Exception as err:  # the learner's code: report it, do not crash the check
        raise Wrong(f"{what} raised {type(err).__name__}: {err}") from None
    if is_placeholder(result):
        raise NotAttempted
    return result


def _plain(value: Any) -> Any:
    """A one-element tensor or a NumPy scalar as a Python number; anything else unchanged."""
    if hasattr(value, "numel") and hasattr(value, "item"):  # a torch tensor
        return value.item() if value.numel() == 1 else value
    if type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Planted:
    """A wrong answer the checker must refuse, with a phrase its message must contain.
    ``answers`` is a tuple, or a function of notebook variables (by parameter name) that
    returns the tuple."""

    why: str
    answers: tuple | Callable[..., tuple]
    says: str


@dataclass(frozen=True)
class Alternative:
    """Another right answer (computed another valid way) the checker must accept."""

    why: str
    answers: tuple | Callable[..., tuple]


def needs(fn: Callable) -> list[str]:
    """The notebook variables a solution or a planted answer reads: its parameter names."""
    return list(inspect.signature(fn).parameters)


def resolve(answers: tuple | Callable[..., tuple], context: dict[str, Any]) -> tuple:
    """The answers of a Planted or Alternative, computed from ``context`` if they are a function."""
    if callable(answers):
        out = answers(**{name: context[name] for name in needs(answers)})
        return out if isinstance(out, tuple) else (out,)
    return answers


class Question:
    """One exercise: ``check(*answers)``, ``hint()``, ``solution()``.

    ``checker(*answers, *given)`` raises Wrong(message) or returns a note on success.
    ``solution`` is a function of the notebook variables it reads; its body is the completed
    exercise cell, and it ends by returning the answers (``return n_train, n_originals``).
    """

    def __init__(
        self,
        *,
        answers: Sequence[str],
        checker: Callable[..., str | None],
        hints: Sequence[str],
        solution: Callable[..., Any],
        wrong: Sequence[Planted],
        right: Sequence[Alternative] = (),
        given: Sequence[str] = (),
        blank_message: str = "replace ____ with your answer, then run the cell again.",
    ) -> None:
        """Declare the question; ``bind`` names it after its module and variable."""
        if not answers or not hints or len(wrong) < 2:
            raise ValueError("a question needs answers, at least one hint and two planted answers")
        self.name = "unbound"  # set by bind()
        self.answers, self.given = tuple(answers), tuple(given)
        self._checker, self.hints, self.wrong, self.right = checker, list(hints), wrong, right
        self.solution_fn = solution
        self._blank = blank_message
        self._hints_shown = 0
        self.passed: bool | None = None  # the verdict of the last check
        _returned_names(solution)  # fails early if the solution does not end as it should

    # ------------------------------------------------------------------ for the learner

    def check(self, *args: Any, **by_name: Any) -> None:
        """Check your answer: prints what is right or wrong (and raises under strict mode).
        Answers may be given in order or by name (``q.check(n_train=..., n_originals=...)``)."""
        self.passed = False
        names = self.answers + self.given
        if by_name and set(by_name) <= set(names[len(args) :]):
            args = args + tuple(by_name.pop(n) for n in names[len(args) :] if n in by_name)
        if by_name or len(args) != len(self.answers) + len(self.given):
            names = ", ".join(self.answers + self.given)
            _say("wrong", f"{self.name}: call {self.name}.check({names})")
            if _strict():
                raise ExerciseFailed(f"{self.name}: called with {len(args)} arguments")
            return
        if any(is_placeholder(a) for a in args[: len(self.answers)]):
            return self._blank_answer()
        try:
            note = self._checker(*args)
        except NotAttempted:
            return self._blank_answer()
        except Wrong as wrong:
            _say("wrong", f"{self.name}: {wrong}\n(Need a hint? Run {self.name}.hint())")
            if _strict():
                raise ExerciseFailed(f"{self.name}: {wrong}") from None
            return
        self.passed = True
        _say("correct", f"{self.name}. {note or ''}".strip())

    def _blank_answer(self) -> None:
        _say("blank", f"{self.name}: {self._blank}")
        if _strict():
            raise ExerciseFailed(f"{self.name} was not attempted")

    def hint(self, level: int | None = None) -> None:
        """Print the next hint (or hint number ``level``): a nudge first, more detail after."""
        if level is None:
            self._hints_shown = min(self._hints_shown + 1, len(self.hints))
            level = self._hints_shown
        if (
            isinstance(level, bool)
            or not isinstance(level, int)
            or not 1 <= level <= len(self.hints)
        ):
            count = f"{len(self.hints)} hint" + ("s" if len(self.hints) > 1 else "")
            _say("info", f"{self.name} has {count}: ask for one of 1..{len(self.hints)}.")
            return
        more = f"\n(Run {self.name}.hint() again for more.)" if level < len(self.hints) else ""
        _say(
            "info",
            f"Hint {level} of {len(self.hints)} for {self.name}: {self.hints[level - 1]}{more}",
        )

    def solution(self) -> None:
        """Print a complete answer: the exercise cell, filled in."""
        _say("info", f"Solution for {self.name}:\n{self.solution_code}")

    # ------------------------------------------------------------------ for the course

    @property
    def check_call(self) -> str:
        """The last line of the exercise cell: ``labNN.qK.check(answers..., given...)``."""
        return f"{self.name}.check({', '.join(self.answers + self.given)})"

    @property
    def solution_code(self) -> str:
        """The reference solution as notebook code: the solution's body, then the check call."""
        body = _body_without_return(self.solution_fn)
        if not body:
            return self.check_call
        gap = "\n\n\n" if body.splitlines()[-1].startswith((" ", "\t")) else "\n"
        return f"{body}{gap}{self.check_call}"

    def __repr__(self) -> str:
        """What the notebook shows for ``lab01.q1`` alone: how to use it."""
        return f"<exercise {self.name}: call .check(answer), .hint() or .solution()>"


# --------------------------------------------------------------------------- a numeric question


class _Any:
    """The ANY of a Mistake's tuple: that answer may be anything."""

    def __repr__(self) -> str:
        """Shown by name."""
        return "ANY"


ANY = _Any()
_EXACT = {"rel": 0.0, "abs": 0.0}
_FAR = object()  # far_off not given: 3 x truth + 1


@dataclass(frozen=True)
class Mistake:
    """A common mistake of a Numeric question, declared once: the checker tells its message
    when an answer matches it, and the tests plant it as a wrong answer.

    ``value`` is what the mistake gives: a number, a tuple for several answers (ANY where an
    answer does not matter), or a function of the question's given notebook variables (by
    parameter name) that returns it. It matches at ``tolerance`` (``dict(rel=..., abs=...)``;
    by default a relative 1e-3, exact for whole numbers). ``when``, a test of the answers (by
    parameter name: the answer names, ``truth``, the given variables), matches instead of the
    value, which is then the example planted. ``message`` is a template (see Numeric).
    """

    name: str
    value: Any
    message: str
    when: Callable[..., bool] | None = None
    tolerance: dict | None = None


class Numeric(Question):
    """A question whose answers are one or a few numbers: it states its truth, tolerance and
    named mistakes once; its checker and its planted wrong answers are generated from them.

    ``truth`` is a number (a tuple for several answers), or a function of the given notebook
    variables (by parameter name) that returns it, and may raise Wrong when a given variable
    is not what the question reads. One value for every answer, or a tuple of one per answer:
    ``what`` (the answer in the learner's words, "the loss"), ``whole`` (a whole number),
    ``tolerance`` (around the truth; exact for whole numbers, else a relative 1e-6, unless
    given), ``close_message`` (for the truth rounded, or cut, to too few digits, two of them
    significant at least) and ``wrong_message``.

    The checker refuses what is not a number in want_number's (want_int's) words, after calling
    a function the learner wrote in its place; accepts every answer within tolerance of the
    truth; tells the message of the first mistake that matches, then a close message, then the
    wrong message. The truth comes first, so no mistake refuses a right answer; a mistake
    within tolerance of the truth is refused when declared (on ``validate(context)`` if it
    needs computing).

    Messages are str.format templates over the answer names, ``truth``, ``what`` and ``value``
    (of the answer a message is about; the first for a mistake), and the names returned by
    ``facts`` (a function of the same names and the given variables, for the numbers a message
    needs). ``success`` is a template, or a function of those names.

    Planted wrong answers are generated: each mistake (the truth where ANY), the truth rounded
    too far (with a close message), the truth as text, and ``far_off`` (3 x truth + 1 unless
    given; None when every wrong answer is a declared mistake). The truth as a NumPy float32 is
    a generated right answer; ``wrong`` and ``right`` add hand-written cases.
    """

    def __init__(
        self,
        *,
        answers: Sequence[str],
        truth: Any,
        hints: Sequence[str],
        solution: Callable[..., Any],
        what: str | tuple[str, ...] | None = None,
        whole: bool | tuple[bool, ...] = False,
        tolerance: dict | tuple[dict, ...] | None = None,
        mistakes: Sequence[Mistake] = (),
        close_message: str | tuple[str | None, ...] | None = None,
        wrong_message: str | tuple[str, ...] = "{value:g} is not it",
        success: str | Callable[..., str] | None = None,
        facts: Callable[..., dict] | None = None,
        far_off: Any = _FAR,
        wrong: Sequence[Planted] = (),
        right: Sequence[Alternative] = (),
        given: Sequence[str] = (),
        blank_message: str = "replace ____ with your answer, then run the cell again.",
    ) -> None:
        """Declare the question (the parameters are described on the class)."""
        n = len(answers)
        self.name, self.answers, self.given = "unbound", tuple(answers), tuple(given)
        self._truth, self.mistakes = truth, list(mistakes)
        self._what = _each(tuple(answers) if what is None else what, n, "what")
        self._whole = _each(whole, n, "whole")
        tolerance = _each(tolerance, n, "tolerance")
        self._tolerance = [
            t if t is not None else (_EXACT if w else {"rel": 1e-6})
            for t, w in zip(tolerance, self._whole, strict=True)
        ]
        self._close = _each(close_message, n, "close_message")
        self._wrong_message = _each(wrong_message, n, "wrong_message")
        self._success, self._facts, self._far_off = success, facts, far_off
        for tol in self._tolerance + [m.tolerance for m in self.mistakes if m.tolerance]:
            if not set(tol) <= {"rel", "abs"}:
                raise ValueError(f"a tolerance is dict(rel=..., abs=...), got {tol}")
        super().__init__(
            answers=answers,
            checker=self._judge,
            hints=hints,
            solution=solution,
            wrong=self._planted() + list(wrong),
            right=[
                Alternative(
                    "the truth as a NumPy float32 (as a float32 tensor rounds it)",
                    self._of_given(
                        lambda given: tuple(
                            np.int64(t) if w else np.float32(t)
                            for t, w in zip(self._truth_of(given), self._whole, strict=True)
                        )
                    ),
                ),
                *right,
            ],
            given=given,
            blank_message=blank_message,
        )
        if not callable(truth):
            self._validate({}, constants_only=True)

    # ------------------------------------------------------------------ the checker

    def _judge(self, *args: Any) -> str | None:
        n = len(self.answers)
        given = dict(zip(self.given, args[n:], strict=True))
        truth = self._truth_of(given)  # first: it may say that a given variable is not right
        values = tuple(self._number(i, a) for i, a in enumerate(args[:n]))
        ok = [self._near(values[i], truth[i], self._tolerance[i]) for i in range(n)]
        pool = {**given, **dict(zip(self.answers, values, strict=True)), "truth": _one(truth)}
        if all(ok):
            if callable(self._success):
                return _call(self._success, self._fields(pool, 0))
            return self._tell(self._success, pool, 0) if self._success else None
        for mistake in self.mistakes:
            if self._matches(mistake, values, pool, given):
                raise Wrong(self._tell(mistake.message, pool, 0))
        for i in range(n):  # every close answer first: a rounding is the likelier slip
            if not ok[i] and self._close[i] and _rounded(values[i], truth[i]):
                raise Wrong(self._tell(self._close[i], pool, i))
        i = ok.index(False)
        raise Wrong(self._tell(self._wrong_message[i], pool, i))

    def _number(self, i: int, answer: Any) -> float:
        if inspect.isfunction(answer):  # a learner who wrapped the computation in a def
            answer = call_learner(answer, what=f"the function given as {self.answers[i]}")
        want = want_int if self._whole[i] else want_number
        return want(answer, self._what[i])

    @staticmethod
    def _near(value: float, target: float, tolerance: dict) -> bool:
        return math.isclose(
            value, target, rel_tol=tolerance.get("rel", 0.0), abs_tol=tolerance.get("abs", 0.0)
        )

    def _matches(self, mistake: Mistake, values: tuple, pool: dict, given: dict) -> bool:
        if mistake.when is not None:
            return bool(_call(mistake.when, pool))
        target = self._value_of(mistake, given)
        return all(
            t is ANY or self._near(v, t, self._mistake_tolerance(mistake, i))
            for i, (v, t) in enumerate(zip(values, target, strict=True))
        )

    def _mistake_tolerance(self, mistake: Mistake, i: int) -> dict:
        if mistake.tolerance is not None:
            return mistake.tolerance
        return _EXACT if self._whole[i] else {"rel": 1e-3}

    def _fields(self, pool: dict, i: int, template: str | None = None) -> dict:
        fields = {**pool, "what": self._what[i], "value": pool[self.answers[i]]}
        # Facts only when the message reads one: they may not exist for every answer (an
        # interval for a count out of range, say).
        if self._facts is not None and (template is None or _field_names(template) - set(fields)):
            fields.update(_call(self._facts, pool))
        return fields

    def _tell(self, template: str, pool: dict, i: int) -> str:
        return template.format(**self._fields(pool, i, template))

    # ------------------------------------------------------------------ the declaration

    def _truth_of(self, given: dict) -> tuple:
        truth = _call(self._truth, given) if callable(self._truth) else self._truth
        return tuple(self._as_number(v, i) for i, v in enumerate(_tuple(truth, len(self.answers))))

    def _value_of(self, mistake: Mistake, given: dict) -> tuple:
        value = _call(mistake.value, given) if callable(mistake.value) else mistake.value
        return tuple(
            v if v is ANY else self._as_number(v, i)
            for i, v in enumerate(_tuple(value, len(self.answers)))
        )

    def _as_number(self, value: Any, i: int) -> float | int:
        value = _plain(value)
        return int(value) if self._whole[i] and float(value).is_integer() else float(value)

    def _example(self, mistake: Mistake, given: dict) -> tuple:
        truth = self._truth_of(given)
        value = self._value_of(mistake, given)
        return tuple(t if v is ANY else v for v, t in zip(value, truth, strict=True))

    def _of_given(self, fn: Callable[[dict], tuple]) -> Callable[..., tuple]:
        """``fn(given)`` as a function of the given variables by name, as resolve() calls it."""

        def answers(**given: Any) -> tuple:
            return fn(given)

        kind = inspect.Parameter.KEYWORD_ONLY
        answers.__signature__ = inspect.Signature(
            [inspect.Parameter(name, kind) for name in self.given]
        )
        return answers

    def _planted(self) -> list[Planted]:
        cases = [
            Planted(
                f"mistake: {m.name}",
                self._of_given(lambda given, m=m: self._example(m, given)),
                _pattern(m.message),
            )
            for m in self.mistakes
        ]
        close = [i for i, c in enumerate(self._close) if c]
        if close:
            cases.append(
                Planted(
                    "the truth rounded too far",
                    self._of_given(lambda given: self._rounded_truth(close[0], given)),
                    _pattern(self._close[close[0]]),
                )
            )
        cases.append(
            Planted(
                "the truth as text",
                self._of_given(lambda given: _as_text(self._truth_of(given))),
                "not the text",
            )
        )
        if self._far_off is not None:
            first = 0  # the message of the first answer that is far off
            if self._far_off is not _FAR and not callable(self._far_off):
                far = _tuple(self._far_off, len(self.answers))
                first = next(i for i, v in enumerate(far) if v is not ANY)
            cases.append(
                Planted(
                    "far off",
                    self._of_given(self._far),
                    _pattern(self._wrong_message[first]),
                )
            )
        return cases

    def _far(self, given: dict) -> tuple:
        truth = self._truth_of(given)
        if self._far_off is _FAR:
            return tuple(3 * t + 1 for t in truth)
        far = _call(self._far_off, given) if callable(self._far_off) else self._far_off
        far = _tuple(far, len(self.answers))
        return tuple(t if v is ANY else v for v, t in zip(far, truth, strict=True))

    def _rounded_truth(self, i: int, given: dict) -> tuple:
        """The truth with answer ``i`` rounded to the most digits that are still too few."""
        truth = self._truth_of(given)
        t, tolerance = truth[i], self._tolerance[i]
        for digits in range(12, -10, -1):
            for short in (round(t, digits), math.trunc(t * 10**digits) / 10**digits):
                if _rounded(short, t) and not self._near(short, t, tolerance):
                    return truth[:i] + (short,) + truth[i + 1 :]
        raise ValueError(f"{self.name}: {truth[i]} has no rounding outside the tolerance")

    def validate(self, context: dict[str, Any]) -> None:
        """Raise ValueError if a declared mistake could never be told: its value lies within
        tolerance of the truth, its ``when`` holds for the truth, or fails for its example.
        ``context`` holds the given notebook variables (the tests pass example_context's)."""
        self._validate({name: context[name] for name in self.given}, constants_only=False)

    def _validate(self, given: dict, constants_only: bool) -> None:
        truth = self._truth_of(given)
        as_answers = {**given, **dict(zip(self.answers, truth, strict=True)), "truth": _one(truth)}
        for m in self.mistakes:
            where = f"{self.name}: mistake {m.name!r}"
            if constants_only and (
                callable(m.value) or (m.when and not set(needs(m.when)) <= set(as_answers))
            ):
                continue  # needs computing, or notebook variables: validate(context) checks it
            example = self._example(m, given)
            if m.when is not None:
                if _call(m.when, as_answers):
                    raise ValueError(f"{where}: its test holds for the truth {truth}")
                pool = {**as_answers, **dict(zip(self.answers, example, strict=True))}
                if not _call(m.when, pool):
                    raise ValueError(f"{where}: its test fails for its own example {example}")
                continue
            target = self._value_of(m, given)
            if all(t is ANY for t in target):
                raise ValueError(f"{where}: a mistake needs a value for at least one answer")
            if all(
                t is ANY or self._near(t, truth[i], self._tolerance[i])
                for i, t in enumerate(target)
            ):
                raise ValueError(f"{where} is within tolerance of the truth {truth}")


def _each(value: Any, n: int, name: str) -> list:
    """One value per answer: a tuple gives one each, anything else is shared."""
    if isinstance(value, tuple):
        if len(value) != n:
            raise ValueError(f"{name} has {len(value)} entries for {n} answers")
        return list(value)
    return [value] * n


def _tuple(value: Any, n: int) -> tuple:
    if n == 1:
        return (value,)
    if not isinstance(value, tuple | list) or len(value) != n:
        raise ValueError(f"a truth or a mistake of {n} answers is a tuple of {n}, got {value!r}")
    return tuple(value)


def _as_text(truth: tuple) -> tuple:
    return (str(truth[0]), *truth[1:])


def _one(truth: tuple) -> Any:
    return truth[0] if len(truth) == 1 else truth


def _call(fn: Callable, pool: dict[str, Any]) -> Any:
    """``fn`` called with the names it reads (its parameter names) taken from ``pool``."""
    missing = [name for name in needs(fn) if name not in pool]
    if missing:
        raise TypeError(f"{fn.__name__} reads {missing}, which this question does not have")
    return fn(**{name: pool[name] for name in needs(fn)})


def _field_names(template: str) -> set[str]:
    """The names a template reads: ``loss`` in "{loss:.4f}", ``truth`` in "{truth[0]}"."""
    fields = [field for _, field, _, _ in string.Formatter().parse(template) if field]
    return {re.split(r"[.\[]", field, maxsplit=1)[0] for field in fields}


def _pattern(template: str) -> str:
    """What a planted case expects of a message: every literal part of its template, in order,
    so that the case fails if another message (even one sharing a phrase) is told instead."""
    parts = [text for text, *_ in string.Formatter().parse(template) if text]
    if sum(len(p.strip()) for p in parts) < 8:
        raise ValueError(f"a message needs words of its own, not only fields: {template!r}")
    return "(?s)" + ".*?".join(re.escape(p) for p in parts)


def _rounded(value: float, truth: float) -> bool:
    """True if ``value`` is ``truth`` written with fewer digits, rounded or cut, two of them
    significant at least (0.37 or 0.36 for 0.3670; not 0.3712, and not 0.4, which many a wrong
    number rounds to as well)."""
    if value == 0 or truth == 0:
        return False
    digits = next((d for d in range(-10, 16) if round(value, d) == value), None)
    if digits is None:
        return False
    unit = 10.0**-digits
    if 10 * unit > abs(truth) * (1 + 1e-9):
        return False
    cut = math.trunc(truth / unit) * unit
    return abs(value - truth) <= unit / 2 * (1 + 1e-9) or math.isclose(value, cut, rel_tol=1e-9)


def _function_node(fn: Callable) -> tuple[ast.FunctionDef, list[str]]:
    lines = textwrap.dedent(inspect.getsource(fn)).splitlines()
    node = ast.parse("\n".join(lines)).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise TypeError(f"a solution must be a def, got {type(node).__name__}")
    return node, lines


def _returned_names(fn: Callable) -> list[str]:
    node, _ = _function_node(fn)
    last = node.body[-1]
    if not isinstance(last, ast.Return) or last.value is None:
        raise ValueError(f"solution {fn.__name__} must end with `return <answer names>`")
    values = last.value.elts if isinstance(last.value, ast.Tuple) else [last.value]
    if not all(isinstance(v, ast.Name) for v in values):
        raise ValueError(f"solution {fn.__name__} must return plain names, not expressions")
    return [v.id for v in values]


def _body_without_return(fn: Callable) -> str:
    node, lines = _function_node(fn)
    body = node.body
    if isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # a docstring is not part of the cell
    body = body[:-1]  # the final return
    if not body:
        return ""
    first, last = body[0].lineno - 1, body[-1].end_lineno
    return textwrap.dedent("\n".join(lines[first:last])).strip("\n")


def bind(namespace: dict[str, Any]) -> list[Question]:
    """Name every Question in an exercise module after the module and its variable
    (``lab01.q4``), check that each solution returns the declared answers, and list them."""
    module = namespace["__name__"].rsplit(".", 1)[-1]
    questions = []
    for var, value in namespace.items():
        if isinstance(value, Question):
            value.name = f"{module}.{var}"
            returned = _returned_names(value.solution_fn)
            if tuple(returned) != value.answers:
                raise ValueError(
                    f"{value.name}: the solution returns {returned}, the question declares "
                    f"answers {list(value.answers)}"
                )
            questions.append(value)
    return questions
