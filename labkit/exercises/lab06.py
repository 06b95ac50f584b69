"""Exercises of notebooks/06_matrix_factorization.ipynb."""

from __future__ import annotations

import math

import torch
from torch import nn

from labkit.check import (
    Alternative,
    Planted,
    Question,
    Wrong,
    bind,
    call_learner,
    want_int,
    want_number,
)
from labkit.factorize.lowrank import approximation_error, factorize_layer, factorized_cost
from labkit.measure import count_parameters


def matrix() -> torch.Tensor:
    """The 6x5 matrix of question 3 (seeded: the same for every learner).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Exercises".
    """
    g = torch.Generator().manual_seed(6)
    return torch.randn(6, 5, generator=g)


def example_context() -> dict:
    """The notebook's matrix of question 3, for the tests.

    Used by: tests/test_exercises.py, in place of the notebook's variables.
    """
    return {"W": matrix()}


def _given(value, what: str):
    """A learner who wrote a function gets it called (a stub returning ____ is not attempted)."""
    if callable(value) and not isinstance(value, torch.Tensor | nn.Module):
        return call_learner(value, what=what)
    return value


# --------------------------------------------------------------------------- Q1: Tucker-2 count

_IN, _OUT, _K, _R_OUT, _R_IN = 16, 32, 3, 8, 4


def _check_q1(n_params) -> str:
    n = want_int(_given(n_params, "your function"), "the number of parameters")
    truth = _IN * _R_IN + _R_IN * _R_OUT * _K * _K + _R_OUT * _OUT
    swapped = _IN * _R_OUT + _R_OUT * _R_IN * _K * _K + _R_IN * _OUT
    if n == truth:
        return (
            f"{truth}: {_IN * _R_IN} in the 1x1 from 16 to 4 channels, "
            f"{_R_IN * _R_OUT * 9} in the 3x3 core, {_R_OUT * _OUT} in the 1x1 to 32 channels, "
            f"against {_OUT * _IN * 9} in the original ({_OUT * _IN * 9 / truth:.1f}x fewer)."
        )
    if n == _OUT * _IN * _K * _K:
        raise Wrong(f"{n} is the original layer's count; the Tucker-2 form has three small layers")
    if n == swapped:
        raise Wrong(
            f"{n} swaps the ranks: r_in = 4 belongs to the input side (16 -> 4 channels) and "
            "r_out = 8 to the output side (8 -> 32 channels)"
        )
    if n == _R_IN * _R_OUT * _K * _K:
        raise Wrong(f"{n} counts only the core; add the two 1x1 convolutions around it")
    if n == _IN * _R_IN + _R_IN * _R_OUT + _R_OUT * _OUT:
        raise Wrong(f"{n} treats the core as 1x1: it keeps the 3x3 kernel size")
    if n in (truth + _OUT, truth + _R_IN + _R_OUT + _OUT):
        raise Wrong(f"{n} counts biases; the question asks for the layer without bias")
    raise Wrong(
        f"{n} is not it: add the 1x1 from 16 to r_in channels, the 3x3 core from r_in to "
        "r_out channels, and the 1x1 from r_out to 32 channels"
    )


def _solution_q1():
    n_in, n_out, k, r_out, r_in = 16, 32, 3, 8, 4
    n_params = n_in * r_in + r_in * r_out * k * k + r_out * n_out
    return n_params


def _built():
    conv = nn.Conv2d(16, 32, 3, padding=1, bias=False)
    return (count_parameters(factorize_layer(conv, (8, 4), "tucker")),)


