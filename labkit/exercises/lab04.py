"""Exercises of notebooks/04_quantization.ipynb."""

from __future__ import annotations

import functools
import math

import torch

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
from labkit.data import load_digits
from labkit.deploy import ptq_int8
from labkit.lowbit import packed_bytes
from labkit.measure import graph_tensors, tensor_bytes
from labkit.models import fold_batchnorm
from labkit.quantize import qparams
from labkit.zoo import load_pretrained


@functools.cache  # one export and calibration per session, not one per check
def _int8_reference():
    return ptq_int8(load_pretrained("baseline").eval(), load_digits().train.X[:256])


@functools.cache
def _folded():
    return fold_batchnorm(load_pretrained("baseline"))


def example_context() -> dict:
    """The notebook's int8 model and its float32 model with batch norm folded, for the tests.

    Used by: tests/test_exercises.py, in place of the notebook's variables.
    """
    return {"int8_ref": _int8_reference(), "net_folded": _folded()}


# --------------------------------------------------------------------------- Q1: scale, zero


def _check_q1(scale, zero_point) -> str:
    scale = want_number(scale, "the scale")
    zero_point = want_number(zero_point, "the zero point")
    truth_scale = (3.0 - -1.0) / 255
    truth_zero = round(0 - -1.0 / truth_scale)
    if math.isclose(scale, 4.0 / 256, rel_tol=1e-4):
        raise Wrong(
            "0..255 has 256 values but 255 steps between them: divide the range by qmax - qmin"
        )
    if not math.isclose(scale, truth_scale, rel_tol=1e-4):
        raise Wrong(
            f"scale {scale:.6g} does not map [-1, 3] onto 0..255: the range (hi - lo) is split "
            "into qmax - qmin steps"
        )
    if not float(zero_point).is_integer():
        raise Wrong(
            f"zero_point {zero_point} is not an integer: it is the grid point that stands for "
            "the real 0, so round it"
        )
    if zero_point == -truth_zero:
        raise Wrong("check the sign: lo = -1 must land on 0, so zero_point = qmin - lo / scale")
    if zero_point != truth_zero:
        raise Wrong(
            f"zero_point {zero_point:g} is not where the real 0 lands: qmin - round(lo / scale)"
        )
    return (
        f"scale = 4/255 = {truth_scale:.5f}, zero_point = {truth_zero}: the real 0 is stored "
        f"as the integer {truth_zero}, and -1 and 3 as 0 and 255."
    )


def _solution_q1():
    lo, hi, qmin, qmax = -1.0, 3.0, 0, 255
    scale = (hi - lo) / (qmax - qmin)
    zero_point = qmin - round(lo / scale)
    return scale, zero_point


def _from_labkit():
    qp = qparams(-1.0, 3.0, bits=8, symmetric=False)
    return qp.scale, qp.zero_point  # one-element tensors


q1 = Question(
    answers=["scale", "zero_point"],
    checker=_check_q1,
    hints=[
        "The 256 integers 0..255 must cover the real range from -1 to 3, evenly spaced.",
        "The scale is the real distance between neighbouring grid points; the zero point is "
        "the integer that the real number 0 lands on (lo must land on qmin).",
    ],
    solution=_solution_q1,
    wrong=[
        Planted("256 steps", (4 / 256, 64), "255 steps"),
        Planted("not rounded", (4 / 255, 63.75), "not an integer"),
        Planted("wrong sign", (4 / 255, -64), "sign"),
        Planted("off by one", (4 / 255, 63), "where the real 0 lands"),
        Planted("a pair in one argument", ((4 / 255, 64), 64), "is a number"),
    ],
    right=[
        Alternative("labkit's qparams (tensors)", _from_labkit),
        Alternative("zero point as a float", (4 / 255, 64.0)),
    ],
)


# --------------------------------------------------------------------------- Q2: quantize


def _check_q2(my_quantize) -> str:
    import torchao.quantization.pt2e  # noqa: F401  (registers the quantized_decomposed ops)

    fn = want_callable(my_quantize, "my_quantize")
    generator = torch.Generator().manual_seed(4)
    cases = [
        (torch.randn(200, generator=generator), 0.02, 0, -128, 127),  # clipping both ends
        (torch.rand(300, generator=generator) * 2, 2 / 255, 0, 0, 255),
        (torch.randn(50, generator=generator) - 0.5, 0.01, 100, 0, 255),
        (torch.tensor([0.0, 0.125, 0.375, -0.125, 9.0]), 0.25, 3, 0, 15),  # ties, 4 bits
    ]
    for x, scale, zero_point, qmin, qmax in cases:
        dtype = torch.int8 if qmin < 0 else torch.uint8
        want = torch.ops.quantized_decomposed.quantize_per_tensor.default(
            x, scale, zero_point, qmin, qmax, dtype
        ).long()
        got = call_learner(fn, x.clone(), scale, zero_point, qmin, qmax, what="my_quantize")
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            raise Wrong(f"return a tensor shaped like x {tuple(x.shape)}")
        if got.dtype.is_floating_point and not torch.equal(got, got.round()):
            raise Wrong(
                "your result has fractions: quantized values are integers (round them), and "
                "do not multiply back by the scale (that is dequantize)"
            )
        got = got.long()
        if int(got.min()) < qmin or int(got.max()) > qmax:
            raise Wrong(f"values outside [{qmin}, {qmax}]: clip (clamp) them to the grid")
        if not torch.equal(got, want):
            if torch.equal(got, torch.clamp(torch.floor(x / scale) + zero_point, qmin, qmax)):
                raise Wrong("you truncate (floor); round to the nearest grid point instead")
            if torch.equal(got, torch.clamp(torch.round(x / scale), qmin, qmax)):
                raise Wrong("add the zero point after rounding")
            off = int((got != want).sum())
            raise Wrong(
                f"{off} of {x.numel()} values differ from PyTorch's quantize_per_tensor "
                f"(scale {scale:g}, zero point {zero_point}, grid [{qmin}, {qmax}])"
            )
    return "Bit for bit the same as PyTorch's quantize_per_tensor on every test tensor."


