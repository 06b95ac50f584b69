"""The ``labkit`` command: ``doctor``, ``zoo build``, ``zoo verify``, ``timings``,
``search build-table``, ``bench <technique>``."""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
from pathlib import Path

from labkit import distill_table, zoo
from labkit.bench import report
from labkit.env import get_device, setup, versions
from labkit.expectations import record
from labkit.hardware import cpu_features
from labkit.nbrun import format_table, list_notebooks, run_notebook
from labkit.search_table import BUILD_MINUTES, build_table


def _doctor(brief: bool) -> int:
    """Is this machine ready for the course? Say what to do if not."""
    problems: list[str] = []
    v = versions()
    print(
        f"Python {v['python']}, torch {v['torch']}, torchvision {v['torchvision']}, "
        f"timm {v['timm']}, labkit {v['labkit']}"
    )
    for module, why in (
        ("torchvision", "datasets and timm"),
        ("timm", "real models by name"),
        ("ipywidgets", "interactive explorers"),
        ("optuna", "notebook 02"),
        ("sklearn", "the offline digits dataset"),
    ):
        try:
            importlib.import_module(module)
        except Exception as err:  # a broken install raises more than ImportError
            problems.append(
                f"{module} does not import ({err}); needed for {why}. "
                "Run `make setup` (or `pip install -e .`)."
            )
    cpu = cpu_features()
    print(f"device: {get_device()} | CPU: {cpu.name} [{cpu.summary()}]")
    if not brief:
        for note in cpu.notes:
            print(f"  - {note}")
    try:
        for name in zoo.read_manifest()["models"]:
            zoo.verify(name)
        print("model zoo: checkpoints present and verified")
    except Exception as err:
        problems.append(f"model zoo: {err}")
    if not (Path(sys.executable).parent / "jupyter").exists() and shutil.which("jupyter") is None:
        problems.append("jupyter is not on PATH; run `make lab`, which installs and starts it.")
    if problems:
        print("\nNot ready yet:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print("Ready: run `make lab` to open the course.")
    return 0


def _zoo(args: argparse.Namespace) -> int:
    if args.zoo_command == "build":
        manifest = zoo.build(names=args.only or None)
        for name, entry in manifest["models"].items():
            t = entry["test_accuracy"]
            print(
                f"{name}: {entry['bytes']} bytes, test accuracy {t['correct']}/{t['total']}, "
                f"sha256 {entry['sha256'][:16]}..."
            )
        return 0
    failures = 0
    for name in zoo.read_manifest()["models"]:
        try:
            print(f"{name}: ok ({zoo.verify(name)})")
        except zoo.ZooError as err:
            failures += 1
            print(f"{name}: {err}")
    return 1 if failures else 0


def _timings(args: argparse.Namespace) -> int:
    paths = args.notebooks or list_notebooks()
    runs = []
    for path in paths:
        print(f"running {path} ...", flush=True)
        runs.append(run_notebook(path, solutions=args.solutions))
        if runs[-1].error:
            print(runs[-1].error)
    print(format_table(runs))
    return 0 if all(r.within_budget and not r.error for r in runs) else 1


def _search(args: argparse.Namespace) -> int:
    table = build_table()
    print(
        f"trained {table.space.size} grid points x {len(table.meta['seeds'])} seeds in "
        f"{table.meta['seconds']:.0f} s; best validation error {table.best_error:.3f} at "
        f"{table.best_config}"
    )
    return 0


def _distill(args: argparse.Namespace) -> int:
    table = distill_table.build_table()
    print(
        f"trained the distillation sweeps in {table.meta['seconds']:.0f} s: data/distill_table.json"
    )
    return 0


def _expect(args: argparse.Namespace) -> int:
    setup(quiet=True)
    record(repeats=args.repeats, only=args.only)
    print("written: data/expectations.json")
    return 0


def _bench(args: argparse.Namespace) -> int:
    setup(quiet=True)  # seeds, threads, and torch's log lines a reader cannot act on
    module = importlib.import_module(f"labkit.bench.{args.bench_command}")
    options = {"progress": not args.json}
    if args.bench_command == "search":
        options.update(repeats=args.repeats, budget_fraction=args.budget_fraction)
    else:
        options.update(timm=None if args.no_timm else args.timm, quick=args.quick)
    result = module.run(**options)
    print(report(result))
    if args.json:
        print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit status.

    Used by: the `labkit` command (pyproject.toml, [project.scripts]).
    """
    parser = argparse.ArgumentParser(prog="labkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    doctor = sub.add_parser("doctor", help="check that this machine is ready for the course")
    doctor.add_argument("--brief", action="store_true", help="one line per check")
    zoo = sub.add_parser("zoo", help="the trained checkpoints in data/zoo")
    zoo_sub = zoo.add_subparsers(dest="zoo_command", required=True)
    build = zoo_sub.add_parser("build", help="retrain checkpoints and rewrite the manifest")
    build.add_argument("--only", action="append", metavar="NAME", help="only this model")
    zoo_sub.add_parser("verify", help="check every checkpoint against its sha256")
    timings = sub.add_parser("timings", help="run notebooks; wall time and peak memory table")
    timings.add_argument("notebooks", nargs="*", help="default: every notebook")
    timings.add_argument("--solutions", action="store_true", help="fill in exercise solutions")
    search = sub.add_parser("search", help="the tabular benchmark of notebook 02")
    search_sub = search.add_subparsers(dest="search_command", required=True)
    search_sub.add_parser(
        "build-table", help=f"train every grid point (about {BUILD_MINUTES} min on 2 cores)"
    )
    distill = sub.add_parser("distill", help="the stored seed sweeps of notebook 07")
    distill_sub = distill.add_subparsers(dest="distill_command", required=True)
    distill_sub.add_parser(
        "build-table",
        help=f"train the sweeps, one thread (about {distill_table.BUILD_MINUTES} min)",
    )
    expect = sub.add_parser("expect", help="reference timings the notebooks compare with")
    expect_sub = expect.add_subparsers(dest="expect_command", required=True)
    expect_record = expect_sub.add_parser(
        "record", help="measure them here: data/expectations.json"
    )
    expect_record.add_argument("--repeats", type=int, default=3, help="runs per probe and threads")
    expect_record.add_argument(
        "--only", action="append", metavar="KEY", help="only this probe (keep the others)"
    )
    bench = sub.add_parser("bench", help="benchmarks; ratios and counts measured in one run")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    bench_search = bench_sub.add_parser("search", help="grid vs random vs TPE vs GP vs TT")
    bench_search.add_argument("--json", action="store_true", help="last line: one JSON object")
    bench_search.add_argument("--repeats", type=int, default=20, help="repetitions (>= 20)")
    bench_search.add_argument(
        "--budget-fraction",
        type=float,
        default=0.25,
        help="evaluations per search, as a fraction of the grid",
    )
    for name, text in (
        ("prune", "unstructured vs structured pruning"),
        ("quantize", "float32 vs int8 vs 4-bit"),
        ("precision", "float32 vs bfloat16 vs float16 with loss scaling, training"),
        ("factorize", "SVD vs spatial vs Tucker-2 vs ranks from measured times"),
        ("distill", "solo vs distilled students, compressed students with and without a teacher"),
    ):
        technique = bench_sub.add_parser(name, help=text)
        technique.add_argument("--json", action="store_true", help="last line: one JSON object")
        technique.add_argument("--timm", default="resnet18", help="real-size timm model rows")
        technique.add_argument("--no-timm", action="store_true", help="skip the timm model")
        technique.add_argument("--quick", action="store_true", help="fewer rows (for tests)")
    args = parser.parse_args(argv)
    try:
        if args.command == "doctor":
            return _doctor(args.brief)
        if args.command == "zoo":
            return _zoo(args)
        if args.command == "search":
            return _search(args)
        if args.command == "bench":
            return _bench(args)
        if args.command == "expect":
            return _expect(args)
        if args.command == "distill":
            return _distill(args)
        return _timings(args)
    except FileNotFoundError as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, RuntimeError) as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
