"""The benchmarks print the documented schema (labkit/bench/__init__.py), with like-for-like
latency ratios. Quick modes keep this to a couple of minutes; the full runs are for people."""

import json

import pytest

from labkit.bench import SCHEMA_VERSION, report
from labkit.bench.common import UNITS
from labkit.cli import main

pytestmark = pytest.mark.slow
ROW_KEYS = {"method", "model", "acc", "size_ratio"}


def _run(capsys, *args):
    assert main(["bench", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _check_envelope(result, technique):
    assert result["technique"] == technique and result["schema"] == SCHEMA_VERSION
    assert {"cpu", "threads", "torch", "compiler"} <= set(result["machine"])
    assert UNITS.items() <= result["units"].items() and "baseline" in result and result["rows"]
    for row in result["rows"]:  # every accuracy, ratio and interval says its unit
        measured = {k for k in row if k.startswith("acc") or k.endswith(("_ratio", "_ci"))}
        assert measured <= set(result["units"]), measured - set(result["units"])
    for row in result["rows"]:
        if row.get("latency_ratio") is not None:
            # every timed ratio says in which mode both sides ran, and how much rounds moved
            assert row["mode"] in ("eager", "compiled") and row["batch"] >= 1
            low, high = row["latency_ratio_range"]
            assert low <= row["latency_ratio"] <= high
    report(result)  # the table prints for any result


def test_bench_prune_quick(capsys):
    result = _run(capsys, "prune", "--quick", "--timm", "resnet10t")
    _check_envelope(result, "prune")
    rows = result["rows"]
    for row in rows:
        assert ROW_KEYS <= set(row)
        assert ("sparsity" in row) != ("channel_ratio" in row)  # structured rows: channel_ratio
    course = [r for r in rows if r["model"] == "course"]
    unstructured = next(r for r in course if r["method"] == "unstructured")
    assert unstructured["size_ratio"] >= 4 and "file" in unstructured["size_format"]
    assert unstructured["acc_drop_ci"][0] <= unstructured["acc_drop_ci"][1]
    structured = [r for r in course if r["method"] == "structured"]
    assert {r["mode"] for r in structured} <= {"eager", "compiled"} and structured[0][
        "size_ratio"
    ] > 2
    assert structured[0]["acc"] > structured[0]["acc_before_finetune"]
    timm = [r for r in rows if r["model"] == "resnet10t"]
    assert {r["method"] for r in timm} == {"unstructured", "structured"}
    assert all(r["acc"] is None and r["batch"] == 1 for r in timm)


def test_bench_quantize_quick(capsys):
    result = _run(capsys, "quantize", "--quick", "--timm", "resnet10t")
    _check_envelope(result, "quantize")
    rows = {(r["model"], r["method"]): r for r in result["rows"]}
    int8 = rows["course", "int8_ptq"]
    assert int8["size_ratio"] > 3.5 and int8["bits"] == 8
    if "latency_ratio" in int8:  # compiled int8 is only ever compared with compiled float32
        assert int8["mode"] == "compiled"
    else:
        assert "not timed" in int8["note"]
    assert "latency_ratio" not in rows["course", "w4_ptq"]  # no 4-bit kernels: never timed
    assert rows["resnet10t", "int8_ptq"]["size_ratio"] > 3.5


def test_bench_search_quick(capsys):
    repeats = 2  # quick: two replays of each strategy
    result = _run(capsys, "search", "--repeats", str(repeats))
    _check_envelope(result, "search")
    assert result["grid_size"] == 384 and result["repeats"] == repeats
    assert {"width_points", "points_in_band", "definition"} <= set(result["band"])
    for row in result["rows"]:
        assert 1 <= row["median_evals_to_band"] <= result["budget"] + 1
        assert 0 <= row["reached_band"] <= 1


def test_bench_precision_quick(capsys):
    result = _run(capsys, "precision", "--quick", "--timm", "resnet10t")
    _check_envelope(result, "precision")
    rows = {(r["model"], r["method"]): r for r in result["rows"]}
    methods = ("float32", "bfloat16", "float16_scaled")
    assert {m for _, m in rows} == set(methods)
    for method in methods:
        course = rows["course", method]
        assert course["device"] == "cpu" and course["mode"] == "eager" and course["acc"] > 50
        low, high = course["acc_drop_ci"]
        assert low <= high
        timm = rows["resnet10t", method]
        assert timm["acc"] is None and timm["latency_ratio"] > 0
    assert rows["course", "float32"]["latency_ratio"] == 1.0
    for model in ("course", "resnet10t"):
        assert 0.3 < rows[model, "bfloat16"]["memory_ratio"] < 0.8


def test_bench_factorize_quick(capsys):
    result = _run(capsys, "factorize", "--quick", "--timm", "resnet10t")
    _check_envelope(result, "factorize")
    rows = {(r["model"], r["method"]): r for r in result["rows"]}
    methods = {"svd", "spatial", "tucker", "measured_ranks"}
    assert {m for model, m in rows if model == "course"} == methods
    assert {m for model, m in rows if model == "resnet10t"} == methods
    for row in result["rows"]:
        assert ROW_KEYS | {"param_ratio", "mac_ratio", "ranks"} <= set(row)
        if row.get("latency_ratio") is not None:
            assert row["mode"] == "eager"  # factorized eager against the eager original
    for method in ("svd", "spatial", "tucker"):
        course = rows["course", method]
        assert course["param_ratio"] >= 3 and course["mac_ratio"] > 1
        assert course["acc"] > course["acc_before_finetune"]  # one epoch already wins it back
        assert course["acc_drop_ci"][0] <= course["acc_drop_ci"][1]
        assert course["batch"] == 256 and "latency_ratio_batch1" in course
        assert rows["resnet10t", method]["param_ratio"] > 1.5
        assert rows["resnet10t", method]["acc"] is None
    chosen = rows["resnet10t", "measured_ranks"]
    assert chosen["batch"] == 1 if chosen["ranks"] else chosen["param_ratio"] == 1


def test_bench_distill_quick(capsys):
    result = _run(capsys, "distill", "--quick")
    _check_envelope(result, "distill")
    assert result["baseline"]["role"] == "teacher"
    rows = result["rows"]
    assert {r["method"] for r in rows} >= {"solo", "distilled", "pruned", "qat", "factorized"}
    for row in rows:
        assert row["seeds"] >= 5 and row["acc_ci"][0] <= row["acc"] <= row["acc_ci"][1]
        assert isinstance(row["distilled"], bool) and row["teacher_size_ratio"] >= 1
        if row["distilled"]:
            assert row["gain_ci"][0] <= row["gain_ci"][1]
    kinds = ("pruned", "qat", "factorized")
    compressed = [r for r in rows if r["method"] in kinds and r["distilled"]]
    assert all("gap_recovered" in r and len(r["gap_recovered_ci"]) == 2 for r in compressed)
    assert {r["weight"] for r in compressed} == {0.5, 0.9}
    ratio = {r["method"]: r["teacher_size_ratio"] for r in rows if r["method"] in kinds}
    assert ratio["pruned"] > 5 and ratio["factorized"] > 3 and ratio["qat"] == 1
    assert min(r["teacher_size_ratio"] for r in rows if r["method"] == "solo") >= 5
    assert 0 <= result["live"]["solo"] <= 100 and 0 <= result["live"]["distilled"] <= 100
