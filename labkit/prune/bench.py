"""``labkit bench prune``: unstructured and structured pruning, measured side by side.

Course rows: unstructured (global magnitude, ``sparsity`` 0.5/0.8/0.9, pruned in 3 steps with
2 epochs of fine-tuning each) and structured (torch-pruning removes ``channel_ratio`` 0.3/0.5/0.7
of every conv layer's output channels, then 6 epochs of fine-tuning). Extra keys:
``acc_before_finetune`` (percent) and ``size_format``: unstructured models are stored in the
sparse format (bitmap + kept values, ``labkit.prune.pack_sparse``) and compared with the
baseline's file, since zeros in a dense tensor save nothing; structured models are dense and
compared by ``tensor_bytes``. Structured rows are timed eager vs eager and compiled vs compiled.

A real-size row: the timm model (resnet18 at 224x224, random weights) at 90% unstructured
sparsity and with half its channels removed, timed at batch 1.

A compiled row is written only when torch.compile really compiled both sides: a model whose
compilation produced no graph (for instance past torch.compile's recompile limit, where the
model silently runs eagerly through the compiled wrapper) gets a ``note`` instead of a ratio.

Used by: `labkit bench prune` and `make bench`.
"""

from __future__ import annotations

import copy

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
from labkit.deploy import Compiled, compile_model
from labkit.measure import file_bytes, tensor_bytes
from labkit.prune.masks import (
    apply_masks,
    global_magnitude_masks,
    iterative_prune,
    prune_channels,
    sparse_state_bytes,
)
from labkit.train import evaluate, fit

SPARSITIES = (0.5, 0.8, 0.9)
CHANNEL_RATIOS = (0.3, 0.5, 0.7)
SPARSE_FORMAT = "file: bitmap + kept values (labkit.prune.pack_sparse) vs the baseline's file"
DENSE_FORMAT = "tensor bytes (labkit.measure.tensor_bytes)"

UNITS = {
    "acc_before_finetune": "percent of test images, pruned and not yet fine-tuned",
    "sparsity": "fraction of weights set to zero",
    "channel_ratio": "fraction of each conv layer's output channels removed",
}
COLUMNS = [("sparsity", "sparsity", "{:.2f}"), ("channel_ratio", "channels", "{:.2f}")]
OPTIONS = MODEL_OPTIONS


def run(progress: bool = False, timm: str | None = "resnet18", quick: bool = False) -> dict:
    """Prune the course model and ``timm`` (None: skip) and measure everything side by side.
    ``quick`` runs one row of each kind with less fine-tuning (for tests).
    """
    fx = course_fixture()
    base, data = fx.baseline, fx.data
    sparsities = SPARSITIES[-1:] if quick else SPARSITIES
    ratios = CHANNEL_RATIOS[1:2] if quick else CHANNEL_RATIOS
    rows, eager = [], {"baseline": base}
    for s in sparsities:
        before = apply_masks(copy.deepcopy(base), global_magnitude_masks(base, s))
        net = iterative_prune(
            copy.deepcopy(base),
            data,
            s,
            steps=3,
            epochs_per_step=1 if quick else 2,
            progress=progress,
        )
        eager[f"unstructured {s}"] = net
        rows.append(
            dict(
                method="unstructured",
                model="course",
                sparsity=s,
                acc_before_finetune=round(evaluate(before, data.test).percent, 2),
                **accuracy_fields(fx, net),
                size_format=SPARSE_FORMAT,
                size_ratio=round(file_bytes(base) / sparse_state_bytes(net), 3),
            )
        )
    for r in ratios:
        net = prune_channels(base, r, fx.one_image)
        before = evaluate(net, data.test).percent
        fit(
            net,
            data.train,
            epochs=2 if quick else 6,
            lr=1e-3,
            progress=progress,
            desc=f"fine-tune {r:.0%} channels removed",
        )
        eager[f"structured {r}"] = net
        rows.append(
            dict(
                method="structured",
                model="course",
                channel_ratio=r,
                acc_before_finetune=round(before, 2),
                **accuracy_fields(fx, net),
                size_format=DENSE_FORMAT,
                size_ratio=round(tensor_bytes(base) / tensor_bytes(net), 3),
            )
        )
    for row in rows:
        _time_course_row(row, eager, fx)
    compiled_rows = _compiled_structured_rows(rows, eager, fx, progress)
    rows += compiled_rows
    if timm:
        rows += _timm_rows(timm, progress)
    baseline = {
        "model": "course",
        "acc": round(fx.baseline_accuracy.percent, 2),
        "size_bytes": tensor_bytes(base),
        "file_bytes": file_bytes(base),
    }
    return envelope("prune", baseline, rows, UNITS, latency_batch=len(fx.example))


