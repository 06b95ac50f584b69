"""Every checker passes its reference solution and fails planted wrong answers.

The solutions are run as code, in a namespace holding the variables the notebook
would have defined, with LABKIT_STRICT_CHECKS=1 so that a failure raises.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import labkit
from labkit import quantize
from labkit.check import ExerciseFailed, ____
from labkit.exercises import lab00, lab01, lab02, lab03, lab04
from labkit.measure import count_parameters, weight_tensors
from labkit.search import COURSE_SPACE, Replay


def replay_result() -> Replay:
    """A regret picture with a known answer: tpe lowest at 10% of a 40-point grid."""
    curves = {
        "grid": np.full((3, 6), 0.10),
        "random": np.array([[0.3, 0.2, 0.05, 0.05, 0.05, 0.0]] * 3),
        "tpe": np.array([[0.3, 0.1, 0.02, 0.02, 0.0, 0.0]] * 3),
    }
    return Replay(budget=6, best_so_far=curves, table_best=0.0, grid_size=40)


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")


@pytest.fixture(scope="module")
def lr_trials():
    return {
        lr: SimpleNamespace(val_error=e)
        for lr, e in [(1e-4, 0.4), (1e-3, 0.05), (1e-2, 0.03), (1e-1, 0.2)]
    }


@pytest.fixture
def namespace(data, baseline, lr_trials):
    return {
        "labkit": labkit,
        "torch": torch,
        "data": data,
        "net": baseline,
        "lr_trials": lr_trials,
        "lab00": lab00,
        "lab01": lab01,
        "lab02": lab02,
        "lab03": lab03,
        "lab04": lab04,
        "int8_ref": _int8_ref(data, baseline),
        "float_model_bytes": quantize.float_model_bytes,
        "quantized_model_bytes": quantize.quantized_model_bytes,
        "scan": SCAN,
        "math": math,
        "np": np,
        "COURSE_SPACE": COURSE_SPACE,
        "result": replay_result(),
        "____": ____,
    }


QUESTIONS = [
    lab00.q0,
    lab00.q1,
    lab00.q2,
    lab00.q3,
    lab01.q1,
    lab01.q2,
    lab01.q3,
    lab01.q4,
    lab01.q5,
    lab02.q1,
    lab02.q2,
    lab02.q3,
    lab03.q1,
    lab03.q2,
    lab03.q3,
    lab04.q1,
    lab04.q2,
    lab04.q3,
]


_INT8 = {}


def _int8_ref(data, baseline):
    if "model" not in _INT8:
        _INT8["model"] = quantize.ptq_int8(baseline, data.train.X[:256])
    return _INT8["model"]


SCAN = {
    "features.0": [99.0, 90.0, 40.0],
    "features.4": [99.0, 98.0, 80.0],
    "classifier": [99.0, 99.0, 97.0],
}


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.name)
def test_the_reference_solution_passes(question, namespace):
    exec(question.solution_code, namespace)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.name)
def test_a_blank_is_not_an_answer(question, lr_trials):
    args = (
        (____, lr_trials)
        if question in (lab01.q4, lab02.q3, lab03.q3)
        else (____, ____)[: 2 if question is lab00.q1 else 1]
    )
    with pytest.raises(ExerciseFailed, match="not attempted"):
        question.check(*args)


def _wrong_answers(data, baseline, lr_trials):
    n_train = len(data.train)
    originals = len(set(data.train.source.tolist()))
    accuracy = labkit.evaluate(baseline, data.test).value
    params = count_parameters(baseline)
    hyper = {"learning rate", "batch size", "kernel size", "number of epochs", "number of layers"}
    return [
        (lab00.q0, (9,), "0 is a digit"),
        (lab00.q0, ("10",), "not the text"),
        (lab00.q0, (100,), "count 0"),
        (lab00.q1, (n_train, n_train), "distorted copies"),
        (lab00.q1, (originals, originals), "training split holds"),
        (lab00.q1, (n_train, 1797), "distinct source"),
        (lab00.q2, (100 * accuracy,), "percentage"),
        (lab00.q2, (labkit.evaluate(baseline, data.val).value + 1e-6,), "test split"),
        (lab00.q2, ("0.99",), "as a number"),
        (lab00.q3, (450,), "not the smallest"),
        (lab00.q3, (lab00._q3_truth() - 1,), "below 98%"),
        (lab00.q3, (451,), "out of range"),
        (lab01.q1, (sum(t.numel() for t in weight_tensors(baseline).values()),), "biases"),
        (lab01.q1, (params - 10,), "more than"),
        (lab01.q1, (float(params),), "whole number"),
        (lab01.q2, (hyper | {"classifier bias"},), "learned in training"),
        (lab01.q2, (hyper - {"number of layers"},), "also a hyperparameter"),
        (lab01.q2, (hyper | {"dropout"},), "not in the list"),
        (lab01.q3, (lambda c_in, c_out, k, bias: c_out * c_in * k * k,), "bias=True"),
        (lab01.q3, (lambda c_in, c_out, k, bias: c_out * c_in * k + c_out * bias,), "returned"),
        (lab01.q3, (lambda c_in, c_out, k: 0,), "raised"),
        (lab01.q3, (12,), "function itself"),
        (lab01.q4, (1e-1, lr_trials), "another learning rate did better"),
        (lab01.q4, (3e-3, lr_trials), "not one of the learning rates"),
        (lab01.q4, (1e-2, [1, 2]), "dict of learning-rate"),
        (lab01.q5, (9 / 25 * 1.0,), "inverse"),
        (lab01.q5, (5 / 3,), "square"),
        (lab01.q5, (2.0,), "is off"),
        (lab02.q1, (4 + 6 + 4 + 4,), "multiply"),
        (lab02.q1, (383,), "is not it"),
        (lab02.q1, ("384",), "whole number"),
        (lab02.q2, (_grid_order_search,), "different seeds"),
        (lab02.q2, (_with_replacement_search,), "evaluated twice"),
        (lab02.q2, (_one_short_search,), "returned"),
        (lab02.q2, (_lying_search,), "not what the objective returned"),
        (lab02.q2, ("random",), "function random_search itself"),
        (lab02.q3, ("random", replay_result()), "another line is lower"),
        (lab02.q3, ("grid", replay_result()), "another line is lower"),
        (lab02.q3, ("bayes", replay_result()), "one of"),
        (lab02.q3, ("tpe", {"tpe": 0}), "replay result"),
        (lab03.q1, (4147,), "how many are pruned"),
        (lab03.q1, (460,), "round"),
        (lab03.q1, ("461",), "whole number"),
        (lab03.q2, (lambda w, s: ~_reference_mask(w, s),), "not the choice"),
        (lab03.q2, (_signed_mask,), "smallest absolute value"),
        (lab03.q2, (lambda w, s: _reference_mask(w, min(0.99, s + 0.05)),), "should prune"),
        (lab03.q2, (lambda w, s: _reference_mask(w, s).float(),), "bool mask"),
        (lab03.q2, (lambda w, s: _reference_mask(w.flatten(), s),), "shaped like"),
        (lab03.q3, ("classifier", SCAN), "loses less"),
        (lab03.q3, ("conv1", SCAN), "layer names"),
        (lab03.q3, ("features.0", [1, 2]), "scan result"),
        (lab04.q1, ((4 / 256, 64),), "255 steps"),
        (lab04.q1, ((4 / 255, 63.75),), "not an integer"),
        (lab04.q1, ((4 / 255, -64),), "sign"),
        (lab04.q1, ((4 / 255, 63),), "where the real 0 lands"),
        (lab04.q1, (4 / 255,), "pair"),
        (lab04.q2, (lambda x, s, z, lo, hi: torch.round(x / s) + z,), "clip"),
        (
            lab04.q2,
            (lambda x, s, z, lo, hi: torch.clamp(torch.floor(x / s) + z, lo, hi),),
            "round to the nearest",
        ),
        (
            lab04.q2,
            (lambda x, s, z, lo, hi: torch.clamp(torch.round(x / s), lo, hi),),
            "zero point",
        ),
        (
            lab04.q2,
            (lambda x, s, z, lo, hi: (torch.clamp(torch.round(x / s) + z, lo, hi) - z) * s,),
            "fractions",
        ),
        (
            lab04.q2,
            (lambda x, s, z, lo, hi: torch.clamp(torch.round(x * s) + z, lo, hi),),
            "differ",
        ),
        (lab04.q3, (4.0,), "weights alone"),
        (lab04.q3, (0.27,), "int8 / float32"),
        (lab04.q3, (3.0,), "what the models keep"),
        (lab04.q3, ("3.7",), "one number"),
    ]


def _reference_mask(weight, sparsity):
    from labkit.prune import magnitude_mask

    return magnitude_mask(weight, sparsity)


def _signed_mask(weight, sparsity):
    n_prune = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    if n_prune:
        mask[torch.topk(weight.flatten(), n_prune, largest=False).indices] = False
    return mask.view_as(weight)


def _grid_order_search(space, objective, budget, seed):
    return [(c, objective(c)) for c in space.all_configs()[:budget]]


def _with_replacement_search(space, objective, budget, seed):
    rng = np.random.default_rng(seed)
    points = space.all_configs()
    return [(c, objective(c)) for c in (points[i] for i in rng.integers(len(points), size=budget))]


def _one_short_search(space, objective, budget, seed):
    rng = np.random.default_rng(seed)
    points = space.all_configs()
    return [(points[i], objective(points[i])) for i in rng.permutation(len(points))[: budget - 1]]


def _lying_search(space, objective, budget, seed):
    rng = np.random.default_rng(seed)
    points = space.all_configs()
    return [
        (points[i], objective(points[i]) / 2 + 0.1) for i in rng.permutation(len(points))[:budget]
    ]


def test_every_question_has_at_least_two_planted_wrong_answers(data, baseline, lr_trials):
    cases = _wrong_answers(data, baseline, lr_trials)
    for question in QUESTIONS:
        assert sum(q is question for q, _, _ in cases) >= 2, question.name


@pytest.mark.parametrize("index", range(65))
def test_planted_wrong_answers_fail_with_a_helpful_message(index, data, baseline, lr_trials):
    cases = _wrong_answers(data, baseline, lr_trials)
    assert len(cases) == 65  # keep the parametrize range in step with the list
    question, args, message = cases[index]
    with pytest.raises(ExerciseFailed, match=message):
        question.check(*args)


def test_non_strict_checks_print_instead_of_raising(monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_STRICT_CHECKS")
    assert lab01.q5.check(2.0) is False
    assert "Not yet" in capsys.readouterr().out
