"""Exercises of notebooks/04_quantization.ipynb.

Used by: notebook 04 (``from labkit.exercises import lab04``) and the tests
(``tests/test_exercises.py`` runs every question's declaration, with ``example_context()``
in place of the notebook's variables).
"""

from __future__ import annotations

import functools

import torch

from labkit.check import (
    Alternative,
    Planted,
    Question,
    Wrong,
    bind,
    call_learner,
    describe,
    want_callable,
)
from labkit.data import load_digits
from labkit.measure import file_bytes, graph_tensors, tensor_bytes
from labkit.models import fold_batchnorm
from labkit.numeric import ANY, Mistake, Numeric
from labkit.quantize.affine import qparams
from labkit.quantize.int8 import graph_bytes_by_dtype, ptq_int8
from labkit.zoo import load_pretrained


@functools.cache  # one export and calibration per session, not one per check
def _int8_reference():
    return ptq_int8(load_pretrained("digits_baseline").eval(), load_digits().train.X[:256])


@functools.cache
def _folded():
    return fold_batchnorm(load_pretrained("digits_baseline"))


def example_context() -> dict:
    """The notebook's int8 model and its float32 model with batch norm folded, for the tests."""
    return {"int8_ref": _int8_reference(), "net_folded": _folded()}


# --------------------------------------------------------------------------- Q1: scale, zero


_SCALE = (3.0 - -1.0) / 255  # [-1, 3] onto 0..255
_ZERO = round(0 - -1.0 / _SCALE)
_SYMMETRIC = (
    "scale {scale:.6g} fits a symmetric range [-3, 3] around 0; this mapping is asymmetric: "
    "fit the grid to [-1, 3] itself, lo to qmin and hi to qmax"
)


def _solution_q1():
    lo, hi, qmin, qmax = -1.0, 3.0, 0, 255
    scale = (hi - lo) / (qmax - qmin)
    zero_point = qmin - round(lo / scale)
    return scale, zero_point


def _from_labkit():
    qp = qparams(-1.0, 3.0, bits=8, symmetric=False)
    return qp.scale, qp.zero_point  # one-element tensors


