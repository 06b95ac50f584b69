"""Real int8 inference on the CPU: post-training static int8 through torch.export and torchao's
PT2E flow, dynamic int8 for Linear layers, int8 timed against float32 like for like, and what
the converted graph holds inside.

Notebook 04 teaches what these steps do ("Real int8 inference on the CPU"); compiling and the
fallbacks where a machine cannot compile are in ``labkit.deploy``.

Used by: labkit.quantize.bench and labkit.quantize.probes.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from labkit._validate import check_module, check_tensor
from labkit.deploy import Compiled, compile_model, export_model, speed_words
from labkit.measure import LatencyComparison, Ratio, compare_latency, graph_tensors
from labkit.quantize.affine import calibration_batches


def ptq_int8(
    net: nn.Module,
    calibration: torch.Tensor | Iterable[torch.Tensor],
    progress: bool = False,
    timings: dict[str, float] | None = None,
) -> torch.fx.GraphModule:
    """Post-training static int8 quantization, the current PyTorch way:
    torch.export -> torchao ``prepare_pt2e`` with ``X86InductorQuantizer`` (int8 weights per
    channel, uint8 activations per tensor, histogram calibration) -> run the calibration
    images -> ``convert_pt2e``. The result computes in float with quantize/dequantize steps
    around each layer (a *reference* model: right numbers, not yet fast); pass it to
    :func:`compile_model` for real int8 kernels. ``net`` itself is not changed. Pass a dict
    as ``timings`` to get the wall seconds of each step ("export", "prepare", "calibrate",
    "convert") written into it.

    Lesson: notebooks/04_quantization.ipynb, "Real int8 inference on the CPU".
    """
    # torchao is imported when used: ~0.8 s and ~60 MB that notebooks without int8 never need.
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
        X86InductorQuantizer,
        get_default_x86_inductor_quantization_config,
    )

    check_module("net", net)
    batches = calibration_batches(calibration)
    if timings is not None and not isinstance(timings, dict):
        raise TypeError(f"argument 'timings' must be a dict or None, got {type(timings).__name__}")
    clock = {"start": time.perf_counter()}
    graph = export_model(copy.deepcopy(net), batches[0][:2])
    clock["export"] = time.perf_counter()
    quantizer = X86InductorQuantizer()
    quantizer.set_global(get_default_x86_inductor_quantization_config())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_pt2e(graph, quantizer)
        clock["prepare"] = time.perf_counter()
        with torch.no_grad():
            for batch in tqdm(batches, desc="calibrating", leave=False, disable=not progress):
                prepared(batch)
        clock["calibrate"] = time.perf_counter()
        converted = convert_pt2e(prepared)
        clock["convert"] = time.perf_counter()
    allow_exported_model_train_eval(converted)
    converted.eval()
    for module in converted.modules():  # that eval() leaves the flags True: timing refuses
        module.training = False
    if timings is not None:
        ticks = list(clock.values())
        timings.update(zip(list(clock)[1:], map(float.__sub__, ticks[1:], ticks[:-1]), strict=True))
    return converted


def dynamic_int8_linear(net: nn.Module) -> tuple[nn.Module, dict[str, int]]:
    """Dynamic int8 for Linear layers with torchao's ``quantize_``: int8 weights, activations
    quantized on the fly per batch (no calibration). Conv2d layers are skipped by torchao;
    the returned counts say how many layers of each kind were converted and left.

    Lesson: notebooks/04_quantization.ipynb, "Dynamic int8 for Linear layers".
    """
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


@dataclass
class Int8Timing:
    """What :func:`time_float32_and_int8` measured: how each model ran (``float32`` and
    ``int8`` are :class:`Compiled`) and every row's latency, named by what really ran.
    """

    float32: Compiled
    int8: Compiled
    latency: LatencyComparison

    @property
    def int8_speedup(self) -> Ratio | None:
        """int8 against float32, both compiled; None where either fell back to eager."""
        if self.float32.compiled and self.int8.compiled:
            return self.latency.ratio("int8 compiled", "float32 compiled")
        return None

    @property
    def compile_speedup(self) -> Ratio | None:
        """Compiled float32 against eager float32: what compilation alone buys."""
        if self.float32.compiled:
            return self.latency.ratio("float32 compiled", "float32 eager")
        return None

    def report(self) -> str:
        """Every row, what fell back and why, and the like-for-like ratios in words."""
        lines = [f"{name:<17} {timing}" for name, timing in self.latency.items()]
        eager = [
            (w, c) for w, c in (("float32", self.float32), ("int8", self.int8)) if not c.compiled
        ]
        if len(eager) == 2 and eager[0][1].reason == eager[1][1].reason:
            eager = [("float32 and int8", eager[0][1])]
        lines += [f"{what} ran eagerly: {c.reason}" for what, c in eager]
        if self.compile_speedup is not None:
            lines.append(f"compiled float32 vs eager float32: {speed_words(self.compile_speedup)}")
        if self.int8_speedup is not None:
            lines.append(f"int8 vs float32, both compiled: {speed_words(self.int8_speedup)}")
        else:
            eager = self.latency.ratio("int8 eager", "float32 eager")
            lines += [
                f"int8 vs float32, both eager: {speed_words(eager)}",
                "  (uncompiled, the int8 model is the reference graph: float arithmetic with "
                "extra quantize and dequantize steps, so this measures simulating int8, not "
                "int8 kernels; it says nothing about int8 speed)",
            ]
        return "\n".join(lines)


def time_float32_and_int8(
    float_net: nn.Module,
    int8_net: nn.Module,
    example: torch.Tensor,
    rounds: int = 5,
    runs: int = 20,
    verbose: bool = True,
) -> Int8Timing:
    """Compile copies of both models (:func:`compile_model`) and time them side by side with
    eager float32: rows "float32 eager", "float32 compiled" and "int8 compiled", each named by
    the mode that really ran (where compiling falls back, "int8 eager" is the slow reference
    graph). Speed-ups compare like with like: see :class:`Int8Timing`. Both models are
    put in eval mode.

    Lesson: notebooks/04_quantization.ipynb, "Latency, side by side".
    """
    check_module("float_net", float_net)
    check_module("int8_net", int8_net)
    check_tensor("example", example, min_ndim=1)
    float_net.eval()
    int8_net.eval()  # not chained: an exported graph's eval() returns None
    f32 = compile_model(copy.deepcopy(float_net), example, verbose, "float32")
    int8 = compile_model(int8_net, example, verbose, "int8")
    nets = {"float32 eager": float_net}
    if f32.compiled:
        nets["float32 compiled"] = f32.model
    nets[f"int8 {int8.mode}"] = int8.model
    return Int8Timing(f32, int8, compare_latency(nets, example, rounds=rounds, runs=runs))


def graph_op_counts(gm: torch.fx.GraphModule) -> dict[str, int]:
    """How many times each operation (conv2d, quantize_per_tensor, ...) occurs in a graph.

    Lesson: notebooks/04_quantization.ipynb, "Real int8 inference on the CPU".
    """
    if not isinstance(gm, torch.fx.GraphModule):
        raise TypeError(f"argument 'gm' must be a torch.fx.GraphModule, got {type(gm).__name__}")
    calls = [n.target for n in gm.graph.nodes if n.op == "call_function"]
    return dict(Counter(getattr(t, "__name__", str(t)).split(".")[0] for t in calls))


def graph_bytes_by_dtype(gm: torch.fx.GraphModule) -> dict[str, int]:
    """Bytes of the tensors a graph reads (:func:`labkit.measure.graph_tensors`), by dtype,
    and under "unused" the parameters and buffers still attached to the module that it never
    reads (a converted int8 graph keeps the original float weights there).

    Lesson: notebooks/04_quantization.ipynb, "What the int8 model really stores".
    """
    used = graph_tensors(gm)
    out: dict[str, int] = {}
    for t in used.values():
        key = str(t.dtype).removeprefix("torch.")
        out[key] = out.get(key, 0) + t.numel() * t.element_size()
    read = {id(t) for t in used.values()}
    out["unused"] = sum(
        t.numel() * t.element_size() for t in [*gm.parameters(), *gm.buffers()] if id(t) not in read
    )
    return out


@dataclass
class LinearInGraph:
    """A linear layer inside an int8 graph, as the graph ran it: the float input ``x``, the
    input's scale, zero point and integers ``x_q``, the int8 weight ``w_q`` with its scales
    (per output channel), the float bias and the layer's output ``y``.
    """

    x: torch.Tensor
    x_scale: float
    x_zero_point: int
    x_q: torch.Tensor
    w_q: torch.Tensor
    w_scale: torch.Tensor
    w_zero_point: torch.Tensor
    bias: torch.Tensor | None
    y: torch.Tensor


class _Capture(torch.fx.Interpreter):
    def __init__(self, gm: torch.fx.GraphModule, wanted: set) -> None:
        super().__init__(gm)
        self.wanted, self.seen = wanted, {}

    def run_node(self, n: torch.fx.Node):
        out = super().run_node(n)
        if n in self.wanted:
            self.seen[n] = out
        return out


def last_linear_in_graph(gm: torch.fx.GraphModule, X: torch.Tensor) -> LinearInGraph:
    """Run the converted int8 graph on ``X`` and read out its last linear layer (the
    classifier): the integers and scales it used and the values it produced, so that a
    from-scratch integer layer can be checked against it.

    Lesson: notebooks/04_quantization.ipynb, "The same layer inside PyTorch's int8 graph".
    """
    if not isinstance(gm, torch.fx.GraphModule):
        raise TypeError(f"argument 'gm' must be a torch.fx.GraphModule, got {type(gm).__name__}")
    check_tensor("X", X, min_ndim=2)
    linears = [n for n in gm.graph.nodes if n.target is torch.ops.aten.linear.default]
    if not linears:
        raise ValueError("argument 'gm' holds no linear layer")
    node = linears[-1]
    x_dq, w_dq, *rest = node.args
    ops = torch.ops.quantized_decomposed
    if getattr(x_dq, "target", None) is not ops.dequantize_per_tensor.default or (
        getattr(w_dq, "target", None) is not ops.dequantize_per_channel.default
    ):
        raise ValueError("argument 'gm' must be a converted int8 graph (from ptq_int8)")
    x_q_node, x_scale, x_zero = x_dq.args[:3]
    tensors = graph_tensors(gm)
    capture = _Capture(gm, {x_q_node.args[0], x_q_node, node})
    with torch.no_grad():
        capture.run(X)
    bias = rest[0] if rest else None
    return LinearInGraph(
        x=capture.seen[x_q_node.args[0]],
        x_scale=float(x_scale),
        x_zero_point=int(x_zero),
        x_q=capture.seen[x_q_node].to(torch.int64),
        w_q=tensors[w_dq.args[0].target].to(torch.int64),
        w_scale=tensors[w_dq.args[1].target],
        w_zero_point=tensors[w_dq.args[2].target].to(torch.int64),
        bias=None if bias is None else tensors[bias.target],
        y=capture.seen[node],
    )
