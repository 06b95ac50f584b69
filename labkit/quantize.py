"""Quantization: fewer bits per number. From the affine mapping (scale and zero point) to real
int8 inference on the CPU, quantization-aware training at 4 bits, and codebook (k-means)
quantization.

For notebooks/04_quantization.ipynb and ``labkit bench quantize``.

Words used below: ``bits`` is the width of the integer grid (8 for int8); a grid is
*signed* (-128..127) or *unsigned* (0..255); *symmetric* mapping puts the zero point at 0
(good for weights, which sit around 0), *asymmetric* fits the grid to [min, max] (good for
activations after ReLU, which are never negative); *per-channel* gives each output channel of
a weight its own scale.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize

from labkit._validate import check_choice, check_float, check_int, check_module, check_tensor
from labkit.prune import prunable_layers as _layers  # the same conv/linear layers

CALIBRATION_METHODS = ("minmax", "percentile", "mse")


# --------------------------------------------------------------------------- the arithmetic


def _check_bits(bits: int) -> int:
    return check_int("bits", bits, min_value=2, max_value=16)


def qrange(bits: int = 8, signed: bool = True) -> tuple[int, int]:
    """The integer grid: (-2^(b-1), 2^(b-1)-1) signed, (0, 2^b-1) unsigned."""
    bits = _check_bits(bits)
    if not isinstance(signed, bool):
        raise TypeError(f"argument 'signed' must be True or False, got {signed!r}")
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


@dataclass(frozen=True)
class QParams:
    """How real numbers map to a grid: q = clamp(round(x / scale) + zero_point, qmin, qmax)."""

    scale: torch.Tensor  # float32; one value, or one per channel
    zero_point: torch.Tensor  # int64, same shape as scale
    qmin: int
    qmax: int
    axis: int | None = None  # the channel axis for per-channel parameters

    @property
    def bits(self) -> int:
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
    The same formulas as PyTorch's MinMaxObserver (a test checks it)."""
    bits = _check_bits(bits)
    if not isinstance(symmetric, bool):
        raise TypeError(f"argument 'symmetric' must be True or False, got {symmetric!r}")
    signed = symmetric if signed is None else signed
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
    """Min-max parameters for the tensor ``x`` itself (per tensor, or per slice along ``axis``)."""
    check_tensor("x", x)
    if per_channel:
        axis = check_int("axis", axis, min_value=0, max_value=x.ndim - 1)
        flat = x.detach().transpose(0, axis).reshape(x.shape[axis], -1)
        return qparams(flat.min(1).values, flat.max(1).values, bits, symmetric, axis=axis)
    return qparams(x.detach().min(), x.detach().max(), bits, symmetric)


def quantize(x: torch.Tensor, qp: QParams) -> torch.Tensor:
    """Real numbers to integers: clamp(round(x / scale) + zero_point, qmin, qmax), as int64.

    ``round`` is round-half-to-even and x / scale is computed as x * (1 / scale), exactly as
    PyTorch's own quantize ops in exported int8 graphs do (a test compares them bit for bit)."""
    check_tensor("x", x)
    if not isinstance(qp, QParams):
        raise TypeError(f"argument 'qp' must be a QParams, got {type(qp).__name__}")
    scale, zero = qp._shape_for(x)
    return torch.clamp(torch.round(x * (1.0 / scale)) + zero, qp.qmin, qp.qmax).to(torch.int64)


def dequantize(q: torch.Tensor, qp: QParams) -> torch.Tensor:
    """Integers back to real numbers: (q - zero_point) * scale."""
    check_tensor("q", q)
    scale, zero = qp._shape_for(q)
    return (q - zero).to(torch.float32) * scale


def fake_quantize(x: torch.Tensor, qp: QParams) -> torch.Tensor:
    """Quantize then dequantize: the float value the integer grid can actually hold."""
    return dequantize(quantize(x, qp), qp)