q1 = Numeric(
    answers=["scale", "zero_point"],
    what=("the scale", "the zero point"),
    truth=(_SCALE, _ZERO),
    tolerance=(dict(rel=1e-3), dict(abs=0)),
    mistakes=[
        Mistake(
            "256 steps",
            (4 / 256, ANY),
            "0..255 has 256 values but 255 steps between them: divide the range by qmax - qmin",
            tolerance=dict(rel=2e-4),
        ),
        Mistake("symmetric range", (6 / 255, ANY), _SYMMETRIC),
        Mistake("symmetric int8 habit", (3 / 127, ANY), _SYMMETRIC),
        Mistake("symmetric, 128 steps", (3 / 128, ANY), _SYMMETRIC),
        Mistake(
            "inverted scale",
            (1 / _SCALE, ANY),
            "scale {scale:.6g} is inverted: it counts grid steps per real unit; the scale is "
            "the real distance between neighbouring grid points, (hi - lo) / (qmax - qmin)",
            tolerance=dict(rel=1e-2),
        ),
        Mistake(
            "not rounded",
            (ANY, 0 - -1.0 / _SCALE),
            "zero_point {zero_point} is not an integer: it is the grid point that stands for "
            "the real 0, so round it",
            when=lambda zero_point: not zero_point.is_integer(),
        ),
        Mistake(
            "wrong sign",
            (ANY, -_ZERO),
            "check the sign: lo = -1 must land on 0, so zero_point = qmin - lo / scale",
        ),
    ],
    close_message=(
        "scale {scale:.6g} is close: keep more digits (write the fraction, 4/255, and let "
        "Python compute it)",
        None,
    ),
    wrong_message=(
        "scale {scale:.6g} does not map [-1, 3] onto 0..255: the range (hi - lo) is split into "
        "qmax - qmin steps",
        "zero_point {zero_point:g} is not where the real 0 lands: qmin - round(lo / scale)",
    ),
    success=(
        "scale = 4/255 = {truth[0]:.5f}, zero_point = {truth[1]:g}: the real 0 is stored as the "
        "integer {truth[1]:g}, and -1 and 3 as 0 and 255."
    ),
    hints=[
        "The 256 integers 0..255 must cover the real range from -1 to 3, evenly spaced.",
        "The scale is the real distance between neighbouring grid points; the zero point is "
        "the integer that the real number 0 lands on (lo must land on qmin).",
    ],
    solution=_solution_q1,
    wrong=[
        Planted("symmetric range, its zero point", (6 / 255, 128), "symmetric"),
        Planted("off by one", (4 / 255, 63), "where the real 0 lands"),
        Planted("a pair in one argument", ((4 / 255, 64), 64), "is a number"),
    ],
    right=[
        Alternative("labkit's qparams (tensors)", _from_labkit),
        Alternative("zero point as a float", (4 / 255, 64.0)),
        Alternative("the scale as the success message prints it", (0.01569, 64)),
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
        if not isinstance(got, torch.Tensor):
            raise Wrong(
                f"return a torch tensor shaped like x {tuple(x.shape)}, got {describe(got)}"
            )
        if got.shape != x.shape:
            raise Wrong(f"return a tensor shaped like x {tuple(x.shape)}, got {describe(got)}")
        if got.is_complex():
            raise Wrong(f"your result is complex ({got.dtype}): quantized values are integers")
        if got.dtype.is_floating_point and not bool(torch.isfinite(got).all()):
            bad = int((~torch.isfinite(got)).sum())
            raise Wrong(
                f"your result holds NaN or infinity in {bad} of {got.numel()} values: every "
                "quantized value is a finite integer between qmin and qmax"
            )
        if got.dtype.is_floating_point and not torch.equal(got, got.round()):
            raise Wrong(
                "your result has fractions: quantized values are integers (round them), and "
                "do not multiply back by the scale (that is dequantize)"
            )
        got = got.long()
        if int(got.min()) < qmin or int(got.max()) > qmax:
            raise Wrong(f"values outside [{qmin}, {qmax}]: clip (clamp) them to the grid")
        if not torch.equal(got, want):
            steps = x * (1.0 / scale)
            for wrong_steps, message in (
                (
                    torch.floor(steps + 0.5),
                    "you round halfway values up (floor(x / scale + 0.5)); PyTorch, like "
                    "torch.round, rounds them to the even neighbour (2.5 to 2, 3.5 to 4)",
                ),
                (
                    torch.sign(steps) * torch.floor(steps.abs() + 0.5),
                    "you round halfway values away from zero; PyTorch, like torch.round, "
                    "rounds them to the even neighbour (2.5 to 2, 3.5 to 4)",
                ),
                (
                    torch.trunc(steps),
                    "you truncate toward zero (.long() or int() drops the fraction, so -1.7 "
                    "becomes -1); round to the nearest grid point instead",
                ),
                (
                    torch.floor(steps),
                    "you truncate (floor); round to the nearest grid point instead",
                ),
            ):
                if torch.equal(got, torch.clamp(wrong_steps + zero_point, qmin, qmax).long()):
                    raise Wrong(message)
            if torch.equal(got, torch.clamp(torch.round(steps + zero_point), qmin, qmax).long()):
                raise Wrong(
                    "you round after adding the zero point: a halfway value then goes to the "
                    "even neighbour of a shifted number (with zero point 3, 0.5 + 3 = 3.5 "
                    "rounds to 4, where round(0.5) + 3 = 3). Round x / scale first, then add "
                    "the zero point, as PyTorch does"
                )
            if torch.equal(got, torch.clamp(torch.round(steps), qmin, qmax).long()):
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
        "Try one number by hand first: with scale 0.25 and zero point 3, the real 1.0 lies "
        "4 steps above the real 0, which sits at the integer 3, so it lands on 7; on the grid "
        "0..15, the real 9.0 would land past 15 and stays at 15. Then look for the torch "
        "functions that do each step to every element of x at once.",
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
            "halves rounded up",
            (lambda x, s, z, lo, hi: torch.clamp(torch.floor(x / s + 0.5) + z, lo, hi),),
            "even neighbour",
        ),
        Planted(
            "truncated toward zero",
            (lambda x, s, z, lo, hi: torch.clamp((x / s).long() + z, lo, hi),),
            "toward zero",
        ),
        Planted(
            "truncated after the zero point",
            (lambda x, s, z, lo, hi: torch.clamp(x / s + z, lo, hi).long(),),
            "toward zero",
        ),
        Planted(
            "rounded after adding the zero point",
            (lambda x, s, z, lo, hi: torch.clamp(torch.round(x / s + z), lo, hi),),
            "after adding the zero point",
        ),
        Planted("a NumPy array", (lambda x, s, z, lo, hi: x.numpy().round(),), "ndarray"),
        Planted("NaN", (lambda x, s, z, lo, hi: x * float("nan"),), "NaN"),
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


def _zero_point_bytes(int8_ref) -> int:
    """Bytes of the int64 weight zero points the int8 graph reads (8 bytes each)."""
    return graph_bytes_by_dtype(int8_ref)["int64"]


@functools.cache
def _ratios() -> dict[str, float]:
    """The right answer and the ratios of the common mistakes, for the course's models."""
    folded, int8_ref = _folded(), _int8_reference()
    f32, int8 = tensor_bytes(folded), tensor_bytes(int8_ref)
    zero_points = _zero_point_bytes(int8_ref)
    int8_weights = sum(t.numel() for t in graph_tensors(int8_ref).values() if t.dtype == torch.int8)
    return {
        "truth": f32 / (int8 - zero_points // 2),
        "int64": f32 / int8,
        "int16": f32 / (int8 - 3 * zero_points // 4),
        "none": f32 / (int8 - zero_points),
        "int8 only": f32 / int8_weights,
        "unfolded": tensor_bytes(load_pretrained("digits_baseline")) / (int8 - zero_points // 2),
    }


def _q3_success(truth) -> str:
    saved = _zero_point_bytes(_int8_reference()) // 2
    first = _folded().features[0].weight
    return (
        f"{truth:.2f}x: int32 zero points would save {saved} bytes. Symmetric weights "
        f"need no zero points at all (every one is 0): without them, {_ratios()['none']:.2f}x, "
        "the packed_bytes estimate. The rest of the gap to 4 is the float32 scales and "
        "biases, which weigh a lot in a model this small: features.0 keeps "
        f"{first[0].numel()} int8 weights per output channel, and 8 bytes of scale and bias "
        "beside them. The wide block of the latency section, with 256 x 3 x 3 = 2,304 "
        "weights per output channel, comes much closer to 4 (printed there)."
    )


_INT8_ONLY = (
    "{ratio:.3f} counts only the int8 weights; the int8 graph also reads float32 scales and "
    "biases and the zero points"
)


def _solution_q3(net_folded, int8_ref):
    int64_zero_points = graph_bytes_by_dtype(int8_ref)["int64"]  # 8 bytes each
    int32_bytes = tensor_bytes(int8_ref) - int64_zero_points // 2
    ratio = tensor_bytes(net_folded) / int32_bytes
    return ratio


def _by_hand(net_folded, int8_ref):
    used = graph_tensors(int8_ref).values()
    as_int32 = [4 if t.dtype == torch.int64 else t.element_size() for t in used]
    return (
        sum(p.numel() * 4 for p in net_folded.parameters())
        / sum(t.numel() * size for t, size in zip(used, as_int32, strict=True)),
    )


q3 = Numeric(
    answers=["ratio"],
    what="the size ratio",
    truth=lambda: _ratios()["truth"],
    tolerance=dict(rel=1e-3),
    mistakes=[
        Mistake(
            "inverted",
            lambda: 1 / _ratios()["truth"],
            "{ratio:.3f} is below 1: inverted (int8 / float32; the question asks float32 / "
            "int8), or you counted the float weights the int8 graph carries but never reads "
            "(torch.save and .parameters() include them; tensor_bytes counts only what the "
            "graph reads)",
            when=lambda ratio: ratio < 1,
        ),
        Mistake(
            "int64 zero points, as printed",
            lambda: _ratios()["int64"],
            "{ratio:.3f} is the ratio with int64 zero points, printed above; with int32 each "
            "zero point takes 4 bytes instead of 8",
        ),
        Mistake(
            "zero points dropped",
            lambda: _ratios()["none"],
            "{ratio:.3f} leaves the zero points out (the packed_bytes estimate); keep them, "
            "at 4 bytes each as int32",
        ),
        Mistake(
            "int16 zero points",
            lambda: _ratios()["int16"],
            "{ratio:.3f} counts 2 bytes per zero point (int16); an int32 takes 4",
        ),
        Mistake("the int8 weights alone", lambda: _ratios()["int8 only"], _INT8_ONLY),
        Mistake("exactly 4", 4.0, _INT8_ONLY, tolerance=dict(rel=1e-4)),
        Mistake(
            "batch norm not folded",
            lambda: _ratios()["unfolded"],
            "{ratio:.3f} divides the model with separate batch-norm layers (4 numbers per "
            "channel) by an int8 graph that folded them into the convolutions: not like for "
            "like. Divide the bytes of net_folded instead",
        ),
    ],
    wrong_message=(
        "{ratio:.3f} is not it: take the bytes the int8 graph reads, count its zero points at "
        "4 bytes each instead of 8, and divide the bytes of the float32 model (batch norm "
        "folded) by that"
    ),
    success=_q3_success,
    hints=[
        "Start from what the int8 graph reads, by dtype (printed above). Which entry holds the "
        "zero points, and how many bytes would it take if each zero point were an int32?",
        "An int64 takes 8 bytes and an int32 4, so that entry halves and every other one stays. "
        "Compare like with like: divide the bytes of the float32 model with batch norm folded "
        "by the new total.",
    ],
    solution=_solution_q3,
    wrong=[
        Planted(
            "torch.save sizes",
            lambda net_folded, int8_ref: (file_bytes(net_folded) / file_bytes(int8_ref),),
            "never reads",
        ),
        Planted(
            "every parameter and buffer of the int8 module",
            lambda net_folded, int8_ref: (
                tensor_bytes(net_folded)
                / sum(
                    t.numel() * t.element_size()
                    for t in [*int8_ref.parameters(), *int8_ref.buffers()]
                ),
            ),
            "never reads",
        ),
    ],
    right=[Alternative("counted by hand", _by_hand)],
)

QUESTIONS = bind(globals())
