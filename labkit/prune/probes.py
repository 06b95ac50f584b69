"""Notebook 03's timing probes (see labkit/reference.py)."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch

from labkit.data import load_digits
from labkit.measure import compare_latency
from labkit.prune.masks import apply_masks, global_magnitude_masks, prune_channels
from labkit.reference import Probe
from labkit.zoo import load_pretrained


def _speedup_of(make: Callable[[torch.nn.Module, torch.Tensor], torch.nn.Module]) -> float:
    data = load_digits()
    base = load_pretrained("digits_baseline")
    batch = data.test.X[:256]
    other = make(base, batch)
    return (
        compare_latency({"base": base, "other": other}, batch, rounds=5)
        .ratio("other", "base")
        .median
    )


def _slim(base: torch.nn.Module, batch: torch.Tensor) -> torch.nn.Module:
    return prune_channels(base, 0.5, batch[:1]).eval()


def _zeros(base: torch.nn.Module, batch: torch.Tensor) -> torch.nn.Module:
    net = copy.deepcopy(base)
    return apply_masks(net, global_magnitude_masks(net, 0.9)).eval()


PROBES = {
    "03.slim_speedup": Probe(
        "half the channels removed vs the baseline, 256 images, eager",
        "x",
        lambda: _speedup_of(_slim),
    ),
    "03.zeros_speedup": Probe(
        "90% zeros vs the baseline, 256 images, eager", "x", lambda: _speedup_of(_zeros)
    ),
}
