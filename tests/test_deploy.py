"""labkit.deploy: torch.export, PT2E int8, torch.compile and their fallbacks."""

import dataclasses

import pytest
import torch
from torch import nn

from labkit import deploy as D
from labkit import hardware
from labkit.measure import graph_tensors, tensor_bytes
from labkit.models import create_model


@pytest.fixture
def net():
    return create_model("small_cnn", width=8, kernel_size=3, seed=0).eval()


@pytest.mark.parametrize("calibration", [torch.zeros(0, 1, 16, 16), [], [torch.zeros(0)]])
def test_empty_calibration_set_is_refused(net, calibration):
    with pytest.raises(ValueError, match="argument 'calibration' is empty"):
        D.ptq_int8(net, calibration)


def test_a_compile_failure_is_reported_in_one_line_cut_at_a_word():
    err = RuntimeError("word " * 100 + "\nsecond line")
    text = D._first_line(err)
    assert text.startswith("RuntimeError: word") and text.endswith("...")
    assert "second" not in text and "wor ..." not in text


@pytest.fixture(scope="module")
def int8_model(baseline, data):
    return D.ptq_int8(baseline, data.train.X[:256])


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
        D.ptq_int8(DataDependent(), data.train.X[:8])
    assert "control flow" in str(err.value) and err.value.__cause__ is not None


def test_compile_model_falls_back_without_a_working_compiler(monkeypatch, net, capsys):
    real = hardware.cpu_features()
    fake = dataclasses.replace(real, compiler=None, compiler_problem="g++ failed to compile")
    monkeypatch.setattr(D, "cpu_features", lambda: fake)
    out = D.compile_model(net, torch.zeros(2, 1, 16, 16), name="tiny")
    assert out.compiled is False and out.model is net and out.mode == "eager"
    assert "no working C++ compiler" in capsys.readouterr().out
    assert "no working C++ compiler" in hardware.int8_expectation(fake)


def test_compile_model_falls_back_when_compile_fails(monkeypatch, net):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated inductor failure")

    monkeypatch.setattr(torch, "compile", broken)
    out = D.compile_model(net, torch.zeros(2, 1, 16, 16), verbose=False)
    assert out.compiled is False and "simulated inductor failure" in out.reason
    assert out.model(torch.zeros(2, 1, 16, 16)).shape == (2, 10)


def test_expectation_on_arm():
    fake = dataclasses.replace(hardware.cpu_features(), arch="arm64")
    assert "x86-only" in hardware.int8_expectation(fake)


def test_dynamic_int8_converts_linear_and_skips_conv(net):
    out, counts = D.dynamic_int8_linear(net)
    assert counts == {"linear_int8": 1, "linear_float": 0, "conv_float": 3}
    x = torch.randn(4, 1, 16, 16)
    assert torch.allclose(out(x), net(x), atol=0.05)
    assert not D._is_quantized(net.classifier.weight)  # the original is untouched


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
