"""Mixed precision: the 16-bit float formats bit by bit, what casting loses, which operations
autocast runs in 16 bits (read from running code), and loss scaling, with a dynamic scaler
written from scratch and checked against ``torch.amp.GradScaler``.

Serves notebooks/05_mixed_precision.ipynb. Training side by side in three precisions, timing
training steps and the GPU figures are in ``labkit.precision.training``; the benchmark is
``labkit bench precision`` (labkit/precision/bench.py).

Words used below: a *format* is float32, float16 or bfloat16 (``FORMATS``); a *precision* of
training is ``"float32"``, ``"bfloat16"`` (autocast) or ``"float16_scaled"`` (float16
autocast with a loss scaler: ``labkit.train.PRECISIONS``). A value *underflows* (is flushed to
zero) when it is too small for the format, and *overflows* (becomes infinite) when it is too
large.

Used by: labkit.precision.training and labkit.precision.widget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from labkit._validate import check_bool, check_float, check_int, check_tensor
from labkit.autocast import check_autocast_device

FORMATS = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_INT_VIEW = {32: torch.int32, 16: torch.int16}


def check_dtype(name: str, value: object) -> torch.dtype:
    """``value`` as one of the three float formats: a torch dtype or its name ("bfloat16")."""
    if isinstance(value, str) and value in FORMATS:
        return FORMATS[value]
    if isinstance(value, torch.dtype) and value in FORMATS.values():
        return value
    raise ValueError(
        f"argument '{name}' must be one of {list(FORMATS)} (a name or a torch dtype), got {value!r}"
    )


def check_autocast_dtype(name: str, value: object) -> torch.dtype:
    """``value`` as one of the 16-bit formats autocast runs in: bfloat16 or float16."""
    dtype = check_dtype(name, value)
    if dtype == torch.float32:
        raise ValueError(
            f"argument '{name}' must be 'bfloat16' or 'float16' (autocast to float32 is "
            f"switched off, and would show every operation in float32), got {value!r}"
        )
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    """'bfloat16' for torch.bfloat16."""
    return str(dtype).removeprefix("torch.")


# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class FormatInfo:
    """A float format's layout and range, read from ``torch.finfo``: the bits of exponent and
    mantissa, the largest number, the smallest normal and subnormal numbers, and ``eps``, the
    step from 1.0 to the next number.
    """

    name: str
    bits: int
    exponent_bits: int
    mantissa_bits: int
    max: float
    smallest_normal: float
    smallest_subnormal: float
    eps: float


def format_info(dtype: torch.dtype | str) -> FormatInfo:
    """The layout and range of a float format (see :class:`FormatInfo`).

    Lesson: notebooks/05_mixed_precision.ipynb, "Number formats, bit by bit".
    """
    dtype = check_dtype("dtype", dtype)
    fi = torch.finfo(dtype)
    mantissa = round(-math.log2(fi.eps))
    return FormatInfo(
        dtype_name(dtype),
        fi.bits,
        fi.bits - 1 - mantissa,
        mantissa,
        float(fi.max),
        float(fi.smallest_normal),
        float(fi.smallest_normal) * float(fi.eps),  # the last mantissa bit below the normals
        float(fi.eps),
    )


def bit_fields(x: float, dtype: torch.dtype | str) -> tuple[str, str, str]:
    """The bits that store ``x`` in a format: (sign, exponent, mantissa) as strings of 0/1.

    Lesson: notebooks/05_mixed_precision.ipynb, "Number formats, bit by bit".
    """
    dtype = check_dtype("dtype", dtype)
    x = check_float("x", x)
    info = format_info(dtype)
    raw = int(torch.tensor([x], dtype=torch.float64).to(dtype).view(_INT_VIEW[info.bits]))
    bits = format(raw & (2**info.bits - 1), f"0{info.bits}b")
    return bits[0], bits[1 : 1 + info.exponent_bits], bits[1 + info.exponent_bits :]


def decode(sign: str, exponent: str, mantissa: str) -> float:
    """The number a sign, exponent and mantissa stand for, from the rule of IEEE 754 floats:
    (-1)^sign x 2^(exponent - bias) x 1.mantissa, where bias = 2^(exponent bits - 1) - 1; an
    all-zero exponent means a subnormal number (0.mantissa x 2^(1 - bias)).

    Lesson: notebooks/05_mixed_precision.ipynb, "Number formats, bit by bit".
    """
    for arg, value in (("sign", sign), ("exponent", exponent), ("mantissa", mantissa)):
        if not isinstance(value, str) or not value or set(value) - {"0", "1"}:
            raise ValueError(f"argument '{arg}' must be a string of 0s and 1s, got {value!r}")
    if len(sign) != 1:
        raise ValueError(f"argument 'sign' must be one bit, got {sign!r}")
    bias = 2 ** (len(exponent) - 1) - 1
    e, m = int(exponent, 2), int(mantissa, 2) / 2 ** len(mantissa)
    s = -1.0 if sign == "1" else 1.0
    if e == 2 ** len(exponent) - 1:
        return s * math.inf if m == 0 else math.nan
    if e == 0:
        return s * m * 2.0 ** (1 - bias)
    return s * (1 + m) * 2.0 ** (e - bias)


def running_sum(values: torch.Tensor, dtype: torch.dtype | str) -> float:
    """Add ``values`` one at a time, keeping the running total in ``dtype`` (as a loop that
    accumulates in 16 bits would): once the total is large, small terms are rounded away.

    Lesson: notebooks/05_mixed_precision.ipynb, "Number formats, bit by bit".
    """
    check_tensor("values", values, ndim=1, finite=True)
    dtype = check_dtype("dtype", dtype)
    total = torch.zeros((), dtype=dtype)
    for v in values.to(dtype):
        total = total + v
    return float(total)


def round_trip_error(t: torch.Tensor, dtype: torch.dtype | str) -> float:
    """Relative error of casting ``t`` down to ``dtype`` and back: |t' - t| / |t| (norms).

    Lesson: notebooks/05_mixed_precision.ipynb, "Casting, and what autocast does".
    """
    check_tensor("t", t, finite=True)
    dtype = check_dtype("dtype", dtype)
    t = t.detach().float()
    norm = float(t.norm())
    return float((t.to(dtype).float() - t).norm()) / norm if norm else 0.0


def fate_in(values: torch.Tensor, dtype: torch.dtype | str, scale: float = 1.0) -> dict:
    """What happens to the non-zero ``values`` times ``scale`` when stored in ``dtype``: the
    fraction that underflows to zero, becomes subnormal (fewer significant bits), stays
    normal, or overflows to infinity. The four fractions sum to 1.

    Lesson: notebooks/05_mixed_precision.ipynb, "Loss scaling, from scratch".
    """
    check_tensor("values", values)
    dtype = check_dtype("dtype", dtype)
    scale = check_float("scale", scale, low=0, low_inclusive=False)
    v = values.detach().double().flatten()
    v = v[v != 0]
    if v.numel() == 0:
        raise ValueError("argument 'values' holds no non-zero number")
    stored = (v * scale).to(dtype).double().abs()
    n = v.numel()
    zero = int((stored == 0).sum())
    inf = int(torch.isinf(stored).sum())
    sub = int(((stored > 0) & (stored < format_info(dtype).smallest_normal)).sum())
    return {
        "underflow": zero / n,
        "subnormal": sub / n,
        "normal": (n - zero - inf - sub) / n,
        "overflow": inf / n,
    }


# --------------------------------------------------------------------------- autocast


@dataclass(frozen=True)
class OpRecord:
    """One operation as it ran: its name, the float dtypes of its inputs, and of its output."""

    op: str
    inputs: tuple[str, ...]
    output: str


class _Recorder(TorchDispatchMode):
    """Sees every aten operation after autocast chose its dtypes (autocast acts above it)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[OpRecord] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        flat = torch.utils._pytree.tree_leaves((args, kwargs or {}))
        ins = tuple(dtype_name(a.dtype) for a in flat if isinstance(a, torch.Tensor))
        first = next(
            (o for o in torch.utils._pytree.tree_leaves(out) if isinstance(o, torch.Tensor)),
            None,
        )
        if first is not None and first.is_floating_point():
            name = func.overloadpacket.__name__
            self.records.append(OpRecord(name, ins, dtype_name(first.dtype)))
        return out