def quantization_error(x: torch.Tensor, qp: QParams) -> dict[str, float]:
    """How far the grid moves ``x``: mean squared, max absolute, and the share of values
    that fell outside the range and were clipped."""
    q = quantize(x, qp)
    xq = dequantize(q, qp)
    clipped = ((q == qp.qmin) | (q == qp.qmax)) & ((xq - x).abs() > qp._shape_for(x)[0] / 2)
    return {
        "mse": float(((xq - x) ** 2).mean()),
        "max_abs": float((xq - x).abs().max()),
        "clipped": float(clipped.float().mean()),
    }


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
    """
    values = check_tensor("values", values).detach().flatten().float()
    method = check_choice("method", method, CALIBRATION_METHODS)
    bits = _check_bits(bits)
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


def _batches(calibration: torch.Tensor | Iterable[torch.Tensor]) -> list[torch.Tensor]:
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
    quantization must represent."""
    check_module("net", net)
    batches = _batches(calibration)
    max_values = check_int("max_values", max_values, min_value=1)
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in _layers(net)}
    hooks = [
        layer.register_forward_pre_hook(
            lambda m, args, name=name: seen[name].append(args[0].detach().flatten())
        )
        for name, layer in _layers(net).items()
    ]
    was_training = net.training
    try:
        net.eval()
        for batch in batches:
            net(batch)
    finally:
        for h in hooks:
            h.remove()
        net.train(was_training)
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
    in :func:`ptq_int8`."""
    check_module("net", net)
    method = check_choice("method", method, CALIBRATION_METHODS)
    if weight_bits is not None:
        _check_bits(weight_bits)
    if activation_bits is not None:
        _check_bits(activation_bits)
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


def integer_linear(
    x: torch.Tensor,
    layer: nn.Linear,
    x_qp: QParams,
    out_qp: QParams,
) -> dict[str, torch.Tensor]:
    """One linear layer computed the way int8 hardware does. From scratch.

    x (uint8 grid) and the weight (int8, symmetric per output channel) are integers; their
    products are summed in int32; the bias is added in int32 (scale x_scale * w_scale); the
    sum is *requantized* to the output grid by one multiplication M = x_scale * w_scale /
    out_scale. Returns the integers at each step and the dequantized output."""
    check_tensor("x", x, ndim=2)
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"argument 'layer' must be an nn.Linear, got {type(layer).__name__}")
    if x.shape[1] != layer.in_features:
        raise ValueError(
            f"argument 'x' must have {layer.in_features} columns for this layer, "
            f"got shape {tuple(x.shape)}"
        )
    if x_qp.axis is not None or out_qp.axis is not None:
        raise ValueError("arguments 'x_qp' and 'out_qp' must be per-tensor parameters")
    w_qp = qparams_for(layer.weight.detach(), 8, symmetric=True, per_channel=True, axis=0)
    x_q = quantize(x, x_qp).to(torch.int32)
    w_q = quantize(layer.weight.detach(), w_qp).to(torch.int32)
    acc = (x_q - x_qp.zero_point.to(torch.int32)) @ w_q.T  # int32 accumulator
    bias_scale = x_qp.scale * w_qp.scale  # one per output channel
    if layer.bias is not None:
        acc = acc + torch.round(layer.bias.detach() / bias_scale).to(torch.int32)
    multiplier = bias_scale / out_qp.scale
    y_q = torch.clamp(
        torch.round(acc.to(torch.float64) * multiplier.to(torch.float64)) + out_qp.zero_point,
        out_qp.qmin,
        out_qp.qmax,
    ).to(torch.int64)
    return {
        "x_q": x_q,
        "w_q": w_q,
        "acc_int32": acc,
        "multiplier": multiplier,
        "y_q": y_q,
        "y": dequantize(y_q, out_qp),
    }


# --------------------------------------------------------------------------- sizes


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the numbers themselves (numel x element size), each distinct tensor once."""
    seen, total = set(), 0
    for t in tensors:
        if isinstance(t, torch.Tensor) and id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def float_model_bytes(net: nn.Module) -> int:
    """Bytes a float model keeps for inference: its parameters and buffers (batch-norm
    statistics included), 4 bytes per float32 number."""
    check_module("net", net)
    return tensor_bytes(net.state_dict().values())


