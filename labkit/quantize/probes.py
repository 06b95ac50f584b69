"""Notebook 04's timing probes (see labkit/reference.py)."""

from __future__ import annotations

import torch

from labkit.data import load_digits
from labkit.models import wide_block
from labkit.quantize.int8 import ptq_int8, time_float32_and_int8
from labkit.reference import Probe
from labkit.zoo import load_pretrained


def _int8_speedup(block: bool) -> float:
    """int8 against float32, both compiled (0 where this machine cannot compile them)."""
    if block:
        net, example = wide_block()
        calibration = [torch.randn(8, *example.shape[1:]).relu() for _ in range(2)]
    else:
        data = load_digits()
        net, example, calibration = (
            load_pretrained("digits_baseline"),
            data.test.X[:256],
            data.train.X[:256],
        )
    timing = time_float32_and_int8(net, ptq_int8(net, calibration), example, verbose=False)
    return timing.int8_speedup.median if timing.int8_speedup else 0.0


PROBES = {
    "04.int8_course_speedup": Probe(
        "int8 vs float32, both compiled, the course model on 256 images",
        "x",
        lambda: _int8_speedup(block=False),
    ),
    "04.int8_block_speedup": Probe(
        "int8 vs float32, both compiled, a 256-channel block on one image",
        "x",
        lambda: _int8_speedup(block=True),
    ),
}
