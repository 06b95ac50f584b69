"""Exercises of notebooks/01_parameters_vs_hyperparameters.ipynb.

Used by: notebook 01 (``from labkit.exercises import lab01``) and the tests
(``tests/test_exercises.py`` runs every question's declaration, with ``example_context()``
in place of the notebook's variables).
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import labkit
from labkit.check import (
    Alternative,
    Planted,
    Question,
    Wrong,
    bind,
    call_learner,
    want_callable,
    want_number,
)
from labkit.measure import count_macs, count_parameters, weight_tensors
from labkit.models import SmallCNN
from labkit.numeric import Mistake, Numeric
from labkit.zoo import load_pretrained


def example_context() -> dict:
    """Stand-ins for the notebook variables these checks read, for the tests."""
    lr_trials = {
        lr: SimpleNamespace(val_error=e)
        for lr, e in [(1e-4, 0.4), (1e-3, 0.05), (1e-2, 0.03), (1e-1, 0.2)]
    }
    return {"lr_trials": lr_trials}


# --------------------------------------------------------------------------- Q1: count


@functools.cache
def _q1_counts() -> dict[str, int]:
    """The baseline's parameter count, and the counts of the common mistakes."""
    net = load_pretrained("digits_baseline")
    truth = count_parameters(net)
    return {
        "truth": truth,
        "weights only": sum(t.numel() for t in weight_tensors(net).values()),
        "buffers counted": truth + sum(b.numel() for b in net.buffers()),
    }


def _solution_q1(net):
    n_params = sum(p.numel() for p in net.parameters())
    return n_params


q1 = Numeric(
    answers=["n_params"],
    what="a count of learned numbers",
    whole=True,
    truth=lambda: _q1_counts()["truth"],
    mistakes=[
        Mistake(
            "weights only",
            lambda: _q1_counts()["weights only"],
            "{n_params} counts the conv and linear weights only; biases and the batch-norm "
            "scales and shifts are learned too.",
        ),
        Mistake(
            "buffers counted",
            lambda: _q1_counts()["buffers counted"],
            "that counts the buffers too (batch-norm running statistics): they are computed "
            "from the data, not learned by the optimizer, so they are not parameters.",
        ),
    ],
    wrong_message=(
        "the baseline has {side} than {n_params:,} learned numbers; add up the sizes of every "
        "tensor in net.parameters()."
    ),
    facts=lambda n_params, truth: {"side": "more" if n_params < truth else "fewer"},
    success=lambda truth: (
        f"{truth:,} learned numbers, each 4 bytes in float32: {4 * truth / 1024:.0f} KB."
    ),
    hints=[
        "Every learned tensor is in net.parameters(); add up how many numbers each holds.",
        "tensor.numel() is the number of elements of a tensor.",
    ],
    solution=_solution_q1,
    wrong=[Planted("ten short", lambda net: (count_parameters(net) - 10,), "more than")],
    right=[
        Alternative("as a whole float", lambda net: (float(count_parameters(net)),)),
        Alternative(
            "from the state dict's learned entries",
            lambda net: (sum(p.numel() for _, p in net.named_parameters()),),
        ),
        Alternative("labkit's own count", lambda net: (labkit.count_parameters(net),)),
    ],
)


# --------------------------------------------------------------------------- Q2: classify

Q2_ITEMS = (
    "learning rate",
    "conv kernel values",
    "batch size",
    "classifier bias",
    "kernel size",
    "number of epochs",
    "batch-norm scale",
    "number of layers",
)
_HYPER = {"learning rate", "batch size", "kernel size", "number of epochs", "number of layers"}


def _check_q2(hyperparameters) -> str:
    if isinstance(hyperparameters, str) or not isinstance(
        hyperparameters, set | frozenset | list | tuple
    ):
        raise Wrong(f"give a set of names from Q2_ITEMS, got {type(hyperparameters).__name__}")
    if not all(isinstance(x, str) for x in hyperparameters):
        raise Wrong("give the names as strings, copied from lab01.Q2_ITEMS")
    chosen = set(hyperparameters)
    unknown = chosen - set(Q2_ITEMS)
    if unknown:
        raise Wrong(f"{sorted(unknown)} not in the list; copy names from lab01.Q2_ITEMS.")
    learned, missing = chosen - _HYPER, _HYPER - chosen
    if learned:
        raise Wrong(
            f"{sorted(learned)} {'is' if len(learned) == 1 else 'are'} learned in "
            "training: parameters, not hyperparameters."
        )
    if missing:
        raise Wrong(
            f"{sorted(missing)} {'is' if len(missing) == 1 else 'are'} set before "
            "training, so also a hyperparameter."
        )
    return "hyperparameters are chosen before training; parameters come out of it."