def graph_tensors(gm: torch.fx.GraphModule) -> dict[str, torch.Tensor]:
    """The tensors a converted (exported) model's graph really reads, by name. Parameters
    that the graph no longer uses (float copies left behind after conversion) are not here."""
    if not isinstance(gm, torch.fx.GraphModule):
        raise TypeError(f"argument 'gm' must be a torch.fx.GraphModule, got {type(gm).__name__}")
    out = {}
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            obj = gm
            for part in node.target.split("."):
                obj = getattr(obj, part)
            if isinstance(obj, torch.Tensor):
                out[node.target] = obj
    return out


def quantized_model_bytes(gm: torch.fx.GraphModule) -> int:
    """Bytes an int8 model from :func:`ptq_int8` keeps: int8 weights, their scales and zero
    points, and the float biases. The float weights still attached to the module but unused
    by its graph are not counted."""
    return tensor_bytes(graph_tensors(gm).values())


def packed_bytes(net: nn.Module, bits: int, codebook: bool = False) -> int:
    """Bytes of ``net`` if every conv/linear weight were stored with ``bits`` bits per number
    (packed: two 4-bit numbers per byte) plus one float32 scale per output channel (or, with
    ``codebook=True``, one float32 codebook of 2^bits entries per layer); every other tensor
    (biases, batch norm) stays float32."""
    check_module("net", net)
    bits = _check_bits(bits)
    total = 0
    weights = {id(m.weight) for m in _layers(net).values()}
    for m in _layers(net).values():
        w = m.weight
        total += math.ceil(w.numel() * bits / 8)
        total += 4 * (2**bits if codebook else w.shape[0])
    for t in net.state_dict(keep_vars=True).values():
        if id(t) not in weights:
            total += t.numel() * t.element_size()
    return total


# --------------------------------------------------------------------------- real int8 (PT2E)


class ExportError(ValueError):
    """The model cannot be captured by torch.export, so the PT2E int8 path cannot run."""


def export_model(net: nn.Module, example: torch.Tensor, dynamic_batch: bool = True):
    """``torch.export`` the model (batch size left dynamic) and return the graph module that
    ``prepare_pt2e`` takes. A model torch.export cannot capture gets an :class:`ExportError`
    that says why."""
    check_module("net", net)
    check_tensor("example", example, min_ndim=1)
    dims = None
    if dynamic_batch:
        dims = ({0: torch.export.Dim("batch", min=1, max=65_536)},)
        if example.shape[0] < 2:  # a batch of one would be specialized as a constant
            example = torch.cat([example, example])
    was_training = net.training
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.export.export(net.eval(), (example,), dynamic_shapes=dims).module()
    except Exception as exc:  # torch raises many kinds here; all mean "cannot export"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(
            f"argument 'net' cannot be exported with torch.export, so it cannot be quantized "
            f"by the PT2E path: {type(exc).__name__}: {first[:300]}. Typical causes: Python "
            "control flow that depends on tensor values (if x.sum() > 0), or calls torch "
            "cannot trace (numpy, .item(), printing tensors) inside forward."
        ) from exc
    finally:
        net.train(was_training)  # leave the caller's model as it was


def ptq_int8(
    net: nn.Module,
    calibration: torch.Tensor | Iterable[torch.Tensor],
    progress: bool = False,
) -> torch.fx.GraphModule:
    """Post-training static int8 quantization, the current PyTorch way:
    torch.export -> torchao ``prepare_pt2e`` with ``X86InductorQuantizer`` (int8 weights per
    channel, uint8 activations per tensor, histogram calibration) -> run the calibration
    images -> ``convert_pt2e``. The result computes in float with quantize/dequantize steps
    around each layer (a *reference* model: right numbers, not yet fast); pass it to
    :func:`compile_model` for real int8 kernels. ``net`` itself is not changed."""
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer,
        get_default_x86_inductor_quantization_config,
    )

    check_module("net", net)
    batches = _batches(calibration)
    graph = export_model(copy.deepcopy(net), batches[0][:2])
    quantizer = X86InductorQuantizer()
    quantizer.set_global(get_default_x86_inductor_quantization_config())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for batch in _maybe_tqdm(batches, progress, "calibrating"):
                prepared(batch)
        converted = convert_pt2e(prepared)
    allow_exported_model_train_eval(converted)
    converted.eval()
    return converted


