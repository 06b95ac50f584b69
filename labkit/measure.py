"""Measuring models: parameters, bytes, latency, memory, sparsity, multiply-accumulates.

Introduced in notebooks/00_welcome.ipynb ("The model zoo") and used by every later notebook,
so that the same model always gets the same numbers. Two sizes, never confused:

- ``file_bytes``: what ``torch.save`` writes (a file on disk, with its format's overhead);
- ``tensor_bytes``: the numbers inference reads (elements x bytes per element), which is what
  quantization and pruning shrink and what the notebooks compare models by.

Latency ratios are always measured side by side (``compare_latency``): rounds that time every
model in turn, so a slow moment of the machine hits them all alike, and the ratio is taken
inside each round.

Used by: every lesson, and labkit.deploy, labkit.trial and labkit.bench.common.
"""

from __future__ import annotations

import io
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psutil
import torch
from torch import nn

from labkit._validate import check_callable, check_float, check_int, check_module, check_tensor
from labkit.env import using_threads
from labkit.models import run_with_hooks, weight_layers


def count_parameters(net: nn.Module, trainable_only: bool = False) -> int:
    """Number of learned numbers (weights and biases) in ``net``.

    Lesson: notebooks/00_welcome.ipynb, "The model zoo".
    """
    check_module("net", net)
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)


def file_bytes(obj: nn.Module | Mapping | torch.Tensor) -> int:
    """Bytes that ``torch.save`` writes for a model's state_dict (or a dict or a tensor): the
    size of the file on disk, format overhead included.

    Lesson: notebooks/00_welcome.ipynb, "The model zoo".
    """
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    elif not isinstance(obj, Mapping | torch.Tensor):
        raise TypeError(
            f"argument 'obj' must be a model, a state_dict or a tensor, got {type(obj).__name__}"
        )
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.tell()


def graph_tensors(gm: torch.fx.GraphModule) -> dict[str, torch.Tensor]:
    """The tensors an exported or converted graph really reads, by name. Float weights that a
    conversion left attached to the module but that the graph no longer uses are not here.
    """
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


def tensor_bytes(obj: nn.Module | Mapping | torch.Tensor | Iterable[torch.Tensor]) -> int:
    """Bytes of the numbers inference reads: every distinct tensor's elements x element size.

    A model counts its parameters and buffers (batch-norm statistics included); an exported
    graph (``torch.fx.GraphModule``, such as an int8 model) counts only the tensors its graph
    reads (:func:`graph_tensors`); a dict counts its values; a tensor, itself.

    Lesson: notebooks/03_pruning.ipynb, "What the zeros really save".
    """
    if isinstance(obj, torch.fx.GraphModule):
        tensors: Iterable = graph_tensors(obj).values()
    elif isinstance(obj, nn.Module):
        tensors = obj.state_dict().values()
    elif isinstance(obj, Mapping):
        tensors = obj.values()
    elif isinstance(obj, torch.Tensor):
        tensors = [obj]
    elif isinstance(obj, Iterable) and not isinstance(obj, str | bytes):
        tensors = list(obj)
    else:
        raise TypeError(
            "argument 'obj' must be a model, a state_dict, a tensor or tensors, "
            f"got {type(obj).__name__}"
        )
    seen, total = set(), 0
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"argument 'obj' holds a {type(t).__name__}, not a tensor")
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def weight_tensors(net: nn.Module) -> dict[str, torch.Tensor]:
    """The weight matrices and kernels of ``net``'s conv and linear layers, by name (no biases,
    no norms); the layers are :func:`labkit.models.weight_layers`.

    Lesson: notebooks/03_pruning.ipynb, "What the zeros really save".
    """
    return {f"{n}.weight" if n else "weight": m.weight for n, m in weight_layers(net).items()}


def sparsity(obj: nn.Module | torch.Tensor) -> float:
    """Fraction of exact zeros: in a tensor, or in a model's conv and linear weights.

    Lesson: notebooks/03_pruning.ipynb, "Magnitude pruning, from scratch".
    """
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