def _solution_q2():
    hyperparameters = {
        "learning rate",
        "batch size",
        "kernel size",
        "number of epochs",
        "number of layers",
    }
    return hyperparameters


q2 = Question(
    answers=["hyperparameters"],
    checker=_check_q2,
    hints=[
        "Ask of each name: does an optimizer step change it? If yes, it is a parameter.",
        "Five of the eight are fixed before training starts.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted("a parameter included", (_HYPER | {"classifier bias"},), "learned in training"),
        Planted("one missing", (_HYPER - {"number of layers"},), "also a hyperparameter"),
        Planted("a name not listed", (_HYPER | {"dropout"},), "not in the list"),
        Planted("one string", ("learning rate",), "set of names"),
    ],
    right=[
        Alternative("as a list", (sorted(_HYPER),)),
        Alternative("filtered from the items", (tuple(x for x in Q2_ITEMS if x in _HYPER),)),
    ],
)


# --------------------------------------------------------------------------- Q3: conv params

_Q3_CASES = [
    (1, 16, 3, True),
    (16, 32, 3, False),
    (3, 64, 7, True),
    (32, 32, 1, False),
    (8, 5, 5, True),
    (64, 128, 3, True),
]


def _check_q3(conv_params) -> str:
    conv_params = want_callable(conv_params, "conv_params")
    for c_in, c_out, k, bias in _Q3_CASES:
        truth = sum(p.numel() for p in nn.Conv2d(c_in, c_out, k, bias=bias).parameters())
        got = call_learner(conv_params, c_in, c_out, k, bias, what="conv_params")
        got = want_number(got, f"what conv_params({c_in}, {c_out}, {k}, {bias}) returns")
        if got != truth:
            raise Wrong(
                f"conv_params({c_in}, {c_out}, {k}, bias={bias}) returned {got!r}; "
                f"nn.Conv2d({c_in}, {c_out}, {k}, bias={bias}) has {truth} parameters."
            )
    return "each of the c_out filters has c_in x k x k weights, plus one bias if there is one."


def _solution_q3():
    def conv_params(c_in, c_out, k, bias):
        return c_out * c_in * k * k + (c_out if bias else 0)

    return conv_params


def _counted_by_pytorch(c_in, c_out, k, bias):
    return sum(p.numel() for p in nn.Conv2d(c_in, c_out, k, bias=bias).parameters())


q3 = Question(
    answers=["conv_params"],
    checker=_check_q3,
    hints=[
        "Picture one filter: how many input channels does it look at, through how big a window?",
        "Count the weights of ONE filter first (it spans every input channel); then how many "
        "filters are there, and what does bias=True add to each?",
    ],
    solution=_solution_q3,
    wrong=[
        Planted("no bias", (lambda c_in, c_out, k, bias: c_out * c_in * k * k,), "bias=True"),
        Planted(
            "kernel not squared",
            (lambda c_in, c_out, k, bias: c_out * c_in * k + c_out * bias,),
            "returned",
        ),
        Planted("wrong signature", (lambda c_in, c_out, k: 0,), "raised"),
        Planted("a number, not a function", (12,), "function conv_params itself"),
    ],
    right=[
        Alternative("built and counted by PyTorch", (_counted_by_pytorch,)),
        Alternative("bias as an int", (lambda i, o, k, b: o * (i * k**2 + int(b)),)),
        Alternative("a NumPy integer", (lambda i, o, k, b: np.int64(o * i * k * k + o * b),)),
    ],
)


# --------------------------------------------------------------------------- Q4: best lr


def _errors(lr_trials) -> dict[float, float]:
    """Learning rate -> validation error, or Wrong if ``lr_trials`` is not the experiments."""
    if (
        not isinstance(lr_trials, dict)
        or not lr_trials
        or not all(
            isinstance(lr, int | float) and isinstance(getattr(t, "val_error", None), float)
            for lr, t in lr_trials.items()
        )
    ):
        raise Wrong("pass the dict of learning-rate experiments, lr_trials, as the second argument")
    return {lr: t.val_error for lr, t in lr_trials.items()}


def _best_lr(lr_trials) -> float:
    errors = _errors(lr_trials)
    return min(errors, key=errors.get)


def _tried(best_lr, lr_trials) -> float | None:
    """The learning rate tried that ``best_lr`` names (1e-3 * 3 / 3 names 1e-3), if any."""
    return next((lr for lr in lr_trials if math.isclose(best_lr, lr, rel_tol=1e-6)), None)