def _maybe_tqdm(items: Sequence, progress: bool, desc: str):
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, leave=False)


@dataclass
class Compiled:
    """What :func:`compile_model` made: the callable, whether it is really compiled, and why
    not where it is not."""

    model: object
    compiled: bool
    seconds: float
    reason: str = ""


def compile_model(
    model: nn.Module, example: torch.Tensor, verbose: bool = True, name: str = "model"
) -> Compiled:
    """``torch.compile`` with ``freezing`` (weights become constants, so int8 weights are
    packed once for the CPU's int8 kernels; without freezing there is no speed-up), compiled
    right away on ``example`` so the wait happens here, with a message. Freezing stays on for
    the rest of the process: compile models for inference only, never train a compiled one.

    Falls back to the model as it is (eager) where the compiler cannot work: no C++ compiler,
    or a failure inside torch.compile; ``reason`` says which. Never raises for that."""
    import torch._inductor.config as inductor_config

    from labkit.env import cpu_features

    if not callable(model):
        raise TypeError(f"argument 'model' must be a model, got {type(model).__name__}")
    check_tensor("example", example, min_ndim=1)
    feats = cpu_features()
    if feats.compiler is None:
        reason = (
            "no C++ compiler found: torch.compile cannot build CPU kernels here, so the model "
            "runs eagerly (int8 accuracy and size still hold; the int8 speed-up does not)"
        )
        if verbose:
            print(f"{name}: {reason}")
        return Compiled(model, False, 0.0, reason)
    if verbose:
        print(f"compiling {name} with torch.compile (freezing on); the first time takes 5-60 s ...")
    # Freezing is switched on for the whole process, not inside a context: torch.compile
    # compiles again later whenever a guard fails (another batch size, inference_mode instead
    # of no_grad), and a recompile outside the context would silently lose the int8 speed-up.
    inductor_config.freezing = True
    # Compile in this process: a pool of compile workers (one Python process each) would
    # add several hundred MB, over Binder's memory, and buys little on 1-2 cores.
    inductor_config.compile_threads = 1
    # No precompiled header: g++ needs up to ~900 MB to build one (once per machine, on the
    # first compile), which on top of the kernel's own memory breaks Binder's 2 GB. Without
    # it each kernel compiles a few seconds slower and g++ stays near 350 MB.
    inductor_config.cpp_cache_precompile_headers = False
    # A harmless notice from inside inductor's int8 lowering, repeated at every recompile.
    warnings.filterwarnings("ignore", message="To copy construct from a tensor", module="torch")
    start = time.perf_counter()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = torch.compile(model, dynamic=False)
            if isinstance(compiled, nn.Module):
                compiled.eval()  # the wrapper has its own training flag
            compiled(example)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled(example)  # timing runs in inference mode: compile that variant now too
    except Exception as exc:  # compiler missing headers, unsupported op, ...
        reason = f"torch.compile failed ({type(exc).__name__}: {str(exc)[:200]}); running eagerly"
        if verbose:
            print(f"{name}: {reason}")
        torch._dynamo.reset()
        return Compiled(model, False, time.perf_counter() - start, reason)
    seconds = time.perf_counter() - start
    if verbose:
        print(f"compiled {name} in {seconds:.1f} s")
    return Compiled(compiled, True, seconds)


def int8_expectation() -> str:
    """What int8 speed to expect on this machine, and why, in a sentence or two."""
    from labkit.env import cpu_features

    f = cpu_features()
    if not f.x86:
        return (
            f"This is a {f.arch} CPU: the X86InductorQuantizer path still gives the int8 "
            "model's accuracy and size, but its fast int8 kernels are x86-only, so expect no "
            "speed-up (or a slow-down) here."
        )
    if f.compiler is None:
        return (
            "No C++ compiler: torch.compile cannot run, so the int8 model runs eagerly "
            "(slower than float32). Install g++ to see the speed-up."
        )
    if f.amx:
        return "AMX int8 tiles: expect int8 matrix work several times faster than float32."
    if f.vnni:
        return (
            "AVX-512 VNNI: int8 dot products in one instruction; expect int8 convolutions "
            "2-4x faster than float32 eager, the more so the bigger the layers."
        )
    return "x86 without VNNI: int8 runs, but expect a modest speed-up at best."


