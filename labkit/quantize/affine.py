"""Quantization: fewer bits per number. The affine mapping (scale and zero point), calibration
of activation ranges, and one layer computed in integers only, as int8 hardware does.

Serves notebooks/04_quantization.ipynb down to 8 bits. Below 8 bits (quantization-aware
training, k-means codebooks, packed sizes) is ``labkit.quantize.fewer_bits``; a real int8 model
(torch.export, PT2E, compiled) is ``labkit.quantize.int8``; the benchmark is
``labkit bench quantize`` (labkit/quantize/bench.py).

Words used below: ``bits`` is the width of the integer grid (8 for int8); a grid is
*signed* (-128..127) or *unsigned* (0..255); *symmetric* mapping puts the zero point at 0
(good for weights, which sit around 0), *asymmetric* fits the grid to [min, max] (good for
activations after ReLU, which are never negative); *per-channel* gives each output channel of
a weight its own scale.

Used by: labkit.quantize.fewer_bits, labkit.quantize.int8 and labkit.quantize.widget.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from labkit._validate import (
    check_bits,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_module,
    check_tensor,
)
from labkit.models import run_with_hooks
from labkit.models import weight_layers as _layers

CALIBRATION_METHODS = ("minmax", "percentile", "mse")


# --------------------------------------------------------------------------- the arithmetic


def qrange(bits: int = 8, signed: bool = True) -> tuple[int, int]:
    """The integer grid: (-2^(b-1), 2^(b-1)-1) signed, (0, 2^b-1) unsigned."""
    bits = check_bits(bits)
    check_bool("signed", signed)
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


@dataclass(frozen=True)
class QParams:
    """How real numbers map to a grid: q = clamp(round(x / scale) + zero_point, qmin, qmax).

    Lesson: notebooks/04_quantization.ipynb, "The affine mapping: scale and zero point".
    """

    scale: torch.Tensor  # float32; one value, or one per channel
    zero_point: torch.Tensor  # int64, same shape as scale
    qmin: int
    qmax: int
    axis: int | None = None  # the channel axis for per-channel parameters

    @property
    def bits(self) -> int:
        """The width of the integer grid in bits (8 for int8)."""
        return int(math.log2(self.qmax - self.qmin + 1))

    def _shape_for(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.axis is None:
            return self.scale, self.zero_point
        shape = [1] * x.ndim
        shape[self.axis] = -1
        return self.scale.view(shape), self.zero_point.view(shape)


def qparams(
    lo: float | torch.Tensor,
    hi: float | torch.Tensor,
    bits: int = 8,
    symmetric: bool = False,
    signed: bool | None = None,
    axis: int | None = None,
) -> QParams:
    """Scale and zero point that map [lo, hi] onto a ``bits``-bit grid. From scratch.

    asymmetric: scale = (hi - lo) / (qmax - qmin), zero_point = qmin - round(lo / scale);
    symmetric: zero_point = 0 (the grid's middle for unsigned), scale = max(|lo|, |hi|) /
    ((qmax - qmin) / 2). The range is first widened to contain 0, so that 0 (padding, ReLU
    output) is exactly representable. ``lo``/``hi`` may be tensors (one per channel, with
    ``axis`` naming the channel dimension of the tensors you will quantize).
    The same formulas as PyTorch's MinMaxObserver (a test checks it).

    Lesson: notebooks/04_quantization.ipynb, "The affine mapping: scale and zero point".
    """
    bits = check_bits(bits)
    check_bool("symmetric", symmetric)
    signed = symmetric if signed is None else check_bool("signed", signed)
    qmin, qmax = qrange(bits, signed)
    lo_t = torch.as_tensor(lo, dtype=torch.float32).detach().clone()
    hi_t = torch.as_tensor(hi, dtype=torch.float32).detach().clone()
    if lo_t.shape != hi_t.shape:
        raise ValueError(
            f"arguments 'lo' and 'hi' must have the same shape, got {tuple(lo_t.shape)} "
            f"and {tuple(hi_t.shape)}"
        )
    if not (torch.isfinite(lo_t).all() and torch.isfinite(hi_t).all()):
        raise ValueError("arguments 'lo' and 'hi' must be finite numbers")
    if (lo_t > hi_t).any():
        raise ValueError("argument 'lo' must not be larger than 'hi'")
    if axis is not None:
        axis = check_int("axis", axis, min_value=0, max_value=7)
    elif lo_t.ndim:
        raise ValueError("per-channel ranges (tensors for 'lo'/'hi') need 'axis'")
    lo_t, hi_t = torch.clamp(lo_t, max=0.0), torch.clamp(hi_t, min=0.0)
    eps = torch.finfo(torch.float32).eps
    if symmetric:
        amax = torch.maximum(-lo_t, hi_t)
        scale = torch.clamp(amax / ((qmax - qmin) / 2), min=eps)
        zero = torch.full_like(scale, 0 if signed else (qmin + qmax + 1) // 2, dtype=torch.int64)
    else:
        scale = torch.clamp((hi_t - lo_t) / (qmax - qmin), min=eps)
        zero = torch.clamp(qmin - torch.round(lo_t / scale), qmin, qmax).to(torch.int64)
    return QParams(scale, zero, qmin, qmax, axis)


def qparams_for(
    x: torch.Tensor, bits: int = 8, symmetric: bool = True, per_channel: bool = False, axis: int = 0
) -> QParams:
    """Min-max parameters for the tensor ``x`` itself (per tensor, or per slice along ``axis``).

    Lesson: notebooks/04_quantization.ipynb, "The affine mapping: scale and zero point".
    """
    check_tensor("x", x)
    if per_channel:
        axis = check_int("axis", axis, min_value=0, max_value=x.ndim - 1)
        flat = x.detach().transpose(0, axis).reshape(x.shape[axis], -1)
        return qparams(flat.min(1).values, flat.max(1).values, bits, symmetric, axis=axis)
    return qparams(x.detach().min(), x.detach().max(), bits, symmetric)


def quantize(x: torch.Tensor, qp: QParams) -> torch.Tensor:
    """Real numbers to integers: clamp(round(x / scale) + zero_point, qmin, qmax), as int64.

    ``round`` is round-half-to-even and x / scale is computed as x * (1 / scale), exactly as
    PyTorch's own quantize ops in exported int8 graphs do (a test compares them bit for bit).

    Lesson: notebooks/04_quantization.ipynb, "The affine mapping: scale and zero point".
    """
    check_tensor("x", x)
    if not isinstance(qp, QParams):
        raise TypeError(f"argument 'qp' must be a QParams, got {type(qp).__name__}")
    scale, zero = qp._shape_for(x)
    return torch.clamp(torch.round(x * (1.0 / scale)) + zero, qp.qmin, qp.qmax).to(torch.int64)


def dequantize(q: torch.Tensor, qp: QParams) -> torch.Tensor:
    """Integers back to real numbers: (q - zero_point) * scale.

    Lesson: notebooks/04_quantization.ipynb, "The affine mapping: scale and zero point".
    """
    check_tensor("q", q)
    if not isinstance(qp, QParams):
        raise TypeError(f"argument 'qp' must be a QParams, got {type(qp).__name__}")
    scale, zero = qp._shape_for(q)
    return (q - zero).to(torch.float32) * scale


def fake_quantize(x: torch.Tensor, qp: QParams) -> torch.Tensor:
    """Quantize then dequantize: the float value the integer grid can actually hold.

    Lesson: notebooks/04_quantization.ipynb, "The affine mapping: scale and zero point".
    """
    return dequantize(quantize(x, qp), qp)


def quantization_error(x: torch.Tensor, qp: QParams) -> dict[str, float]:
    """How far the grid moves ``x``: mean squared, max absolute, and the share of values
    that fell outside the range and were clipped.

    Lesson: notebooks/04_quantization.ipynb, "The affine mapping: scale and zero point".
    """
    q = quantize(x, qp)
    xq = dequantize(q, qp)
    clipped = ((q == qp.qmin) | (q == qp.qmax)) & ((xq - x).abs() > qp._shape_for(x)[0] / 2)
    return {
        "mse": float(((xq - x) ** 2).mean()),
        "max_abs": float((xq - x).abs().max()),
        "clipped": float(clipped.float().mean()),
    }


def quantizer_errors(w: torch.Tensor, bits: Iterable[int] = (8, 4)) -> dict[str, dict[str, float]]:
    """:func:`quantization_error` of ``w`` for every quantizer: each number of ``bits``,
    symmetric or asymmetric, per tensor or per channel (axis 0), by name ("8-bit symmetric
    per-tensor", ...), min-max ranges.

    Lesson: notebooks/04_quantization.ipynb, "The affine mapping: scale and zero point".
    """
    check_tensor("w", w, min_ndim=2)
    out = {}
    for b, sym, pc in itertools.product(
        [check_bits(b) for b in bits], (True, False), (False, True)
    ):
        name = f"{b}-bit {'symmetric' if sym else 'asymmetric'} per-{'channel' if pc else 'tensor'}"
        out[name] = quantization_error(w, qparams_for(w, b, sym, per_channel=pc, axis=0))
    return out


# --------------------------------------------------------------------------- calibration


def calibration_range(
    values: torch.Tensor,
    method: str = "minmax",
    bits: int = 8,
    percentile: float = 99.99,
    symmetric: bool = False,
) -> tuple[float, float]:
    """The range [lo, hi] to quantize ``values`` with. From scratch.

    - "minmax": the smallest and largest value seen; one outlier stretches the grid.
    - "percentile": clip the rarest (100 - percentile)% on each side.
    - "mse": try 100 clipping points from 1% to 100% of the range, keep the one whose
      quantization error (rounding + clipping) is smallest (what histogram observers do).

    Lesson: notebooks/04_quantization.ipynb, "Weights vs activations, and calibration".
    """
    values = check_tensor("values", values, finite=True).detach().flatten().float()
    method = check_choice("method", method, CALIBRATION_METHODS)
    bits = check_bits(bits)
    percentile = check_float("percentile", percentile, low=50, high=100)
    lo, hi = float(values.min()), float(values.max())
    if method == "percentile":
        sample = values if values.numel() <= 1_000_000 else values[:: values.numel() // 1_000_000]
        lo = float(torch.quantile(sample, 1 - percentile / 100))
        hi = float(torch.quantile(sample, percentile / 100))
    elif method == "mse":
        sample = values if values.numel() <= 200_000 else values[:: values.numel() // 200_000]
        best = (math.inf, lo, hi)
        for frac in torch.linspace(0.01, 1.0, 100).tolist():
            qp = qparams(lo * frac, hi * frac, bits, symmetric)
            err = float(((fake_quantize(sample, qp) - sample) ** 2).mean())
            if err < best[0]:
                best = (err, lo * frac, hi * frac)
        lo, hi = best[1], best[2]
    return lo, hi


def calibration_batches(calibration: torch.Tensor | Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """Calibration images as a list of batches (a tensor is split into batches of 128); an
    empty set, or anything that is not images, gets a clear error.
    """
    if isinstance(calibration, str | bytes):
        raise TypeError("argument 'calibration' must be a tensor of images or batches of them")
    if isinstance(calibration, torch.Tensor):
        if calibration.ndim == 0 or len(calibration) == 0:
            raise ValueError(
                "argument 'calibration' is empty: give a few hundred typical input images "
                "(a tensor (N, C, H, W) or a list of batches)"
            )
        return list(calibration.split(128))
    try:
        batches = list(calibration)
    except TypeError:
        raise TypeError(
            "argument 'calibration' must be a tensor of images or an iterable of batches, "
            f"got {type(calibration).__name__}"
        ) from None
    if not batches or not all(isinstance(b, torch.Tensor) and b.numel() for b in batches):
        raise ValueError(
            "argument 'calibration' is empty: give a few hundred typical input images "
            "(a tensor (N, C, H, W) or a list of non-empty batches)"
        )
    return batches


@torch.no_grad()
def collect_inputs(
    net: nn.Module, calibration: torch.Tensor | Iterable[torch.Tensor], max_values: int = 500_000
) -> dict[str, torch.Tensor]:
    """The values flowing into every conv and linear layer on the calibration images,
    by layer name (subsampled to at most ``max_values`` each): what activation
    quantization must represent.

    Lesson: notebooks/04_quantization.ipynb, "Weights vs activations, and calibration".
    """
    check_module("net", net)
    batches = calibration_batches(calibration)
    max_values = check_int("max_values", max_values, min_value=1)
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in _layers(net)}
    run_with_hooks(
        net,
        {
            layer: lambda m, args, out, name=name: seen[name].append(args[0].detach().flatten())
            for name, layer in _layers(net).items()
        },
        batches,
    )
    out = {}
    for name, parts in seen.items():
        v = torch.cat(parts)
        out[name] = v if v.numel() <= max_values else v[:: math.ceil(v.numel() / max_values)]
    return out


def simulate_quantized(
    net: nn.Module,
    calibration: torch.Tensor | Iterable[torch.Tensor],
    weight_bits: int | None = 8,
    activation_bits: int | None = 8,
    method: str = "minmax",
    percentile: float = 99.99,
) -> nn.Module:
    """A copy of ``net`` that computes as a quantized model would, in float ("fake
    quantization"): weights rounded to a per-channel symmetric ``weight_bits`` grid, and the
    input of every conv/linear layer rounded to an asymmetric ``activation_bits`` grid whose
    range comes from ``calibration`` with ``method``. ``None`` leaves that part in float.
    Written from scratch, so every choice can be switched and compared; real int8 kernels are
    in :func:`ptq_int8`.

    Lesson: notebooks/04_quantization.ipynb, "Weights vs activations, and calibration".
    """
    check_module("net", net)
    method = check_choice("method", method, CALIBRATION_METHODS)
    if weight_bits is not None:
        check_bits(weight_bits)
    if activation_bits is not None:
        check_bits(activation_bits)
    ranges = {}
    if activation_bits is not None:
        inputs = collect_inputs(net, calibration)
        ranges = {
            name: calibration_range(v, method, activation_bits, percentile)
            for name, v in inputs.items()
        }
    sim = copy.deepcopy(net).eval()
    for name, layer in _layers(sim).items():
        if weight_bits is not None:
            w = layer.weight.data
            layer.weight.data = fake_quantize(w, qparams_for(w, weight_bits, True, True, 0))
        if activation_bits is not None:
            qp = qparams(*ranges[name], bits=activation_bits, symmetric=False)
            layer.register_forward_pre_hook(lambda m, args, qp=qp: (fake_quantize(args[0], qp),))
    return sim


# --------------------------------------------------------------------------- integer only


def fixed_point_multiplier(m: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A real multiplier as integers, m = m0 * 2^-shift with m0 an int32 in [2^30, 2^31): what
    integer hardware multiplies by instead of a float (Jacob et al. 2018, section 2.2). From
    scratch. ``m`` (one value, or one per channel) must lie in [2^-31, 1), as requantization
    multipliers do. Returns (m0, shift) as int64 tensors shaped like ``m``.

    Lesson: notebooks/04_quantization.ipynb, "An integer-only layer".
    """
    m = torch.as_tensor(m, dtype=torch.float64).detach()
    if m.numel() == 0 or not bool(((m >= 2**-31) & (m < 1)).all()):  # NaN fails too
        raise ValueError(f"argument 'm' must hold numbers in [2^-31, 1), got {m.flatten()[:4]}")
    mantissa, exponent = torch.frexp(m)  # m = mantissa * 2^exponent, mantissa in [0.5, 1)
    m0 = torch.round(mantissa * 2**31).to(torch.int64)
    carry = m0 == 2**31  # the mantissa rounded up to 1.0: halve it, one shift less
    m0 = torch.where(carry, m0 // 2, m0)
    return m0, 31 - exponent.to(torch.int64) - carry.to(torch.int64)


def requantize(acc: torch.Tensor, m0: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """round(acc * m0 * 2^-shift) with integers only: one 64-bit product, then a *rounding*
    right shift (add 2^(shift-1), then shift; halves round up). ``m0`` and ``shift`` come from
    :func:`fixed_point_multiplier` and broadcast against ``acc`` (one per output channel in
    the last dimension). At most one step away from rounding the float product.

    Lesson: notebooks/04_quantization.ipynb, "An integer-only layer".
    """
    for name, t in (("acc", acc), ("m0", m0), ("shift", shift)):
        if check_tensor(name, t).dtype.is_floating_point:
            raise TypeError(f"argument '{name}' must be an integer tensor, got {t.dtype}")
    if bool((shift < 1).any()) or bool((shift > 61).any()):
        raise ValueError("argument 'shift' must lie in [1, 61] (from fixed_point_multiplier)")
    # |acc| < 2^31 and m0 < 2^31: the product and the added half fit in int64 (< 2^63).
    half = torch.bitwise_left_shift(torch.ones_like(shift), shift - 1)
    return torch.bitwise_right_shift(acc.to(torch.int64) * m0 + half, shift)


def integer_linear(
    x: torch.Tensor,
    layer: nn.Linear,
    x_qp: QParams,
    out_qp: QParams,
    w_qp: QParams | None = None,
) -> dict[str, torch.Tensor]:
    """One linear layer computed the way int8 hardware does: integers only. From scratch.

    x (uint8 grid) and the weight (int8, symmetric per output channel, or ``w_qp``) are
    integers; their products are summed in int32; the bias is added in int32 (scale x_scale *
    w_scale); the sum is *requantized* to the output grid by M = x_scale * w_scale / out_scale,
    applied as a fixed-point multiplier and a rounding shift (:func:`requantize`).
    Returns the integers at each step, the dequantized output ``y``, and ``y_q_float``: the
    same requantization done with a float64 multiply, for comparison.

    Lesson: notebooks/04_quantization.ipynb, "An integer-only layer".
    """
    check_tensor("x", x, ndim=2)
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"argument 'layer' must be an nn.Linear, got {type(layer).__name__}")
    if x.shape[1] != layer.in_features:
        raise ValueError(
            f"argument 'x' must have {layer.in_features} columns for this layer, "
            f"got shape {tuple(x.shape)}"
        )
    if not all(isinstance(qp, QParams) for qp in (x_qp, out_qp, w_qp or x_qp)):
        raise TypeError("arguments 'x_qp', 'out_qp' and 'w_qp' must be QParams")
    if x_qp.axis is not None or out_qp.axis is not None:
        raise ValueError("arguments 'x_qp' and 'out_qp' must be per-tensor parameters")
    weight = layer.weight.detach()
    if w_qp is None:
        w_qp = qparams_for(weight, 8, symmetric=True, per_channel=True, axis=0)
    x_q = quantize(x, x_qp).to(torch.int32)
    w_q = quantize(weight, w_qp).to(torch.int32)
    w_zero = w_qp._shape_for(weight)[1].to(torch.int32)
    acc = (x_q - x_qp.zero_point.to(torch.int32)) @ (w_q - w_zero).T
    bias_scale = x_qp.scale.double() * w_qp.scale.double()  # one per output channel
    if layer.bias is not None:
        acc = acc + torch.round(layer.bias.detach().double() / bias_scale).to(torch.int32)
    multiplier = bias_scale / out_qp.scale.double()
    m0, shift = fixed_point_multiplier(multiplier.expand(layer.out_features))
    zero = out_qp.zero_point
    y_q = torch.clamp(requantize(acc, m0, shift) + zero, out_qp.qmin, out_qp.qmax)
    y_q_float = torch.clamp(torch.round(acc.double() * multiplier) + zero, out_qp.qmin, out_qp.qmax)
    return {
        "x_q": x_q,
        "w_q": w_q,
        "acc_int32": acc,
        "multiplier": multiplier,
        "m0": m0,
        "shift": shift,
        "y_q": y_q,
        "y_q_float": y_q_float.to(torch.int64),
        "y": dequantize(y_q, out_qp),
    }
