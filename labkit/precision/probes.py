"""Notebook 05's timing probes (see labkit/reference.py)."""

from __future__ import annotations

from labkit.precision.training import step_speedup
from labkit.reference import Probe

PROBES = {
    "05.bf16_step_speedup": Probe(
        "bfloat16 autocast vs float32, one training step of a 3-layer MLP (512 units, 256 inputs)",
        "x",
        lambda: step_speedup("bfloat16"),
    ),
    "05.fp16_step_speedup": Probe(
        "float16 autocast + scaler vs float32, the same training step",
        "x",
        lambda: step_speedup("float16_scaled"),
    ),
}
