"""The exercise machinery on its own: a Question's verdicts and hints, the answer helpers, a
Numeric question's generated checker and planted cases, and the docstrings of the machinery.
"""

import ast
import re
from pathlib import Path

import pytest

from labkit.check import (
    ExerciseFailed,
    NotAttempted,
    Planted,
    Question,
    Wrong,
    ____,
    bind,
    is_placeholder,
    resolve,
    want_int,
    want_number,
)
from labkit.claims import ClaimFailed, expect, expect_between


def _checker(answer):
    if answer == "blank inside":
        raise NotAttempted
    if answer != 42:
        raise Wrong(f"{answer} is not the answer")
    return "well done"


def _solution():
    answer = 6 * 7
    return answer


q1 = Question(
    answers=["answer"],
    checker=_checker,
    hints=["a product of two small numbers", "six times seven"],
    solution=_solution,
    wrong=[Planted("off by one", (41,), "41 is not"), Planted("zero", (0,), "0 is not")],
)
bind({"__name__": "labkit.exercises.demo", "q1": q1})


def test_bind_names_questions_after_their_module_and_variable():
    assert q1.name == "demo.q1"
    assert q1.check_call == "demo.q1.check(answer)"
    assert q1.solution_code == "answer = 6 * 7\ndemo.q1.check(answer)"


def test_a_solution_must_return_the_declared_answers():
    def bad():
        x = 1
        return x

    q = Question(answers=["y"], checker=_checker, hints=["h"], solution=bad, wrong=q1.wrong)
    with pytest.raises(ValueError, match="returns"):
        bind({"__name__": "labkit.exercises.demo", "q": q})


def test_placeholder_is_recognised_anywhere_in_an_answer():
    assert is_placeholder(____) and is_placeholder([1, ____]) and is_placeholder({"a": ____})
    assert not is_placeholder(0) and not is_placeholder([1, 2])


def test_a_blank_is_reported_kindly_not_as_a_failure(capsys, monkeypatch):
    monkeypatch.delenv("LABKIT_STRICT_CHECKS", raising=False)
    assert q1.check(____) is None and q1.passed is False
    assert "Not attempted" in capsys.readouterr().out
    q1.check("blank inside")
    assert "Not attempted" in capsys.readouterr().out


def test_right_and_wrong_answers_say_so_and_return_nothing(capsys, monkeypatch):
    monkeypatch.delenv("LABKIT_STRICT_CHECKS", raising=False)
    assert q1.check(42) is None and q1.passed is True
    assert "Correct: demo.q1. well done" in capsys.readouterr().out
    q1.check(41)
    out = capsys.readouterr().out
    assert q1.passed is False
    assert "Not yet" in out and "41 is not the answer" in out and "demo.q1.hint()" in out


def test_a_wrong_number_of_arguments_is_explained(capsys, monkeypatch):
    monkeypatch.delenv("LABKIT_STRICT_CHECKS", raising=False)
    q1.check(1, 2)
    assert "call demo.q1.check(answer)" in capsys.readouterr().out
    q1.check(answer=42)  # by name works too
    assert q1.passed
    q1.check(wrong_name=42)
    assert "call demo.q1.check(answer)" in capsys.readouterr().out


def test_strict_mode_raises_on_wrong_or_missing_answers(monkeypatch):
    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")
    q1.check(42)
    with pytest.raises(ExerciseFailed, match="41 is not"):
        q1.check(41)
    with pytest.raises(ExerciseFailed, match="not attempted"):
        q1.check(____)


def test_hints_come_one_level_at_a_time_and_the_solution_prints(capsys):
    q = Question(
        answers=["answer"],
        checker=_checker,
        hints=["nudge", "detail"],
        solution=_solution,
        wrong=q1.wrong,
    )
    q.hint()
    q.hint()
    q.hint()  # stays on the last level
    q.solution()
    out = capsys.readouterr().out
    assert "Hint 1 of 2" in out and "nudge" in out and out.count("detail") == 2
    assert "answer = 6 * 7" in out
    q.hint(3)  # there is no third hint: a kind line, not an error
    assert "has 2 hints" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["3", 3.5, True, None, [3]])
def test_answer_helpers_refuse_what_is_not_a_number(value):
    with pytest.raises(Wrong):
        want_int(value, "a count")
    if not isinstance(value, float) or value == value:  # 3.5 is a fine number
        if value != 3.5:
            with pytest.raises(Wrong):
                want_number(value, "a ratio")


