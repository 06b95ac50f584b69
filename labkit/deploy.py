"""Deployment plumbing: capture a model as a graph, convert it to real int8, compile it for the
CPU, time it like for like, and fall back, saying why, where a machine cannot.

Notebook 04 teaches what these steps do ("Real int8 inference on the CPU"); this module does
them, with the machine's quirks handled in one place: torch.export failures, a missing or
broken C++ compiler, memory-hungry compile settings. Later notebooks compile their own
baselines here too, so that every speed-up compares compiled with compiled.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import gc
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from labkit._validate import check_bool, check_callable, check_module, check_tensor
from labkit.env import cpu_features
from labkit.measure import LatencyComparison, Ratio, compare_latency, graph_tensors
from labkit.quantize import calibration_batches


class ExportError(ValueError):
    """The model cannot be captured by torch.export, so the PT2E int8 path cannot run.

    Lesson: notebooks/04_quantization.ipynb, "Real int8 inference on the CPU".
    """


def export_model(net: nn.Module, example: torch.Tensor, dynamic_batch: bool = True):
    """``torch.export`` the model (batch size left dynamic) and return the graph module that
    ``prepare_pt2e`` takes. A model torch.export cannot capture gets an :class:`ExportError`
    that says why. The caller's model is left in the mode it was in.

    Lesson: notebooks/04_quantization.ipynb, "Real int8 inference on the CPU".
    """
    check_module("net", net)
    check_tensor("example", example, min_ndim=1)
    check_bool("dynamic_batch", dynamic_batch)
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
        raise ExportError(
            f"argument 'net' cannot be exported with torch.export, so it cannot be quantized "
            f"by the PT2E path: {_first_line(exc)}. Typical causes: Python control flow that "
            "depends on tensor values (if x.sum() > 0), or calls torch cannot trace (numpy, "
            ".item(), printing tensors) inside forward."
        ) from exc
    finally:
        net.train(was_training)


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


def _first_line(exc: BaseException, limit: int = 160) -> str:
    """An exception's type and the first line of its message, cut at a word, not mid-word."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _give_back_freed_memory() -> None:
    """Collect garbage; give freed heap back to the system (glibc), for the C++ compiler."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: macOS, Windows, musl
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass
class Compiled:
    """What :func:`compile_model` made: the callable that runs, whether it is really compiled,
    how long compiling took, and why not where it is not: ``reason`` in words for a learner,
    ``detail`` the first line of the underlying error (compiler output), for a bug report.
    ``mode`` is "compiled" or "eager": label every measurement with it.

    Lesson: notebooks/04_quantization.ipynb, "Latency, side by side".
    """

    model: nn.Module
    compiled: bool
    seconds: float
    reason: str = ""
    detail: str = ""

    @property
    def mode(self) -> str:
        return "compiled" if self.compiled else "eager"


def compile_model(
    model: nn.Module, example: torch.Tensor, verbose: bool = True, name: str = "model"
) -> Compiled:
    """``torch.compile`` with ``freezing`` (weights become constants, so int8 weights are
    packed once for the CPU's int8 kernels), compiled right away on ``example`` so the wait
    happens here, with a message. Freezing stays on for the rest of the process: compile
    models for inference only, never train a compiled one.

    Falls back to the model as it is (eager) where the compiler cannot work: no working C++
    compiler, or a failure inside torch.compile; ``reason`` says which, in one line without
    the compiler's own output (that is in ``detail``), and ``mode`` says "eager". Never raises
    for that.

    Lesson: notebooks/04_quantization.ipynb, "Latency, side by side".
    """
    import torch._inductor.config as inductor_config  # loads the compiler stack: only here

    check_callable("model", model, "a model")
    check_tensor("example", example, min_ndim=1)
    cpu = cpu_features()
    if cpu.compiler is None:
        reason = "no working C++ compiler, which torch.compile needs to build CPU kernels"
        if verbose:
            print(f"{name}: {reason}; it runs eagerly")
        return Compiled(model, False, 0.0, reason, cpu.compiler_problem)
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
    # Every model of one class shares one forward() code object, and torch.compile keeps at
    # most `recompile_limit` (8) compiled variants of it; each model here makes two (no_grad,
    # inference_mode). Past the limit the next model silently ran uncompiled and, timed, was
    # 13x slower than its compiled baseline (measured: `labkit bench prune`, 5 models).
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    # A harmless notice from inside inductor's int8 lowering, repeated at every recompile.
    warnings.filterwarnings("ignore", message="To copy construct from a tensor", module="torch")
    _give_back_freed_memory()  # the C++ compiler is about to need a few hundred MB
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
        reason = f"torch.compile failed on this model ({type(exc).__name__})"
        if verbose:
            print(f"{name}: {reason}; it runs eagerly")
        torch._dynamo.reset()
        return Compiled(model, False, time.perf_counter() - start, reason, _first_line(exc))
    seconds = time.perf_counter() - start
    if verbose:
        print(f"compiled {name} in {seconds:.1f} s")
    return Compiled(compiled, True, seconds)


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


# --------------------------------------------------------------------------- like-for-like timing


def speed_words(ratio: Ratio) -> str:
    """A measured speed ratio (time of the reference / time of the model) in words: "2.10x
    faster" when every round was faster, "1.25x slower" when every round was slower, and "no
    clear difference" when the rounds straddle 1. A ratio below 1 is never called faster.

    Lesson: notebooks/04_quantization.ipynb, "Latency, side by side".
    """
    if not isinstance(ratio, Ratio):
        raise TypeError(f"argument 'ratio' must be a labkit.measure.Ratio, got {type(ratio)}")
    rounds = f"median of {ratio.rounds} rounds, range {ratio.low:.2f}-{ratio.high:.2f}x"
    if ratio.low > 1:
        return f"{ratio.median:.2f}x faster ({rounds})"
    if ratio.high < 1:
        return f"{1 / ratio.median:.2f}x slower ({ratio.median:.2f}x; {rounds})"
    return f"no clear difference ({ratio.median:.2f}x; {rounds})"


@dataclass
class PrecisionTiming:
    """What :func:`time_float32_and_int8` measured: how each model ran (``float32`` and
    ``int8`` are :class:`Compiled`) and every row's latency, named by what really ran.

    Lesson: notebooks/04_quantization.ipynb, "Latency, side by side".
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
) -> PrecisionTiming:
    """Compile copies of both models (:func:`compile_model`) and time them side by side with
    eager float32: rows "float32 eager", "float32 compiled" and "int8 compiled", each named by
    the mode that really ran (where compiling falls back, "int8 eager" is the slow reference
    graph). Speed-ups compare like with like: see :class:`PrecisionTiming`. Both models are
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
    return PrecisionTiming(f32, int8, compare_latency(nets, example, rounds=rounds, runs=runs))


# --------------------------------------------------------------------------- inside the graph


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

    Lesson: notebooks/04_quantization.ipynb, "The same layer inside PyTorch's int8 graph".
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
