"""A numeric question (learntools' ``EqualityCheckProblem``, with named mistakes): a Question
whose answers are one or a few numbers states its truth, its tolerance and its common mistakes
once, and both its checker and its planted wrong answers come from that.

Used by: the exercise modules (such as labkit/exercises/lab00.py) and tests/test_check.py.
"""

from __future__ import annotations

import inspect
import math
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.check import (
    Alternative,
    Planted,
    Question,
    Wrong,
    as_plain,
    call_learner,
    needs,
    want_int,
    want_number,
)


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
        value = as_plain(value)
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
