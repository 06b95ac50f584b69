"""Deployment plumbing: capture a model as a graph (torch.export), compile it for the CPU
(torch.compile), say a measured speed ratio in words, and fall back, saying why, where a machine
cannot: torch.export failures, a missing or broken C++ compiler, memory-hungry compile
settings, all handled in one place. Notebook 04 teaches what these steps do ("Real int8
inference on the CPU"; the int8 conversion itself is ``labkit.quantize.int8``), and every
lesson that times a compiled model compiles its baseline here too, so that every speed-up
compares compiled with compiled.

Used by: labkit.quantize.int8 (real int8 models) and the benchmarks that time compiled models
(labkit/prune/bench.py, labkit/quantize/bench.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import time
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from labkit._validate import check_bool, check_callable, check_module, check_tensor
from labkit.env import cpu_features
from labkit.measure import Ratio


class ExportError(ValueError):
    """The model cannot be captured by torch.export, so the PT2E int8 path cannot run."""


def export_model(net: nn.Module, example: torch.Tensor, dynamic_batch: bool = True):
    """``torch.export`` the model (batch size left dynamic) and return the graph module that
    ``prepare_pt2e`` takes. A model torch.export cannot capture gets an :class:`ExportError`
    that says why. The caller's model is left in the mode it was in.
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
    """

    model: nn.Module
    compiled: bool
    seconds: float
    reason: str = ""
    detail: str = ""

    @property
    def mode(self) -> str:
        """ "compiled" or "eager": the execution mode that really runs, to label a measurement."""
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


# --------------------------------------------------------------------------- like-for-like timing


def speed_words(ratio: Ratio) -> str:
    """A measured speed ratio (time of the reference / time of the model) in words: "2.10x
    faster" when every round was faster, "1.25x slower" when every round was slower, and "no
    clear difference" when the rounds straddle 1. A ratio below 1 is never called faster.
    """
    if not isinstance(ratio, Ratio):
        raise TypeError(f"argument 'ratio' must be a labkit.measure.Ratio, got {type(ratio)}")
    rounds = f"median of {ratio.rounds} rounds, range {ratio.low:.2f}-{ratio.high:.2f}x"
    if ratio.low > 1:
        return f"{ratio.median:.2f}x faster ({rounds})"
    if ratio.high < 1:
        return f"{1 / ratio.median:.2f}x slower ({ratio.median:.2f}x; {rounds})"
    return f"no clear difference ({ratio.median:.2f}x; {rounds})"


# --------------------------------------------------------------------------- inside the graph
