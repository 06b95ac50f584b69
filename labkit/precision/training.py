"""Mixed-precision training for notebook 05 and ``labkit bench precision``: models trained side by
side in three precisions on the same batches (the lock-step loop the notebook teaches),
training steps timed in interleaved rounds, activation memory under autocast, the seeded
loss-scaling run that compares two scalers, and the GPU figures recorded in
data/gpu_precision.json.

The lessons (formats, casting, autocast, the scaler from scratch) are in
``labkit.precision.formats``; one training step in any precision is ``labkit.train.train_step``,
the step of the course's one loop, ``labkit.fit``.

Used by: labkit.precision.bench and labkit.precision.probes.
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from labkit._validate import check_choice, check_float, check_int, check_module, check_tensor
from labkit.autocast import PRECISIONS, autocast_for, make_scaler
from labkit.data import Split, check_split, data_dir
from labkit.env import using_threads
from labkit.measure import Latency, LatencyComparison, Ratio, activation_memory
from labkit.models import create_model
from labkit.precision.formats import DynamicScaler
from labkit.train import fit, train_step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class SideBySide:
    """Models trained side by side from one initial model: each batch goes through every
    precision in turn, so that all see the same data in the same order and share the machine's
    slow moments. ``step_ms[precision]`` is the time of every step.
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
                    stepped = train_step(result.nets[p], opts[p], scalers[p], X, y, p)[2]
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
            train_step(model, opt, scaler, X, y, precision)
            times = []
            for _ in range(runs):
                _sync(X.device)
                t = time.perf_counter()
                train_step(model, opt, scaler, X, y, precision)
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
    """A loss-scaling run: the scale each step used, and the steps that were skipped."""

    scales: list[float]
    skipped: list[int]


def scaler_run(
    scaler: DynamicScaler | torch.amp.GradScaler,
    train: Split,
    steps: int = 60,
    seed: int = 0,
    batch_size: int = 32,
    lr: float = 0.05,
) -> ScalerLog:
    """Train a fresh course model (seeded) for ``steps`` steps in float16 (autocast) with a loss
    scaler, ours or PyTorch's: ``labkit.fit(precision="float16_scaled", scaler=scaler)``, SGD
    with momentum 0.9, so the same run with either scaler sees the same batches (float16 on a
    CPU without it in hardware is emulated, and slow: hence small batches). Returns the scale
    each step used and the steps the scaler skipped.

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
    history = fit(
        net,
        train,
        epochs=-(-steps * batch_size // len(train)),
        lr=lr,
        batch_size=batch_size,
        optimizer="sgd",
        precision="float16_scaled",
        scaler=scaler,
        seed=seed,
        max_steps=steps,
        progress=False,
    )
    return ScalerLog(history.scales, history.skipped)


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