def dynamic_int8_linear(net: nn.Module) -> tuple[nn.Module, dict[str, int]]:
    """Dynamic int8 for Linear layers with torchao's ``quantize_``: int8 weights, activations
    quantized on the fly per batch (no calibration). Conv2d layers are skipped by torchao;
    the returned counts say how many layers of each kind were converted and left."""
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_

    check_module("net", net)
    out = copy.deepcopy(net).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_(out, Int8DynamicActivationInt8WeightConfig())
    counts = {"linear_int8": 0, "linear_float": 0, "conv_float": 0}
    for m in out.modules():
        if isinstance(m, nn.Linear):
            counts["linear_int8" if _is_quantized(m.weight) else "linear_float"] += 1
        elif isinstance(m, nn.Conv2d):
            counts["conv_float"] += 1
    return out, counts


def _is_quantized(w: torch.Tensor) -> bool:
    """torchao swaps a quantized weight for a tensor subclass that holds int8 data."""
    data = w.data if isinstance(w, nn.Parameter) else w
    return type(data) is not torch.Tensor or not data.dtype.is_floating_point


# --------------------------------------------------------------------------- QAT and codebooks


class FakeQuantWeight(nn.Module):
    """A parametrization: the layer sees its weight rounded to a symmetric per-channel grid.
    The backward pass lets the gradient through the rounding unchanged (straight-through
    estimator), so training moves the float weights to where they round well."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = _check_bits(bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        wq = fake_quantize(w.detach(), qparams_for(w, self.bits, True, True, 0))
        return w + (wq - w).detach()


def add_fake_quant(net: nn.Module, bits: int) -> nn.Module:
    """Attach :class:`FakeQuantWeight` to every conv/linear weight of ``net`` (in place)."""
    check_module("net", net)
    bits = _check_bits(bits)
    for layer in _layers(net).values():
        if not parametrize.is_parametrized(layer, "weight"):
            parametrize.register_parametrization(layer, "weight", FakeQuantWeight(bits))
    return net


def bake_fake_quant(net: nn.Module) -> nn.Module:
    """Replace each parametrized weight by its quantized value (in place)."""
    for layer in _layers(net).values():
        if parametrize.is_parametrized(layer, "weight"):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    return net


def quantize_weights(net: nn.Module, bits: int) -> nn.Module:
    """Post-training weight quantization: a copy of ``net`` whose conv/linear weights are
    rounded to a symmetric per-channel ``bits``-bit grid (activations stay float)."""
    check_module("net", net)
    return bake_fake_quant(add_fake_quant(copy.deepcopy(net), bits)).eval()


def qat(
    net: nn.Module,
    data,
    bits: int = 4,
    epochs: int = 3,
    lr: float = 1e-3,
    progress: bool = True,
):
    """Quantization-aware training: fine-tune a copy of ``net`` while its conv/linear
    weights are fake-quantized to ``bits`` bits, then bake the quantized weights in.
    Returns (model, history)."""
    from labkit.train import fit

    check_module("net", net)
    bits = _check_bits(bits)
    epochs = check_int("epochs", epochs, min_value=1, max_value=100)
    if not (hasattr(data, "train") and hasattr(data, "val")):
        raise TypeError(
            "argument 'data' must be a labkit Dataset (with .train and .val), such as "
            f"labkit.load_digits(); got {type(data).__name__}"
        )
    student = add_fake_quant(copy.deepcopy(net), bits)
    history = fit(
        student,
        data.train,
        data.val,
        epochs=epochs,
        lr=lr,
        progress=progress,
        desc=f"QAT {bits}-bit",
    )
    return bake_fake_quant(student).eval(), history


def kmeans_1d(
    values: torch.Tensor, k: int, iterations: int = 100
) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means on numbers (Lloyd's algorithm), started from evenly spaced quantiles so it is
    deterministic. From scratch. Returns (centroids sorted, index of each value's centroid)."""
    values = check_tensor("values", values).detach().flatten().float()
    k = check_int("k", k, min_value=1, max_value=65_536)
    iterations = check_int("iterations", iterations, min_value=1, max_value=10_000)
    k = min(k, values.numel())
    centroids = torch.quantile(values, torch.linspace(0, 1, k)).contiguous()
    for _ in range(iterations):
        idx = torch.bucketize(values, (centroids[1:] + centroids[:-1]) / 2)
        sums = torch.zeros(k).index_add_(0, idx, values)
        counts = torch.bincount(idx, minlength=k).float()
        new = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
        new = new.sort().values
        converged = torch.allclose(new, centroids)
        centroids = new
        if converged:
            break
    idx = torch.bucketize(values, (centroids[1:] + centroids[:-1]) / 2)
    return centroids, idx


