"""Exercises of notebooks/06_matrix_factorization.ipynb.

Used by: notebook 06 (``from labkit.exercises import lab06``) and the tests
(``tests/test_exercises.py`` runs every question's declaration, with ``example_context()``
in place of the notebook's variables).
"""

from __future__ import annotations

import torch
from torch import nn

from labkit.check import Alternative, Planted, bind
from labkit.factorize.lowrank import approximation_error, factorize_layer, factorized_cost
from labkit.measure import count_parameters
from labkit.numeric import Mistake, Numeric


def matrix() -> torch.Tensor:
    """The 6x5 matrix of question 3 (seeded: the same for every learner).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Exercises".
    """
    g = torch.Generator().manual_seed(6)
    return torch.randn(6, 5, generator=g)


def example_context() -> dict:
    """The notebook's matrix of question 3, for the tests."""
    return {"W": matrix()}


# --------------------------------------------------------------------------- Q1: Tucker-2 count

_IN, _OUT, _K, _R_OUT, _R_IN = 16, 32, 3, 8, 4
_Q1_TRUTH = _IN * _R_IN + _R_IN * _R_OUT * _K * _K + _R_OUT * _OUT
_BIASES = "{n_params} counts biases; the question asks for the layer without bias"


def _solution_q1():
    n_in, n_out, k, r_out, r_in = 16, 32, 3, 8, 4
    n_params = n_in * r_in + r_in * r_out * k * k + r_out * n_out
    return n_params


def _built():
    conv = nn.Conv2d(16, 32, 3, padding=1, bias=False)
    return (count_parameters(factorize_layer(conv, (8, 4), "tucker")),)


