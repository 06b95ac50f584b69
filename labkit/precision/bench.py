"""``labkit bench precision``: float32 vs bfloat16 autocast vs float16 autocast with a loss
scaler, trained and timed side by side.

Course rows (methods ``float32``, ``bfloat16``, ``float16_scaled``): one freshly initialized
course model trained in each precision, batch by batch side by side
(``labkit.precision.train_side_by_side``: same start, same data order), then scored on the test
images. Here the *baseline* is the float32 model of that run (not the zoo checkpoint):
``acc_drop_ci`` is the paired interval of float32 accuracy minus the method's. ``latency_ratio``
is float32 step time / method step time, from the same run (eager, batch 64, rounds of 8 steps);
``memory_ratio`` is the method's activation memory / float32's (what autograd saves for
backward, 256 images).
Full mode adds seeds: ``acc_drop_seeds`` is the t-interval of the drop over them.

A real-size row per method: the timm model at 224x224 with random weights, a few training
steps at a small batch, timed in interleaved rounds (no accuracy). On a CUDA device the same
rows are measured there too (``device`` says where each row ran).

Technique-specific keys: ``device``, ``memory_ratio``, ``acc_drop_seeds``, ``skipped_steps``
(steps the float16 scaler skipped).

Used by: `labkit bench precision` and `make bench`.
"""

from __future__ import annotations

import torch

from labkit.autocast import PRECISIONS
from labkit.bench.common import MODEL_OPTIONS, course_fixture, envelope, timm_model
from labkit.env import get_device
from labkit.hardware import bf16_expectation
from labkit.models import create_model
from labkit.precision.training import activation_bytes, time_training_steps, train_side_by_side
from labkit.stats import paired_comparison, seed_interval
from labkit.train import Accuracy, predict

SIDE_BY_SIDE_BATCH = 64
MEMORY_BATCH = 256

UNITS = {
    "memory_ratio": "method activation bytes / float32 activation bytes (saved for backward)",
    "acc_drop_seeds": "percentage points, 95% t-interval over seeds of float32 minus method",
    "skipped_steps": "training steps the float16 loss scaler skipped (inf/NaN gradients)",
}
COLUMNS = [("memory_ratio", "memory x", "{:.2f}")]
OPTIONS = MODEL_OPTIONS


def run(progress: bool = False, timm: str | None = "resnet18", quick: bool = False) -> dict:
    """Train the course model in three precisions side by side and time a timm model's training
    steps (None skips it). ``quick``: one epoch, one seed, fewer timed steps (for tests).
    """
    fx = course_fixture()
    test = fx.data.test
    seeds, epochs = ((0,), 1) if quick else ((0, 1, 2), 3)
    drops: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    first = None
    for seed in seeds:
        fresh = create_model("small_cnn", seed=seed)
        result = train_side_by_side(
            fresh,
            fx.data.train,
            epochs=epochs,
            seed=seed,
            progress=progress,
            batch_size=SIDE_BY_SIDE_BATCH,
        )
        predictions = {p: predict(m, test) for p, m in result.nets.items()}
        for p in PRECISIONS:
            cmp = paired_comparison(predictions["float32"], predictions[p], test.y)
            drops[p].append(-100 * cmp.difference)
        first = first or (result, predictions, fresh)
    result, predictions, fresh = first
    X, y = fx.data.train.X[:MEMORY_BATCH], fx.data.train.y[:MEMORY_BATCH]
    memory = {p: activation_bytes(fresh, X, y, p) for p in PRECISIONS}
    rows = []
    for p in PRECISIONS:
        correct = int((predictions[p] == test.y).sum())
        cmp = paired_comparison(predictions["float32"], predictions[p], test.y)
        ratio = result.ratio(p, "float32")
        row = dict(
            method=p,
            model="course",
            device="cpu",
            acc=round(Accuracy(correct, len(test)).percent, 2),
            acc_drop_ci=[round(-100 * cmp.high, 2) + 0.0, round(-100 * cmp.low, 2) + 0.0],
            mode="eager",
            batch=SIDE_BY_SIDE_BATCH,
            latency_ratio=round(ratio.median, 3),
            latency_ratio_range=[round(ratio.low, 3), round(ratio.high, 3)],
            memory_ratio=round(memory[p] / memory["float32"], 3),
            skipped_steps=result.skipped[p],
        )
        if len(seeds) > 1:
            interval = seed_interval(drops[p]) if p != "float32" else None
            row["acc_drop_seeds"] = (
                [round(interval.low, 2), round(interval.high, 2)] if interval else [0.0, 0.0]
            )
        rows.append(row)
    if timm:
        rows += _timm_rows(timm, torch.device("cpu"), quick)
    device = get_device()
    if device.type == "cuda":
        rows += _timm_rows(timm or "resnet50", device, quick, batch=32)
    baseline = {
        "model": "course",
        "method": "float32, trained side by side (same start and batches)",
        "epochs": epochs,
        "seeds": list(seeds),
        "acc": rows[0]["acc"],
        "activation_bytes": memory["float32"],
    }
    return envelope("precision", baseline, rows, UNITS, expectation=bf16_expectation())


def _timm_rows(name: str, device: torch.device, quick: bool, batch: int = 4) -> list[dict]:
    net, image = timm_model(name)
    net = net.to(device)
    X = torch.randn(batch, *image.shape[1:], device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    rounds, runs = (2, 1) if quick else (3, 3)
    timing = time_training_steps({p: (net, p) for p in PRECISIONS}, X, y, rounds, runs)
    memory = {p: activation_bytes(net, X, y, p) for p in PRECISIONS}
    rows = []
    for p in PRECISIONS:
        ratio = timing.ratio(p, "float32")
        rows.append(
            dict(
                method=p,
                model=name,
                device=device.type,
                acc=None,
                mode="eager",
                batch=batch,
                latency_ratio=round(ratio.median, 3),
                latency_ratio_range=[round(ratio.low, 3), round(ratio.high, 3)],
                memory_ratio=round(memory[p] / memory["float32"], 3),
            )
        )
    return rows
