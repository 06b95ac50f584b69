"""``labkit bench quantize``: real int8, 4-bit weights and codebooks, measured side by side.

Course rows: ``int8_ptq`` (torch.export -> prepare_pt2e(X86InductorQuantizer) -> calibrate ->
convert_pt2e -> torch.compile with freezing), timed compiled int8 against *compiled* float32
at 256 images and at 1; ``w4_ptq`` (4-bit weights rounded after training), ``w4_qat`` (3 epochs
of quantization-aware training) and ``codebook_kmeans`` (16 shared values per layer), whose
sizes count packed 4-bit weights: the CPU has no 4-bit kernels, so they run as float32 and get
no latency. Extra key: ``bits``. The baseline reports float32 eager and compiled times.

A real-size row: the timm model (resnet18 at 224x224, random weights) as int8, compiled, against
compiled float32 at batch 1.

Sizes compare like with like: every float32 size is the model with batch norm folded into its
convolutions (``labkit.models.fold_batchnorm``), as the int8 graph has it; the 4-bit sizes
count the folded model's tensors too.

Used by: `labkit bench quantize` and `make bench`.
"""

from __future__ import annotations

import copy

import torch

from labkit.bench.common import (
    MODEL_OPTIONS,
    accuracy_fields,
    course_fixture,
    envelope,
    latency_fields,
    time_side_by_side,
    timm_model,
)
from labkit.deploy import compile_model
from labkit.hardware import int8_expectation
from labkit.measure import tensor_bytes
from labkit.models import fold_batchnorm
from labkit.quantize.fewer_bits import codebook_quantize, packed_bytes, qat, quantize_weights
from labkit.quantize.int8 import ptq_int8

NO_4BIT_KERNELS = "no 4-bit kernels on a CPU: it runs as float32, so no latency is reported"

UNITS = {"bits": "bits per stored weight"}
COLUMNS = [("bits", "bits", "{}")]
OPTIONS = MODEL_OPTIONS


def run(progress: bool = False, timm: str | None = "resnet18", quick: bool = False) -> dict:
    """Quantize the course model (and ``timm``; None skips it) and measure side by side.
    ``quick`` skips QAT and the codebook (for tests).
    """
    fx = course_fixture()
    base = fx.baseline
    base_bytes = tensor_bytes(fold_batchnorm(base))  # like the int8 graph: batch norm folded
    int8_ref = ptq_int8(base, fx.calibration, progress=progress)
    f32c = compile_model(copy.deepcopy(base), fx.example, progress, "float32")
    int8c = compile_model(int8_ref, fx.example, progress, "int8")
    row = dict(
        method="int8_ptq",
        model="course",
        bits=8,
        **accuracy_fields(fx, int8_ref),
        size_ratio=round(base_bytes / tensor_bytes(int8_ref), 3),
    )
    baseline = {
        "model": "course",
        "acc": round(fx.baseline_accuracy.percent, 2),
        "size_bytes": base_bytes,
        "batchnorm": "folded",
    }
    if f32c.compiled and int8c.compiled:
        nets = {"float32": f32c.model, "int8": int8c.model}
        many = time_side_by_side(nets, fx.example)
        one = time_side_by_side(nets, fx.one_image, runs=50)
        row.update(
            mode="compiled", batch=len(fx.example), **latency_fields(many, "int8", "float32")
        )
        row.update(latency_fields(one, "int8", "float32", "latency_ratio_batch1"))
        eager = time_side_by_side({"eager": base, "compiled": f32c.model}, fx.example)
        baseline.update(
            latency_ms_eager=round(eager["eager"].median_ms, 3),
            latency_ms_compiled=round(eager["compiled"].median_ms, 3),
        )
    else:  # the int8 graph eagerly is a slow reference model: timing it would mislead
        row["note"] = f"not timed: {int8c.reason or f32c.reason}"
    rows = [row]
    variants = {"w4_ptq": (quantize_weights(base, 4), "4-bit weights rounded after training")}
    if not quick:
        w4_qat, _ = qat(base, fx.data, bits=4, epochs=3, progress=progress)
        variants["w4_qat"] = (w4_qat, "3 epochs of quantization-aware training")
        variants["codebook_kmeans"] = (codebook_quantize(base, 4), "16 shared values per layer")
    for method, (net, what) in variants.items():
        size = packed_bytes(fold_batchnorm(net), 4, codebook=method == "codebook_kmeans")
        rows.append(
            dict(
                method=method,
                model="course",
                bits=4,
                **accuracy_fields(fx, net),
                size_ratio=round(base_bytes / size, 3),
                note=f"{what}; {NO_4BIT_KERNELS}",
            )
        )
    if timm:
        rows.append(_timm_row(timm, progress))
    return envelope(
        "quantize",
        baseline,
        rows,
        UNITS,
        expectation=int8_expectation(),
        latency_batch=len(fx.example),
    )


def _timm_row(name: str, progress: bool) -> dict:
    net, example = timm_model(name)
    torch.manual_seed(0)
    calibration = [torch.randn(4, *example.shape[1:]) for _ in range(4)]
    int8_ref = ptq_int8(net, calibration)
    row = dict(
        method="int8_ptq",
        model=name,
        bits=8,
        acc=None,
        size_ratio=round(tensor_bytes(fold_batchnorm(net)) / tensor_bytes(int8_ref), 3),
    )
    f32c = compile_model(copy.deepcopy(net), example, progress, f"{name} float32")
    int8c = compile_model(int8_ref, example, progress, f"{name} int8")
    if f32c.compiled and int8c.compiled:
        timings = time_side_by_side(
            {"float32": f32c.model, "int8": int8c.model}, example, rounds=5, runs=5
        )
        row.update(mode="compiled", batch=1, **latency_fields(timings, "int8", "float32"))
    else:
        row["note"] = f"not timed: {int8c.reason or f32c.reason}"
    return row
