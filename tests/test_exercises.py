"""Every question, as it declares itself: its solution passes (called, and run as the notebook
cell it renders to), every planted wrong answer fails with its message, every alternative right
answer passes, a blank is "not attempted", its hints never give the solution away, and no
answer, however odd, crashes its checker or passes when it can never be right. A Numeric
question's planted and alternative answers are generated from its declaration, so they run
here like the hand-written ones; its declared mistakes are checked against its truth too.

Nothing here names a question: adding one to an exercise module adds its cases.
"""

import importlib
import pkgutil

import pytest

import labkit.exercises
from labkit.check import ExerciseFailed, Question, ____, needs, resolve
from labkit.numeric import Numeric

MODULES = [
    importlib.import_module(f"labkit.exercises.{m.name}")
    for m in pkgutil.iter_modules(labkit.exercises.__path__)
    if m.name.startswith("lab")
]
QUESTIONS = [(module, q) for module in MODULES for q in module.QUESTIONS]


def _cases(kind):
    return [
        pytest.param(module, q, i, id=f"{q.name}-{i}-{case.why}")
        for module, q in QUESTIONS
        for i, case in enumerate(getattr(q, kind))
    ]


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")


_CONTEXTS = {}


def context(module, data, baseline):
    """The notebook variables a question may read: shared ones, and the module's own."""
    if module.__name__ not in _CONTEXTS:
        extra = module.example_context() if hasattr(module, "example_context") else {}
        _CONTEXTS[module.__name__] = {"data": data, "net": baseline, **extra}
    return _CONTEXTS[module.__name__]


def test_every_notebook_has_an_exercise_module_with_questions():
    assert [m.__name__.rsplit(".", 1)[-1] for m in MODULES] == [
        f"lab{i:02d}" for i in range(len(MODULES))
    ]
    for module in MODULES:
        assert module.QUESTIONS and all(isinstance(q, Question) for q in module.QUESTIONS)


@pytest.mark.parametrize("module,question", QUESTIONS, ids=[q.name for _, q in QUESTIONS])
def test_the_solution_passes_called_and_as_the_cell_it_renders(module, question, data, baseline):
    ctx = context(module, data, baseline)
    answers = question.solution_fn(**{name: ctx[name] for name in needs(question.solution_fn)})
    answers = answers if isinstance(answers, tuple) and len(question.answers) > 1 else (answers,)
    question.check(*answers, *(ctx[name] for name in question.given))
    assert question.passed
    namespace = {**vars(module), **ctx, module.__name__.rsplit(".", 1)[-1]: module}
    exec(question.solution_code, namespace)
    assert question.passed


@pytest.mark.parametrize("module,question,index", _cases("wrong"))
def test_a_planted_wrong_answer_fails_with_its_message(module, question, index, data, baseline):
    case = question.wrong[index]
    args = resolve(case.answers, context(module, data, baseline))
    if len(args) == len(question.answers):  # the planted answer does not replace the given
        args = args + tuple(context(module, data, baseline)[g] for g in question.given)
    with pytest.raises(ExerciseFailed, match=case.says):
        question.check(*args)


@pytest.mark.parametrize("module,question,index", _cases("right"))
def test_an_alternative_right_answer_passes(module, question, index, data, baseline):
    ctx = context(module, data, baseline)
    args = resolve(question.right[index].answers, ctx)
    if len(args) == len(question.answers):
        args = args + tuple(ctx[g] for g in question.given)
    question.check(*args)
    assert question.passed


@pytest.mark.parametrize("module,question", QUESTIONS, ids=[q.name for _, q in QUESTIONS])
def test_a_blank_is_not_an_answer(module, question, data, baseline):
    ctx = context(module, data, baseline)
    blanks = (____,) * len(question.answers) + tuple(ctx[g] for g in question.given)
    with pytest.raises(ExerciseFailed, match="not attempted"):
        question.check(*blanks)


@pytest.mark.parametrize("module,question", QUESTIONS, ids=[q.name for _, q in QUESTIONS])
def test_a_function_that_returns_the_blank_is_not_attempted(module, question, data, baseline):
    ctx = context(module, data, baseline)
    solved = question.solution_fn(**{n: ctx[n] for n in needs(question.solution_fn)})
    if not callable(solved):
        pytest.skip("the answer is not a function")
    stub = lambda *args, **kwargs: ____  # noqa: E731  (the notebook's stub: return ____)
    with pytest.raises(ExerciseFailed, match="not attempted"):
        question.check(stub, *(ctx[g] for g in question.given))