def _name(row: dict) -> str:
    return f"{row['method']} {row.get('sparsity', row.get('channel_ratio'))}"


def _time_course_row(row: dict, models: dict, fx) -> None:
    """Each pruned model against the baseline, in alternating rounds, at 256 images and at 1."""
    pair = {"baseline": models["baseline"], _name(row): models[_name(row)]}
    many = time_side_by_side(pair, fx.example, rounds=7)
    one = time_side_by_side(pair, fx.one_image, rounds=7, runs=50)
    row.update(mode="eager", batch=len(fx.example), **latency_fields(many, _name(row), "baseline"))
    row.update(latency_fields(one, _name(row), "baseline", "latency_ratio_batch1"))


def _compile(net: nn.Module, example: torch.Tensor, progress: bool, name: str) -> Compiled:
    """``compile_model``, and a check that it really compiled: torch.compile counts the graphs
    it builds, and a model that made none runs eagerly behind the compiled wrapper."""
    from torch._dynamo.utils import counters  # the compiler stack: loaded only when compiling

    before = counters["stats"]["unique_graphs"]
    result = compile_model(net, example, progress, name)
    if result.compiled and counters["stats"]["unique_graphs"] == before:
        reason = f"torch.compile built no graph for {name} (recompile limit?); not timed"
        return Compiled(result.model, False, result.seconds, reason)
    return result


def _compiled_structured_rows(rows: list[dict], models: dict, fx, progress: bool) -> list[dict]:
    """Structured rows again, compiled model against compiled baseline."""
    base = _compile(copy.deepcopy(models["baseline"]), fx.example, progress, "baseline")
    out = []
    for row in [r for r in rows if r["method"] == "structured"]:
        slim = _compile(copy.deepcopy(models[_name(row)]), fx.example, progress, _name(row))
        if not (base.compiled and slim.compiled):  # never compare a compiled with an eager model
            row["note"] = f"no compiled row: {base.reason or slim.reason}"
            continue
        compiled_row = {k: v for k, v in row.items() if not k.startswith("latency")}
        timings = time_side_by_side({"baseline": base.model, "slim": slim.model}, fx.example)
        compiled_row.update(
            mode="compiled", batch=len(fx.example), **latency_fields(timings, "slim", "baseline")
        )
        out.append(compiled_row)
    return out


def _timm_rows(name: str, progress: bool) -> list[dict]:
    net, example = timm_model(name)
    rows = []
    sparse = apply_masks(copy.deepcopy(net), global_magnitude_masks(net, 0.9))
    timings = time_side_by_side({"baseline": net, "sparse": sparse}, example, rounds=5, runs=5)
    rows.append(
        dict(
            method="unstructured",
            model=name,
            sparsity=0.9,
            acc=None,
            size_format=SPARSE_FORMAT,
            size_ratio=round(file_bytes(net) / sparse_state_bytes(sparse), 3),
            mode="eager",
            batch=1,
            **latency_fields(timings, "sparse", "baseline"),
        )
    )
    slim = prune_channels(net, 0.5, example)
    size = round(tensor_bytes(net) / tensor_bytes(slim), 3)
    timings = time_side_by_side({"baseline": net, "slim": slim}, example, rounds=5, runs=5)
    common = dict(
        method="structured",
        model=name,
        channel_ratio=0.5,
        acc=None,
        size_format=DENSE_FORMAT,
        size_ratio=size,
        batch=1,
    )
    rows.append(dict(common, mode="eager", **latency_fields(timings, "slim", "baseline")))
    base_c = _compile(copy.deepcopy(net), example, progress, f"{name} baseline")
    slim_c = _compile(slim, example, progress, f"{name} slim")
    if base_c.compiled and slim_c.compiled:
        timings = time_side_by_side(
            {"baseline": base_c.model, "slim": slim_c.model}, example, rounds=5, runs=5
        )
        rows.append(dict(common, mode="compiled", **latency_fields(timings, "slim", "baseline")))
    else:
        rows[-1]["note"] = f"no compiled row: {base_c.reason or slim_c.reason}"
    return rows
