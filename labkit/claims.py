"""Claims a notebook makes about its own results, asserted where they are made.

Every "what to notice" sentence that states a result is backed by one of these calls in the
cell above it, stated so that it holds on any CPU (a ratio, an ordering, an interval). When the
numbers and the prose drift apart on a learner's machine, the learner sees a note saying what
the text expected (with the measured value, where the message gives it) and why a machine can
differ, and the notebook goes on. Under LABKIT_STRICT_CLAIMS=1 (the test suite sets it) the
claim raises ``ClaimFailed`` instead, so the suite's runs fail.

Introduced in notebooks/00_welcome.ipynb, "The running example: Fashion-MNIST".

Used by: every notebook (``labkit.expect...``, given to notebooks by labkit/__init__.py).
"""

from __future__ import annotations

import html
import math
import os

from labkit._validate import check_float

WHY_MACHINES_DIFFER = (
    "If you changed the code above, the change may be why. Otherwise: CPUs differ in their "
    "vector instructions (AVX2, AVX-512, VNNI, AMX, Arm), PyTorch picks other kernels for them "
    "and for other thread counts, and those round differently; timings also depend on what "
    "else the machine is doing. The rest of the notebook still runs; read this result as this "
    "machine's."
)


class ClaimFailed(AssertionError):
    """A result the notebook states did not come out as stated."""


def strict_claims() -> bool:
    """True when a claim that fails must raise (LABKIT_STRICT_CLAIMS=1: the test suite)."""
    return os.environ.get("LABKIT_STRICT_CLAIMS") == "1"


def claim_failed(message: str) -> None:
    """A stated result did not hold: raise ``ClaimFailed`` in the strict runs of the test suite;
    for a learner, show a note (what was expected, with what this machine measured where the message
    says it, and why machines can differ) and go on."""
    if strict_claims():
        raise ClaimFailed(message)
    text = f"Note: the text's claim did not hold here: {message.rstrip('.')}. {WHY_MACHINES_DIFFER}"
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        print(text)
        return
    if get_ipython() is None:
        print(text)
        return
    box = f'<div style="border-left: 4px solid #E69F00; padding: 4px 8px">{html.escape(text)}</div>'
    display({"text/plain": text, "text/html": box}, raw=True)


def expect(condition: bool, message: str) -> None:
    """Say ``message`` when a result that must hold does not (``claim_failed``).

    Lesson: notebooks/00_welcome.ipynb, "The running example: Fashion-MNIST".
    """
    if hasattr(condition, "dtype") and getattr(condition, "ndim", 1) == 0:
        condition = condition.item()  # a NumPy or PyTorch scalar from a comparison
    if not isinstance(condition, bool):
        raise TypeError(f"argument 'condition' must be True or False, got {condition!r}")
    if not condition:
        claim_failed(message)


def expect_between(name: str, value: float, low: float, high: float) -> None:
    """Assert that a measured value lies in [low, high] (returns nothing, so that a cell ending
    with it shows nothing more).

    Lesson: notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".
    """
    value = float(value)
    low = check_float("low", low)
    high = check_float("high", high)
    if math.isnan(value) or not low <= value <= high:
        claim_failed(f"{name} = {value:g}, expected between {low:g} and {high:g}")


def expect_detectable(comparison, better: str, message: str = "") -> None:
    """Assert that a paired comparison resolves a difference, in the stated direction:
    ``better`` names the model that must be better (one of ``comparison.names``).

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Learning rate: fast but may
    overshoot, or slow but precise".
    """
    a, b = comparison.names
    if better not in (a, b):
        raise ValueError(f"argument 'better' must be {a!r} or {b!r}, got {better!r}")
    want_positive = better == b
    ok = comparison.detectable and (comparison.difference > 0) == want_positive
    if not ok:
        claim_failed(f"{message or 'expected ' + better + ' to be better'}: {comparison}")


def expect_no_detectable_difference(comparison, message: str = "") -> None:
    """Assert that a paired comparison's interval holds zero: the images cannot tell the two
    models apart.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same space,
    same budget, repeated".
    """
    if comparison.detectable:
        claim_failed(f"{message or 'expected no detectable difference'}: {comparison}")


def expect_above(name: str, value: float, threshold: float) -> None:
    """Assert that a measured value (a ratio, a gain) lies above ``threshold``.

    Lesson: notebooks/03_pruning.ipynb, "What the zeros really save".
    """
    value = float(value)
    threshold = check_float("threshold", threshold)
    if math.isnan(value) or not value > threshold:
        claim_failed(f"{name} = {value:g}, expected above {threshold:g}")
