"""Mixed-precision training plumbing for notebook 05 and ``labkit bench precision``: one training
step in each precision, models trained side by side on the same batches, training steps timed
in interleaved rounds, activation memory under autocast, the seeded loss-scaling run that
compares two scalers, the GPU figures recorded in data/gpu_precision.json, and the pictures of
notebook 05 (the number line of the formats, fractions per layer).

The lessons (formats, casting, autocast, the scaler from scratch) are in ``labkit.precision``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from labkit._validate import check_choice, check_float, check_int, check_module, check_tensor
from labkit.data import Split, check_split, data_dir
from labkit.env import using_threads
from labkit.measure import Latency, LatencyComparison, Ratio, activation_memory
from labkit.models import create_model
from labkit.precision.formats import (
    PRECISIONS,
    DynamicScaler,
    check_autocast_device,
    round_grads_through,
)

AUTOCAST_DTYPE = {"bfloat16": torch.bfloat16, "float16_scaled": torch.float16}


def autocast_for(precision: str, device: str | torch.device = "cpu"):
    """The context a forward pass runs in for ``precision``: autocast to bfloat16 or float16,
    or nothing for float32.

    Lesson: notebooks/05_mixed_precision.ipynb, "Mixed precision training".
    """
    check_choice("precision", precision, PRECISIONS)
    device_type = check_autocast_device("device", device)
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=AUTOCAST_DTYPE[precision])


def make_scaler(precision: str, device: str | torch.device = "cpu") -> torch.amp.GradScaler:
    """PyTorch's loss scaler, switched on for float16 only (a disabled one passes through).

    Lesson: notebooks/05_mixed_precision.ipynb, "Mixed precision training".
    """
    check_choice("precision", precision, PRECISIONS)
    device_type = check_autocast_device("device", device)
    return torch.amp.GradScaler(device_type, enabled=precision == "float16_scaled")


def training_step(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    X: torch.Tensor,
    y: torch.Tensor,
    precision: str,
) -> bool:
    """One training step in ``precision``, the standard recipe: forward under autocast, the
    scaled loss backward, ``scaler.step`` (skips on inf/NaN), ``scaler.update``. True if the
    optimizer stepped.

    Lesson: notebooks/05_mixed_precision.ipynb, "Mixed precision training".
    """
    device = next(net.parameters()).device
    opt.zero_grad(set_to_none=True)
    with autocast_for(precision, device):
        loss = F.cross_entropy(net(X), y)
    before = scaler.get_scale()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    return not scaler.get_scale() < before  # GradScaler halves its scale when it skips


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class SideBySide:
    """Models trained side by side from one initial model: each batch goes through every
    precision in turn, so that all see the same data in the same order and share the machine's
    slow moments. ``step_ms[precision]`` is the time of every step.

    Lesson: notebooks/05_mixed_precision.ipynb, "Mixed precision training".
    """

    nets: dict[str, nn.Module]
    step_ms: dict[str, list[float]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def ratio(self, name: str, ref: str = "float32", per_round: int = 8) -> Ratio:
        """How many times faster a step of ``name`` ran than one of ``ref``: steps are grouped
        into rounds of ``per_round``, the first round (warm-up) is dropped, and the ratio of
        the rounds' total times is summarized over rounds (above 1: faster)."""
        for arg, value in (("name", name), ("ref", ref)):
            check_choice(arg, value, list(self.step_ms))
        per_round = check_int("per_round", per_round, min_value=1)
        a, b = self.step_ms[ref], self.step_ms[name]
        bounds = range(per_round, len(a) - per_round + 1, per_round)
        ratios = [sum(a[i : i + per_round]) / sum(b[i : i + per_round]) for i in bounds]
        if not ratios:
            raise ValueError("too few steps to form a round after the warm-up")
        return Ratio(statistics.median(ratios), min(ratios), max(ratios), len(ratios))


