"""Exercises of notebooks/07_knowledge_distillation.ipynb."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from labkit.check import (
    Alternative,
    NotAttempted,
    Planted,
    Question,
    Wrong,
    bind,
    is_placeholder,
    want_choice,
    want_number,
)
from labkit.distill.table import DistillTable

Q1_STUDENT = [[2.0, 0.5, -1.0]]
Q1_TEACHER = [[3.0, 1.0, -2.0]]
Q1_LABEL = [0]
Q1_T, Q1_WEIGHT = 2.0, 0.7
Q2_LOGITS = [4.0, 1.0, 0.0, 0.0]


@functools.cache
def _table() -> DistillTable:
    return DistillTable.load()


def example_context() -> dict:
    """The notebook's stored sweep, for the tests.

    Used by: tests/test_exercises.py, in place of the notebook's variables.
    """
    return {"table": _table()}


# --------------------------------------------------------------------------- Q1: the loss


def _q1_parts() -> dict[str, float]:
    s, t = torch.tensor(Q1_STUDENT), torch.tensor(Q1_TEACHER)
    y, T, w = torch.tensor(Q1_LABEL), Q1_T, Q1_WEIGHT
    log_q, log_p = F.log_softmax(s / T, 1), F.log_softmax(t / T, 1)
    kl = float((log_p.exp() * (log_p - log_q)).sum())
    reverse = float((log_q.exp() * (log_q - log_p)).sum())
    ce = float(F.cross_entropy(s, y))
    ce_soft = float(F.cross_entropy(s / T, y))
    raw_log_q, raw_log_p = F.log_softmax(s, 1), F.log_softmax(t, 1)
    kl_t1 = float((raw_log_p.exp() * (raw_log_p - raw_log_q)).sum())
    return {
        "truth": w * T * T * kl + (1 - w) * ce,
        "mean": w * T * T * kl / 3 + (1 - w) * ce,
        "no T^2": w * kl + (1 - w) * ce,
        "reverse": w * T * T * reverse + (1 - w) * ce,
        "soft labels": w * T * T * kl + (1 - w) * ce_soft,
        "not softened": w * T * T * kl_t1 + (1 - w) * ce,
        "kl only": T * T * kl,
        "swapped weights": (1 - w) * T * T * kl + w * ce,
    }


def _check_q1(loss) -> str:
    loss = want_number(loss, "the loss")
    parts = _q1_parts()

    def near(key: str) -> bool:
        return math.isclose(loss, parts[key], rel_tol=1e-3)

    truth = parts["truth"]
    if math.isclose(loss, truth, rel_tol=5e-3, abs_tol=5e-4):
        return f"{truth:.4f}: 0.7 of T² times the KL, plus 0.3 of the cross-entropy with the label."
    if near("swapped weights"):
        raise Wrong(
            f"{loss:.4f} gives the weight to the label term: the weight multiplies the "
            "distillation term, (1 - weight) the cross-entropy"
        )
    if near("mean"):
        raise Wrong(
            f"{loss:.4f} divides the KL by the 3 classes too: that is reduction='mean'; the KL "
            "is summed over classes and averaged over images only (reduction='batchmean')"
        )
    if near("no T^2"):
        raise Wrong(
            f"{loss:.4f} leaves out the T² factor on the distillation term (T = 2 here, so the "
            "term should be 4 times larger)"
        )
    if near("reverse"):
        raise Wrong(
            f"{loss:.4f} computes KL(student || teacher): the teacher's probabilities weight "
            "the log-ratio, p_T * (log p_T - log q_T)"
        )
    if near("soft labels"):
        raise Wrong(
            f"{loss:.4f} softens the cross-entropy with the label too; the label term uses the "
            "student's logits as they are (T = 1)"
        )
    if near("not softened"):
        raise Wrong(
            f"{loss:.4f} compares the probabilities at T = 1: divide both sets of logits by "
            "T before the softmax in the distillation term"
        )
    if near("kl only"):
        raise Wrong(f"{loss:.4f} is the distillation term alone, at full weight")
    if math.isclose(loss, truth, rel_tol=0.05):
        raise Wrong(
            f"{loss:.4f} is close: the method looks right, but the number is rounded too far; "
            "give at least three decimals"
        )
    raise Wrong(
        f"{loss:.4f} is not it: soften both logits by T, take KL(teacher || student) over the "
        "classes, multiply by T², then mix with the cross-entropy by the weight"
    )


def _solution_q1():
    s = torch.tensor([[2.0, 0.5, -1.0]])  # student logits
    t = torch.tensor([[3.0, 1.0, -2.0]])  # teacher logits
    y = torch.tensor([0])
    T, weight = 2.0, 0.7
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


q1 = Question(
    answers=["loss"],
    checker=_check_q1,
    hints=[
        "Two terms: one compares the softened teacher and student probabilities, the other "
        "compares the student with the label. Which temperature does each use?",
        "Check three things in your formula: which probabilities are softened, whose "
        "probabilities weight the log-ratio in the KL, and which term the weight multiplies.",
    ],
    solution=_solution_q1,
    wrong=[
        Planted(f"{k}", (v,), says)
        for k, v, says in [
            ("mean", _q1_parts()["mean"], "batchmean"),
            ("no T^2", _q1_parts()["no T^2"], "T² factor"),
            ("reverse", _q1_parts()["reverse"], "KL(student || teacher)"),
            ("soft labels", _q1_parts()["soft labels"], "label term"),
            ("not softened", _q1_parts()["not softened"], "before the softmax"),
            ("kl only", _q1_parts()["kl only"], "alone"),
            ("swapped weights", _q1_parts()["swapped weights"], "the weight multiplies"),
            ("rounded too far", round(_q1_parts()["truth"], 2), "rounded too far"),
            ("far off", 1.0, "is not it"),
            ("a string", "0.5", "not the text"),
        ]
    ],
    right=[
        Alternative("with F.kl_div and batchmean", _with_kl_div),
        Alternative("as a tensor", lambda: (torch.tensor(_q1_parts()["truth"]),)),
        Alternative("rounded to 3 decimals", lambda: (round(_q1_parts()["truth"], 3),)),
    ],
)


# --------------------------------------------------------------------------- Q2: T and entropy


def _entropy(z: list[float], T: float, log=math.log) -> float:
    p = torch.softmax(torch.tensor(z) / T, 0).tolist()
    return -sum(v * log(v) for v in p if v > 0)


def _near2(value: float, truth: float) -> bool:
    # right to two decimals is right: 0.36 for 0.3552
    return math.isclose(value, truth, rel_tol=5e-3, abs_tol=5e-3)


def _check_q2(h1, h4) -> str:
    h1 = want_number(h1, "the entropy at T = 1")
    h4 = want_number(h4, "the entropy at T = 4")
    t1, t4 = _entropy(Q2_LOGITS, 1), _entropy(Q2_LOGITS, 4)
    b1, b4 = _entropy(Q2_LOGITS, 1, math.log2), _entropy(Q2_LOGITS, 4, math.log2)
    if math.isclose(h1, b1, rel_tol=1e-3) and math.isclose(h4, b4, rel_tol=1e-3):
        raise Wrong("these are in bits (log base 2); use the natural logarithm (nats)")
    if math.isclose(h1, t4, rel_tol=1e-3) and math.isclose(h4, t1, rel_tol=1e-3):
        raise Wrong("the two are swapped: the higher temperature gives the flatter distribution")
    if math.isclose(h1, h4, rel_tol=1e-6):
        raise Wrong(
            "both entropies are equal: the temperature did nothing. Divide the logits by T "
            "before the softmax"
        )
    times = _entropy([v * 4 for v in Q2_LOGITS], 1)
    if math.isclose(h4, times, rel_tol=1e-3):
        raise Wrong(
            "the entropy at T = 4 is lower than at T = 1: you multiplied the logits by T; "
            "divide them"
        )
    for value, truth, T in ((h1, t1, 1), (h4, t4, 4)):
        if not _near2(value, truth) and math.isclose(value, truth, rel_tol=0.05):
            raise Wrong(
                f"the entropy at T = {T} ({value:.4f}) is close: the method looks right, but "
                "the number is rounded too far; give at least two decimals"
            )
    if not _near2(h1, t1):
        raise Wrong(f"the entropy at T = 1 is not {h1:.4f}: take p = softmax(z) and sum -p log p")
    if not _near2(h4, t4):
        raise Wrong(f"the entropy at T = 4 is not {h4:.4f}: take p = softmax(z / 4) first")
    return (
        f"{t1:.3f} nats at T = 1, {t4:.3f} at T = 4 (the most, for 4 classes, is "
        f"log 4 = {math.log(4):.3f}): softening spreads the probability to the other classes."
    )


def _solution_q2():
    z = torch.tensor([4.0, 1.0, 0.0, 0.0])
    p1 = torch.softmax(z / 1, dim=0)
    p4 = torch.softmax(z / 4, dim=0)
    h1 = float(-(p1 * p1.log()).sum())
    h4 = float(-(p4 * p4.log()).sum())
    return h1, h4


q2 = Question(
    answers=["h1", "h4"],
    checker=_check_q2,
    hints=[
        "The entropy of probabilities p is the sum of -p log p. Which probabilities does a "
        "temperature T give?",
        "Divide the logits by T, apply the softmax, then sum -p * log(p) with the natural "
        "logarithm, once for T = 1 and once for T = 4.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted(
            "bits",
            (_entropy(Q2_LOGITS, 1, math.log2), _entropy(Q2_LOGITS, 4, math.log2)),
            "bits",
        ),
        Planted("swapped", (_entropy(Q2_LOGITS, 4), _entropy(Q2_LOGITS, 1)), "swapped"),
        Planted("T ignored", (_entropy(Q2_LOGITS, 1), _entropy(Q2_LOGITS, 1)), "did nothing"),
        Planted(
            "multiplied by T",
            (_entropy(Q2_LOGITS, 1), _entropy([v * 4 for v in Q2_LOGITS], 1)),
            "multiplied",
        ),
        Planted("far off", (1.0, 2.0), "is not"),
        Planted("rounded too far", (0.4, 1.3), "rounded too far"),
        Planted("a list", ([0.5], 1.0), "is a number"),
    ],
    right=[
        Alternative("rounded to 2 decimals", lambda: (0.36, 1.29)),
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


def _plain(value):
    # a NumPy or torch 0-d boolean (np.False_, torch.tensor(False)) as a Python bool
    if is_placeholder(value):
        raise NotAttempted
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, torch.Tensor) and value.dtype == torch.bool and value.numel() == 1:
        return bool(value.item())
    return value


def _check_q3(best_temperature, best_weight, resolvable, table) -> str:
    t = want_number(best_temperature, "the temperature")
    w = want_number(best_weight, "the weight")
    resolvable = want_choice(_plain(resolvable), [True, False], "resolvable")
    if not isinstance(table, DistillTable):
        raise Wrong(
            "`table` is not the stored sweep: run the cell that loads it, "
            "table = DistillTable.load()"
        )
    gains = _grid_gains(table)
    best = max(gains, key=lambda k: gains[k].mean)
    worst = min(gains, key=lambda k: gains[k].mean)
    if (t, w) == worst and worst != best:
        raise Wrong(
            f"T={t:g}, weight={w:g} has the lowest mean gain of the grid; the question asks "
            "for the highest"
        )
    if (t, w) == (best[1], best[0]) and best[0] != best[1]:
        raise Wrong("temperature and weight are swapped")
    if (t, w) != best:
        raise Wrong(
            f"T={t:g}, weight={w:g} does not have the highest mean gain: compare the gain's "
            "mean of every cell of the grid"
        )
    truth = gains[best].excludes_zero
    if resolvable != truth:
        g = gains[best]
        raise Wrong(
            f"look at the interval of that cell's gain ({g.low:+.2f} to {g.high:+.2f}): "
            "a difference is resolvable when the interval excludes zero"
        )
    g = gains[best]
    return (
        f"T={t:g}, weight={w:g}: {g.mean:+.2f} points (95% CI {g.low:+.2f} to {g.high:+.2f}), "
        + (
            "resolvable."
            if truth
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
    ],
)

QUESTIONS = bind(globals())
