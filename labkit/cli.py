"""The ``labkit`` command: ``doctor``, ``data setup``, ``zoo build|verify``, ``timings``,
``bench <technique>``, ``tables`` and ``<lesson> build-table``, ``reference record``. The
benchmarks and the stored tables are found in the lesson folders (``labkit.lessons``), so a new
lesson's appear here by themselves.

Used by: the `labkit` command (pyproject.toml, [project.scripts]) and the Makefile.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
from pathlib import Path

from labkit import fashion, lessons, zoo
from labkit.bench import report
from labkit.env import get_device, setup, versions
from labkit.hardware import cpu_features
from labkit.nbrun import format_table, list_notebooks, run_notebook


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
    missing = fashion.missing_files()
    if missing:
        problems.append(fashion.HOW_TO_GET_IT.format(folder=fashion.fashion_dir()))
    else:
        print("Fashion-MNIST: the four files present and verified")
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


def _data(args: argparse.Namespace) -> int:
    folder = fashion.setup_fashion_mnist(download=args.download)
    print(f"Fashion-MNIST: ready in {folder} (four files, each checked against its SHA-256)")
    return 0


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


def _build_table(lesson: lessons.Lesson) -> int:
    table = lesson.module("table").build_table()
    print(f"{lesson.name}: built in {table.meta['seconds']:.0f} s, written to {table.path}")
    return 0


def _reference(args: argparse.Namespace) -> int:
    setup(quiet=True)
    lessons.record_reference_timings(repeats=args.repeats, only=args.only)
    print("written: data/reference_timings.json")
    return 0


def _bench(args: argparse.Namespace) -> int:
    found = lessons.benchmarks()
    if args.list or args.technique is None:
        print("\n".join(found))
        return 0
    module = found[args.technique].module("bench")
    own = argparse.ArgumentParser(prog=f"labkit bench {args.technique}", description=module.__doc__)
    own.add_argument("--json", action="store_true", help="last line: one JSON object")
    for flag, spec in getattr(module, "OPTIONS", {}).items():
        own.add_argument(flag, **spec)
    options = vars(own.parse_args(args.options))
    as_json = options.pop("json")
    setup(quiet=True)  # seeds, threads, and torch's log lines a reader cannot act on
    result = module.run(progress=not as_json, **options)
    print(report(result, getattr(module, "COLUMNS", ())))
    if as_json:
        print(json.dumps(result))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    doctor = sub.add_parser("doctor", help="check that this machine is ready for the course")
    doctor.add_argument("--brief", action="store_true", help="one line per check")
    zoo_parser = sub.add_parser("zoo", help="the trained checkpoints in data/zoo")
    zoo_sub = zoo_parser.add_subparsers(dest="zoo_command", required=True)
    build = zoo_sub.add_parser("build", help="retrain checkpoints and rewrite the manifest")
    build.add_argument("--only", action="append", metavar="NAME", help="only this model")
    zoo_sub.add_parser("verify", help="check every checkpoint against its sha256")
    timings = sub.add_parser("timings", help="run notebooks; wall time and peak memory table")
    timings.add_argument("notebooks", nargs="*", help="default: every notebook")
    timings.add_argument("--solutions", action="store_true", help="fill in exercise solutions")
    data = sub.add_parser("data", help="the course's data")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    data_setup = data_sub.add_parser(
        "setup", help="unpack and check Fashion-MNIST (from the dataset-fashion-mnist package)"
    )
    data_setup.add_argument(
        "--download", action="store_true", help="where no package or copy exists: fetch it once"
    )
    sub.add_parser("tables", help="the lessons with a stored sweep, one per line")
    for name, lesson in lessons.stored_tables().items():
        minutes = lessons.build_minutes(lesson)
        table = sub.add_parser(name, help=f"the stored sweep of notebook {lesson.notebook}")
        table_sub = table.add_subparsers(dest="table_command", required=True)
        table_sub.add_parser(
            "build-table", help=f"{lessons.summary_of(lesson, 'table')} (about {minutes} min)"
        )
    reference = sub.add_parser("reference", help="reference timings the notebooks compare with")
    reference_sub = reference.add_subparsers(dest="reference_command", required=True)
    record = reference_sub.add_parser(
        "record", help="measure every lesson's probes here: data/reference_timings.json"
    )
    record.add_argument("--repeats", type=int, default=3, help="runs per probe and threads")
    record.add_argument(
        "--only", action="append", metavar="KEY", help="only this probe (keep the others)"
    )
    techniques = lessons.benchmarks()
    bench = sub.add_parser(
        "bench",
        help="benchmarks; ratios and counts measured in one run",
        description="\n".join(
            f"  {name:<10} {lessons.summary_of(lesson, 'bench')}"
            for name, lesson in techniques.items()
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("--list", action="store_true", help="the techniques, one per line")
    bench.add_argument("technique", nargs="?", choices=list(techniques), help="which benchmark")
    bench.add_argument("options", nargs=argparse.REMAINDER, help="its options (--json, --quick...)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "doctor":
            return _doctor(args.brief)
        if args.command == "zoo":
            return _zoo(args)
        if args.command == "bench":
            return _bench(args)
        if args.command == "reference":
            return _reference(args)
        if args.command == "timings":
            return _timings(args)
        if args.command == "data":
            return _data(args)
        if args.command == "tables":
            print("\n".join(lessons.stored_tables()))
            return 0
        return _build_table(lessons.stored_tables()[args.command])
    except fashion.DatasetUnavailableError as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, RuntimeError) as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
