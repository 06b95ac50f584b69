"""Notebook 02's timing probe (see labkit/reference.py)."""

from __future__ import annotations

from labkit.data import load_digits
from labkit.reference import Probe
from labkit.trial import train_small_cnn


def _live_evaluation() -> float:
    data = load_digits().with_train_subset(1000)
    return train_small_cnn(data, epochs=3, progress=False).seconds


PROBES = {
    "02.live_evaluation_s": Probe(
        "one live evaluation: 3 epochs on 1,000 images", "s", _live_evaluation
    ),
}