def codebook_quantize(net: nn.Module, bits: int = 4) -> nn.Module:
    """Codebook quantization: each conv/linear weight tensor is replaced by its nearest of
    2^bits shared values found by k-means; stored as ``bits``-bit indices plus the codebook
    (see :func:`packed_bytes` with ``codebook=True``)."""
    check_module("net", net)
    bits = _check_bits(bits)
    out = copy.deepcopy(net).eval()
    with torch.no_grad():
        for layer in _layers(out).values():
            centroids, idx = kmeans_1d(layer.weight.flatten(), 2**bits)
            layer.weight.copy_(centroids[idx].view_as(layer.weight))
    return out


# --------------------------------------------------------------------------- the benchmark


def _size_fields(base_bytes: int, size_bytes: int) -> dict:
    return {"size_bytes": size_bytes, "size_ratio": round(base_bytes / size_bytes, 3)}


def benchmark(progress: bool = False, timm_model: str | None = "resnet18") -> dict:
    """The numbers ``labkit bench quantize`` prints (issue 5 gives the format)."""
    from labkit.data import load_digits
    from labkit.env import cpu_features
    from labkit.measure import compare_latency, speedup
    from labkit.train import evaluate
    from labkit.zoo import load_pretrained

    torch.manual_seed(0)
    data = load_digits()
    base = load_pretrained("baseline").eval()
    example = data.test.X[:256]
    calib = data.train.X[:1024]

    def pct(net) -> float:
        return round(100 * evaluate(net, data.test).value, 2)

    base_bytes = float_model_bytes(base)
    f32c = compile_model(copy.deepcopy(base), example, verbose=progress, name="float32")
    int8_ref = ptq_int8(base, calib, progress=progress)
    int8 = compile_model(int8_ref, example, verbose=progress, name="int8")
    w4_ptq = quantize_weights(base, 4)
    w4_qat, _ = qat(base, data, bits=4, epochs=3, progress=progress)
    cb4 = codebook_quantize(base, 4)
    nets = {"float32": base, "float32_compiled": f32c.model, "int8_ptq": int8.model}
    many = compare_latency(nets, example, rounds=7)
    one = compare_latency(nets, example[:1], 7, 50)
    w4_lat = compare_latency({"float32": base, "w4": w4_qat}, example, rounds=5)

    rows = [
        dict(
            method="int8_ptq",
            bits=8,
            acc=pct(int8.model),
            **_size_fields(base_bytes, quantized_model_bytes(int8_ref)),
            latency_ratio=speedup(many, "int8_ptq", "float32"),
            latency_ratio_batch1=speedup(one, "int8_ptq", "float32"),
            latency_ratio_vs_compiled_float32=speedup(many, "int8_ptq", "float32_compiled"),
            compiled=int8.compiled,
            note="torch.export -> prepare_pt2e(X86InductorQuantizer) -> convert_pt2e -> "
            "torch.compile(freezing)" + ("" if int8.compiled else f"; {int8.reason}"),
        ),
        dict(
            method="float32_compiled",
            bits=32,
            acc=pct(base),
            **_size_fields(base_bytes, base_bytes),
            latency_ratio=speedup(many, "float32_compiled", "float32"),
            latency_ratio_batch1=speedup(one, "float32_compiled", "float32"),
            compiled=f32c.compiled,
        ),
        dict(
            method="w4_ptq",
            bits=4,
            acc=pct(w4_ptq),
            **_size_fields(base_bytes, packed_bytes(w4_ptq, 4)),
            latency_ratio=None,
            note="4-bit weights rounded after training, no fine-tuning",
        ),
        dict(
            method="w4_qat",
            bits=4,
            acc=pct(w4_qat),
            **_size_fields(base_bytes, packed_bytes(w4_qat, 4)),
            latency_ratio=speedup(w4_lat, "w4", "float32"),
            note="3 epochs of quantization-aware training; no 4-bit conv kernels on CPU, "
            "so it runs as float32 (latency ~1x); size counts packed 4-bit weights",
        ),
        dict(
            method="codebook_kmeans",
            bits=4,
            acc=pct(cb4),
            **_size_fields(base_bytes, packed_bytes(cb4, 4, codebook=True)),
            latency_ratio=None,
            note="16 shared values per layer (k-means), no fine-tuning",
        ),
    ]
    result = {
        "technique": "quantize",
        "cpu": cpu_features().summary(),
        "expectation": int8_expectation(),
        "size_format": "bytes of the tensors inference reads (numel x element size)",
        "latency_batch": len(example),
        "baseline": {
            "acc": pct(base),
            "size_bytes": base_bytes,
            "latency_ms": round(many["float32"].median_ms, 3),
            "latency_ms_batch1": round(one["float32"].median_ms, 3),
        },
        "rows": rows,
    }
    if timm_model:
        result["timm"] = timm_rows(timm_model, progress=progress)
    return result