q1 = Question(
    answers=["n_params"],
    checker=_check_q1,
    hints=[
        "Tucker-2 turns the convolution into three layers: a 1x1, a 3x3 core, and a 1x1.",
        "A k x k convolution from a to b channels without bias has a * b * k * k weights. The "
        "first layer goes from 16 to r_in channels, the core from r_in to r_out, the last "
        "from r_out to 32.",
    ],
    solution=_solution_q1,
    wrong=[
        Planted("the original", (4608,), "original"),
        Planted("ranks swapped", (16 * 8 + 8 * 4 * 9 + 4 * 32,), "swaps"),
        Planted("the core alone", (288,), "only the core"),
        Planted("a 1x1 core", (64 + 32 + 256,), "keeps the 3x3"),
        Planted("with a bias", (64 + 288 + 256 + 32,), "biases"),
        Planted("far off", (1000,), "is not it"),
        Planted("a string", ("608",), "not the text"),
        Planted("a tensor of two", (torch.tensor([608, 1]),), "whole number"),
    ],
    right=[
        Alternative("built and counted", _built),
        Alternative(
            "from labkit's formula",
            lambda: (
                factorized_cost(nn.Conv2d(16, 32, 3, bias=False), (8, 4), "tucker")["params"],
            ),
        ),
        Alternative("as a float", (608.0,)),
    ],
)


# --------------------------------------------------------------------------- Q2: rank in budget


def _check_q2(rank) -> str:
    r = want_int(_given(rank, "your function"), "the rank")
    original = 512 * 256 + 256
    truth = max(k for k in range(1, 257) if k * (512 + 256) + 256 <= original / 4)
    if r == truth:
        return (
            f"rank {truth}: {truth * 768 + 256:,} parameters, at most a quarter of "
            f"{original:,}; rank {truth + 1} would need {(truth + 1) * 768 + 256:,}."
        )
    if r == truth + 1:
        raise Wrong(f"rank {r} goes just over the budget: keep the largest rank that fits (<=)")
    if r == 64:
        raise Wrong(
            "rank 64 is a quarter of the largest rank (256), but the two layers hold "
            "r * (512 + 256) parameters, not a quarter of the original"
        )
    if r == 128:
        raise Wrong(
            "rank 128 is half of the largest rank (256); the budget is on parameters: count "
            "r * (512 + 256) weights plus the bias at rank r"
        )
    if r > 256 or r < 1:
        raise Wrong(f"rank {r} is impossible here: ranks go from 1 to min(512, 256) = 256")
    raise Wrong(
        f"rank {r} is not it: the two layers hold r * 512 + r * 256 weights plus the bias of "
        "256; find the largest r for which that is at most a quarter of 512 * 256 + 256"
    )