def count_macs(net: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulate operations of conv and linear layers in one forward pass of
    ``example``, counted from the layer shapes. PyTorch's FLOP counter
    (``torch.utils.flop_counter.FlopCounterMode``) reports 2 x this (a MAC is two FLOPs); a
    test checks that they agree.

    The model runs once in eval mode under ``torch.no_grad`` and is left as it was (its
    training flag and its batch-norm statistics are not touched).

    Lesson: notebooks/00_welcome.ipynb, "The model zoo".
    """
    check_module("net", net)
    check_tensor("example", example, min_ndim=2)
    total = 0

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Linear):
            total += output.numel() * module.in_features
        elif module.transposed:  # each input element meets out_channels/groups x kernel weights
            total += inputs[0].numel() * module.weight[0].numel()
        else:  # each output element sums in_channels/groups x kernel products
            total += output.numel() * module.weight[0].numel()

    run_with_hooks(net, dict.fromkeys(weight_layers(net).values(), hook), [example])
    return total


# --------------------------------------------------------------------------- latency


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


def measure_latency(
    net: Callable[[torch.Tensor], Any],
    example: torch.Tensor,
    runs: int = 50,
    warmup: int = 10,
    threads: int | None = None,
) -> Latency:
    """Time ``net(example)``: ``warmup`` untimed calls, then ``runs`` timed ones.

    ``net`` is a model or any callable (a compiled model, an exported graph). Runs under
    ``torch.inference_mode`` with a fixed thread count (``threads``, default: the current
    setting), and reports the median, which ignores rare hiccups. To compare models, use
    :func:`compare_latency`, which times them side by side.

    Lesson: notebooks/00_welcome.ipynb, "The model zoo".
    """
    check_callable("net", net, "a model or a callable")
    check_tensor("example", example)
    runs = check_int("runs", runs, min_value=3, max_value=100_000)
    warmup = check_int("warmup", warmup, min_value=0, max_value=100_000)
    if threads is not None:
        threads = check_int("threads", threads, min_value=1, max_value=256)
    if isinstance(net, nn.Module) and net.training:
        raise ValueError("argument 'net' is in training mode; call net.eval() before timing it")
    times = []
    with using_threads(threads) as n, torch.inference_mode():
        for _ in range(warmup):
            net(example)
        for _ in range(runs):
            start = time.perf_counter()
            net(example)
            times.append((time.perf_counter() - start) * 1000)
    deciles = statistics.quantiles(times, n=10)
    return Latency(statistics.median(times), deciles[0], deciles[-1], runs, n)


@dataclass(frozen=True)
class Ratio:
    """A ratio measured in several rounds: the median over rounds and the lowest and highest
    round, so that a reader sees how much it moved.
    """

    median: float
    low: float
    high: float
    rounds: int

    def __float__(self) -> float:
        return self.median

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(self.median, spec)

    def __str__(self) -> str:
        return f"{self.median:.2f}x (rounds {self.low:.2f}-{self.high:.2f}, n={self.rounds})"


@dataclass
class LatencyComparison:
    """What :func:`compare_latency` measured: every model's latency in every round."""

    rounds: dict[str, list[Latency]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Latency:
        """The round with the median time, for this model alone: not for comparing two models
        (each model's median round is chosen separately); compare with :meth:`ratio`."""
        if name not in self.rounds:
            raise KeyError(f"no model named {name!r} was timed; timed: {list(self.rounds)}")
        results = sorted(self.rounds[name], key=lambda r: r.median_ms)
        return results[len(results) // 2]

    def __iter__(self):
        return iter(self.rounds)

    def items(self):
        """(name, median round) for every model timed, in the order they were timed."""
        return ((name, self[name]) for name in self.rounds)

    def ratio(self, name: str, ref: str) -> Ratio:
        """How many times faster ``name`` ran than ``ref`` (above 1: faster), taken inside
        each round and summarized over rounds.

        Lesson: notebooks/03_pruning.ipynb, "What the zeros really save".
        """
        for arg, value in (("name", name), ("ref", ref)):
            if value not in self.rounds:
                raise ValueError(
                    f"argument '{arg}' must be one of the timed models {list(self.rounds)}, "
                    f"got {value!r}"
                )
        per_round = [
            r.median_ms / n.median_ms
            for r, n in zip(self.rounds[ref], self.rounds[name], strict=True)
        ]
        return Ratio(statistics.median(per_round), min(per_round), max(per_round), len(per_round))


def compare_latency(
    nets: Mapping[str, Callable[[torch.Tensor], Any]],
    example: torch.Tensor,
    rounds: int = 5,
    runs: int = 20,
    threads: int | None = None,
) -> LatencyComparison:
    """Time several models side by side: ``rounds`` rounds, each timing every model in turn
    (``runs`` timed calls after 3 warm-up calls), so that a slow moment of the machine hits
    all of them alike. ``result[name]`` is a model's median round; ``result.ratio(name, ref)``
    the speed-up of ``name`` over ``ref``, taken inside each round. Compare like with like:
    an eager model with an eager baseline, a compiled one with a compiled baseline.

    Lesson: notebooks/03_pruning.ipynb, "What the zeros really save".
    """
    if not isinstance(nets, Mapping) or not nets:
        raise ValueError("argument 'nets' must be a non-empty {name: model} dict")
    for name, net in nets.items():
        check_callable(f"nets[{name!r}]", net, "a model or a callable")
    check_tensor("example", example)
    rounds = check_int("rounds", rounds, min_value=1, max_value=1000)
    result = LatencyComparison({name: [] for name in nets})
    for _ in range(rounds):
        for name, net in nets.items():
            result.rounds[name].append(
                measure_latency(net, example, runs=runs, warmup=3, threads=threads)
            )
    return result


# --------------------------------------------------------------------------- memory


@dataclass(frozen=True)
class MemoryUsage:
    """What :func:`peak_memory` saw: the highest resident memory while the function ran, the
    memory just before, and the function's result.
    """

    peak_bytes: int
    baseline_bytes: int
    result: Any = None

    @property
    def extra_bytes(self) -> int:
        """How much more memory the process held at the peak than before the call."""
        return max(0, self.peak_bytes - self.baseline_bytes)


def peak_memory(fn: Callable[[], Any], interval: float = 0.002) -> MemoryUsage:
    """Run ``fn()`` and sample this process's resident memory every ``interval`` seconds."""
    check_callable("fn", fn)
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

    Measured with ``torch.autograd.graph.saved_tensors_hooks``: each saved tensor counted once,
    by its own elements (a slice of a larger tensor, such as ``data.train.X[:8]``, counts as the
    slice, not the whole storage it views); the weights themselves are not counted. The model
    is left as it was: its gradients and its buffers (batch-norm statistics, which a forward
    pass in training mode updates) are restored.

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Batch size: stable but
    memory-hungry, or fast but noisy".
    """
    check_module("net", net)
    check_tensor("X", X, min_ndim=2, finite=True)
    check_tensor("y", y, ndim=1)
    if len(X) != len(y):
        raise ValueError(
            f"arguments 'X' and 'y' must hold the same number of samples, got {len(X)} and {len(y)}"
        )
    weights = {p.untyped_storage().data_ptr() for p in net.parameters()}
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.untyped_storage().data_ptr() not in weights:
            key = t.data_ptr()
            saved[key] = max(saved.get(key, 0), t.numel() * t.element_size())
        return t

    buffers = {name: b.detach().clone() for name, b in net.named_buffers()}
    grads = {name: p.grad for name, p in net.named_parameters()}
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            loss = torch.nn.functional.cross_entropy(net(X), y)
        loss.backward()
    finally:
        with torch.no_grad():
            for name, b in net.named_buffers():
                b.copy_(buffers[name])
        for name, p in net.named_parameters():
            p.grad = grads[name]
    return sum(saved.values())


def format_bytes(n: int) -> str:
    """1536 -> '1.5 KB' (powers of 1024, as memory is usually counted).

    Lesson: notebooks/00_welcome.ipynb, "The model zoo".
    """
    n = check_int("n", n, min_value=0)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
