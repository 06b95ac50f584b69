"""Exercises of notebooks/07_knowledge_distillation.ipynb.

Used by: notebook 07 (``from labkit.exercises import lab07``) and the tests
(``tests/test_exercises.py`` runs every question's declaration, with ``example_context()``
in place of the notebook's variables).
"""

from __future__ import annotations

import functools
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

from labkit.check import Alternative, Planted, Question, Wrong, bind, want_bool, want_number
from labkit.distill.table import DistillTable
from labkit.numeric import ANY, Mistake, Numeric

Q1_STUDENT = [[2.0, 0.5, -1.0]]
Q1_TEACHER = [[3.0, 1.0, -2.0]]
Q1_LABEL = [0]
Q1_T, Q1_WEIGHT = 2.0, 0.7
Q2_LOGITS = [4.0, 1.0, 0.0, 0.0]


@functools.cache
def _table() -> DistillTable:
    return DistillTable.load()


def example_context() -> dict:
    """The notebook's stored sweep, and the module itself (the notebook imports it as
    ``lab07``; the solutions read the questions' data from it)."""
    return {"table": _table(), "lab07": sys.modules[__name__]}


# --------------------------------------------------------------------------- Q1: the loss


def _q1_parts() -> dict[str, float]:
    """The loss, and what each common mistake gives instead."""
    s, t = torch.tensor(Q1_STUDENT), torch.tensor(Q1_TEACHER)
    y, T, w = torch.tensor(Q1_LABEL), Q1_T, Q1_WEIGHT
    log_q, log_p = F.log_softmax(s / T, 1), F.log_softmax(t / T, 1)
    kl = float((log_p.exp() * (log_p - log_q)).sum())
    reverse = float((log_q.exp() * (log_q - log_p)).sum())
    soft_ce = float(-(log_p.exp() * log_q).sum())
    ce = float(F.cross_entropy(s, y))
    ce_soft = float(F.cross_entropy(s / T, y))
    raw_log_q, raw_log_p = F.log_softmax(s, 1), F.log_softmax(t, 1)
    kl_t1 = float((raw_log_p.exp() * (raw_log_p - raw_log_q)).sum())
    return {
        "truth": w * T * T * kl + (1 - w) * ce,
        "swapped weights": (1 - w) * T * T * kl + w * ce,
        "mean": w * T * T * kl / 3 + (1 - w) * ce,
        "no T^2": w * kl + (1 - w) * ce,
        "reverse": w * T * T * reverse + (1 - w) * ce,
        "soft labels": w * T * T * kl + (1 - w) * ce_soft,
        "not softened": w * T * T * kl_t1 + (1 - w) * ce,
        "kl only": T * T * kl,
        "soft cross-entropy": w * T * T * soft_ce + (1 - w) * ce,
    }


_Q1 = _q1_parts()  # three logits: cheap at import, and the declaration is checked at once


def _solution_q1(lab07):
    s = torch.tensor(lab07.Q1_STUDENT)  # student logits
    t = torch.tensor(lab07.Q1_TEACHER)  # teacher logits
    y = torch.tensor(lab07.Q1_LABEL)  # the image's class
    T, weight = lab07.Q1_T, lab07.Q1_WEIGHT
    log_q = torch.log_softmax(s / T, dim=1)
    log_p = torch.log_softmax(t / T, dim=1)
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()
    loss = weight * T**2 * kl + (1 - weight) * F.cross_entropy(s, y)
    return loss


def _with_kl_div():
    s, t, y = torch.tensor(Q1_STUDENT), torch.tensor(Q1_TEACHER), torch.tensor(Q1_LABEL)
    kl = F.kl_div(
        F.log_softmax(s / 2, 1), F.log_softmax(t / 2, 1), reduction="batchmean", log_target=True
    )
    return (float(0.7 * 4 * kl + 0.3 * F.cross_entropy(s, y)),)


