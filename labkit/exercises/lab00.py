"""Exercises of notebooks/00_welcome.ipynb."""

from __future__ import annotations

import functools

import torch

import labkit
from labkit.check import Alternative, Planted, Question, Wrong, bind, want_int, want_number
from labkit.data import load_digits
from labkit.train import accuracy_interval, evaluate
from labkit.zoo import load_pretrained


@functools.cache
def _data():
    return load_digits()


# --------------------------------------------------------------------------- Q0: a warm-up


def _check_q0(n_classes) -> str:
    n_classes = want_int(n_classes, "the number of digits")
    if n_classes == 9:
        raise Wrong("0 is a digit too.")
    if n_classes != 10:
        raise Wrong(f"there are not {n_classes} different digits; count 0, 1, ..., 9.")
    return "that is how a check looks when you are right."


def _solution_q0():
    n_classes = 10
    return n_classes


q0 = Question(
    answers=["n_classes"],
    checker=_check_q0,
    hints=["Write the digits down: 0, 1, 2, ... How many did you write?"],
    solution=_solution_q0,
    wrong=[
        Planted("forgets 0", (9,), "0 is a digit"),
        Planted("a string", ("10",), "not the text"),
        Planted("far off", (100,), "count 0"),
    ],
    right=[Alternative("counted from the data", lambda data: (data.num_classes,))],
)


# --------------------------------------------------------------------------- Q1: the split


def _check_q1(n_train, n_originals) -> str:
    data = _data()
    n_train = want_int(n_train, "n_train, a number of images,")
    n_originals = want_int(n_originals, "n_originals, a number of scans,")
    originals = len(set(data.train.source.tolist()))
    if n_train != len(data.train):
        raise Wrong(
            f"n_train = {n_train} is not the number of training images; count the rows of "
            "data.train."
        )
    if n_originals == n_train:
        raise Wrong(
            "not every training image is an original scan: most are distorted copies. "
            "Count the distinct values of data.train.source."
        )
    if n_originals != originals:
        raise Wrong(
            f"{n_originals} distinct source images is not right; data.train.source holds "
            "the index of the scan each image was made from."
        )
    return (
        f"{n_train} training images made from {originals} scans: "
        f"{n_train // originals} images per scan."
    )


def _solution_q1(data):
    n_train = len(data.train)
    n_originals = len(set(data.train.source.tolist()))
    return n_train, n_originals


q1 = Question(
    answers=["n_train", "n_originals"],
    checker=_check_q1,
    hints=[
        "Two different counts: every image, and every original scan the images came from.",
        "len(data.train) counts images. data.train.source[i] is the index of the scan that "
        "image i was made from, so the question is how many different values it holds.",
    ],
    solution=_solution_q1,
    wrong=[
        Planted(
            "every image counted as a scan",
            lambda data: (len(data.train), len(data.train)),
            "distorted copies",
        ),
        Planted(
            "scans counted twice",
            lambda data: (len(set(data.train.source.tolist())),) * 2,
            "not the number of",
        ),
        Planted("all 1,797 scans", lambda data: (len(data.train), 1797), "distinct source"),
        Planted(
            "images counted wrong", lambda data: (len(data.train) - 1, 300), "not the number of"
        ),
        Planted("half an image", lambda data: (len(data.train) + 0.5, 300), "whole number"),
    ],
    right=[
        Alternative(
            "unique() instead of a set",
            lambda data: (data.train.y.numel(), data.train.source.unique().numel()),
        ),
    ],
)


# --------------------------------------------------------------------------- Q2: accuracy


@functools.cache
def _baseline_accuracy() -> float:
    return evaluate(load_pretrained("baseline"), _data().test).value


def _check_q2(baseline_test_accuracy) -> str:
    accuracy = want_number(
        baseline_test_accuracy,
        "the accuracy (labkit.evaluate returns an Accuracy; its .value is the fraction)",
    )
    truth = _baseline_accuracy()
    n = len(_data().test)
    if 1 < accuracy <= 100 and abs(accuracy / 100 - truth) < 0.5 / n:
        raise Wrong(f"{accuracy} looks like a percentage; give a fraction between 0 and 1.")
    if accuracy > 1 and float(accuracy).is_integer() and accuracy <= n:
        raise Wrong(
            f"{accuracy:g} looks like a count of images; the accuracy is that count divided by "
            "the number of test images."
        )
    if abs(accuracy - truth) < 0.006 and accuracy == round(accuracy, 4):  # copied from a print
        raise Wrong(
            f"{accuracy} is close, but rounded: give the exact fraction (use the value labkit "
            "computes, not a number copied from a printout)."
        )
    # Right to within a fraction of one image: a sum in float32 rounds in the 8th digit.
    if abs(accuracy - truth) > 0.1 / n:
        raise Wrong(
            f"{accuracy:.4f} is not the zoo baseline's accuracy on the test split. Evaluate "
            "labkit.load_pretrained('baseline') on data.test (not data.val, and not the "
            "4-epoch net trained above)."
        )
    return f"the baseline reads {100 * truth:.1f}% of the test digits correctly."


