"""Measuring models: parameters, stored size, latency, peak memory, sparsity, MACs.

Introduced in notebooks/00_welcome.ipynb and notebooks/01_parameters_vs_hyperparameters.ipynb;
every later notebook reports its effects with these functions, and only these.
"""

from __future__ import annotations

import io
import statistics
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psutil
import torch
from torch import nn

from labkit._validate import check_choice, check_float, check_int, check_module, check_tensor


def count_parameters(net: nn.Module, trainable_only: bool = False) -> int:
    """Number of learned numbers (weights and biases) in ``net``."""
    check_module("net", net)
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)


def serialized_size(obj: nn.Module | dict | torch.Tensor) -> int:
    """Bytes that ``torch.save`` writes for a model's state_dict (or a dict or tensor)."""
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    elif not isinstance(obj, dict | torch.Tensor):
        raise TypeError(
            f"argument 'obj' must be a model, a state_dict or a tensor, got {type(obj).__name__}"
        )
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.tell()


def weight_tensors(net: nn.Module) -> dict[str, torch.Tensor]:
    """The weight matrices and kernels of conv and linear layers, by name (no biases, no norms)."""
    check_module("net", net)
    return {
        f"{name}.weight": m.weight
        for name, m in net.named_modules()
        if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.Linear)
    }


def sparsity(obj: nn.Module | torch.Tensor) -> float:
    """Fraction of exact zeros: in a tensor, or in a model's conv and linear weights."""
    if isinstance(obj, torch.Tensor):
        tensors = [check_tensor("obj", obj)]
    elif isinstance(obj, nn.Module):
        tensors = list(weight_tensors(obj).values())
        if not tensors:
            raise ValueError("argument 'obj' has no conv or linear weights to measure")
    else:
        raise TypeError(f"argument 'obj' must be a model or a tensor, got {type(obj).__name__}")
    zeros = sum(int((t == 0).sum()) for t in tensors)
    return zeros / sum(t.numel() for t in tensors)


