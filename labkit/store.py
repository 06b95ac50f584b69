"""Stored tables: results that take minutes to train (every grid point of a search space, a sweep
over seeds), trained once by a command, kept as JSON in data/, and replayed by a notebook in
seconds.

Every table is written the same way, atomically (a build that fails or is interrupted leaves
the old file as it was), with a ``meta`` record of how and where it was made: the command, the
machine, the date, the seconds it took, and the versions; and read the same way: a missing or
damaged file gets one message saying how to restore it or rebuild it, and how long that takes.

Used by: each lesson's stored table (labkit/search/table.py, labkit/distill/table.py).
"""

from __future__ import annotations

import datetime
import json
import platform
import time
from pathlib import Path

import torch

from labkit.data import data_dir
from labkit.env import versions
from labkit.hardware import cpu_features


def table_path(name: str) -> Path:
    """Where a stored table lives: data/<name>."""
    if not isinstance(name, str) or not name.endswith(".json") or "/" in name:
        raise ValueError(f"argument 'name' must be a file name ending in .json, got {name!r}")
    return data_dir() / name


def rebuild_hint(command: str, minutes: int) -> str:
    """The sentence every stored table's error ends with."""
    return (
        f"Restore it with `git checkout data/` or rebuild it with `{command}` "
        f"(about {minutes} min)."
    )


def build_meta(command: str, started: float, **details) -> dict:
    """The ``meta`` record of a table built now: ``command``, the machine, the date, the seconds
    since ``started`` (a ``time.perf_counter()`` value), the threads, the versions, and
    ``details`` (the recipe's own facts: dataset, epochs, seeds...)."""
    v = versions()
    cpu = cpu_features()
    return {
        "command": command,
        "machine": f"{cpu.name} ({platform.machine()}; {cpu.summary()})",
        "date": datetime.date.today().isoformat(),
        "seconds": round(time.perf_counter() - started, 1),
        "threads": torch.get_num_threads(),
        "torch": v["torch"],
        "python": v["python"],
        "labkit": v["labkit"],
        **details,
    }


def save_record(record: dict, path: Path) -> Path:
    """Write ``record`` as JSON to ``path`` atomically: to a temporary file first, then moved
    over the old one in one step."""
    if not isinstance(record, dict) or "meta" not in record:
        raise ValueError("argument 'record' must be a dict with a 'meta' entry (build_meta)")
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_record(path: Path, command: str, minutes: int) -> dict:
    """Read a stored table's JSON; a missing or unreadable file raises an error that says how
    to restore or rebuild it (``command``, about ``minutes`` minutes)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing. {rebuild_hint(command, minutes)}")
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is damaged ({err}). {rebuild_hint(command, minutes)}") from None
    if not isinstance(record, dict) or not isinstance(record.get("meta"), dict):
        raise ValueError(f"{path} is damaged (no 'meta' record). {rebuild_hint(command, minutes)}")
    return record