def _solution_q2(data):
    baseline = labkit.load_pretrained("baseline")
    baseline_test_accuracy = labkit.evaluate(baseline, data.test).value
    return baseline_test_accuracy


def _float32_accuracy(data):
    with torch.no_grad():
        predicted = load_pretrained("baseline")(data.test.X).argmax(1)
    return ((predicted == data.test.y).float().mean(),)  # a float32 tensor, rounded


q2 = Question(
    answers=["baseline_test_accuracy"],
    checker=_check_q2,
    hints=[
        "The zoo's baseline is loaded with labkit.load_pretrained('baseline'); the test "
        "split is data.test.",
        "labkit.evaluate(model, split) returns an Accuracy; its .value is a fraction.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted("a percentage", lambda: (100 * _baseline_accuracy(),), "percentage"),
        Planted(
            "the validation split",
            lambda data: (evaluate(load_pretrained("baseline"), data.val).value,),
            "test split",
        ),
        Planted("a string", ("0.99",), "not the text"),
        Planted("not a number", (float("nan"),), "finite"),
        Planted(
            "one image off",
            lambda data: (_baseline_accuracy() - 1 / len(data.test),),
            "not the zoo",
        ),
        Planted("rounded from a printout", lambda: (round(_baseline_accuracy(), 2),), "rounded"),
        Planted("the count of correct images", (446.0,), "count of images"),
    ],
    right=[
        Alternative("computed by hand in float32", _float32_accuracy),
        Alternative(
            "from correct / total",
            lambda data: (
                labkit.evaluate(load_pretrained("baseline"), data.test).correct / len(data.test),
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- Q3: the interval

Q3_TOTAL, Q3_TARGET = 450, 0.98


def _q3_truth() -> int:
    return next(k for k in range(Q3_TOTAL + 1) if accuracy_interval(k, Q3_TOTAL)[0] >= Q3_TARGET)


def _check_q3(smallest) -> str:
    correct = want_int(smallest, "a number of test images")
    if not 0 <= correct <= Q3_TOTAL:
        raise Wrong(f"the test split has {Q3_TOTAL} images; {correct} is out of range")
    truth = _q3_truth()
    low = accuracy_interval(correct, Q3_TOTAL)[0]
    if correct < truth:
        raise Wrong(
            f"with {correct} of {Q3_TOTAL} right, the interval starts at {100 * low:.2f}%, "
            f"below {100 * Q3_TARGET:.0f}%."
        )
    if correct > truth:
        raise Wrong(f"{correct} is enough, but it is not the smallest number that is.")
    return (
        f"{truth} of {Q3_TOTAL} ({100 * truth / Q3_TOTAL:.1f}%) are needed before we can say, "
        f"with 95% confidence, that the accuracy is at least {100 * Q3_TARGET:.0f}%."
    )


def _solution_q3():
    from labkit.train import accuracy_interval

    smallest = next(k for k in range(451) if accuracy_interval(k, 450)[0] >= 0.98)
    return smallest


def _by_bisection():
    lo, hi = 0, Q3_TOTAL  # the low end grows with k: bisect on it
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if accuracy_interval(mid, Q3_TOTAL)[0] < Q3_TARGET else (lo, mid)
    return (lo,)


q3 = Question(
    answers=["smallest"],
    checker=_check_q3,
    hints=[
        "The low end of the interval grows as the number of correct answers grows: try a few.",
        "accuracy_interval(k, 450) returns (low, high). Which k is the first whose low end "
        "reaches 0.98? A loop over k can find it.",
    ],
    solution=_solution_q3,
    wrong=[
        Planted("all of them", (450,), "not the smallest"),
        Planted("one too few", lambda: (_q3_truth() - 1,), "below 98%"),
        Planted("more than there are", (451,), "out of range"),
        Planted("98% of 450 without the interval", (441,), "below 98%"),
    ],
    right=[Alternative("found by bisection", _by_bisection)],
)

QUESTIONS = bind(globals())
