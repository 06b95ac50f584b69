"""labkit.deploy: torch.export, PT2E int8, torch.compile and their fallbacks."""

import dataclasses

import pytest
import torch
from torch import nn

from labkit import deploy as D
from labkit import hardware
from labkit.measure import Ratio, graph_tensors, tensor_bytes
from labkit.models import create_model, fold_batchnorm
from labkit.quantize import int8 as I8
from labkit.quantize.affine import QParams, integer_linear, qparams_for


@pytest.fixture
def net():
    return create_model("small_cnn", width=8, kernel_size=3, seed=0).eval()


@pytest.mark.parametrize("calibration", [torch.zeros(0, 1, 16, 16), [], [torch.zeros(0)]])
def test_empty_calibration_set_is_refused(net, calibration):
    with pytest.raises(ValueError, match="argument 'calibration' is empty"):
        I8.ptq_int8(net, calibration)


def test_a_compile_failure_is_reported_in_one_line_cut_at_a_word():
    err = RuntimeError("word " * 100 + "\nsecond line")
    text = D._first_line(err)
    assert text.startswith("RuntimeError: word") and text.endswith("...")
    assert "second" not in text and "wor ..." not in text


@pytest.fixture(scope="module")
def int8_model(baseline, data):
    return I8.ptq_int8(baseline, data.train.X[:256])


def test_ptq_int8_reference_model_keeps_accuracy(int8_model, baseline, data):
    from labkit.train import evaluate

    assert abs(evaluate(int8_model, data.test).value - evaluate(baseline, data.test).value) < 0.01


def test_int8_size_counts_only_what_the_graph_reads(int8_model, baseline):
    tensors = graph_tensors(int8_model)
    assert any(t.dtype == torch.int8 for t in tensors.values())
    # the float weights still hang on the module, unused: they are not counted
    leftover = sum(p.numel() * 4 for p in int8_model.parameters())
    assert leftover > 0
    size = tensor_bytes(int8_model)
    ratio = tensor_bytes(baseline) / size
    assert 3.5 < ratio < 4.0
    assert size < tensor_bytes(list(int8_model.parameters()) + list(tensors.values()))


def test_model_that_cannot_be_exported_gets_the_reason(data):
    class DataDependent(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)

        def forward(self, x):
            if x.sum() > 0:  # control flow on tensor values: torch.export cannot capture it
                return self.conv(x)
            return -self.conv(x)

    with pytest.raises(D.ExportError, match="argument 'net' cannot be exported") as err:
        I8.ptq_int8(DataDependent(), data.train.X[:8])
    assert "control flow" in str(err.value) and err.value.__cause__ is not None


RAW = "/usr/bin/g++ failed to compile a test file (cc1plus: fatal error: stdio.h: no such file)"


@pytest.fixture
def no_compiler(monkeypatch):
    """A machine whose g++ is present but broken, as labkit.hardware.find_compiler reports it."""
    fake = dataclasses.replace(hardware.cpu_features(), compiler=None, compiler_problem=RAW)
    monkeypatch.setattr(D, "cpu_features", lambda: fake)
    return fake


def test_compile_model_falls_back_without_a_working_compiler(no_compiler, net, capsys):
    out = D.compile_model(net, torch.zeros(2, 1, 16, 16), name="tiny")
    assert out.compiled is False and out.model is net and out.mode == "eager"
    printed = capsys.readouterr().out
    assert "no working C++ compiler" in printed and "fatal error" not in printed
    assert "fatal error" not in out.reason and out.detail == RAW  # the raw text, kept aside
    assert "no working C++ compiler" in hardware.int8_expectation(no_compiler)


def test_the_notebooks_latency_path_without_a_compiler(no_compiler, int8_model, baseline, capsys):
    # What notebook 04's "Latency, side by side" cell runs, on a machine with a broken g++:
    # it must finish, label every row by what really ran, say what the numbers mean, never
    # call a ratio below 1 "faster", and print no compiler output.
    batch = torch.randn(16, 1, 28, 28)
    timing = I8.time_float32_and_int8(baseline, int8_model, batch, rounds=2, runs=3)
    report = timing.report()
    printed = capsys.readouterr().out + report
    assert set(timing.latency.rounds) == {"float32 eager", "int8 eager"}
    assert timing.int8_speedup is None and timing.compile_speedup is None
    assert "ran eagerly" in report and "reference graph" in report
    assert "both eager" in report and "both compiled" not in report
    assert "fatal error" not in printed and "cc1plus" not in printed
    ratio = timing.latency.ratio("int8 eager", "float32 eager")
    line = next(ln for ln in report.splitlines() if ln.startswith("int8 vs float32"))
    if ratio.high < 1:
        assert "slower" in line and "faster" not in line


@pytest.mark.parametrize(
    "ratio,words",
    [
        (Ratio(2.1, 1.9, 2.3, 5), "2.10x faster"),
        (Ratio(0.39, 0.35, 0.45, 5), "2.56x slower"),
        (Ratio(0.96, 0.90, 1.05, 5), "no clear difference"),
        (Ratio(1.2, 0.95, 1.3, 5), "no clear difference"),
    ],
)
def test_speed_words_never_call_a_slowdown_faster(ratio, words):
    text = D.speed_words(ratio)
    assert text.startswith(words)
    if ratio.median < 1:
        assert "faster" not in text
    with pytest.raises(TypeError, match="argument 'ratio'"):
        D.speed_words(0.5)


