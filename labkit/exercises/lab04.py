"""Exercises of notebooks/04_quantization.ipynb."""

from __future__ import annotations

import functools
import math
import numbers

import torch

from labkit.check import Question, Wrong


def _check_q1(answer) -> str:
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        raise Wrong("answer with a pair: (scale, zero_point)")
    scale, zero_point = answer
    if isinstance(scale, torch.Tensor):
        scale = float(scale)
    if isinstance(zero_point, torch.Tensor) and zero_point.numel() == 1:
        zero_point = zero_point.item()
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise Wrong(f"the scale is a number, got {scale!r}")
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
    if isinstance(zero_point, float) and not zero_point.is_integer():
        raise Wrong(
            f"zero_point {zero_point} is not an integer: it is the grid point that stands for "
            "the real 0, so round it"
        )
    if isinstance(zero_point, bool) or not isinstance(zero_point, numbers.Real):
        raise Wrong(f"the zero point is an integer, got {zero_point!r}")
    if zero_point == -truth_zero:
        raise Wrong("check the sign: lo = -1 must land on 0, so zero_point = qmin - lo / scale")
    if zero_point != truth_zero:
        raise Wrong(
            f"zero_point {zero_point} is not where the real 0 lands: qmin - round(lo / scale)"
        )
    return (
        f"scale = 4/255 = {truth_scale:.5f}, zero_point = {truth_zero}: the real 0 is stored "
        f"as the integer {truth_zero}, and -1 and 3 as 0 and 255."
    )


q1 = Question(
    "lab04.q1",
    _check_q1,
    hint="scale = (hi - lo) / (qmax - qmin); zero_point = qmin - round(lo / scale).",
    solution="""
lo, hi, qmin, qmax = -1.0, 3.0, 0, 255
scale = (hi - lo) / (qmax - qmin)
zero_point = qmin - round(lo / scale)
lab04.q1.check((scale, zero_point))
""",
)


def _check_q2(fn) -> str:
    import torchao.quantization.pt2e  # noqa: F401  (registers the quantized_decomposed ops)

    if not callable(fn):
        raise Wrong(f"give the function my_quantize itself, got {type(fn).__name__}")
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
        try:
            got = fn(x.clone(), scale, zero_point, qmin, qmax)
        except Exception as err:
            raise Wrong(f"my_quantize raised {type(err).__name__}: {err}") from err
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
            off = int((got != want).sum())
            if torch.equal(got, torch.clamp(torch.floor(x / scale) + zero_point, qmin, qmax)):
                raise Wrong("you truncate (floor); round to the nearest grid point instead")
            if torch.equal(got, torch.clamp(torch.round(x / scale), qmin, qmax)):
                raise Wrong("add the zero point after rounding")
            raise Wrong(
                f"{off} of {x.numel()} values differ from PyTorch's quantize_per_tensor "
                f"(scale {scale:g}, zero point {zero_point}, grid [{qmin}, {qmax}])"
            )
    return "Bit for bit the same as PyTorch's quantize_per_tensor on every test tensor."


q2 = Question(
    "lab04.q2",
    _check_q2,
    hint="q = clamp(round(x / scale) + zero_point, qmin, qmax); torch.round, torch.clamp.",
    solution="""
def my_quantize(x, scale, zero_point, qmin, qmax):
    return torch.clamp(torch.round(x / scale) + zero_point, qmin, qmax).long()


lab04.q2.check(my_quantize)
""",
)


@functools.cache  # one export and calibration per session, not one per check
def _true_ratio() -> float:
    from labkit.data import load_digits
    from labkit.quantize import float_model_bytes, ptq_int8, quantized_model_bytes
    from labkit.zoo import load_pretrained

    net = load_pretrained("baseline").eval()
    int8 = ptq_int8(net, load_digits().train.X[:64])
    return float_model_bytes(net) / quantized_model_bytes(int8)


def _check_q3(ratio) -> str:
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real):
        raise Wrong(f"answer with one number, the size ratio, got {ratio!r}")
    truth = _true_ratio()
    if ratio < 1:
        raise Wrong(f"{ratio:.3f} is int8 / float32; the question asks float32 / int8 (> 1)")
    if math.isclose(ratio, 4.0, rel_tol=1e-6):
        raise Wrong(
            "4.0 is the ratio for the weights alone; measure the whole int8 model, whose "
            "scales, zero points and float biases are stored too"
        )
    if not math.isclose(ratio, truth, rel_tol=0.01):
        raise Wrong(
            f"{ratio:.3f} is not what the models keep: divide float_model_bytes(net) by "
            "quantized_model_bytes(int8_ref)"
        )
    return (
        f"{truth:.2f}x, a little less than 4: per-channel scales (float32), zero points "
        "(int64!) and float biases add bytes. The bigger the layers, the closer to 4."
    )


q3 = Question(
    "lab04.q3",
    _check_q3,
    hint="float_model_bytes(net) / quantized_model_bytes(int8_ref), both from labkit.quantize.",
    solution="""
ratio = float_model_bytes(net) / quantized_model_bytes(int8_ref)
lab04.q3.check(ratio)
""",
)