def autocast_ops(
    fn: Callable[[], object],
    dtype: torch.dtype | str = torch.bfloat16,
    device: str | torch.device = "cpu",
) -> list[OpRecord]:
    """Run ``fn()`` under ``torch.autocast(device, dtype)`` and record every operation that
    produced a floating-point tensor, with the dtypes it read and wrote: which operations
    autocast ran in 16 bits and which it kept in 32, as the code really ran.

    Lesson: notebooks/05_mixed_precision.ipynb, "Casting, and what autocast does".
    """
    if not callable(fn):
        raise TypeError(f"argument 'fn' must be a function of no arguments, got {fn!r}")
    dtype = check_autocast_dtype("dtype", dtype)
    device_type = check_autocast_device("device", device)
    recorder = _Recorder()
    with torch.autocast(device_type=device_type, dtype=dtype), recorder:
        fn()
    return recorder.records


# --------------------------------------------------------------------------- loss scaling


class DynamicScaler:
    """A dynamic loss scaler from scratch, with the methods of ``torch.amp.GradScaler``, so
    that the course's training loop runs with either: ``scale(loss)`` multiplies the loss by the
    current scale before backward; ``step(optimizer)`` divides the gradients by it, looks for
    inf/NaN and steps only if there is none; ``update()`` then applies the rule. An overflow
    multiplies the scale by ``backoff_factor`` and restarts the count of good steps; after
    ``growth_interval`` good steps in a row, the scale is multiplied by ``growth_factor``,
    unless that would take it past the largest float32 (the scale is a float32 number, as in
    PyTorch), and the count restarts.

    Lesson: notebooks/05_mixed_precision.ipynb, "Loss scaling, from scratch".
    """

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
    ) -> None:
        self._scale = check_float("init_scale", init_scale, low=0, low_inclusive=False)
        self.growth_factor = check_float("growth_factor", growth_factor, low=1, low_inclusive=False)
        self.backoff_factor = check_float(
            "backoff_factor",
            backoff_factor,
            low=0,
            high=1,
            low_inclusive=False,
            high_inclusive=False,
        )
        self.growth_interval = check_int("growth_interval", growth_interval, min_value=1)
        self.good_steps = 0  # finite steps since the scale last changed
        self._found_inf: bool | None = None  # what the last unscale_ found, until update()

    def get_scale(self) -> float:
        """The scale the next backward pass will use."""
        return self._scale

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        """The loss times the current scale: backward of this gives scaled gradients."""
        return loss * self._scale

    def unscale_(self, optimizer: torch.optim.Optimizer) -> bool:
        """Divide every gradient of the optimizer's parameters by the scale, in place; True if
        any is inf or NaN (remembered for ``update``)."""
        found_inf = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.mul_(1.0 / self._scale)
                    found_inf |= not bool(torch.isfinite(p.grad).all())
        self._found_inf = found_inf
        return found_inf

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Unscale (unless ``unscale_`` already did), then step unless a gradient overflowed;
        True if the optimizer stepped."""
        if self._found_inf is None:
            self.unscale_(optimizer)
        if not self._found_inf:
            optimizer.step()
        return not self._found_inf

    def update(self, found_inf: bool | None = None) -> None:
        """The new scale after a step: back off on an overflow, grow after enough good steps.
        ``found_inf`` defaults to what the last ``step`` found."""
        if found_inf is None:
            if self._found_inf is None:
                raise RuntimeError("update() needs a step() first, or found_inf=True/False")
            found_inf = self._found_inf
        found_inf = check_bool("found_inf", found_inf)
        self._found_inf = None
        if found_inf:
            self._scale *= self.backoff_factor
            self.good_steps = 0
            return
        self.good_steps += 1
        if self.good_steps == self.growth_interval:
            grown = self._scale * self.growth_factor
            if grown <= torch.finfo(torch.float32).max:  # float32 holds it: grow
                self._scale = grown
            self.good_steps = 0


def activation_gradients(
    net: torch.nn.Module, X: torch.Tensor, y: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The gradient of the cross-entropy loss on (X, y) with respect to the output of every
    convolution, batch norm and linear layer, by layer name: what the backward pass carries
    from layer to layer, and what float16 training stores in 16 bits. ``net`` is left as it
    was (its batch-norm statistics are restored).

    Lesson: notebooks/05_mixed_precision.ipynb, "Loss scaling, from scratch".
    """
    if not isinstance(net, torch.nn.Module):
        raise TypeError(f"argument 'net' must be a torch.nn.Module, got {type(net).__name__}")
    check_tensor("X", X, min_ndim=2, finite=True)
    check_tensor("y", y, ndim=1)
    kinds = (torch.nn.Conv2d, torch.nn.BatchNorm2d, torch.nn.Linear)
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(module, inputs, output):
            outputs[name] = output

        return hook

    handles = [
        m.register_forward_hook(keep(n)) for n, m in net.named_modules() if isinstance(m, kinds)
    ]
    buffers = {name: b.detach().clone() for name, b in net.named_buffers()}
    try:
        loss = torch.nn.functional.cross_entropy(net(X), y)
        grads = torch.autograd.grad(loss, list(outputs.values()))
    finally:
        for h in handles:
            h.remove()
        with torch.no_grad():  # a forward pass in training mode updates batch-norm statistics
            for name, b in net.named_buffers():
                b.copy_(buffers[name])
    return {name: g.detach() for name, g in zip(outputs, grads, strict=True)}