q1 = Numeric(
    answers=["n_params"],
    what="the number of parameters",
    whole=True,
    truth=_Q1_TRUTH,
    mistakes=[
        Mistake(
            "the original",
            _OUT * _IN * _K * _K,
            "{n_params} is the original layer's count; the Tucker-2 form has three small layers",
        ),
        Mistake(
            "ranks swapped",
            _IN * _R_OUT + _R_OUT * _R_IN * _K * _K + _R_IN * _OUT,
            "{n_params} swaps the ranks: r_in = 4 belongs to the input side (16 -> 4 channels) "
            "and r_out = 8 to the output side (8 -> 32 channels)",
        ),
        Mistake(
            "the core alone",
            _R_IN * _R_OUT * _K * _K,
            "{n_params} counts only the core; add the two 1x1 convolutions around it",
        ),
        Mistake(
            "a 1x1 core",
            _IN * _R_IN + _R_IN * _R_OUT + _R_OUT * _OUT,
            "{n_params} treats the core as 1x1: it keeps the 3x3 kernel size",
        ),
        Mistake("a bias on the last layer", _Q1_TRUTH + _OUT, _BIASES),
        Mistake("a bias on every layer", _Q1_TRUTH + _R_IN + _R_OUT + _OUT, _BIASES),
    ],
    wrong_message=(
        "{n_params} is not it: add the 1x1 from 16 to r_in channels, the 3x3 core from r_in to "
        "r_out channels, and the 1x1 from r_out to 32 channels"
    ),
    success=(
        f"{_Q1_TRUTH}: {_IN * _R_IN} in the 1x1 from 16 to 4 channels, "
        f"{_R_IN * _R_OUT * 9} in the 3x3 core, {_R_OUT * _OUT} in the 1x1 to 32 channels, "
        f"against {_OUT * _IN * 9} in the original ({_OUT * _IN * 9 / _Q1_TRUTH:.1f}x fewer)."
    ),
    hints=[
        "Tucker-2 turns the convolution into three layers: a 1x1, a 3x3 core, and a 1x1.",
        "A k x k convolution from a to b channels without bias has a * b * k * k weights. The "
        "first layer goes from 16 to r_in channels, the core from r_in to r_out, the last "
        "from r_out to 32.",
    ],
    solution=_solution_q1,
    wrong=[Planted("a tensor of two", (torch.tensor([608, 1]),), "whole number")],
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


_ORIGINAL = 512 * 256 + 256  # Linear(512, 256) with its bias
_Q2_TRUTH = max(k for k in range(1, 257) if k * (512 + 256) + 256 <= _ORIGINAL / 4)


def _solution_q2():
    original = 512 * 256 + 256
    rank = (original // 4 - 256) // (512 + 256)
    return rank


q2 = Numeric(
    answers=["rank"],
    what="the rank",
    whole=True,
    truth=_Q2_TRUTH,
    mistakes=[
        Mistake(
            "one too many",
            _Q2_TRUTH + 1,
            "rank {rank} goes just over the budget: keep the largest rank that fits (<=)",
        ),
        Mistake(
            "a quarter of the rank",
            64,
            "rank 64 is a quarter of the largest rank (256), but the two layers hold "
            "r * (512 + 256) parameters, not a quarter of the original",
        ),
        Mistake(
            "half the largest rank",
            128,
            "rank 128 is half of the largest rank (256); the budget is on parameters: count "
            "r * (512 + 256) weights plus the bias at rank r",
        ),
        Mistake(
            "impossible",
            300,
            "rank {rank} is impossible here: ranks go from 1 to min(512, 256) = 256",
            when=lambda rank: not 1 <= rank <= 256,
        ),
    ],
    wrong_message=(
        "rank {rank} is not it: the two layers hold r * 512 + r * 256 weights plus the bias of "
        "256; find the largest r for which that is at most a quarter of 512 * 256 + 256"
    ),
    success=(
        f"rank {_Q2_TRUTH}: {_Q2_TRUTH * 768 + 256:,} parameters, at most a quarter of "
        f"{_ORIGINAL:,}; rank {_Q2_TRUTH + 1} would need {(_Q2_TRUTH + 1) * 768 + 256:,}."
    ),
    hints=[
        "At rank r the first layer maps 512 features to r, the second r to 256 (with the bias).",
        "Write the parameter count of the two layers as a function of r, and compare it with a "
        "quarter of the original count, weights and bias.",
    ],
    solution=_solution_q2,
    wrong=[Planted("none", (None,), "whole number")],
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


def _share_left(s: torch.Tensor, r: int, relative: bool = True) -> float:
    """||W - W_r|| (over ||W|| if relative) from the singular values ``s``."""
    return float((s[r:] ** 2).sum().sqrt() / (s.norm() if relative else 1))


_S = torch.linalg.svdvals(matrix())  # 6x5: cheap at import, and the declaration is checked
_Q3_TRUTH = _share_left(_S, 3)
_KEPT = "{error:.4f} measures what is kept; the error is what is left out"


def _at_rank(r: int) -> Mistake:
    return Mistake(
        f"rank {r}",
        _share_left(_S, r),
        f"{{error:.4f}} is the error at rank {r}; the question asks for rank 3",
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


q3 = Numeric(
    answers=["error"],
    what="the relative error",
    truth=_Q3_TRUTH,
    tolerance=dict(rel=1e-3),
    mistakes=[
        Mistake(
            "a percentage",
            100 * _Q3_TRUTH,
            "{error} is 100 times too large: is that a percentage? Give the fraction",
            tolerance=dict(rel=0.03),
        ),
        Mistake(
            "squared",
            _Q3_TRUTH**2,
            "{error:.4f} is the squared error's share; take its square root",
        ),
        Mistake(
            "plain sums",
            float(_S[3:].sum() / _S.sum()),
            "{error:.4f} adds singular values; the Frobenius norm adds their squares",
        ),
        Mistake(
            "not relative",
            _share_left(_S, 3, relative=False),
            "{error:.4f} is the error's norm; divide it by ||W|| to make it relative",
        ),
        Mistake("what is kept", 1 - _Q3_TRUTH, _KEPT),
        Mistake("the kept share's norm", float((_S[:3] ** 2).sum().sqrt() / _S.norm()), _KEPT),
        *[_at_rank(r) for r in (1, 2, 4)],
        Mistake(
            "negative",
            -_Q3_TRUTH,
            "{error:.4f} is negative; a norm is never negative",
            when=lambda error: error < 0,
        ),
    ],
    close_message="{error} is close but too rounded: give 3 significant digits",
    wrong_message=(
        "{error:.4f} is not it: ||W - W_3|| / ||W||, for the best rank-3 approximation (from "
        "an exact SVD), is the root of the share of squared singular values from the fourth on"
    ),
    success=(
        f"{_Q3_TRUTH:.4f}: the singular values left out are "
        f"{[round(float(v), 3) for v in _S[3:]]}; no rank-3 matrix gets closer (Eckart-Young)."
    ),
    hints=[
        "Eckart-Young: the error of the best rank-r approximation is made of the singular "
        "values it leaves out.",
        "In the Frobenius norm, squared singular values behave like squared lengths that add "
        "up to ||W||². Which of them does a rank-3 approximation keep, and which are left "
        "for the error?",
    ],
    solution=_solution_q3,
    wrong=[
        Planted("a rounded percentage", (round(100 * _Q3_TRUTH, 1),), "percentage"),
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
