"""Does a factorized layer pay on this CPU? Time each layer at candidate ranks against the
original, side by side, and choose per-layer ranks from those measured times under a
parameter budget (notebook 06 and ``labkit bench factorize``; its pictures are in
``labkit.factorize.plots``).

Fewer multiply-accumulates are not less time: two or three small products each pay fixed
costs (a kernel launch, a pass over memory, Python per layer in eager mode), so a factorized
layer is faster only below some rank, and that rank depends on the layer's size and the CPU.

Used by: labkit.factorize.bench and labkit.factorize.probes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from labkit._validate import check_float, check_int, check_module, check_tensor
from labkit.factorize.lowrank import Rank, factorize_layer, factorized_cost, kernel_error
from labkit.measure import Ratio, compare_latency
from labkit.models import run_with_hooks


@dataclass(frozen=True)
class RankOption:
    """One layer at one rank: its parameters and multiply-accumulates (from the formulas), the
    relative error of its kernel, the predicted speed-up (MACs of the original / MACs at this
    rank) and the measured one (median over interleaved rounds; ``None`` if not timed).
    """

    rank: Rank
    params: int
    macs: int
    error: float
    predicted: float
    measured: Ratio | None


def layer_inputs(
    net: nn.Module, example: torch.Tensor, names: list[str]
) -> dict[str, torch.Tensor]:
    """The input each named layer receives when ``net`` runs on ``example`` (for timing the
    layer alone, on what it really sees).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Does it pay on this CPU?".
    """
    check_module("net", net)
    check_tensor("example", example)
    modules = dict(net.named_modules())
    for name in names:
        if name not in modules:
            raise ValueError(f"argument 'names' holds {name!r}, which is not a layer of 'net'")
    seen: dict[str, torch.Tensor] = {}

    def keep(name: str):
        def hook(_module: nn.Module, inputs: tuple, _output: torch.Tensor) -> None:
            seen.setdefault(name, inputs[0].detach().clone())  # returns None: output unchanged

        return hook

    run_with_hooks(net, {modules[n]: keep(n) for n in names}, [example])
    return seen


def time_ranks(
    layer: nn.Module,
    x: torch.Tensor,
    ranks: list[Rank],
    method: str = "svd",
    rounds: int = 3,
    runs: int = 10,
) -> list[RankOption]:
    """``layer`` factorized at each of ``ranks`` and timed against the original on its input
    ``x``, all in interleaved rounds (eager against eager).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Does it pay on this CPU?".
    """
    check_module("layer", layer)
    check_tensor("x", x)
    if not isinstance(ranks, list | tuple) or not ranks:
        raise ValueError(f"argument 'ranks' must be a non-empty list of ranks, got {ranks!r}")
    rounds = check_int("rounds", rounds, min_value=1, max_value=100)
    runs = check_int("runs", runs, min_value=3, max_value=10_000)
    in_hw = tuple(x.shape[-2:]) if x.ndim == 4 else (1, 1)
    kind = method if x.ndim == 4 else "svd"
    original = factorized_cost(layer, None, kind, in_hw)
    built = {str(r): factorize_layer(layer, r, kind).eval() for r in ranks}  # checks each rank
    timings = compare_latency({"original": layer.eval(), **built}, x, rounds=rounds, runs=runs)
    options = []
    for r in ranks:
        cost = factorized_cost(layer, r, kind, in_hw)
        options.append(
            RankOption(
                rank=r,
                params=cost["params"],
                macs=cost["macs"],
                error=kernel_error(layer.weight, r, kind),
                predicted=original["macs"] / cost["macs"],
                measured=timings.ratio(str(r), "original"),
            )
        )
    return options


def choose_ranks(
    options: dict[str, list[RankOption]],
    original_params: dict[str, int],
    budget: float,
    min_speedup: float = 1.0,
) -> dict[str, Rank]:
    """Per layer, a rank measured to run at least ``min_speedup`` times faster than the
    original (in its slowest round), so that the layers' parameters fit in ``budget`` (a
    fraction of ``original_params``' total) with the least kernel error: every layer starts at
    its smallest such rank, then the step that removes the most squared error per added
    parameter is taken while the budget allows. A layer with no such rank stays as it was (it
    is left out of the result).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Choosing ranks from measured times".
    """
    budget = check_float("budget", budget, low=0, high=1, low_inclusive=False)
    min_speedup = check_float("min_speedup", min_speedup, low=0)
    if not isinstance(options, dict) or set(options) - set(original_params):
        raise ValueError(
            "argument 'original_params' must give a count for every layer in 'options'"
        )
    fast = {
        name: sorted(
            (o for o in opts if o.measured is not None and o.measured.low >= min_speedup),
            key=lambda o: o.params,
        )
        for name, opts in options.items()
    }
    fast = {name: opts for name, opts in fast.items() if opts}
    step = {name: 0 for name in fast}
    limit = budget * sum(original_params[n] for n in options)

    def total() -> int:
        kept = sum(original_params[n] for n in options if n not in fast)
        return kept + sum(fast[n][step[n]].params for n in fast)

    while True:
        best, best_gain = None, 0.0
        for name, i in step.items():
            if i + 1 < len(fast[name]):
                now, nxt = fast[name][i], fast[name][i + 1]
                extra = nxt.params - now.params
                if total() + extra <= limit and extra > 0:
                    gain = (now.error**2 - nxt.error**2) / extra
                    if gain > best_gain:
                        best, best_gain = name, gain
        if best is None:
            break
        step[best] += 1
    return {name: fast[name][i].rank for name, i in step.items()}


# The course model's ranks in notebook 06 ("Fine-tuning wins back most of the accuracy"): each
# leaves at least 3x fewer parameters in the whole model. The benchmark and the probes use them
# too.
COURSE_RANKS: dict[str, dict[str, Rank]] = {
    "svd": {"features.4": 8, "features.8": 8},
    "spatial": {"features.4": 8, "features.8": 8},
    "tucker": {"features.4": (12, 8), "features.8": (12, 12)},
}


def wide_convs(net: nn.Module, min_channels: int = 64) -> dict[str, nn.Conv2d]:
    """The 3x3 convolutions of ``net`` with at least ``min_channels`` input channels: in a
    ResNet, the layers that hold nearly all the weights and time.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Does it pay on this CPU?".
    """
    check_module("net", net)
    min_channels = check_int("min_channels", min_channels, min_value=1)
    return {
        name: m
        for name, m in net.named_modules()
        if type(m) is nn.Conv2d
        and m.kernel_size == (3, 3)
        and m.groups == 1
        and m.in_channels >= min_channels
    }


def time_layers(
    net: nn.Module,
    example: torch.Tensor,
    names: list[str],
    fractions: tuple[float, ...] = (1 / 8, 1 / 4, 1 / 2),
    method: str = "tucker",
    rounds: int = 2,
    runs: int = 3,
    progress: bool = True,
) -> dict[str, list[RankOption]]:
    """:func:`time_ranks` for each named convolution of ``net`` on the input it receives from
    ``example``, at ranks that are ``fractions`` of its smaller channel count.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Does it pay on this CPU?".
    """
    from tqdm.auto import tqdm  # the progress bar, only where layers are timed

    inputs = layer_inputs(net, example, names)
    modules = dict(net.named_modules())
    options = {}
    for name in tqdm(names, desc=f"timing {len(names)} layers", disable=not progress):
        layer = modules[name]
        channels = min(layer.weight.shape[:2])
        ranks = sorted({max(1, round(f * channels)) for f in fractions})
        options[name] = time_ranks(layer, inputs[name], ranks, method, rounds, runs)
    return options


def energy_curves(net: nn.Module, names: list[str]) -> dict[str, tuple[torch.Tensor, ...]]:
    """For each named convolution, the cumulative share of squared singular values of its two
    channel unfoldings (output channels, input channels), computed once, so that the Tucker-2
    ranks of any energy threshold follow without another decomposition (see
    :func:`energy_threshold_ranks`).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Choosing ranks from measured times".
    """
    check_module("net", net)
    modules = dict(net.named_modules())
    curves = {}
    for name in names:
        if name not in modules or not isinstance(modules[name], nn.Conv2d):
            raise ValueError(f"argument 'names' holds {name!r}, not a convolution of 'net'")
        w = modules[name].weight.detach().float()
        unfoldings = (w.reshape(w.shape[0], -1), w.transpose(0, 1).reshape(w.shape[1], -1))
        curves[name] = tuple(
            (s2.cumsum(0) / s2.sum())
            for s2 in (torch.linalg.svdvals(m).double() ** 2 for m in unfoldings)
        )
    return curves


def energy_threshold_ranks(
    curves: Mapping[str, tuple[torch.Tensor, ...]], energy: float
) -> dict[str, Rank]:
    """Per layer, the smallest (r_out, r_in) keeping ``energy`` of each unfolding's squared
    singular values (``labkit.factorize.energy_ranks(net, energy, "tucker")``, from stored
    curves).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Choosing ranks from measured times".
    """
    energy = check_float("energy", energy, low=0, high=1, low_inclusive=False)
    return {
        name: tuple(min(int((c < energy - 1e-12).sum()) + 1, len(c)) for c in pair)
        for name, pair in curves.items()
    }


def match_parameters(
    ranks_for: Callable[[float], dict[str, Rank]],
    count: Callable[[dict[str, Rank]], int],
    target: int,
    low: float = 1e-3,
    high: float = 1.0,
    steps: int = 30,
) -> tuple[float, dict[str, Rank]]:
    """The knob in [``low``, ``high``] (a share of the rank, an energy threshold) whose ranks
    ``ranks_for(knob)`` hold the parameter ``count`` closest to ``target``, by bisection (the
    count grows with the knob): for comparing ways to choose ranks at equal size.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Choosing ranks from measured times".
    """
    check_int("target", target, min_value=1)
    best = None
    for _ in range(check_int("steps", steps, min_value=1, max_value=100)):
        mid = (low + high) / 2
        ranks = ranks_for(mid)
        n = count(ranks)
        if best is None or abs(n - target) < abs(best[2] - target):
            best = (mid, ranks, n)
        if n < target:
            low = mid
        else:
            high = mid
    return best[0], best[1]
