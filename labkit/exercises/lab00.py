"""Exercises of notebooks/00_welcome.ipynb.

Used by: notebook 00 (``from labkit.exercises import lab00``) and the tests
(``tests/test_exercises.py`` runs every question's declaration).
"""

from __future__ import annotations

import functools

import torch

import labkit
from labkit.check import Alternative, Planted, bind
from labkit.fashion import VAL_IMAGES, load_fashion_mnist
from labkit.numeric import ANY, Mistake, Numeric
from labkit.train import accuracy_interval, evaluate
from labkit.zoo import load_pretrained

N_TEST = 10_000  # images in data.test
TRAIN_SIZE = 5000  # notebook 00 loads load_fashion_mnist(train_size=5000)


@functools.cache
def _data():
    return load_fashion_mnist(train_size=TRAIN_SIZE)


def example_context() -> dict:
    """The notebook's ``data`` (5,000 training images), for the tests."""
    return {"data": _data()}


# --------------------------------------------------------------------------- Q0: a warm-up


def _solution_q0():
    n_classes = 10
    return n_classes


q0 = Numeric(
    answers=["n_classes"],
    what="the number of kinds of clothing",
    whole=True,
    truth=10,
    mistakes=[Mistake("the last label", 9, "9 is the last label, but labels count from 0.")],
    wrong_message="there are not {n_classes} classes; count the names printed with the data.",
    success="that is how a check looks when you are right.",
    hints=["The labels go from 0 to the last class's number; how many is that?"],
    solution=_solution_q0,
    right=[Alternative("counted from the data", lambda data: (data.num_classes,))],
)


# --------------------------------------------------------------------------- Q1: the split


def _q1_truth() -> tuple[int, int]:
    return len(_data().train), VAL_IMAGES // 10


def _solution_q1(data):
    n_train = len(data.train)
    val_per_class = int((data.val.y == 0).sum())
    return n_train, val_per_class


q1 = Numeric(
    answers=["n_train", "val_per_class"],
    what=("n_train, a number of images,", "val_per_class, a number of images,"),
    whole=True,
    truth=_q1_truth,
    mistakes=[
        Mistake(
            "the whole training set",
            lambda: (55_000, ANY),
            "55,000 is the whole training set; this notebook loaded 5,000 of it "
            "(train_size=5000): count the rows of data.train.",
        ),
        Mistake(
            "every validation image",
            lambda: (ANY, VAL_IMAGES),
            "{val_per_class} is every validation image; the question asks for one class's "
            "share. Count the labels of one class in data.val.y.",
        ),
        Mistake(
            "the test images of a class",
            lambda: (ANY, 1000),
            "1,000 is what each class has in the test part; count data.val.y, the validation "
            "labels.",
        ),
    ],
    wrong_message=(
        "n_train = {n_train} is not the number of training images; count the rows of data.train.",
        "{val_per_class} is not right; count how often one class's label occurs in data.val.y.",
    ),
    success="{n_train:,} training images; {val_per_class} validation images per class.",
    hints=[
        "len(...) of a part counts its images; data.val.y holds the validation labels.",
        "(data.val.y == 0).sum() counts the validation images of class 0; every class has "
        "the same number.",
    ],
    solution=_solution_q1,
    wrong=[Planted("swapped", lambda: _q1_truth()[::-1], "every validation image")],
    right=[
        Alternative(
            "from a bincount",
            lambda data: (data.train.y.numel(), int(torch.bincount(data.val.y).min())),
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
    predicted = labkit.predict(load_pretrained("baseline"), data.test)
    return ((predicted == data.test.y).float().mean(),)  # a float32 tensor, rounded


def _is_count(baseline_test_accuracy) -> bool:
    x = baseline_test_accuracy
    return 1 < x <= N_TEST and x.is_integer()


q2 = Numeric(
    answers=["baseline_test_accuracy"],
    what="the accuracy (labkit.evaluate returns an Accuracy; its .value is the fraction)",
    truth=_baseline_accuracy,
    # correct / 10,000 has at most four decimals, which a float32 mean keeps to about 1e-8; a
    # number with fewer decimals is a rounding, told apart from a right answer.
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
        "{baseline_test_accuracy} is close, but rounded: give the exact fraction, with all four "
        "decimals (correct / 10,000), as labkit computes it."
    ),
    wrong_message=(
        "{baseline_test_accuracy:.4f} is not the zoo baseline's accuracy on the test split. "
        "Evaluate labkit.load_pretrained('baseline') on data.test (not data.val, and not the "
        "4-epoch net trained above)."
    ),
    success="the baseline reads {truth:.2%} of the 10,000 test pictures correctly.",
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
        # one image more, not less: 0.9040 would also be 0.9041 rounded to three decimals
        Planted(
            "one image off", lambda: (_baseline_accuracy() + 1 / N_TEST,), "not the zoo baseline"
        ),
        Planted("rounded from a printout", lambda: (round(_baseline_accuracy(), 3),), "rounded"),
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

Q3_TOTAL, Q3_TARGET = N_TEST, 0.90


def _q3_truth() -> int:
    return next(k for k in range(Q3_TOTAL + 1) if accuracy_interval(k, Q3_TOTAL)[0] >= Q3_TARGET)


def _solution_q3():
    from labkit.train import accuracy_interval

    smallest = next(k for k in range(10_001) if accuracy_interval(k, 10_000)[0] >= 0.90)
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
            "90% of 10,000 without the interval",
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
        "accuracy_interval(k, 10_000) returns (low, high). Which k is the first whose low end "
        "reaches 0.90? A loop over k can find it.",
    ],
    solution=_solution_q3,
    wrong=[Planted("one too few", lambda: (_q3_truth() - 1,), "below 90%")],
    right=[Alternative("found by bisection", _by_bisection)],
)

QUESTIONS = bind(globals())