def train_side_by_side(
    net: nn.Module,
    train: Split,
    precisions: tuple[str, ...] = PRECISIONS,
    *,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
) -> SideBySide:
    """Train a copy of ``net`` in each precision (Adam, as ``labkit.fit``), batch by batch
    side by side, on ``net``'s device; the models are left in eval mode.

    Lesson: notebooks/05_mixed_precision.ipynb, "Mixed precision training".
    """
    check_module("net", net)
    check_split("train", train)
    for p in precisions:
        check_choice("precisions", p, PRECISIONS)
    epochs = check_int("epochs", epochs, min_value=1, max_value=1000)
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=len(train))
    lr = check_float("lr", lr, low=0, high=10, low_inclusive=False)
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    device = next(net.parameters()).device
    result = SideBySide({p: copy.deepcopy(net).train() for p in precisions})
    opts = {p: torch.optim.Adam(m.parameters(), lr=lr) for p, m in result.nets.items()}
    scalers = {p: make_scaler(p, device) for p in precisions}
    result.step_ms = {p: [] for p in precisions}
    result.skipped = dict.fromkeys(precisions, 0)
    g = torch.Generator().manual_seed(seed)
    steps = epochs * -(-len(train) // batch_size)
    with tqdm(total=steps, desc=f"training side by side, seed {seed}", disable=not progress) as bar:
        for _ in range(epochs):
            order = torch.randperm(len(train), generator=g)
            for start in range(0, len(train), batch_size):
                idx = order[start : start + batch_size]
                X, y = train.X[idx].to(device), train.y[idx].to(device)
                for p in precisions:
                    t = time.perf_counter()
                    stepped = training_step(result.nets[p], opts[p], scalers[p], X, y, p)
                    _sync(device)
                    result.step_ms[p].append((time.perf_counter() - t) * 1000)
                    result.skipped[p] += not stepped
                bar.update()
    for m in result.nets.values():
        m.eval()
    return result


def time_training_steps(
    nets: Mapping[str, tuple[nn.Module, str]],
    X: torch.Tensor,
    y: torch.Tensor,
    rounds: int = 5,
    runs: int = 5,
    threads: int | None = None,
) -> LatencyComparison:
    """Time training steps side by side: ``nets`` maps a name to (model, precision); in each
    of ``rounds`` rounds every model takes one untimed step, then ``runs`` timed ones (SGD on a
    copy: the models are not changed), with ``threads`` threads (default: the current setting).
    ``result.ratio(name, ref)`` is a speed-up, as for ``labkit.compare_latency``.

    Lesson: notebooks/05_mixed_precision.ipynb, "The hardware decides".
    """
    if not isinstance(nets, Mapping) or not nets:
        raise ValueError("argument 'nets' must be a non-empty {name: (model, precision)} dict")
    check_tensor("X", X, min_ndim=2)
    check_tensor("y", y, ndim=1)
    rounds = check_int("rounds", rounds, min_value=1, max_value=1000)
    runs = check_int("runs", runs, min_value=1, max_value=10_000)
    copies = {}
    for name, pair in nets.items():
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ValueError(f"argument 'nets[{name!r}]' must be a (model, precision) pair")
        net, precision = pair
        check_module(f"nets[{name!r}]", net)
        check_choice("precision", precision, PRECISIONS)
        model = copy.deepcopy(net).train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-6)
        copies[name] = (model, opt, make_scaler(precision, X.device), precision)
    if threads is not None:
        threads = check_int("threads", threads, min_value=1, max_value=256)
    with using_threads(threads):
        return _time_rounds(copies, X, y, rounds, runs)