q1 = Numeric(
    answers=["loss"],
    what="the loss",
    truth=_Q1["truth"],
    tolerance=dict(rel=5e-3, abs=5e-4),
    mistakes=[
        Mistake(name, _Q1[name], message)
        for name, message in [
            (
                "swapped weights",
                "{loss:.4f} gives the weight to the label term: the weight multiplies the "
                "distillation term, (1 - weight) the cross-entropy",
            ),
            (
                "mean",
                "{loss:.4f} divides the KL by the 3 classes too: that is reduction='mean'; the "
                "KL is summed over classes and averaged over images only (reduction='batchmean')",
            ),
            (
                "no T^2",
                "{loss:.4f} leaves out the T² factor on the distillation term (T = 2 here, so "
                "the term should be 4 times larger)",
            ),
            (
                "reverse",
                "{loss:.4f} computes KL(student || teacher): the teacher's probabilities weight "
                "the log-ratio, p_T * (log p_T - log q_T)",
            ),
            (
                "soft labels",
                "{loss:.4f} softens the cross-entropy with the label too; the label term uses "
                "the student's logits as they are (T = 1)",
            ),
            (
                "not softened",
                "{loss:.4f} compares the probabilities at T = 1: divide both sets of logits by "
                "T before the softmax in the distillation term",
            ),
            ("kl only", "{loss:.4f} is the distillation term alone, at full weight"),
            (
                "soft cross-entropy",
                "{loss:.4f} uses the cross-entropy of the softened probabilities, as Hinton's "
                "paper writes it; it differs from the KL by the teacher's entropy, a constant "
                "(the same gradients, another value). The notebook's formula is the KL",
            ),
        ]
    ],
    close_message=(
        "{loss:.4f} is close: the method looks right, but the number is rounded too far; give "
        "at least three decimals"
    ),
    wrong_message=(
        "{loss:.4f} is not it: soften both logits by T, take KL(teacher || student) over the "
        "classes, multiply by T², then mix with the cross-entropy by the weight"
    ),
    success="{truth:.4f}: 0.7 of T² times the KL, plus 0.3 of the cross-entropy with the label.",
    hints=[
        "Two terms: one compares the softened teacher and student probabilities, the other "
        "compares the student with the label. Which temperature does each use?",
        "Check three things in your formula: which probabilities are softened, whose "
        "probabilities weight the log-ratio in the KL, and which term the weight multiplies.",
    ],
    solution=_solution_q1,
    wrong=[Planted("far off", (1.0,), "is not it")],
    right=[
        Alternative("with F.kl_div and batchmean", _with_kl_div),
        Alternative("as a tensor", (torch.tensor(_Q1["truth"]),)),
        Alternative("rounded to 3 decimals", (round(_Q1["truth"], 3),)),
    ],
)


# --------------------------------------------------------------------------- Q2: T and entropy


def _entropy(z: list[float], T: float, log=math.log) -> float:
    p = torch.softmax(torch.tensor(z) / T, 0).tolist()
    return -sum(v * log(v) for v in p if v > 0)


_H1, _H4 = _entropy(Q2_LOGITS, 1), _entropy(Q2_LOGITS, 4)


def _solution_q2(lab07):
    z = torch.tensor(lab07.Q2_LOGITS)
    p1 = torch.softmax(z / 1, dim=0)
    p4 = torch.softmax(z / 4, dim=0)
    h1 = float(-(p1 * p1.log()).sum())
    h4 = float(-(p4 * p4.log()).sum())
    return h1, h4


