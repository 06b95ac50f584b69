"""Reference timings: what a learner's timing should be, from measurements kept in the
repository, printed beside the learner's own.

A timing alone does not tell a learner whether theirs is normal. Each lesson declares the
small measurements its notebook makes as *probes* (``labkit/<lesson>/probes.py``);
`labkit reference record` runs them several times on the machine it runs on, with 2 threads
(a typical 2-core laptop) and with 1 thread (Binder gives one CPU), and writes the lowest and
highest value of each, with the machine and the command, to data/reference_timings.json. A
notebook then prints one line beside its own measurement:
``labkit.reference_timing("03.slim_speedup", value)``. This module only reads that file; the
recording is `labkit reference record` (labkit/lessons.py).

Introduced in notebooks/00_welcome.ipynb, "The model zoo".

Used by: the notebooks (``labkit.reference_timing``), each lesson's probes (such as
labkit/prune/probes.py), and labkit.lessons.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit._validate import check_float
from labkit.data import data_dir

THREADS = {"2 cores": 2, "1 core (as on Binder)": 1}  # the thread counts every probe runs with


@dataclass(frozen=True)
class Probe:
    """One measurement a notebook makes: what it measures, its unit ("ms", "s", or "x" for a
    speed-up: baseline time / method time), and the function that measures it once.
    """

    what: str
    unit: str
    measure: Callable[[], float]


def reference_path() -> Path:
    """Where the reference timings are kept: data/reference_timings.json."""
    return data_dir() / "reference_timings.json"


def _show(value: float, unit: str) -> str:
    return f"{value:.2f}x" if unit == "x" else f"{value:.3g} {unit}"


def reference_timing(key: str, value: float | None = None) -> str:
    """One line for a notebook: the range measured for ``key`` on the course's reference machine
    with 2 cores and with 1 core (as on Binder), and where ``value`` (the learner's own) falls:
    inside the lowest-to-highest range of all rounds, or below or above it.

    Lesson: notebooks/00_welcome.ipynb, "The model zoo".
    """
    if not isinstance(key, str):
        raise TypeError(
            f"argument 'key' must be a probe name such as '03.slim_speedup', got {key!r}"
        )
    path = reference_path()
    if not path.exists():
        return f"(no reference timings: run `labkit reference record` to make {path.name})"
    stored = json.loads(path.read_text())
    probe = stored["probes"].get(key)
    if probe is None:
        known = ", ".join(sorted(stored["probes"]))
        raise ValueError(
            f"argument 'key' must be one of the recorded probes ({known}); got {key!r}"
        )
    unit = probe["unit"]
    ranges = "; ".join(
        f"{label}: {_show(lo, unit)}-{_show(hi, unit)}"
        for label, (lo, hi) in probe["ranges"].items()
    )
    line = f"Reference ({probe['what']}; measured on {stored['machine']['cpu']}): {ranges}."
    if value is not None:
        value = check_float("value", value)
        lo = min(r[0] for r in probe["ranges"].values())
        hi = max(r[1] for r in probe["ranges"].values())
        if lo <= value <= hi:
            where = f"inside the range {_show(lo, unit)}-{_show(hi, unit)}"
        else:
            faster = (value > hi) if unit == "x" else (value < lo)
            side = "above" if value > hi else "below"
            where = (
                f"{side} the whole range {_show(lo, unit)}-{_show(hi, unit)}: "
                f"{'faster' if faster else 'slower'} than the reference machine"
            )
        line += f" Yours: {_show(value, unit)}, {where}."
    return line
