"""Notebook 01's timing probe, recorded by `labkit reference record` into
data/reference_timings.json and printed beside the learner's own timing."""

from __future__ import annotations

from labkit.data import load_digits
from labkit.reference import Probe
from labkit.trial import train_small_cnn


def _explorer_run() -> float:
    data = load_digits().with_train_subset(1000)
    return train_small_cnn(data, epochs=4, progress=False).seconds


PROBES = {
    "01.explorer_run_s": Probe("one explorer run: 4 epochs on 1,000 images", "s", _explorer_run),
}