def _solution_q2():
    original = 512 * 256 + 256
    rank = (original // 4 - 256) // (512 + 256)
    return rank


q2 = Question(
    answers=["rank"],
    checker=_check_q2,
    hints=[
        "At rank r the first layer maps 512 features to r, the second r to 256 (with the bias).",
        "Write the parameter count of the two layers as a function of r, and compare it with a "
        "quarter of the original count, weights and bias.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted("one too many", (43,), "over the budget"),
        Planted("a quarter of the rank", (64,), "quarter of the largest rank"),
        Planted("half the largest rank", (128,), "half of the largest rank"),
        Planted("impossible", (300,), "impossible"),
        Planted("far off", (10,), "is not it"),
        Planted("a string", ("42",), "not the text"),
        Planted("none", (None,), "whole number"),
    ],
    right=[
        Alternative(
            "by trying every rank",
            lambda: (
                max(
                    r
                    for r in range(1, 257)
                    if factorized_cost(nn.Linear(512, 256), r)["params"]
                    <= factorized_cost(nn.Linear(512, 256), None)["params"] / 4
                ),
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- Q3: rank-3 error


def _check_q3(error) -> str:
    e = want_number(_given(error, "your function"), "the relative error")
    w = matrix()
    s = torch.linalg.svdvals(w)
    truth = float((s[3:] ** 2).sum().sqrt() / s.norm())
    if math.isclose(e, truth, rel_tol=1e-3):
        return (
            f"{truth:.4f}: the singular values left out are {[round(float(v), 3) for v in s[3:]]}; "
            "no rank-3 matrix gets closer (Eckart-Young)."
        )
    if math.isclose(e, truth, rel_tol=0.03):
        raise Wrong(f"{e} is close but too rounded: give 3 significant digits")
    if math.isclose(e, 100 * truth, rel_tol=0.03):
        raise Wrong(f"{e} is 100 times too large: is that a percentage? Give the fraction")
    if math.isclose(e, truth**2, rel_tol=1e-3):
        raise Wrong(f"{e:.4f} is the squared error's share; take its square root")
    if math.isclose(e, float(s[3:].sum() / s.sum()), rel_tol=1e-3):
        raise Wrong(f"{e:.4f} adds singular values; the Frobenius norm adds their squares")
    if math.isclose(e, float((s[3:] ** 2).sum().sqrt()), rel_tol=1e-3):
        raise Wrong(f"{e:.4f} is the error's norm; divide it by ||W|| to make it relative")
    if math.isclose(e, 1 - truth, rel_tol=1e-3) or math.isclose(
        e, float((s[:3] ** 2).sum().sqrt() / s.norm()), rel_tol=1e-3
    ):
        raise Wrong(f"{e:.4f} measures what is kept; the error is what is left out")
    for r in (1, 2, 4):
        if math.isclose(e, float((s[r:] ** 2).sum().sqrt() / s.norm()), rel_tol=1e-3):
            raise Wrong(f"{e:.4f} is the error at rank {r}; the question asks for rank 3")
    if e < 0:
        raise Wrong(f"{e:.4f} is negative; a norm is never negative")
    raise Wrong(
        f"{e:.4f} is not it: ||W - W_3|| / ||W|| is the root of the share of squared singular "
        "values from the fourth on"
    )


def _solution_q3(W):
    s = torch.linalg.svdvals(W)
    error = float((s[3:] ** 2).sum().sqrt() / (s**2).sum().sqrt())
    return error


def _built_q3():
    w = matrix()
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    w3 = u[:, :3] @ torch.diag(s[:3]) @ vh[:3]
    return (torch.linalg.matrix_norm(w - w3) / torch.linalg.matrix_norm(w),)


def _errors(ranks, relative=True):
    s = torch.linalg.svdvals(matrix())
    return [float((s[r:] ** 2).sum().sqrt() / (s.norm() if relative else 1)) for r in ranks]


q3 = Question(
    answers=["error"],
    checker=_check_q3,
    hints=[
        "Eckart-Young: the error of the best rank-r approximation is made of the singular "
        "values it leaves out.",
        "In the Frobenius norm, squared singular values behave like squared lengths that add "
        "up to ||W||². Which of them does a rank-3 approximation keep, and which are left "
        "for the error?",
    ],
    solution=_solution_q3,
    wrong=[
        Planted("squared", lambda: (_errors([3])[0] ** 2,), "square root"),
        Planted("not relative", lambda: (_errors([3], relative=False)[0],), "relative"),
        Planted("what is kept", lambda: (1 - _errors([3])[0],), "what is kept"),
        Planted("rank 2", lambda: (_errors([2])[0],), "rank 2"),
        Planted("rank 4", lambda: (_errors([4])[0],), "rank 4"),
        Planted(
            "plain sums",
            lambda: (
                float(
                    torch.linalg.svdvals(matrix())[3:].sum() / torch.linalg.svdvals(matrix()).sum()
                ),
            ),
            "adds singular values",
        ),
        Planted("far off", (0.9,), "is not it"),
        Planted("too rounded", lambda: (round(_errors([3])[0], 2),), "3 significant digits"),
        Planted("a percentage", lambda: (round(100 * _errors([3])[0], 1),), "percentage"),
        Planted("a blank function", (lambda: None,), "is a number"),
        Planted("a list", ([0.1, 0.2],), "is a number"),
        Planted("nan", (float("nan"),), "finite"),
    ],
    right=[
        Alternative("built with torch.linalg.svd (a tensor)", _built_q3),
        Alternative("labkit's approximation_error", lambda: (approximation_error(matrix(), 3),)),
    ],
)

QUESTIONS = bind(globals())