def test_answer_helpers_accept_tensors_and_numpy_scalars():
    import numpy as np
    import torch

    assert want_int(np.int64(3), "n") == 3 and want_int(torch.tensor(3), "n") == 3
    assert want_int(461.0, "n") == 461  # a whole number written as a float
    with pytest.raises(Wrong, match="of shape \\(450,\\)"):  # not 450 numbers in the message
        want_int(torch.zeros(450), "n")
    assert want_number(torch.tensor([0.5]), "x") == 0.5 and want_number(np.float32(2), "x") == 2
    with pytest.raises(NotAttempted):
        want_number(____, "x")


def test_expect_helpers():
    expect(True, "fine")
    with pytest.raises(ClaimFailed, match="broken"):
        expect(False, "broken")
    with pytest.raises(TypeError, match="condition"):
        expect("yes", "a string is not a condition")
    assert expect_between("acc", 0.5, 0, 1) is None
    with pytest.raises(ClaimFailed, match="acc = 2, expected between 0 and 1"):
        expect_between("acc", 2, 0, 1)
    with pytest.raises(ClaimFailed):
        expect_between("acc", float("nan"), 0, 1)


def test_want_choice_refuses_arrays_and_other_types_kindly():
    import numpy as np

    from labkit.check import want_choice

    assert want_choice("gp", ["gp", "tt"], "the strategy") == "gp"
    for value in (np.array(["gp"]), ["gp"], 1, None):
        with pytest.raises(Wrong, match="one of"):
            want_choice(value, ["gp", "tt"], "the strategy")


# --------------------------------------------------------------------------- Numeric questions


def _solution_ratio():
    ratio = 0.1 / 0.3
    return ratio


def _ratio(**changes):
    """A small Numeric question: the truth 1/3, two named mistakes and a rounding message."""
    from labkit.numeric import Mistake, Numeric

    declared = dict(
        answers=["ratio"],
        what="the ratio",
        truth=1 / 3,
        tolerance=dict(rel=1e-3),
        mistakes=[
            Mistake("inverted", 3.0, "{ratio:g} is inverted: divide the small by the large"),
            Mistake(
                "negative",
                -1,
                "{ratio:g} is below zero: a ratio of sizes is positive",
                when=lambda ratio: ratio < 0,
            ),
        ],
        close_message="{ratio} is close, but rounded too far",
        wrong_message="{ratio:.4f} is not the ratio of {small} to {large}",
        facts=lambda: {"small": 0.1, "large": 0.3},
        success="{truth:.4f}, a third",
        hints=["divide"],
        solution=_solution_ratio,
    )
    q = Numeric(**{**declared, **changes})
    bind({"__name__": "labkit.exercises.demo", "q": q})
    return q


def _verdict(q, *answers):
    try:
        q.check(*answers)
    except ExerciseFailed as failed:
        return str(failed)
    return "passed" if q.passed else "?"


def test_a_numeric_question_judges_by_its_declaration(monkeypatch):
    import numpy as np
    import torch

    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")
    q = _ratio()
    for right in (1 / 3, 0.3334, np.float32(1 / 3), torch.tensor(1 / 3), torch.tensor([1 / 3])):
        assert _verdict(q, right) == "passed", right
    assert "is inverted" in _verdict(q, 3.0)
    assert "is inverted" in _verdict(q, 3.002)  # a mistake matches at its own tolerance
    assert "below zero" in _verdict(q, -0.5)  # a mistake stated as a test of the answer
    assert "close, but rounded" in _verdict(q, 0.33)  # 1/3 rounded: told so
    assert "not the ratio" in _verdict(q, 0.3)  # one digit: a wrong number may round to it too
    assert "not the ratio of 0.1 to 0.3" in _verdict(q, 0.3412)  # near, but not a rounding
    assert "not the ratio" in _verdict(q, 1.0)  # a rounding to no significant digit is not
    assert "not the text '0.33'" in _verdict(q, "0.33")
    assert "the ratio is a number, got NoneType" in _verdict(q, None)
    assert "finite" in _verdict(q, float("nan"))
    assert "not attempted" in _verdict(q, ____)
    assert "passed" == _verdict(q, lambda: 1 / 3)  # a function of no arguments is called
    assert "not attempted" in _verdict(q, lambda: ____)


