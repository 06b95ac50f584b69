import pytest

from labkit.check import (
    ExerciseFailed,
    NotAttempted,
    Question,
    Wrong,
    ____,
    expect,
    expect_between,
    is_placeholder,
)


def _checker(answer):
    if answer == "blank inside":
        raise NotAttempted
    if answer != 42:
        raise Wrong(f"{answer} is not the answer")
    return "well done"


q = Question("demo.q1", _checker, hint="six times seven", solution="demo.q1.check(42)")


def test_placeholder_is_recognised_anywhere_in_an_answer():
    assert is_placeholder(____) and is_placeholder([1, ____]) and is_placeholder({"a": ____})
    assert not is_placeholder(0) and not is_placeholder([1, 2])


def test_a_blank_is_reported_kindly_not_as_a_failure(capsys, monkeypatch):
    monkeypatch.delenv("LABKIT_STRICT_CHECKS", raising=False)
    assert q.check(____) is False
    assert "Not attempted" in capsys.readouterr().out
    assert q.check("blank inside") is False
    assert "Not attempted" in capsys.readouterr().out


def test_right_and_wrong_answers_say_so(capsys, monkeypatch):
    monkeypatch.delenv("LABKIT_STRICT_CHECKS", raising=False)
    assert q.check(42) is True
    assert "Correct: demo.q1. well done" in capsys.readouterr().out
    assert q.check(41) is False
    out = capsys.readouterr().out
    assert "Not yet" in out and "41 is not the answer" in out and "demo.q1.hint()" in out


def test_strict_mode_raises_on_wrong_or_missing_answers(monkeypatch):
    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")
    assert q.check(42)
    with pytest.raises(ExerciseFailed, match="41 is not"):
        q.check(41)
    with pytest.raises(ExerciseFailed, match="not attempted"):
        q.check(____)


def test_hint_and_solution_print(capsys):
    q.hint()
    q.solution()
    out = capsys.readouterr().out
    assert "six times seven" in out and "demo.q1.check(42)" in out
    assert q.solution_code == "demo.q1.check(42)"


def test_expect_helpers():
    expect(True, "fine")
    with pytest.raises(AssertionError, match="broken"):
        expect(False, "broken")
    assert expect_between("acc", 0.5, 0, 1) == 0.5
    with pytest.raises(AssertionError, match="acc = 2, expected between 0 and 1"):
        expect_between("acc", 2, 0, 1)
