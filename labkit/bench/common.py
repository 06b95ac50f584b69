"""What every benchmark shares: the seeded course fixture, a real-size timm model, like-for-like
latency rows, and the table printed from a result of any technique; the schema is in
labkit/bench/__init__.py.

Used by: each lesson's benchmark (``labkit/<lesson>/bench.py``) and tests/test_bench.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from labkit.data import Dataset
from labkit.env import seed_everything
from labkit.fashion import load_fashion_mnist
from labkit.hardware import cpu_features
from labkit.measure import LatencyComparison, compare_latency
from labkit.models import create_model
from labkit.stats import paired_comparison
from labkit.train import Accuracy, predict
from labkit.zoo import load_pretrained

SCHEMA_VERSION = 1
# The command-line options of a benchmark that trains and times models (`labkit bench <name>`
# reads a bench module's OPTIONS; these are the ones every such module shares).
MODEL_OPTIONS = {
    "--timm": dict(default="resnet18", help="the real-size timm model of the timm rows"),
    "--no-timm": dict(
        action="store_const", const=None, dest="timm", help="skip the timm model's rows"
    ),
    "--quick": dict(action="store_true", help="fewer rows and less training (for tests)"),
}
BENCH_TRAIN_IMAGES = 10_000  # fine-tuning images of the course rows (the zoo saw all 55,000)
LATENCY_BATCH = 256  # the course model's throughput batch: arithmetic, not overhead, dominates
UNITS = {
    "acc": "percent of test images",
    "acc_drop_ci": "percentage points, paired 95% interval of baseline minus method",
    "size_bytes": "bytes",
    "size_ratio": "baseline bytes / method bytes",
    "latency_ms": "milliseconds per call",
    "latency_ratio": "baseline time / method time, same execution mode (see mode)",
    "latency_ratio_range": "lowest and highest interleaved round",
    "latency_ratio_batch1": "the same ratio for one image at a time",
    "latency_ratio_batch1_range": "lowest and highest interleaved round, one image",
}  # a benchmark adds the units of its own keys (its module's UNITS) through envelope()


@dataclass
class CourseFixture:
    """Seeded Fashion-MNIST (10,000 training images for fine-tuning; all 10,000 test images), the
    zoo baseline, its test predictions, and the batches to time."""

    data: Dataset
    baseline: nn.Module
    baseline_predictions: torch.Tensor
    example: torch.Tensor  # LATENCY_BATCH test images
    one_image: torch.Tensor
    calibration: torch.Tensor  # training images, for quantization

    @property
    def baseline_accuracy(self) -> Accuracy:
        """The baseline's accuracy on the test images, from its stored predictions."""
        return Accuracy(
            int((self.baseline_predictions == self.data.test.y).sum()), len(self.data.test)
        )


@functools.cache
def course_fixture() -> CourseFixture:
    """The same fixture for every benchmark, seeded: two runs print the same accuracies."""
    seed_everything(0)
    data = load_fashion_mnist(train_size=BENCH_TRAIN_IMAGES)
    base = load_pretrained("baseline").eval()
    example = data.test.X[:LATENCY_BATCH]
    return CourseFixture(
        data, base, predict(base, data.test), example, example[:1], data.train.X[:1024]
    )


def timm_model(name: str, image_size: int = 224) -> tuple[nn.Module, torch.Tensor]:
    """A real-size timm model with random weights (built offline) and one image to time it on."""
    seed_everything(0)
    net = create_model(name, seed=0).eval()
    return net, torch.randn(1, 3, image_size, image_size)


def machine() -> dict:
    """The facts a reader needs to compare two results: CPU features, threads, versions."""
    cpu = cpu_features()
    return {
        "cpu": cpu.summary(),
        "cpu_name": cpu.name,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "compiler": cpu.compiler is not None,
    }


def accuracy_fields(fixture: CourseFixture, net: nn.Module) -> dict:
    """``acc`` (percent) and ``acc_drop_ci`` (paired interval, points) of a course model."""
    predicted = predict(net, fixture.data.test)
    acc = Accuracy(int((predicted == fixture.data.test.y).sum()), len(fixture.data.test))
    cmp = paired_comparison(fixture.baseline_predictions, predicted, fixture.data.test.y)
    return {
        "acc": round(acc.percent, 2),
        # cmp is method minus baseline; the drop is baseline minus method
        "acc_drop_ci": [round(-100 * cmp.high, 2), round(-100 * cmp.low, 2)],
    }


def latency_fields(
    timings: LatencyComparison, name: str, ref: str, prefix: str = "latency_ratio"
) -> dict:
    """The ratio of ``ref``'s time to ``name``'s, median over rounds, and its range."""
    ratio = timings.ratio(name, ref)
    return {
        prefix: round(ratio.median, 3),
        f"{prefix}_range": [round(ratio.low, 3), round(ratio.high, 3)],
    }


def time_side_by_side(
    models: Mapping[str, Callable], example: torch.Tensor, rounds: int = 7, runs: int = 20
) -> LatencyComparison:
    """Every model timed in interleaved rounds on ``example`` (one process, one run)."""
    return compare_latency(dict(models), example, rounds=rounds, runs=runs)


def envelope(
    technique: str, baseline: dict, rows: list[dict], units: dict | None = None, **extra
) -> dict:
    """The top level every benchmark's JSON shares; ``units`` are the benchmark's own keys'."""
    return {
        "technique": technique,
        "schema": SCHEMA_VERSION,
        "machine": machine(),
        "units": {**UNITS, **(units or {})},
        **extra,
        "baseline": baseline,
        "rows": rows,
    }


COLUMNS = [  # (key, header, format) of the shared keys, in the order a table shows them
    ("acc", "acc %", "{:.2f}"),
    ("acc_drop_ci", "drop CI (pt)", "[{0[0]:+.2f}, {0[1]:+.2f}]"),
    ("size_ratio", "size x", "{:.2f}"),
    ("mode", "mode", "{}"),
    ("batch", "batch", "{}"),
    ("latency_ratio", "speed x", "{:.2f}"),
    ("latency_ratio_range", "range", "{0[0]:.2f}-{0[1]:.2f}"),
    ("latency_ratio_batch1", "speed x (1 img)", "{:.2f}"),
]


def report(result: dict, columns: list[tuple[str, str, str]] = ()) -> str:
    """A plain-text table of any benchmark's result: model and method, then the benchmark's own
    ``columns`` (its module's COLUMNS), then the shared ones, each where a row has it."""
    rows = result["rows"]
    every = [("model", "model", "{}"), ("method", "method", "{}"), *columns, *COLUMNS]
    columns = [c for c in every if any(r.get(c[0]) is not None for r in rows)]

    def cell(row: dict, key: str, fmt: str) -> str:
        value = row.get(key)
        return "-" if value is None else fmt.format(value)

    table = [[h for _, h, _ in columns]] + [[cell(r, k, f) for k, _, f in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = [
        "  ".join(text.rjust(w) for text, w in zip(line, widths, strict=True)) for line in table
    ]
    m = result["machine"]
    head = [
        f"labkit bench {result['technique']}: {m['cpu']}, {m['threads']} threads, "
        f"torch {m['torch']}",
        "baseline: " + ", ".join(f"{k} {v}" for k, v in result["baseline"].items()),
    ]
    notes = [f"  {r['model']} {r['method']}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(head + lines + (["notes:"] + notes if notes else []))
