"""Checked exercises, in the manner of Kaggle's learntools: each question is one declaration.

Used by: every exercise module (such as labkit/exercises/lab00.py; CONTRIBUTING.md,
"Exercises"), labkit.numeric, labkit/__init__.py (which gives notebooks the blank ``____``) and
tests/test_exercises.py, which runs every declaration.

A ``Question`` names the variables the learner fills in (``answers``) and those the check reads
from the notebook (``given``), its checker, graded hints (a nudge first, never the answer), its
solution as real code (a function whose body is the completed exercise cell, so ruff lints it),
the wrong answers planted to prove the checker fails on them, and other right answers (computed
another valid way) to prove it does not fail on those. The tests run every declaration; adding a
question touches its exercise module only.

A ``Numeric`` question (``labkit.numeric``: learntools' ``EqualityCheckProblem``, with named
mistakes) is a Question whose answers are one or a few numbers: it states its truth, its
tolerance and its common mistakes once, and both its checker and its planted wrong answers come
from that.

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
import reprlib
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any


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
    value = as_plain(value)
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
    value = as_plain(value)
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
    plain = as_plain(value)
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
    plain = as_plain(value)  # np.str_("gp"), read from an array of names, is the name "gp"
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


def as_plain(value: Any) -> Any:
    """A learner's answer as plain Python: a one-element tensor (of any shape) or a NumPy
    scalar as a Python number or string; anything else unchanged."""
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
