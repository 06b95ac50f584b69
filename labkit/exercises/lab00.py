"""Exercises of notebooks/00_welcome.ipynb.

Used by: notebook 00 (``from labkit.exercises import lab00``) and the tests
(``tests/test_exercises.py`` runs every question's declaration).
"""

from __future__ import annotations

import functools

import torch

import labkit
from labkit.check import Alternative, Planted, bind
from labkit.data import load_digits
from labkit.numeric import ANY, Mistake, Numeric
from labkit.train import accuracy_interval, evaluate
from labkit.zoo import load_pretrained

N_TEST = 450  # images in data.test


@functools.cache
def _data():
    return load_digits()


# --------------------------------------------------------------------------- Q0: a warm-up


def _solution_q0():
    n_classes = 10
    return n_classes


q0 = Numeric(
    answers=["n_classes"],
    what="the number of digits",
    whole=True,
    truth=10,
    mistakes=[Mistake("forgets 0", 9, "0 is a digit too.")],
    wrong_message="there are not {n_classes} different digits; count 0, 1, ..., 9.",
    success="that is how a check looks when you are right.",
    hints=["Write the digits down: 0, 1, 2, ... How many did you write?"],
    solution=_solution_q0,
    right=[Alternative("counted from the data", lambda data: (data.num_classes,))],
)


# --------------------------------------------------------------------------- Q1: the split


def _q1_truth() -> tuple[int, int]:
    train = _data().train
    return len(train), len(set(train.source.tolist()))


def _solution_q1(data):
    n_train = len(data.train)
    n_originals = len(set(data.train.source.tolist()))
    return n_train, n_originals


