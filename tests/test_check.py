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