def timm_rows(
    name: str = "resnet18", image_size: int = 224, batch: int = 1, progress: bool = False
) -> dict:
    """float32 eager vs int8 (PT2E, compiled) on a real-size timm model with random weights:
    size and latency only (random weights have no accuracy to speak of)."""
    from labkit.measure import compare_latency, speedup
    from labkit.models import create_model

    image_size = check_int("image_size", image_size, min_value=32, max_value=1024)
    batch = check_int("batch", batch, min_value=1, max_value=64)
    net = create_model(name, seed=0).eval()
    torch.manual_seed(0)
    calib = [torch.randn(4, 3, image_size, image_size) for _ in range(4)]
    example = torch.randn(batch, 3, image_size, image_size)
    ref = ptq_int8(net, calib)
    int8 = compile_model(ref, example, verbose=progress, name=f"{name} int8")
    f32c = compile_model(copy.deepcopy(net), example, verbose=progress, name=f"{name} float32")
    lat = compare_latency(
        {"float32": net, "float32_compiled": f32c.model, "int8_ptq": int8.model},
        example,
        rounds=3,
        runs=5,
    )
    base_bytes = float_model_bytes(net)
    return {
        "model": name,
        "input": [batch, 3, image_size, image_size],
        "baseline": {"size_bytes": base_bytes, "latency_ms": round(lat["float32"].median_ms, 2)},
        "rows": [
            dict(
                method="int8_ptq",
                bits=8,
                acc=None,
                **_size_fields(base_bytes, quantized_model_bytes(ref)),
                latency_ratio=speedup(lat, "int8_ptq", "float32"),
                latency_ratio_vs_compiled_float32=speedup(lat, "int8_ptq", "float32_compiled"),
                compiled=int8.compiled,
            ),
        ],
    }


__all__ = [
    "CALIBRATION_METHODS",
    "Compiled",
    "ExportError",
    "FakeQuantWeight",
    "QParams",
    "add_fake_quant",
    "bake_fake_quant",
    "benchmark",
    "calibration_range",
    "codebook_quantize",
    "collect_inputs",
    "compile_model",
    "dequantize",
    "dynamic_int8_linear",
    "export_model",
    "fake_quantize",
    "float_model_bytes",
    "graph_tensors",
    "int8_expectation",
    "integer_linear",
    "kmeans_1d",
    "packed_bytes",
    "ptq_int8",
    "qat",
    "qparams",
    "qparams_for",
    "qrange",
    "quantization_error",
    "quantize",
    "quantize_weights",
    "quantized_model_bytes",
    "simulate_quantized",
    "tensor_bytes",
    "timm_rows",
]