def _solution_q2():
    def my_quantize(x, scale, zero_point, qmin, qmax):
        return torch.clamp(torch.round(x * (1.0 / scale)) + zero_point, qmin, qmax).long()

    return my_quantize


q2 = Question(
    answers=["my_quantize"],
    checker=_check_q2,
    hints=[
        "Three steps: put x on the grid's scale, move it so the real 0 sits at the zero point, "
        "and keep it inside [qmin, qmax]. Each value must become an integer.",
        "Dividing by the scale gives grid units; torch.round goes to the nearest integer and "
        "torch.clamp keeps values inside a range.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted("no clipping", (lambda x, s, z, lo, hi: torch.round(x / s) + z,), "clip"),
        Planted(
            "floor",
            (lambda x, s, z, lo, hi: torch.clamp(torch.floor(x / s) + z, lo, hi),),
            "round to the nearest",
        ),
        Planted(
            "no zero point",
            (lambda x, s, z, lo, hi: torch.clamp(torch.round(x / s), lo, hi),),
            "zero point",
        ),
        Planted(
            "dequantized",
            (lambda x, s, z, lo, hi: (torch.clamp(torch.round(x / s) + z, lo, hi) - z) * s,),
            "fractions",
        ),
        Planted(
            "times the scale",
            (lambda x, s, z, lo, hi: torch.clamp(torch.round(x * s) + z, lo, hi),),
            "differ",
        ),
    ],
    right=[
        Alternative(
            "divides by the scale",
            (lambda x, s, z, lo, hi: torch.clamp(torch.round(x / s) + z, lo, hi),),
        ),
        Alternative(
            "clamps first, in float",
            (lambda x, s, z, lo, hi: (torch.round(x / s) + z).clamp(lo, hi).to(torch.int32),),
        ),
    ],
)


# --------------------------------------------------------------------------- Q3: size ratio


@functools.cache
def _true_ratio() -> float:
    return tensor_bytes(_folded()) / tensor_bytes(_int8_reference())


@functools.cache
def _unfolded_ratio() -> float:
    return tensor_bytes(load_pretrained("baseline")) / tensor_bytes(_int8_reference())


@functools.cache
def _estimated_ratio() -> float:
    return tensor_bytes(_folded()) / packed_bytes(_folded(), 8)


def _check_q3(ratio) -> str:
    ratio = want_number(ratio, "the size ratio")
    truth = _true_ratio()
    if ratio < 1:
        raise Wrong(f"{ratio:.3f} is int8 / float32; the question asks float32 / int8 (> 1)")
    if math.isclose(ratio, 4.0, rel_tol=1e-6):
        raise Wrong(
            "4.0 is the ratio for the weights alone; measure the whole int8 model, whose "
            "scales, zero points and float biases are stored too"
        )
    if math.isclose(ratio, _unfolded_ratio(), rel_tol=0.002):
        raise Wrong(
            f"{ratio:.3f} divides the model with separate batch-norm layers (4 numbers per "
            "channel) by an int8 graph that folded them into the convolutions: not like for "
            "like. Divide the bytes of net_folded instead"
        )
    if math.isclose(ratio, _estimated_ratio(), rel_tol=0.002):
        raise Wrong(
            f"{ratio:.3f} is the packed_bytes estimate; measure the real int8 model "
            "(int8_ref), which stores more than the estimate counts"
        )
    if not math.isclose(ratio, truth, rel_tol=0.01):
        raise Wrong(
            f"{ratio:.3f} is not what the models keep: divide the bytes the float32 model "
            "(batch norm folded) keeps by the bytes the int8 graph reads"
        )
    return (
        f"{truth:.2f}x, a little less than 4: per-channel scales and biases (float32) and "
        "zero points (int64: 8 bytes each, even though every one is 0 for symmetric weights) "
        "are stored too. The bigger the layers, the closer to 4."
    )


def _solution_q3(net_folded, int8_ref):
    ratio = tensor_bytes(net_folded) / tensor_bytes(int8_ref)
    return ratio


def _by_hand(net_folded, int8_ref):
    used = graph_tensors(int8_ref).values()
    return (
        sum(p.numel() * 4 for p in net_folded.parameters())
        / sum(t.numel() * t.element_size() for t in used),
    )


q3 = Question(
    answers=["ratio"],
    checker=_check_q3,
    hints=[
        "Count the bytes each model keeps for inference, then divide float32 by int8. Compare "
        "like with like: the int8 graph has batch norm folded into its convolutions.",
        "labkit's tensor_bytes(model) counts them; for the int8 graph it counts only the "
        "tensors the graph reads.",
    ],
    solution=_solution_q3,
    wrong=[
        Planted("the weights alone", (4.0,), "weights alone"),
        Planted("inverted", lambda: (1 / _true_ratio(),), "int8 / float32"),
        Planted("batch norm not folded", lambda: (_unfolded_ratio(),), "like for like"),
        Planted("the estimate", lambda: (_estimated_ratio(),), "estimate"),
        Planted("far off", (3.0,), "what the models keep"),
        Planted("a string", ("3.7",), "not the text"),
    ],
    right=[Alternative("counted by hand", _by_hand)],
)

QUESTIONS = bind(globals())