def test_the_truth_is_judged_before_any_mistake(monkeypatch):
    from labkit.numeric import Mistake

    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")
    # A mistake at 0.34 with a wide tolerance covers the truth too: the truth still wins.
    wide = Mistake("wide", 0.34, "{ratio} is the wide mistake", tolerance=dict(rel=0.05))
    q = _ratio(mistakes=[wide])
    assert _verdict(q, 1 / 3) == "passed"
    assert "wide mistake" in _verdict(q, 0.345)


def test_a_mistake_that_is_the_truth_is_refused_when_declared():
    from labkit.numeric import Mistake

    with pytest.raises(ValueError, match="within tolerance of the truth"):
        _ratio(mistakes=[Mistake("same", 0.33335, "{ratio} is the same number")])
    with pytest.raises(ValueError, match="holds for the truth"):
        _ratio(mistakes=[Mistake("any", 2, "{ratio} is positive", when=lambda ratio: ratio > 0)])
    with pytest.raises(ValueError, match="fails for its own example"):
        _ratio(mistakes=[Mistake("bad", 2, "{ratio} is negative", when=lambda ratio: ratio < 0)])
    with pytest.raises(ValueError, match="words of its own"):
        _ratio(wrong_message="{ratio}")
    # A truth computed from notebook variables is checked on an example context instead.
    q = _ratio(
        truth=lambda scale: 1 / scale,
        given=["scale"],
        mistakes=[Mistake("same", lambda scale: 1.0001 / scale, "{ratio} is the same number")],
    )
    with pytest.raises(ValueError, match="within tolerance of the truth"):
        q.validate({"scale": 3})


def test_a_numeric_question_plants_its_mistakes_and_the_usual_slips(monkeypatch):
    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")
    q = _ratio()
    assert [case.why for case in q.wrong] == [
        "mistake: inverted",
        "mistake: negative",
        "the truth rounded too far",
        "the truth as text",
        "far off",
    ]
    planted = {case.why: resolve(case.answers, {}) for case in q.wrong}
    assert planted["mistake: inverted"] == (3.0,) and planted["mistake: negative"] == (-1,)
    assert planted["the truth rounded too far"] == (0.33,)  # the most digits still too few
    assert planted["far off"] == (2.0,)  # 3 x truth + 1
    for case in q.wrong:
        with pytest.raises(ExerciseFailed, match=case.says):
            q.check(*resolve(case.answers, {}))
    for case in q.right:  # the truth as float32, as a float32 tensor would hold it
        q.check(*resolve(case.answers, {}))
        assert q.passed


def test_a_planted_case_expects_its_own_message_not_one_sharing_a_phrase(monkeypatch):
    import re

    from labkit.numeric import Mistake

    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")
    q = _ratio(
        mistakes=[
            Mistake("a", 3.0, "{ratio:g} is inverted: divide the small by the large"),
            Mistake("b", 6.0, "{ratio:g} is doubled: divide the small by the large"),
        ]
    )
    says = {case.why: case.says for case in q.wrong}
    message = "demo.q: 6 is doubled: divide the small by the large"
    assert re.search(says["mistake: b"], message)
    assert not re.search(says["mistake: a"], message)


def test_a_numeric_question_of_several_answers(monkeypatch):
    from labkit.numeric import ANY, Mistake, Numeric

    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")

    def _solution_pair():
        scale, zero_point = 4 / 255, 64
        return scale, zero_point

    q = Numeric(
        answers=["scale", "zero_point"],
        what=("the scale", "the zero point"),
        whole=(False, True),
        truth=(4 / 255, 64),
        tolerance=(dict(rel=1e-3), None),
        mistakes=[
            Mistake("256 steps", (4 / 256, ANY), "scale {scale:.5f} counts 256 steps"),
            Mistake("sign", (ANY, -64), "zero point {zero_point} has the wrong sign"),
        ],
        close_message=("scale {scale} is rounded too far", None),
        wrong_message=("scale {scale:.5f} is off", "zero point {zero_point} is off"),
        success="scale {truth[0]:.5f}, zero point {truth[1]}",
        hints=["divide the range"],
        solution=_solution_pair,
    )
    bind({"__name__": "labkit.exercises.demo", "q": q})
    assert _verdict(q, 4 / 255, 64) == "passed" and _verdict(q, 4 / 255, 64.0) == "passed"
    assert "counts 256 steps" in _verdict(q, 4 / 256, 64)
    assert "counts 256 steps" in _verdict(q, 4 / 256, 3)  # ANY: the zero point does not matter
    assert "wrong sign" in _verdict(q, 4 / 255, -64)
    assert "rounded too far" in _verdict(q, 0.016, 64)
    assert "zero point 63 is off" in _verdict(q, 4 / 255, 63)
    assert "zero point is a whole number" in _verdict(q, 4 / 255, 63.5)
    planted = {case.why: resolve(case.answers, {}) for case in q.wrong}
    assert planted["mistake: 256 steps"] == (4 / 256, 64)  # the truth where ANY
    assert planted["the truth as text"] == (str(4 / 255), 64)


