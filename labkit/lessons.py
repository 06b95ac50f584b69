"""The lessons and their parts, found in their folders: a lesson is a package
``labkit/<name>/`` whose ``__init__.py`` names its notebook (``NOTEBOOK = "03_pruning"``).
Beside its lesson code it may hold ``bench.py`` (a benchmark: ``run(...) -> dict``, run by
`labkit bench <name>`), ``probes.py`` (``PROBES``: the timings its notebook prints beside the
learner's, recorded by `labkit reference record`) and ``table.py`` (a stored sweep with
``build_table()`` and ``BUILD_MINUTES``, rebuilt by `labkit <name> build-table`).

Nothing is listed by hand: a new lesson folder is found by the command, the benchmarks, the
reference timings and the tests. Finding the parts reads files, it imports nothing; a part is
imported when it is used.

Used by: the `labkit` command (labkit/cli.py), `make bench`, and the tests.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from labkit._validate import check_choice, check_int
from labkit.data import load_digits
from labkit.env import using_threads, versions
from labkit.hardware import cpu_features
from labkit.measure import measure_latency
from labkit.reference import THREADS, Probe, reference_path
from labkit.zoo import load_pretrained

PACKAGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Lesson:
    """One lesson package: its name (``prune``), its notebook (``03_pruning``), and which of
    the optional parts it has."""

    name: str
    notebook: str
    has_bench: bool
    has_probes: bool
    has_table: bool

    @property
    def number(self) -> int:
        """The notebook's place in the syllabus (3 for 03_pruning)."""
        return int(self.notebook[:2])

    def module(self, part: str):
        """Import one part of the lesson ("bench", "probes", "table") and return it."""
        check_choice("part", part, ("bench", "probes", "table"))
        return importlib.import_module(f"labkit.{self.name}.{part}")


def _notebook_of(init: Path) -> str | None:
    for node in ast.parse(init.read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["NOTEBOOK"]
            and isinstance(node.value, ast.Constant)
        ):
            return node.value.value
    return None


def lessons() -> list[Lesson]:
    """Every lesson package, in syllabus order."""
    found = []
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        notebook = _notebook_of(init)
        if notebook is not None:
            folder = init.parent
            found.append(
                Lesson(
                    folder.name,
                    notebook,
                    (folder / "bench.py").exists(),
                    (folder / "probes.py").exists(),
                    (folder / "table.py").exists(),
                )
            )
    return sorted(found, key=lambda lesson: lesson.number)


def benchmarks() -> dict[str, Lesson]:
    """Technique name -> lesson, for every lesson with a benchmark (`labkit bench <name>`)."""
    return {lesson.name: lesson for lesson in lessons() if lesson.has_bench}


def stored_tables() -> dict[str, Lesson]:
    """Lesson name -> lesson, for every lesson with a stored sweep (`labkit <name> build-table`)."""
    return {lesson.name: lesson for lesson in lessons() if lesson.has_table}


def summary_of(lesson: Lesson, part: str) -> str:
    """The first sentence of a part's docstring, read without importing it (for --help)."""
    text = ast.get_docstring(ast.parse((PACKAGE / lesson.name / f"{part}.py").read_text())) or ""
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    return re.split(r"(?<=\.)\s", paragraph)[0] if paragraph else lesson.name


# --------------------------------------------------------------------------- reference timings


def _latency_one_image() -> float:
    data = load_digits()
    net = load_pretrained("digits_baseline")
    return measure_latency(net, data.test.X[:1], runs=30).median_ms


# Notebook 00 has no lesson package (its code is the shared core): its probe lives here.
WELCOME_PROBES = {
    "00.latency_one_image_ms": Probe(
        "the baseline's latency on one image, eager", "ms", _latency_one_image
    ),
}


def probes() -> dict[str, Probe]:
    """Every probe of every lesson, by key, in syllabus order."""
    found = dict(WELCOME_PROBES)
    for lesson in lessons():
        if lesson.has_probes:
            found.update(lesson.module("probes").PROBES)
    return found


def record_reference_timings(
    repeats: int = 3,
    progress: bool = True,
    path: Path | None = None,
    only: list[str] | None = None,
) -> dict:
    """Run every probe ``repeats`` times with 2 threads and with 1, and write the ranges with the
    machine and the command to data/reference_timings.json (`labkit reference record`). With
    ``only`` (probe keys), measure just those and keep the file's other probes as they were."""
    repeats = check_int("repeats", repeats, min_value=1, max_value=20)
    every = probes()
    keys = list(every) if only is None else [check_choice("only", k, every) for k in only]
    target = Path(path or reference_path())
    if only is not None and not target.exists():
        raise FileNotFoundError(f"{target} does not exist yet: record every probe first")
    results: dict[str, dict] = {}
    for key in keys:
        probe = every[key]
        results[key] = {"what": probe.what, "unit": probe.unit, "ranges": {}}
        for label, threads in THREADS.items():
            values = []
            with using_threads(threads):
                for _ in range(repeats):
                    start = time.perf_counter()
                    values.append(float(probe.measure()))
                    if progress:
                        print(
                            f"{key} [{label}]: {values[-1]:.3g} {probe.unit} "
                            f"({time.perf_counter() - start:.0f} s)"
                        )
            results[key]["ranges"][label] = [round(min(values), 3), round(max(values), 3)]
    if only is not None:
        kept = json.loads(target.read_text())["probes"]
        results = {k: results.get(k, kept.get(k)) for k in every if k in kept or k in results}
    cpu = cpu_features()
    record = {
        "how": f"labkit reference record --repeats {repeats}: each probe run {repeats} times per "
        "thread count; the lowest and highest value kept",
        "machine": {"cpu": cpu.name, "features": cpu.summary(), "torch": versions()["torch"]},
        "probes": results,
    }
    target.write_text(json.dumps(record, indent=1) + "\n")
    return record


def build_minutes(lesson: Lesson) -> int | None:
    """How long a lesson's stored sweep takes to rebuild (its ``BUILD_MINUTES``), read without
    importing it."""
    tree = ast.parse((PACKAGE / lesson.name / "table.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["BUILD_MINUTES"]
            and isinstance(node.value, ast.Constant)
        ):
            return node.value.value
    return None