def test_compiled_timing_compares_like_with_like(int8_model, baseline):
    timing = I8.time_float32_and_int8(baseline, int8_model, torch.randn(8, 1, 28, 28), 2, 3, False)
    if timing.float32.compiled and timing.int8.compiled:
        assert set(timing.latency.rounds) == {"float32 eager", "float32 compiled", "int8 compiled"}
        assert timing.int8_speedup is not None and timing.compile_speedup is not None
        assert "int8 vs float32, both compiled" in timing.report()


def test_compile_model_falls_back_when_compile_fails(monkeypatch, net):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated inductor failure")

    monkeypatch.setattr(torch, "compile", broken)
    out = D.compile_model(net, torch.zeros(2, 1, 16, 16), verbose=False)
    assert out.compiled is False and "RuntimeError" in out.reason
    assert "simulated" not in out.reason and "simulated inductor failure" in out.detail
    assert out.model(torch.zeros(2, 1, 16, 16)).shape == (2, 10)


def test_expectation_on_arm():
    fake = dataclasses.replace(hardware.cpu_features(), arch="arm64")
    assert "x86-only" in hardware.int8_expectation(fake)


def test_dynamic_int8_converts_linear_and_skips_conv(net):
    out, counts = I8.dynamic_int8_linear(net)
    assert counts == {"linear_int8": 1, "linear_float": 0, "conv_float": 3}
    x = torch.randn(4, 1, 16, 16)
    assert torch.allclose(out(x), net(x), atol=0.05)
    assert not I8._is_quantized(net.classifier.weight)  # the original is untouched


def test_compiled_int8_gives_the_reference_models_answers(int8_model, data):
    out = D.compile_model(int8_model, data.test.X[:64], verbose=False)
    if hardware.cpu_features().compiler:
        assert out.compiled, out.reason
    with torch.no_grad():
        ref = int8_model(data.test.X[:64]).argmax(1)
        got = out.model(data.test.X[:64]).argmax(1)
    assert (ref == got).float().mean() >= 0.98


def test_export_leaves_the_callers_model_in_its_mode(net):
    net.train()
    D.export_model(net, torch.zeros(2, 1, 16, 16))
    assert net.training


def test_compiling_many_models_of_one_class_keeps_each_compiled():
    # torch.compile keeps a few variants per forward() code object; compile_model raises the
    # limit so that a benchmark that compiles several SmallCNNs never times an eager fallback.
    compile_model = D.compile_model
    models = [create_model("small_cnn", width=w, seed=0).eval() for w in (4, 6, 8)]
    outs = [compile_model(m, torch.zeros(2, 1, 16, 16), verbose=False) for m in models]
    assert torch._dynamo.config.recompile_limit >= 64
    if hardware.cpu_features().compiler:
        assert all(o.compiled for o in outs)


def test_ptq_int8_times_each_step(baseline, data):
    timings = {}
    I8.ptq_int8(baseline, data.train.X[:64], timings=timings)
    assert list(timings) == ["export", "prepare", "calibrate", "convert"]
    assert all(t >= 0 for t in timings.values())
    with pytest.raises(TypeError, match="argument 'timings'"):
        I8.ptq_int8(baseline, data.train.X[:64], timings=[])


def test_graph_counts_and_bytes_by_dtype(int8_model, baseline):
    counts = I8.graph_op_counts(int8_model)
    assert counts["conv2d"] == 3 and counts["linear"] == 1 and counts["dequantize_per_channel"] == 4
    stored = I8.graph_bytes_by_dtype(int8_model)
    assert sum(v for k, v in stored.items() if k != "unused") == tensor_bytes(int8_model)
    assert stored["int8"] == sum(
        m.weight.numel()
        for m in fold_batchnorm(baseline).modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    )
    assert stored["unused"] > 0
    with pytest.raises(TypeError, match="argument 'gm'"):
        I8.graph_op_counts(baseline)


def test_integer_linear_agrees_with_the_int8_graphs_classifier(int8_model, baseline, data):
    lib = I8.last_linear_in_graph(int8_model, data.test.X[:200])
    assert lib.x_q.min() >= 0 and lib.x_q.max() <= 255 and lib.w_q.abs().max() <= 128
    x_qp = QParams(torch.tensor(lib.x_scale), torch.tensor(lib.x_zero_point), 0, 255)
    out_qp = qparams_for(lib.y, 8, symmetric=False)
    ours = integer_linear(lib.x, baseline.classifier, x_qp, out_qp)
    assert torch.equal(ours["x_q"].long(), lib.x_q) and torch.equal(ours["w_q"].long(), lib.w_q)
    steps = (ours["y"] - lib.y).abs() / out_qp.scale
    assert float((steps <= 1).float().mean()) >= 0.99
    with torch.no_grad():
        assert torch.allclose(lib.y, int8_model(data.test.X[:200]))


def test_last_linear_in_graph_bad_input(baseline, data):
    with pytest.raises(TypeError, match="argument 'gm'"):
        I8.last_linear_in_graph(baseline, data.test.X[:4])
    exported = D.export_model(baseline, data.test.X[:4])
    with pytest.raises(ValueError, match="converted int8 graph"):
        I8.last_linear_in_graph(exported, data.test.X[:4])
