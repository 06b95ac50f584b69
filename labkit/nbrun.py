"""Run notebooks from a clean kernel, measure them, and fill in exercise solutions.

Used by: `labkit timings` (labkit/cli.py) and tests/test_notebooks.py.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil

BUDGET_SECONDS = 120.0
BUDGET_BYTES = int(1.5 * 1024**3)
_CHECK_CALL = re.compile(r"\b(lab\d\d)\.(q\d+)\.check\(")


def notebooks_dir() -> Path:
    """The folder of the course notebooks."""
    return Path(__file__).resolve().parents[1] / "notebooks"


def list_notebooks() -> list[Path]:
    """Every course notebook, in syllabus order."""
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def exercise_cells(nb) -> list[tuple[int, str, str]]:
    """(cell index, module, question) for every code cell tagged "exercise"."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", []):
            m = _CHECK_CALL.search(cell.source)
            if m is None:
                raise ValueError(f"exercise cell {i} does not call labNN.qN.check(...)")
            found.append((i, m.group(1), m.group(2)))
    return found


def fill_solutions(nb):
    """A copy of ``nb`` whose exercise cells hold the reference solutions."""
    nb = nbformat.from_dict(nb)  # deep copy
    for i, module, question in exercise_cells(nb):
        lab = importlib.import_module(f"labkit.exercises.{module}")
        nb.cells[i].source = getattr(lab, question).solution_code
    return nb


@dataclass
class NotebookRun:
    """One notebook run: its wall time, peak memory and the error that stopped it, if any."""

    path: Path
    seconds: float
    peak_bytes: int
    error: str | None = None

    @property
    def within_budget(self) -> bool:
        """True when the run took at most 120 s and peaked at most 1.5 GB."""
        return self.seconds <= BUDGET_SECONDS and self.peak_bytes <= BUDGET_BYTES


def _tree_rss(proc: psutil.Process) -> int:
    """Resident memory of the kernel plus what each child process holds of its own (USS).
    A child that the kernel has just forked (torch.compile starts g++ this way) shares the
    kernel's pages for a moment; counting its full RSS counted the kernel twice (measured: a
    1.2 GB notebook read as 1.6 GB for a few milliseconds, half of the runs)."""
    try:
        total = proc.memory_info().rss
    except psutil.Error:
        return 0
    for child in proc.children(recursive=True):
        try:
            total += child.memory_full_info().uss
        except psutil.Error:
            pass
    return total


def run_notebook(
    path: Path, solutions: bool = False, timeout: int = 600, env: dict[str, str] | None = None
) -> NotebookRun:
    """Execute a notebook in a fresh kernel; report wall time and the kernel's peak memory
    (resident memory of the kernel process and its children, sampled every 50 ms).
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    if solutions:
        nb = fill_solutions(nb)
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    peak, error = 0, None
    done = threading.Event()
    start = time.perf_counter()
    try:
        with client.setup_kernel():
            pid = client.km.provisioner.process.pid
            kernel = psutil.Process(pid)

            def sample() -> None:
                nonlocal peak
                while not done.is_set():
                    try:
                        peak = max(peak, _tree_rss(kernel))
                    except psutil.Error:
                        pass
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
            except CellExecutionError as err:
                error = str(err)[-3000:]
            finally:
                done.set()
                sampler.join()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return NotebookRun(path, time.perf_counter() - start, peak, error)


def format_table(runs: list[NotebookRun]) -> str:
    """The runs as a markdown table against the budget."""
    rows = [
        "| notebook | wall time (s) | peak memory (MB) | within budget |",
        "|---|---:|---:|---|",
    ]
    for r in runs:
        ok = "yes" if r.within_budget and not r.error else ("ERROR" if r.error else "NO")
        rows.append(f"| {r.path.name} | {r.seconds:.1f} | {r.peak_bytes / 2**20:.0f} | {ok} |")
    rows.append(f"\nbudget: {BUDGET_SECONDS:.0f} s and {BUDGET_BYTES / 2**20:.0f} MB per notebook")
    return "\n".join(rows)
