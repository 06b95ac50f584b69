"""The ``labkit`` command: ``doctor``, ``zoo build``, ``zoo verify``, ``timings``."""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from pathlib import Path


def _doctor(brief: bool) -> int:
    """Is this machine ready for the course? Say what to do if not."""
    from labkit.env import cpu_features, get_device, versions

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
        from labkit.zoo import verify

        verify("baseline")
        verify("teacher")
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
    from labkit import zoo

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
    from labkit.nbrun import format_table, list_notebooks, run_notebook

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
    from labkit.search import build_table

    table = build_table()
    print(
        f"trained {table.space.size} grid points x {len(table.meta['seeds'])} seeds in "
        f"{table.meta['seconds']:.0f} s; best validation error {table.best_error:.3f} at "
        f"{table.best_config}"
    )
    return 0


def _bench(args: argparse.Namespace) -> int:
    if args.bench_command == "prune":
        return _bench_prune(args)
    if args.bench_command == "quantize":
        return _bench_quantize(args)
    import json

    from labkit.search import SearchTable, benchmark

    result = benchmark(
        SearchTable.load(),
        repeats=args.repeats,
        budget_fraction=args.budget_fraction,
        progress=not args.json,
    )
    print(
        f"search over {result['grid_size']} grid points, {result['repeats']} repetitions, "
        f"budget {result['budget']} evaluations, grid best error {result['grid_best_error']:.4f}"
    )
    print(f"{'strategy':<8} {'median evals to best':>22} {'median regret at 10%':>22}")
    for name, row in result["strategies"].items():
        print(
            f"{name:<8} {row['median_evals_to_best']:>22.1f} "
            f"{100 * row['median_regret_at_10pct']:>19.2f} pt"
        )
    if args.json:
        print(json.dumps(result))
    return 0


def _bench_prune(args: argparse.Namespace) -> int:
    import json

    from labkit.prune import benchmark

    result = benchmark(progress=not args.json)
    b = result["baseline"]
    print(
        f"baseline: test accuracy {b['acc']:.2f}%, {b['size_bytes']:,} bytes, "
        f"{b['latency_ms']:.2f} ms per batch of {result['latency_batch']}"
    )
    print(
        f"{'method':<13} {'sparsity':>8} {'acc before':>10} {'acc':>7} {'size x':>7} {'speed x':>8}"
    )
    for r in result["rows"]:
        print(
            f"{r['method']:<13} {r['sparsity']:>8.1f} {r['acc_before_finetune']:>9.2f}% "
            f"{r['acc']:>6.2f}% {r['size_ratio']:>7.2f} {r['latency_ratio']:>8.2f}"
        )
    if args.json:
        print(json.dumps(result))
    return 0


def _bench_quantize(args: argparse.Namespace) -> int:
    import json

    from labkit.quantize import benchmark

    result = benchmark(progress=not args.json, timm_model=None if args.no_timm else args.timm)
    b = result["baseline"]
    print(f"CPU: {result['cpu']}\n{result['expectation']}")
    print(
        f"baseline float32 eager: test accuracy {b['acc']:.2f}%, {b['size_bytes']:,} bytes, "
        f"{b['latency_ms']:.2f} ms per batch of {result['latency_batch']}"
    )
    print(f"{'method':<17} {'bits':>4} {'acc':>7} {'size x':>7} {'speed x':>8}")

    def show(r: dict) -> None:
        acc = "-" if r.get("acc") is None else f"{r['acc']:.2f}%"
        speed = "-" if r.get("latency_ratio") is None else f"{r['latency_ratio']:.2f}"
        print(f"{r['method']:<17} {r['bits']:>4} {acc:>7} {r['size_ratio']:>7.2f} {speed:>8}")

    for r in result["rows"]:
        show(r)
    if "timm" in result:
        t = result["timm"]
        print(
            f"{t['model']} (random weights) input {t['input']}: float32 eager "
            f"{t['baseline']['latency_ms']:.1f} ms, {t['baseline']['size_bytes']:,} bytes"
        )
        for r in t["rows"]:
            show(r)
    if args.json:
        print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
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
    search_sub.add_parser("build-table", help="train every grid point (about 20 min)")
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
    bench_prune = bench_sub.add_parser("prune", help="unstructured vs structured pruning")
    bench_prune.add_argument("--json", action="store_true", help="last line: one JSON object")
    bench_quantize = bench_sub.add_parser("quantize", help="float32 vs int8 vs 4-bit")
    bench_quantize.add_argument("--json", action="store_true", help="last line: one JSON object")
    bench_quantize.add_argument("--timm", default="resnet18", help="real-size timm model to add")
    bench_quantize.add_argument("--no-timm", action="store_true", help="skip the timm model")
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
        return _timings(args)
    except FileNotFoundError as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, RuntimeError) as err:
        print(f"labkit: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