_MAC_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def count_macs(net: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulate operations of conv and linear layers in one forward pass of ``example``.

    Counted from the layer shapes (out elements x inputs per output). PyTorch's own
    ``torch.utils.flop_counter.FlopCounterMode`` reports 2 x this (a MAC is two FLOPs).
    """
    check_module("net", net)
    check_tensor("example", example, min_ndim=2)
    total = 0

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Linear):
            total += output.numel() * module.in_features
        else:
            k = module.weight[0].numel()  # in_channels/groups x kernel elements
            total += output.numel() * k

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, _MAC_LAYERS)]
    try:
        with torch.no_grad():
            net(example)
    finally:
        for h in handles:
            h.remove()
    return total


@dataclass(frozen=True)
class Latency:
    """Wall time of one forward pass: median and the 10th-90th percentile spread, in ms."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int
    threads: int

    def __str__(self) -> str:
        return (
            f"{self.median_ms:.3f} ms (10-90%: {self.p10_ms:.3f}-{self.p90_ms:.3f}, "
            f"{self.runs} runs, {self.threads} threads)"
        )


@contextmanager
def _threads(n: int | None):
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def measure_latency(
    net: Callable[[torch.Tensor], Any],
    example: torch.Tensor,
    runs: int = 50,
    warmup: int = 10,
    threads: int | None = None,
) -> Latency:
    """Time ``net(example)``: ``warmup`` untimed calls, then ``runs`` timed ones.

    Runs under ``torch.inference_mode`` with a fixed thread count (``threads``,
    default: the current setting), and reports the median, which ignores rare hiccups.
    """
    if not callable(net):
        raise TypeError(f"argument 'net' must be a model or callable, got {type(net).__name__}")
    check_tensor("example", example)
    runs = check_int("runs", runs, min_value=3, max_value=100_000)
    warmup = check_int("warmup", warmup, min_value=0, max_value=100_000)
    if threads is not None:
        threads = check_int("threads", threads, min_value=1, max_value=256)
    if isinstance(net, nn.Module) and net.training:
        raise ValueError("argument 'net' is in training mode; call net.eval() before timing it")
    times = []
    with _threads(threads) as n, torch.inference_mode():
        for _ in range(warmup):
            net(example)
        for _ in range(runs):
            start = time.perf_counter()
            net(example)
            times.append((time.perf_counter() - start) * 1000)
    deciles = statistics.quantiles(times, n=10)
    return Latency(statistics.median(times), deciles[0], deciles[-1], runs, n)


@dataclass(frozen=True)
class MemoryUsage:
    peak_bytes: int  # highest resident memory of this process while fn ran
    baseline_bytes: int  # resident memory just before
    result: Any = None

    @property
    def extra_bytes(self) -> int:
        """How much more memory the process held at the peak than before the call."""
        return max(0, self.peak_bytes - self.baseline_bytes)


def peak_memory(fn: Callable[[], Any], interval: float = 0.002) -> MemoryUsage:
    """Run ``fn()`` and sample this process's resident memory every ``interval`` seconds."""
    if not callable(fn):
        raise TypeError(f"argument 'fn' must be callable, got {type(fn).__name__}")
    interval = check_float("interval", interval, low=1e-4, high=1.0)
    proc = psutil.Process()
    baseline = proc.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = fn()
    finally:
        done.set()
        sampler.join()
    peak = max(peak, proc.memory_info().rss)
    return MemoryUsage(peak, baseline, result)


def activation_memory(net: nn.Module, X: torch.Tensor, y: torch.Tensor) -> int:
    """Bytes of activations that autograd keeps for the backward pass of one training step
    on the batch (X, y): the part of training memory that grows with the batch size.

    Measured with ``torch.autograd.graph.saved_tensors_hooks`` (each stored tensor counted
    once; the weights themselves are not counted).
    """
    check_module("net", net)
    check_tensor("X", X, min_ndim=2)
    check_tensor("y", y, ndim=1)
    if len(X) != len(y):
        raise ValueError(
            f"arguments 'X' and 'y' must hold the same number of samples, got {len(X)} and {len(y)}"
        )
    weights = {p.untyped_storage().data_ptr() for p in net.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights:
            saved[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch.nn.functional.cross_entropy(net(X), y)
    loss.backward()
    net.zero_grad(set_to_none=True)
    return sum(saved.values())


def format_bytes(n: int) -> str:
    """1536 -> '1.5 KB' (powers of 1024, as memory is usually counted)."""
    n = check_int("n", n, min_value=0)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def compare_latency(
    nets: dict[str, Callable[[torch.Tensor], Any]],
    example: torch.Tensor,
    rounds: int = 5,
    runs: int = 20,
    threads: int | None = None,
) -> dict[str, Latency]:
    """Time several models side by side: ``rounds`` rounds, each timing every model in turn,
    so that a slow moment of the machine hits all of them alike. Per model, the round with
    the median time is reported. Use this for ratios (baseline / optimized)."""
    if not isinstance(nets, dict) or not nets:
        raise ValueError("argument 'nets' must be a non-empty {name: model} dict")
    rounds = check_int("rounds", rounds, min_value=1, max_value=1000)
    per_model: dict[str, list[Latency]] = {name: [] for name in nets}
    for _ in range(rounds):
        for name, net in nets.items():
            per_model[name].append(
                measure_latency(net, example, runs=runs, warmup=3, threads=threads)
            )
    return {
        name: sorted(results, key=lambda r: r.median_ms)[len(results) // 2]
        for name, results in per_model.items()
    }


def speedup(timings: dict[str, Latency], name: str, ref: str) -> float:
    """How many times faster ``name`` ran than ``ref`` in one ``compare_latency`` result
    (above 1: faster), rounded to 3 decimals as the benchmarks report it."""
    if not isinstance(timings, dict) or not timings:
        raise ValueError("argument 'timings' must be a compare_latency result {name: Latency}")
    check_choice("name", name, timings)
    check_choice("ref", ref, timings)
    return round(timings[ref].median_ms / timings[name].median_ms, 3)