@pytest.mark.parametrize("module,question", QUESTIONS, ids=[q.name for _, q in QUESTIONS])
def test_hints_are_graded_and_never_give_the_solution_away(module, question):
    assert question.hints, question.name
    code = [line.strip() for line in question.solution_code.splitlines()]
    code = [
        line for line in code if len(line) > 12 and not line.startswith(("def ", "return", "lab"))
    ]
    for hint in question.hints:
        for line in code:
            assert line not in hint, f"{question.name}: a hint quotes the solution line {line!r}"


@pytest.mark.parametrize("module,question", QUESTIONS, ids=[q.name for _, q in QUESTIONS])
def test_every_question_plants_at_least_two_wrong_answers(module, question):
    assert len(question.wrong) >= 2


NUMERIC = [(module, q) for module, q in QUESTIONS if isinstance(q, Numeric)]


@pytest.mark.parametrize("module,question", NUMERIC, ids=[q.name for _, q in NUMERIC])
def test_no_declared_mistake_is_the_truth(module, question, data, baseline):
    """Checked on the example context: a mistake within tolerance of the truth (or whose test
    holds for it) could never be told, since the truth is judged first."""
    question.validate(context(module, data, baseline))


def test_nothing_is_echoed_under_an_exercise_cell(monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_STRICT_CHECKS")
    from labkit.exercises import lab01

    assert lab01.q5.check(2.0) is None  # Jupyter echoes a returned value under the message
    assert "Not yet" in capsys.readouterr().out
    assert lab01.q5.passed is False


# Answers a learner may pass by mistake. None of them is right for any question: the checker
# must say so (passed is False), not only keep from crashing. Numbers that are never right
# today (-1, 2.5) are kept out of NEVER_RIGHT: a new question could have them as its answer.
NEVER_RIGHT = [
    None,
    "text",
    [1, [2, 3]],
    {"a": 1},
    float("nan"),
    (),
    object(),
    lambda *args, **kwargs: None,
    lambda *args, **kwargs: "text",
    lambda *args, **kwargs: [[1, 2]],
]
PLAIN_NUMBERS = [-1, 2.5]


def _weird_cases():
    import torch

    never_right = [*NEVER_RIGHT, torch.zeros(2), torch.tensor([float("nan")])]
    values = [(v, True) for v in never_right] + [(v, False) for v in PLAIN_NUMBERS]
    return [
        pytest.param(module, q, value, never, id=f"{q.name}-{i}")
        for module, q in QUESTIONS
        for i, (value, never) in enumerate(values)
    ]


@pytest.mark.parametrize("module,question,value,never_right", _weird_cases())
def test_no_answer_makes_a_checker_crash(module, question, value, never_right, data, baseline):
    """Whatever a learner passes, the checker answers with a verdict, never a traceback; and
    an answer that can never be right is refused."""
    ctx = context(module, data, baseline)
    answers = (value,) * len(question.answers)
    try:
        question.check(*answers, *(ctx[g] for g in question.given))
    except ExerciseFailed:
        pass  # a wrong or blank verdict, raised because the tests run in strict mode
    if never_right:
        assert question.passed is False, f"{question.name} accepted {value!r}"


# Notebook variables a learner may pass by mistake in place of the right one: never right.
NEVER_RIGHT_GIVEN = [None, "text", [1, 2], {"a": 1}, {0.01: 3}, {"x": [1, 2]}, 3, {"x": {"y": 1}}]


def _weird_given_cases():
    return [
        pytest.param(module, q, value, id=f"{q.name}-given-{i}")
        for module, q in QUESTIONS
        if q.given
        for i, value in enumerate(NEVER_RIGHT_GIVEN)
    ]


@pytest.mark.parametrize("module,question,value", _weird_given_cases())
def test_no_notebook_variable_makes_a_checker_crash(module, question, value, data, baseline):
    """A learner may pass the wrong notebook variable as the second argument, too: a verdict,
    never a traceback, and never a pass, even with right answers beside it."""
    if question.right:
        answers = resolve(question.right[0].answers, context(module, data, baseline))
        answers = answers[: len(question.answers)]
    else:
        answers = (1,) * len(question.answers)
    try:
        question.check(*answers, *([value] * len(question.given)))
    except ExerciseFailed:
        pass
    assert question.passed is False, f"{question.name} passed with {value!r} as the notebook's"
