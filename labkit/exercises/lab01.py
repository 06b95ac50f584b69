"""Exercises of notebooks/01_parameters_vs_hyperparameters.ipynb."""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from labkit.check import NotAttempted, Question, Wrong, is_placeholder


def _whole(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise Wrong(f"{name} should be a whole number, got {value!r}")
    return int(value)


def _check_q1(n_params) -> str:
    from labkit.measure import count_parameters, weight_tensors
    from labkit.zoo import load_pretrained

    n_params = _whole("your count", n_params)
    net = load_pretrained("baseline")
    truth = count_parameters(net)
    weights_only = sum(t.numel() for t in weight_tensors(net).values())
    if n_params == weights_only:
        raise Wrong(
            f"{n_params} counts the conv and linear weights only; biases and the "
            "batch-norm scales and shifts are learned too."
        )
    if n_params != truth:
        raise Wrong(
            f"the baseline has {'more' if n_params < truth else 'fewer'} than {n_params:,} "
            "learned numbers; add up p.numel() for every p in net.parameters()."
        )
    return f"{truth:,} learned numbers, each 4 bytes in float32: {4 * truth / 1024:.0f} KB."


q1 = Question(
    "lab01.q1",
    _check_q1,
    hint="Every learned tensor is in net.parameters(); tensor.numel() counts its numbers.",
    solution="""
n_params = sum(p.numel() for p in net.parameters())
lab01.q1.check(n_params)
""",
)

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


def _check_q2(chosen) -> str:
    if not isinstance(chosen, set | frozenset | list | tuple):
        raise Wrong(f"give a set of names from Q2_ITEMS, got {type(chosen).__name__}")
    chosen = set(chosen)
    unknown = chosen - set(Q2_ITEMS)
    if unknown:
        raise Wrong(f"{sorted(unknown)} not in the list; copy names from lab01.Q2_ITEMS.")
    learned = chosen - _HYPER
    missing = _HYPER - chosen
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


q2 = Question(
    "lab01.q2",
    _check_q2,
    hint="Ask of each: does an optimizer step change it? If yes, it is a parameter.",
    solution="""
hyperparameters = {"learning rate", "batch size", "kernel size", "number of epochs",
                   "number of layers"}
lab01.q2.check(hyperparameters)
""",
)

_Q3_CASES = [
    (1, 16, 3, True),
    (16, 32, 3, False),
    (3, 64, 7, True),
    (32, 32, 1, False),
    (8, 5, 5, True),
    (64, 128, 3, True),
]


def _check_q3(conv_params) -> str:
    if not callable(conv_params):
        raise Wrong("give the function itself (conv_params, without parentheses)")
    for c_in, c_out, k, bias in _Q3_CASES:
        truth = sum(p.numel() for p in nn.Conv2d(c_in, c_out, k, bias=bias).parameters())
        try:
            got = conv_params(c_in, c_out, k, bias)
        except Exception as err:
            raise Wrong(f"conv_params({c_in}, {c_out}, {k}, {bias}) raised {err!r}") from None
        if is_placeholder(got):
            raise NotAttempted
        if got != truth:
            raise Wrong(
                f"conv_params({c_in}, {c_out}, {k}, bias={bias}) returned {got!r}; "
                f"nn.Conv2d({c_in}, {c_out}, {k}, bias={bias}) has {truth} parameters."
            )
    return "each of the c_out filters has c_in x k x k weights, plus one bias if there is one."


q3 = Question(
    "lab01.q3",
    _check_q3,
    hint="One filter sees all c_in input channels through a k x k window. There are c_out "
    "filters, and each may add one bias.",
    solution="""
def conv_params(c_in, c_out, k, bias):
    return c_out * c_in * k * k + (c_out if bias else 0)


lab01.q3.check(conv_params)
""",
)


def _check_q4(best_lr, lr_trials) -> str:
    if not isinstance(lr_trials, dict) or not lr_trials:
        raise Wrong("pass the dict of learning-rate experiments as the second argument")
    errors = {lr: t.val_error for lr, t in lr_trials.items()}
    truth = min(errors, key=errors.get)
    if isinstance(best_lr, bool) or not isinstance(best_lr, numbers.Real):
        raise Wrong(f"give the learning rate as a number, got {best_lr!r}")
    if not any(math.isclose(best_lr, lr, rel_tol=1e-9) for lr in errors):
        raise Wrong(
            f"{best_lr:g} was not one of the learning rates tried: "
            f"{', '.join(f'{lr:g}' for lr in errors)}"
        )
    if not math.isclose(errors[best_lr], errors[truth], abs_tol=1e-12):
        raise Wrong(
            f"lr={best_lr:g} misread {100 * errors[best_lr]:.1f}% of validation images; "
            "another learning rate did better. The objective is the error: lower wins."
        )
    return f"lr={truth:g}, validation error {100 * errors[truth]:.1f}%."


q4 = Question(
    "lab01.q4",
    _check_q4,
    hint="Each Trial has .val_error; min(d, key=...) picks the key with the smallest value.",
    solution="""
best_lr = min(lr_trials, key=lambda lr: lr_trials[lr].val_error)
lab01.q4.check(best_lr, lr_trials)
""",
)


def _check_q5(ratio) -> str:
    from labkit.measure import count_macs
    from labkit.models import SmallCNN

    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real):
        raise Wrong(f"give the ratio as a number, got {ratio!r}")
    example = torch.zeros(1, 1, 16, 16)
    truth = count_macs(SmallCNN(kernel_size=5), example) / count_macs(
        SmallCNN(kernel_size=3), example
    )
    if math.isclose(ratio, 1 / truth, rel_tol=0.01):
        raise Wrong("that is the inverse: divide the 5x5 model's MACs by the 3x3 model's.")
    if math.isclose(ratio, 5 / 3, rel_tol=0.01):
        raise Wrong("a kernel is square: its area grows with the side squared.")
    if not math.isclose(ratio, truth, rel_tol=0.01):
        raise Wrong(
            f"{ratio:.3f} is off; measure both models with labkit.count_macs on one "
            "16x16 image and divide."
        )
    return (
        f"{truth:.2f}x the work, close to 25/9 = {25 / 9:.2f}: only the classifier does not grow."
    )


q5 = Question(
    "lab01.q5",
    _check_q5,
    hint="labkit.count_macs(labkit.SmallCNN(kernel_size=5), torch.zeros(1, 1, 16, 16)) counts "
    "one model's multiply-accumulates.",
    solution="""
one_image = torch.zeros(1, 1, 16, 16)
macs_5 = labkit.count_macs(labkit.SmallCNN(kernel_size=5), one_image)
macs_3 = labkit.count_macs(labkit.SmallCNN(kernel_size=3), one_image)
lab01.q5.check(macs_5 / macs_3)
""",
)