def _q4_facts(best_lr, lr_trials) -> dict:
    tried = _tried(best_lr, lr_trials)
    return {
        "tried": ", ".join(f"{lr:g}" for lr in lr_trials),
        "error": None if tried is None else lr_trials[tried].val_error,
    }


def _solution_q4(lr_trials):
    best_lr = min(lr_trials, key=lambda lr: lr_trials[lr].val_error)
    return best_lr


q4 = Numeric(
    answers=["best_lr"],
    given=["lr_trials"],
    what="the learning rate",
    truth=_best_lr,
    mistakes=[
        Mistake(
            "not tried",
            3e-3,
            "{best_lr:g} was not one of the learning rates tried: {tried}",
            when=lambda best_lr, lr_trials: _tried(best_lr, lr_trials) is None,
        ),
    ],
    facts=_q4_facts,
    wrong_message=(
        "lr={best_lr:g} misread {error:.1%} of validation images; another learning rate did "
        "better. The objective is the error: lower wins."
    ),
    far_off=lambda lr_trials: max(lr_trials),  # the largest learning rate tried: a worse one
    success="lr={best_lr:g}, validation error {error:.1%}.",
    hints=[
        "The objective is an error: the best learning rate is the one with the lowest.",
        "Each value in lr_trials has .val_error; min(d, key=...) picks the key whose value is "
        "smallest.",
    ],
    solution=_solution_q4,
    wrong=[Planted("not the trials", lambda lr_trials: (1e-2, [1, 2]), "dict of learning-rate")],
    right=[
        Alternative(
            "sorted by error",
            lambda lr_trials: (
                sorted(lr_trials.items(), key=lambda kv: kv[1].val_error)[0][0],
                lr_trials,
            ),
        ),
        Alternative(
            "written as a product",
            lambda lr_trials: (
                min(lr_trials, key=lambda lr: lr_trials[lr].val_error) * 3 / 3,
                lr_trials,
            ),
        ),
    ],
)


# --------------------------------------------------------------------------- Q5: MACs


@functools.cache
def _mac_ratio() -> float:
    one_image = torch.zeros(1, 1, 16, 16)
    return count_macs(SmallCNN(kernel_size=5), one_image) / count_macs(
        SmallCNN(kernel_size=3), one_image
    )


def _solution_q5():
    one_image = torch.zeros(1, 1, 16, 16)
    macs_5 = labkit.count_macs(labkit.SmallCNN(kernel_size=5), one_image)
    macs_3 = labkit.count_macs(labkit.SmallCNN(kernel_size=3), one_image)
    ratio = macs_5 / macs_3
    return ratio


def _flop_ratio():
    flops = []
    for k in (5, 3):
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            SmallCNN(kernel_size=k).eval()(torch.zeros(1, 1, 16, 16))
        flops.append(counter.get_total_flops())
    return (flops[0] / flops[1],)


q5 = Numeric(
    answers=["ratio"],
    what="the ratio",
    truth=_mac_ratio,
    tolerance=dict(rel=1e-4),
    mistakes=[
        Mistake(
            "inverted",
            lambda: 1 / _mac_ratio(),
            "that is the inverse: divide the 5x5 model's MACs by the 3x3 model's.",
        ),
        Mistake(
            "the side, not the area",
            5 / 3,
            "a kernel is square: its area grows with the side squared.",
        ),
        Mistake(
            "the area guess",
            25 / 9,
            "25/9 is the ratio of the kernel areas, a guess: not every MAC is in a kernel. "
            "Measure both models.",
            tolerance=dict(rel=1e-6),  # the truth is a little under it
        ),
    ],
    close_message=(
        "{ratio} is the ratio rounded: keep more digits (let Python divide the two counts, "
        "macs_5 / macs_3, and answer with the result)."
    ),
    wrong_message=(
        "{ratio:.4f} is off; measure both models with labkit.count_macs on one 16x16 image and "
        "divide."
    ),
    success=lambda truth: (
        f"{truth:.4f}x the work, a little under 25/9 = {25 / 9:.4f}: the classifier's MACs "
        "do not grow with the kernel."
    ),
    hints=[
        "Build both models and count what each computes for the same image; do not reason "
        "from the kernel sizes alone.",
        "labkit.count_macs counts one model's multiply-accumulates on an example image; the "
        "course's images are 16x16 with one channel.",
    ],
    solution=_solution_q5,
    wrong=[
        Planted("typed to three decimals", lambda: (round(_mac_ratio(), 3),), "keep more digits")
    ],
    right=[Alternative("FLOPs from PyTorch's counter", _flop_ratio)],
)

QUESTIONS = bind(globals())