q2 = Numeric(
    answers=["h1", "h4"],
    what=("the entropy at T = 1", "the entropy at T = 4"),
    truth=(_H1, _H4),
    tolerance=dict(rel=5e-3, abs=5e-3),  # right to two decimals is right: 0.36 for 0.3552
    mistakes=[
        Mistake(
            "bits",
            (_entropy(Q2_LOGITS, 1, math.log2), _entropy(Q2_LOGITS, 4, math.log2)),
            "these are in bits (log base 2); use the natural logarithm (nats)",
        ),
        Mistake(
            "swapped",
            (_H4, _H1),
            "the two are swapped: the higher temperature gives the flatter distribution",
        ),
        Mistake(
            "T ignored",
            (_H1, _H1),
            "both entropies are equal: the temperature did nothing. Divide the logits by T "
            "before the softmax",
            when=lambda h1, h4: math.isclose(h1, h4, rel_tol=1e-6),
        ),
        Mistake(
            "multiplied by T",
            (ANY, _entropy([v * 4 for v in Q2_LOGITS], 1)),
            "the entropy at T = 4 is lower than at T = 1: you multiplied the logits by T; "
            "divide them",
        ),
        Mistake(
            "negated",
            (-_H1, -_H4),
            "an entropy is never negative: it sums -p log p, and log p is negative",
        ),
    ],
    close_message=(
        "{what} ({value:.4f}) is close: the method looks right, but the number is rounded too "
        "far; round it to two decimals at least"
    ),
    wrong_message=(
        "the entropy at T = 1 is not {h1:.4f}: take p = softmax(z) and sum -p log p",
        "the entropy at T = 4 is not {h4:.4f}: take p = softmax(z / 4) first",
    ),
    success=(
        "{truth[0]:.3f} nats at T = 1, {truth[1]:.3f} at T = 4 (the most, for 4 classes, is "
        "log 4 = 1.386): softening spreads the probability to the other classes."
    ),
    hints=[
        "The entropy of probabilities p is the sum of -p log p. Which probabilities does a "
        "temperature T give?",
        "Divide the logits by T, apply the softmax, then sum -p * log(p) with the natural "
        "logarithm, once for T = 1 and once for T = 4.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted("far off", (1.0, 2.0), "is not"),
        Planted("rounded too far", (0.4, 1.3), "rounded too far"),
        Planted("a list", ([0.5], 1.0), "is a number"),
    ],
    right=[
        Alternative("rounded to 2 decimals", (0.36, 1.29)),
        Alternative(
            "with the entropy of torch.distributions",
            lambda: tuple(
                float(torch.distributions.Categorical(logits=torch.tensor(Q2_LOGITS) / T).entropy())
                for T in (1, 4)
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- Q3: the sweep


def _grid_gains(table: DistillTable) -> dict[tuple[float, float], object]:
    grid = table.record["grid"]
    return {
        (t, w): table.grid_cell(t, w).gain for t in grid["temperatures"] for w in grid["weights"]
    }


def _cell(gains: dict, t: float, w: float) -> tuple[float, float] | None:
    """The grid cell (temperature, weight) an answer names; a float32 copy of a grid value
    (0.30000001 for 0.3) names it too."""
    for key in gains:
        if math.isclose(t, key[0], rel_tol=1e-6) and math.isclose(w, key[1], rel_tol=1e-6):
            return key
    return None


def _check_q3(best_temperature, best_weight, resolvable, table) -> str:
    t = want_number(best_temperature, "the temperature")
    w = want_number(best_weight, "the weight")
    resolvable = want_bool(resolvable, "resolvable")
    if not isinstance(table, DistillTable):
        raise Wrong(
            "`table` is not the stored sweep: run the cell that loads it, "
            "table = DistillTable.load()"
        )
    gains = _grid_gains(table)
    best = max(gains, key=lambda k: gains[k].mean)
    worst = min(gains, key=lambda k: gains[k].mean)
    cell = _cell(gains, t, w)
    if cell == worst and worst != best:
        raise Wrong(
            f"T={t:g}, weight={w:g} has the lowest mean gain of the grid; the question asks "
            "for the highest"
        )
    if cell != best and _cell(gains, w, t) == best:
        raise Wrong("temperature and weight are swapped")
    if cell != best:
        raise Wrong(
            f"T={t:g}, weight={w:g} does not have the highest mean gain: compare the gain's "
            "mean of every cell of the grid"
        )
    g = gains[best]
    if resolvable != g.excludes_zero:
        raise Wrong(
            f"look at the interval of that cell's gain ({g.low:+.2f} to {g.high:+.2f}): "
            "a difference is resolvable when the interval excludes zero"
        )
    return (
        f"T={best[0]:g}, weight={best[1]:g}: {g.mean:+.2f} points (95% CI {g.low:+.2f} to "
        f"{g.high:+.2f}), "
        + (
            "resolvable."
            if g.excludes_zero
            else "not resolvable with these seeds: the best-looking cell "
            "of a grid is also the one most favoured by chance."
        )
    )


def _solution_q3(table):
    grid = table.record["grid"]
    best_gain = None
    for t in grid["temperatures"]:
        for w in grid["weights"]:
            gain = table.grid_cell(t, w).gain
            if best_gain is None or gain.mean > best_gain.mean:
                best_temperature, best_weight, best_gain = t, w, gain
    resolvable = best_gain.excludes_zero
    return best_temperature, best_weight, resolvable


def _by_distilled_mean(table):
    grid = table.record["grid"]
    cells = [(t, w) for t in grid["temperatures"] for w in grid["weights"]]
    t, w = max(cells, key=lambda c: sum(table.grid_cell(*c).distilled))
    return t, w, table.grid_cell(t, w).gain.excludes_zero


def _worst(table):
    gains = _grid_gains(table)
    t, w = min(gains, key=lambda k: gains[k].mean)
    return t, w, gains[(t, w)].excludes_zero


def _float32_weight(table):
    t, w, resolvable = _solution_q3(table)
    # One float32 step above the grid's weight: what a float32 tensor gives for 0.3.
    return t, float(np.nextafter(np.float32(w), np.float32(2))), resolvable


def _flipped(table):
    t, w, resolvable = _solution_q3(table)
    return t, w, not resolvable


q3 = Question(
    answers=["best_temperature", "best_weight", "resolvable"],
    given=["table"],
    checker=_check_q3,
    hints=[
        "table.grid_cell(temperature, weight) gives the solo and distilled accuracies of one "
        "cell; its .gain is the paired gain over seeds. Which cell's mean is highest?",
        "A gain over seeds has a mean and a 95% interval; the interval, not the mean, says "
        "whether the difference is resolvable.",
    ],
    solution=_solution_q3,
    wrong=[
        Planted("the lowest cell", _worst, "lowest"),
        Planted("the verdict flipped", _flipped, "excludes zero"),
        Planted("a string", ("2", 0.5, True), "not the text"),
        Planted("not a choice", lambda table: (*_solution_q3(table)[:2], "yes"), "one of"),
        Planted(
            "the verdict as the number 1", lambda table: (*_solution_q3(table)[:2], 1), "one of"
        ),
        Planted(
            "the verdict as a two-element tensor",
            lambda table: (*_solution_q3(table)[:2], torch.tensor([True, False])),
            "True or False, got a Tensor",
        ),
    ],
    right=[
        Alternative("by the distilled mean (the solo runs are shared)", _by_distilled_mean),
        Alternative(
            "as NumPy booleans",
            lambda table: (*_solution_q3(table)[:2], np.bool_(_solution_q3(table)[2])),
        ),
        Alternative(
            "as a torch boolean",
            lambda table: (*_solution_q3(table)[:2], torch.tensor(_solution_q3(table)[2])),
        ),
        Alternative("the weight as a float32 holds it (0.30000001 for 0.3)", _float32_weight),
    ],
)

QUESTIONS = bind(globals())