q1 = Numeric(
    answers=["n_train", "n_originals"],
    what=("n_train, a number of images,", "n_originals, a number of scans,"),
    whole=True,
    truth=_q1_truth,
    mistakes=[
        Mistake(
            "swapped",
            lambda: _q1_truth()[::-1],
            "the two are swapped: n_train counts the images, n_originals the scans they were "
            "made from, far fewer.",
        ),
        Mistake(
            "every image counted as a scan",
            lambda: (ANY, _q1_truth()[0]),
            "not every training image is an original scan: most are distorted copies. "
            "Count the distinct values of data.train.source.",
        ),
    ],
    wrong_message=(
        "n_train = {n_train} is not the number of training images; count the rows of data.train.",
        "{n_originals} distinct source images is not right; data.train.source holds the index "
        "of the scan each image was made from.",
    ),
    success="{n_train} training images made from {n_originals} scans: {per_scan} images per scan.",
    facts=lambda truth: {"per_scan": truth[0] // truth[1]},
    hints=[
        "Two different counts: every image, and every original scan the images came from.",
        "len(data.train) counts images. data.train.source[i] is the index of the scan that "
        "image i was made from, so the question is how many different values it holds.",
    ],
    solution=_solution_q1,
    wrong=[
        Planted("scans counted twice", lambda: (_q1_truth()[1],) * 2, "not the number of"),
        Planted("all 1,797 scans", lambda data: (len(data.train), 1797), "distinct source"),
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


def _solution_q2(data):
    baseline = labkit.load_pretrained("baseline")
    baseline_test_accuracy = labkit.evaluate(baseline, data.test).value
    return baseline_test_accuracy


def _float32_accuracy(data):
    with torch.no_grad():
        predicted = load_pretrained("baseline")(data.test.X).argmax(1)
    return ((predicted == data.test.y).float().mean(),)  # a float32 tensor, rounded


def _is_count(baseline_test_accuracy) -> bool:
    x = baseline_test_accuracy
    return 1 < x <= N_TEST and x.is_integer()


q2 = Numeric(
    answers=["baseline_test_accuracy"],
    what="the accuracy (labkit.evaluate returns an Accuracy; its .value is the fraction)",
    truth=_baseline_accuracy,
    # A sum in float32 rounds in the 8th digit; a number copied from a printout has 4 decimals
    # or fewer, and its rounding is told apart from a right answer.
    tolerance=dict(abs=1e-5),
    mistakes=[
        Mistake(
            "a percentage",
            lambda: 100 * _baseline_accuracy(),
            "{baseline_test_accuracy} looks like a percentage; give a fraction between 0 and 1.",
            tolerance=dict(abs=100 * 0.5 / N_TEST),  # within half an image
        ),
        Mistake(
            "the count of correct images",
            lambda: N_TEST * _baseline_accuracy(),
            "{baseline_test_accuracy:g} looks like a count of images; the accuracy is that "
            "count divided by the number of test images.",
            when=_is_count,
        ),
    ],
    close_message=(
        "{baseline_test_accuracy} is close, but rounded: give the exact fraction (use the value "
        "labkit computes, not a number copied from a printout)."
    ),
    wrong_message=(
        "{baseline_test_accuracy:.4f} is not the zoo baseline's accuracy on the test split. "
        "Evaluate labkit.load_pretrained('baseline') on data.test (not data.val, and not the "
        "4-epoch net trained above)."
    ),
    success="the baseline reads {truth:.1%} of the test digits correctly.",
    hints=[
        "The zoo's baseline is loaded with labkit.load_pretrained('baseline'); the test "
        "split is data.test.",
        "labkit.evaluate(model, split) returns an Accuracy; its .value is a fraction.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted(
            "the validation split",
            lambda data: (evaluate(load_pretrained("baseline"), data.val).value,),
            "test split",
        ),
        Planted("not a number", (float("nan"),), "finite"),
        Planted(
            "one image off", lambda: (_baseline_accuracy() - 1 / N_TEST,), "not the zoo baseline"
        ),
        Planted("rounded from a printout", lambda: (round(_baseline_accuracy(), 2),), "rounded"),
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

Q3_TOTAL, Q3_TARGET = N_TEST, 0.98


def _q3_truth() -> int:
    return next(k for k in range(Q3_TOTAL + 1) if accuracy_interval(k, Q3_TOTAL)[0] >= Q3_TARGET)


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


q3 = Numeric(
    answers=["smallest"],
    what="a number of test images",
    whole=True,
    truth=_q3_truth,
    mistakes=[
        Mistake(
            "more than there are",
            Q3_TOTAL + 1,
            f"the test split has {Q3_TOTAL} images; {{smallest}} is out of range",
            when=lambda smallest: not 0 <= smallest <= Q3_TOTAL,
        ),
        Mistake(
            "98% of 450 without the interval",
            round(Q3_TARGET * Q3_TOTAL),
            f"with {{smallest}} of {Q3_TOTAL} right, the interval starts at {{low:.2%}}, "
            f"below {Q3_TARGET:.0%}.",
            when=lambda smallest, truth: smallest < truth,
        ),
    ],
    facts=lambda smallest: {"low": accuracy_interval(smallest, Q3_TOTAL)[0]},
    wrong_message="{smallest} is enough, but it is not the smallest number that is.",
    far_off=Q3_TOTAL,  # all of them: enough, and far from the smallest
    success=lambda truth: (
        f"{truth} of {Q3_TOTAL} ({truth / Q3_TOTAL:.1%}) are needed before we can say, with 95% "
        f"confidence, that the accuracy is at least {Q3_TARGET:.0%}."
    ),
    hints=[
        "The low end of the interval grows as the number of correct answers grows: try a few.",
        "accuracy_interval(k, 450) returns (low, high). Which k is the first whose low end "
        "reaches 0.98? A loop over k can find it.",
    ],
    solution=_solution_q3,
    wrong=[Planted("one too few", lambda: (_q3_truth() - 1,), "below 98%")],
    right=[Alternative("found by bisection", _by_bisection)],
)

QUESTIONS = bind(globals())