def _time_rounds(copies: dict, X: torch.Tensor, y: torch.Tensor, rounds: int, runs: int):
    result = LatencyComparison({name: [] for name in copies})
    for _ in range(rounds):
        for name, (model, opt, scaler, precision) in copies.items():
            training_step(model, opt, scaler, X, y, precision)
            times = []
            for _ in range(runs):
                _sync(X.device)
                t = time.perf_counter()
                training_step(model, opt, scaler, X, y, precision)
                _sync(X.device)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            lo, hi = times[len(times) // 10], times[-1 - len(times) // 10]
            latency = Latency(statistics.median(times), lo, hi, runs, torch.get_num_threads())
            result.rounds[name].append(latency)
    return result


def compute_bound_mlp(
    width: int = 512, batch: int = 256, seed: int = 0
) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A model whose training step is matrix products, not overheads: three Linear layers of
    ``width`` units, and a batch of ``batch`` random inputs with labels (seeded).

    Lesson: notebooks/05_mixed_precision.ipynb, "The hardware decides".
    """
    width = check_int("width", width, min_value=8, max_value=8192)
    batch = check_int("batch", batch, min_value=1, max_value=65_536)
    g = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)
    )
    return net, torch.randn(batch, width, generator=g), torch.randint(0, 10, (batch,), generator=g)


def step_speedup(precision: str, rounds: int = 3, runs: int = 3, threads: int = 1) -> float:
    """The training-step speed-up of ``precision`` over float32 on :func:`compute_bound_mlp`,
    median over interleaved rounds, on one thread as notebook 05 times it.

    Used by: labkit.expectations (the probe beside notebook 05's timing).
    """
    check_choice("precision", precision, PRECISIONS)
    net, X, y = compute_bound_mlp()
    nets = {"float32": (net, "float32"), precision: (net, precision)}
    return (
        time_training_steps(nets, X, y, rounds=rounds, runs=runs).ratio(precision, "float32").median
    )


def activation_bytes(net: nn.Module, X: torch.Tensor, y: torch.Tensor, precision: str) -> int:
    """What autograd saves for backward in one training step of ``net`` (training mode, on a
    copy) in ``precision``: ``labkit.measure.activation_memory`` run under autocast.

    Lesson: notebooks/05_mixed_precision.ipynb, "Mixed precision training".
    """
    check_module("net", net)
    model = copy.deepcopy(net).train()
    with autocast_for(precision, X.device):
        return activation_memory(model, X, y)


# --------------------------------------------------------------------------- loss-scaling run


@dataclass(frozen=True)
class ScalerLog:
    """A loss-scaling run: the scale each step used, and the steps that were skipped.

    Lesson: notebooks/05_mixed_precision.ipynb, "Loss scaling, from scratch".
    """

    scales: list[float]
    skipped: list[int]


def scaler_run(
    scaler: DynamicScaler | torch.amp.GradScaler,
    train: Split,
    steps: int = 60,
    seed: int = 0,
    batch_size: int = 64,
    lr: float = 0.05,
) -> ScalerLog:
    """Train a fresh course model (seeded) for ``steps`` SGD steps with float16 gradients
    (float32 gradients rounded through float16) and a loss scaler, ours or PyTorch's, used the
    same way. A step counts as skipped when it left every weight unchanged.

    Lesson: notebooks/05_mixed_precision.ipynb, "Loss scaling, from scratch".
    """
    if not isinstance(scaler, DynamicScaler | torch.amp.GradScaler):
        raise TypeError(
            f"argument 'scaler' must be a DynamicScaler or torch.amp.GradScaler, "
            f"got {type(scaler).__name__}"
        )
    check_split("train", train)
    steps = check_int("steps", steps, min_value=1, max_value=100_000)
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=len(train))
    lr = check_float("lr", lr, low=0, high=10, low_inclusive=False)
    net = create_model("small_cnn", seed=check_int("seed", seed, min_value=0))
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    scales, skipped = [], []
    for step in range(steps):
        idx = torch.randint(len(train), (batch_size,), generator=g)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(train.X[idx]), train.y[idx])
        ours = isinstance(scaler, DynamicScaler)
        scales.append(scaler.scale if ours else scaler.get_scale())
        (loss * scales[-1] if ours else scaler.scale(loss)).backward()
        round_grads_through(net, torch.float16)
        before = torch.cat([p.detach().flatten() for p in net.parameters()])
        if ours:
            scaler.step(opt)
        else:
            scaler.step(opt)
            scaler.update()
        if torch.equal(before, torch.cat([p.detach().flatten() for p in net.parameters()])):
            skipped.append(step)
    return ScalerLog(scales, skipped)


# --------------------------------------------------------------------------- the GPU


def recorded_gpu_figures() -> dict:
    """The GPU figures shipped in data/gpu_precision.json: where, when and how they were
    measured (the script is tools/amp_gpu.py), and the speed-ups.

    Lesson: notebooks/05_mixed_precision.ipynb, "The hardware decides".
    """
    path = data_dir() / "gpu_precision.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; it ships with the course repository")
    return json.loads(path.read_text())


# --------------------------------------------------------------------------- pictures
