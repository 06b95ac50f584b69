"""Notebook 07's timing probe (see labkit/reference.py)."""

from __future__ import annotations

import statistics

from labkit.data import load_digits
from labkit.distill.students import student, time_epochs
from labkit.reference import Probe
from labkit.zoo import load_pretrained


def _distilled_epoch_ratio() -> float:
    seconds = time_epochs(
        load_pretrained("digits_baseline").eval(), student(6), load_digits().train.subset(1000)
    )
    return statistics.median(seconds["distilled"]) / statistics.median(seconds["plain"])


PROBES = {
    "07.distilled_epoch_ratio": Probe(
        "a distilled epoch (teacher's logits looked up) / a plain epoch, 1,000 images",
        "x",
        _distilled_epoch_ratio,
    ),
}