def test_want_bool_takes_python_numpy_and_torch_booleans_only():
    import numpy as np
    import torch

    from labkit.check import want_bool

    for value, expected in [
        (True, True),
        (False, False),
        (np.False_, False),
        (np.bool_(True), True),
        (torch.tensor(True), True),
        (torch.tensor([False]), False),
    ]:
        result = want_bool(value, "resolvable")
        assert result is expected, value
    for value in (1, 0, 1.0, "True", None, [True], torch.tensor([True, False]), np.array([True])):
        with pytest.raises(Wrong, match="one of True or False"):
            want_bool(value, "resolvable")
    with pytest.raises(NotAttempted):
        want_bool(____, "resolvable")


def test_want_choice_takes_a_numpy_string_as_the_name():
    import numpy as np

    from labkit.check import want_choice

    names = np.array(["gp", "tt"])
    chosen = want_choice(names[0], ["gp", "tt"], "the strategy")  # a numpy.str_
    assert chosen == "gp" and type(chosen) is str
    with pytest.raises(Wrong, match="one of"):
        want_choice(np.str_("bayes"), ["gp", "tt"], "the strategy")
    with pytest.raises(Wrong, match="one of"):
        want_choice(1, [True, False], "resolvable")  # 1 == True, but it is not the answer


# --------------------------------------------------------------------------- docstrings

_MACHINERY = [
    Path(__file__).resolve().parents[1] / "labkit" / "check.py",
    *sorted((Path(__file__).resolve().parents[1] / "labkit" / "exercises").glob("*.py")),
]


def _public(tree):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
            yield node
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and (
                        not item.name.startswith("_") or item.name == "__init__"
                    ):
                        yield item


@pytest.mark.parametrize("path", _MACHINERY, ids=lambda p: p.name)
def test_the_exercise_machinery_documents_every_public_definition(path):
    tree = ast.parse(path.read_text())
    missing = [node.name for node in _public(tree) if not ast.get_docstring(node)]
    assert not missing, f"{path.name}: no docstring on {missing}"
    # One "Used by:" for the module, not a line stamped on every definition.
    stamped = [node.name for node in _public(tree) if "Used by:" in (ast.get_docstring(node) or "")]
    assert not stamped, f"{path.name}: def-level 'Used by:' lines on {stamped}"
    if path.name == "check.py" or path.name.startswith("lab"):
        assert ast.get_docstring(tree).count("Used by:") == 1, path.name


@pytest.mark.parametrize("path", _MACHINERY, ids=lambda p: p.name)
def test_a_lesson_pointer_names_a_notebook_that_uses_the_definition(path):
    root = Path(__file__).resolve().parents[1]
    for node in _public(ast.parse(path.read_text())):
        doc = " ".join((ast.get_docstring(node) or "").split())
        found = re.search(r'Lesson: notebooks/(\d\d_\w+)\.ipynb, "([^"]+)"', doc)
        if found:
            source = (root / "notebooks" / "src" / f"{found[1]}.py").read_text()
            assert node.name in source, f"{path.name}:{node.name} is not used in {found[1]}"
            assert re.search(rf"^# #+ {re.escape(found[2])}\s*$", source, re.M), found[2]


def test_a_failed_claim_is_a_note_for_a_learner_and_an_error_in_the_suite(monkeypatch, capsys):
    from labkit.claims import WHY_MACHINES_DIFFER, expect_above

    monkeypatch.setenv("LABKIT_STRICT_CLAIMS", "0")
    expect(False, "the large batch should train faster")  # goes on, no traceback
    expect_above("speed-up", 0.8, 1.0)
    out = capsys.readouterr().out
    assert "the large batch should train faster" in out and WHY_MACHINES_DIFFER in out
    assert "speed-up = 0.8, expected above 1" in out
    monkeypatch.setenv("LABKIT_STRICT_CLAIMS", "1")
    with pytest.raises(ClaimFailed, match="faster"):
        expect(False, "the large batch should train faster")
