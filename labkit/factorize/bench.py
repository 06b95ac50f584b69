"""``labkit bench factorize``: low-rank layers, fine-tuned, measured side by side.

Course rows: ``svd``, ``spatial`` and ``tucker`` at the ranks of notebook 06
(``labkit.factorize.ranks.COURSE_RANKS``: each at least 3x fewer parameters), fine-tuned, with
accuracy before and after; ``measured_ranks``: Tucker-2 ranks chosen from measured per-layer
times on 256 images (a layer with no rank measured faster stays as it was). Times compare each
model with the baseline, eager against eager, on 256 images and on one.

Real-size rows: the timm model (resnet18 at 224x224, random weights: sizes and times only),
every 3x3 convolution with 64 channels or more factorized by each method at a quarter of its
largest rank, and ``measured_ranks``: Tucker-2 ranks chosen from measured per-layer times
under a budget of a quarter of those layers' parameters. Timed at batch 1, eager against eager.

Technique-specific keys: ``param_ratio`` (baseline parameters / method parameters),
``mac_ratio`` (baseline multiply-accumulates / method's, one image), ``ranks`` (per layer),
``acc_before_finetune`` (course rows), ``finetune_epochs``.

Used by: `labkit bench factorize` and `make bench`.
"""

from __future__ import annotations

import torch
from torch import nn

from labkit.bench.common import (
    MODEL_OPTIONS,
    accuracy_fields,
    course_fixture,
    envelope,
    latency_fields,
    time_side_by_side,
    timm_model,
)
from labkit.factorize.lowrank import factorize_model, uniform_ranks
from labkit.factorize.ranks import COURSE_RANKS, choose_ranks, time_layers, wide_convs
from labkit.measure import count_macs, count_parameters, tensor_bytes
from labkit.train import evaluate, fit

BUDGET = 0.25  # the measured choice keeps at most this share of the chosen layers' parameters
MIN_SPEEDUP = 1.2  # ... and only ranks this much faster than the original, in the slowest round


def _ratios(base: nn.Module, net: nn.Module, example: torch.Tensor) -> dict:
    return {
        "param_ratio": round(count_parameters(base) / count_parameters(net), 3),
        "size_ratio": round(tensor_bytes(base) / tensor_bytes(net), 3),
        "mac_ratio": round(count_macs(base, example[:1]) / count_macs(net, example[:1]), 3),
    }


def _plain(ranks: dict) -> dict:
    return {name: list(r) if isinstance(r, tuple) else r for name, r in ranks.items()}


UNITS = {
    "acc_before_finetune": "percent of test images, factorized and not yet fine-tuned",
    "param_ratio": "baseline parameters / method parameters",
    "mac_ratio": "baseline multiply-accumulates / method multiply-accumulates, one image",
}
COLUMNS = [("param_ratio", "params x", "{:.2f}"), ("mac_ratio", "MACs x", "{:.2f}")]
OPTIONS = MODEL_OPTIONS


def run(progress: bool = False, timm: str | None = "resnet18", quick: bool = False) -> dict:
    """Factorize the course model (and ``timm``; None skips it) and measure side by side.
    ``quick`` fine-tunes 1 epoch instead of 5 and times fewer rounds (for tests).
    """
    fx = course_fixture()
    base, data = fx.baseline, fx.data
    epochs = 1 if quick else 5
    models, rows = {}, []
    course_convs = {n: m for n, m in wide_convs(base, min_channels=1).items() if n != "features.0"}
    options = time_layers(
        base, fx.example, list(course_convs), fractions=(1 / 16, 1 / 8, 1 / 4), progress=progress
    )
    measured = choose_ranks(
        options, {n: m.weight.numel() for n, m in course_convs.items()}, BUDGET, MIN_SPEEDUP
    )
    plans = {**COURSE_RANKS, "measured_ranks": measured}
    for method, ranks in plans.items():
        row = {"method": method, "model": "course", "ranks": _plain(ranks)}
        if not ranks:  # nothing measured faster: the model stays as it was
            row.update(
                **accuracy_fields(fx, base),
                **_ratios(base, base, fx.one_image),
                note="no rank measured faster on 256 images: the model is unchanged",
            )
            rows.append(row)
            continue
        kind = "tucker" if method == "measured_ranks" else method
        net = factorize_model(base, ranks, kind)
        before = evaluate(net, data.test)
        fit(net, data.train, data.val, epochs=epochs, lr=1e-3, progress=progress, desc=method)
        row.update(
            **accuracy_fields(fx, net),
            acc_before_finetune=round(before.percent, 2),
            finetune_epochs=epochs,
            **_ratios(base, net, fx.one_image),
        )
        models[method] = net
        rows.append(row)
    if models:
        rounds, runs = (3, 5) if quick else (7, 20)
        many = time_side_by_side({"baseline": base, **models}, fx.example, rounds, runs)
        one = time_side_by_side({"baseline": base, **models}, fx.one_image, rounds, runs)
        for row in rows:
            if row["method"] in models:
                row.update(mode="eager", batch=len(fx.example))
                row.update(latency_fields(many, row["method"], "baseline"))
                row.update(latency_fields(one, row["method"], "baseline", "latency_ratio_batch1"))
    baseline = {
        "model": "course",
        "acc": round(fx.baseline_accuracy.percent, 2),
        "size_bytes": tensor_bytes(base),
        "n_params": count_parameters(base),
    }
    if timm:
        rows += _timm_rows(timm, progress, quick)
    return envelope("factorize", baseline, rows, UNITS, latency_batch=len(fx.example))


def _timm_rows(name: str, progress: bool, quick: bool) -> list[dict]:
    net, image = timm_model(name)
    convs = wide_convs(net)
    layers = list(convs)
    options = time_layers(net, image, layers, progress=progress)
    chosen = choose_ranks(
        options, {n: m.weight.numel() for n, m in convs.items()}, BUDGET, MIN_SPEEDUP
    )
    plans = {method: uniform_ranks(net, 0.25, method, layers) for method in COURSE_RANKS}
    plans["measured_ranks"] = chosen
    models, rows = {}, []
    for method, ranks in plans.items():
        row = {"method": method, "model": name, "acc": None, "ranks": _plain(ranks)}
        if method == "measured_ranks":
            row["note"] = (
                f"Tucker-2; ranks measured at least {MIN_SPEEDUP}x faster per layer, "
                f"parameters within {BUDGET:.0%} of those layers'; "
                f"{len(ranks)} of {len(layers)} layers factorized"
            )
        else:
            row["note"] = "every 3x3 conv with 64+ channels at a quarter of its largest rank"
        kind = "tucker" if method == "measured_ranks" else method
        if ranks:
            models[method] = factorize_model(net, ranks, kind)
        row.update(_ratios(net, models.get(method, net), image))
        rows.append(row)
    rounds, runs = (3, 3) if quick else (7, 5)
    timings = time_side_by_side({"original": net, **models}, image, rounds, runs)
    for row in rows:
        if row["method"] in models:
            row.update(mode="eager", batch=1, **latency_fields(timings, row["method"], "original"))
    return rows
