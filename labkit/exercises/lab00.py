"""Exercises of notebooks/00_welcome.ipynb."""

from __future__ import annotations

import numbers
from functools import cache

from labkit.check import Question, Wrong


@cache
def _data():
    from labkit.data import load_digits

    return load_digits()


def _check_q0(n_classes) -> str:
    if isinstance(n_classes, str):
        raise Wrong(f"give a number, not the text {n_classes!r}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral):
        raise Wrong(f"give a whole number, got {n_classes!r}")
    if n_classes == 9:
        raise Wrong("0 is a digit too.")
    if n_classes != 10:
        raise Wrong(f"there are not {n_classes} different digits; count 0, 1, ..., 9.")
    return "that is how a check looks when you are right."


q0 = Question(
    "lab00.q0",
    _check_q0,
    hint="The digits are 0, 1, 2, ..., 9.",
    solution="""
n_classes = 10
lab00.q0.check(n_classes)
""",
)


def _check_q1(n_train, n_originals) -> str:
    data = _data()
    originals = len(set(data.train.source.tolist()))
    for name, value in (("n_train", n_train), ("n_originals", n_originals)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise Wrong(f"{name} should be a whole number, got {value!r}")
    if n_train != len(data.train):
        raise Wrong(
            f"the training split holds {n_train} images by your count; count the "
            f"rows of data.train (len(data.train))."
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


q1 = Question(
    "lab00.q1",
    _check_q1,
    hint="len(data.train) counts images. data.train.source[i] is the index of the original scan "
    "image i was made from; a set keeps each value once.",
    solution="""
n_train = len(data.train)
n_originals = len(set(data.train.source.tolist()))
lab00.q1.check(n_train, n_originals)
""",
)


def _check_q2(accuracy) -> str:
    from labkit.train import evaluate
    from labkit.zoo import load_pretrained

    if isinstance(accuracy, bool) or not isinstance(accuracy, numbers.Real):
        raise Wrong(
            f"give the accuracy as a number such as 0.95, got {accuracy!r} "
            "(labkit.evaluate returns an Accuracy; its .value is the number)"
        )
    truth = evaluate(load_pretrained("baseline"), _data().test).value
    if 1 < accuracy <= 100 and abs(accuracy / 100 - truth) < 1e-9:
        raise Wrong(f"{accuracy} looks like a percentage; give a fraction between 0 and 1.")
    if abs(accuracy - truth) > 1e-9:
        raise Wrong(
            f"{accuracy:.4f} is not the baseline's accuracy on the test split. Did you "
            "evaluate on data.test (not data.val), with load_pretrained('baseline')?"
        )
    return f"the baseline reads {100 * truth:.1f}% of the test digits correctly."


q2 = Question(
    "lab00.q2",
    _check_q2,
    hint="labkit.evaluate(model, data.test) returns an Accuracy; its .value is a fraction.",
    solution="""
baseline = labkit.load_pretrained("baseline")
test_accuracy = labkit.evaluate(baseline, data.test).value
lab00.q2.check(test_accuracy)
""",
)

Q3_TOTAL, Q3_TARGET = 450, 0.98


def _q3_truth() -> int:
    from labkit.train import accuracy_interval

    return next(k for k in range(Q3_TOTAL + 1) if accuracy_interval(k, Q3_TOTAL)[0] >= Q3_TARGET)


def _check_q3(correct) -> str:
    from labkit.train import accuracy_interval

    if isinstance(correct, bool) or not isinstance(correct, numbers.Integral):
        raise Wrong(f"give a whole number of test images, got {correct!r}")
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


q3 = Question(
    "lab00.q3",
    _check_q3,
    hint="accuracy_interval(k, 450) returns (low, high). Try k = 400, 401, ... and stop at the "
    "first k whose low end reaches 0.98.",
    solution="""
from labkit.train import accuracy_interval

smallest = next(k for k in range(451) if accuracy_interval(k, 450)[0] >= 0.98)
lab00.q3.check(smallest)
""",
)
