import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labkit.measure import (
    activation_memory,
    count_macs,
    count_parameters,
    format_bytes,
    measure_latency,
    peak_memory,
    serialized_size,
    sparsity,
    speedup,
)
from labkit.models import SmallCNN, create_model


def test_count_parameters_counts_weights_and_biases():
    assert count_parameters(nn.Linear(3, 4)) == 16
    frozen = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    frozen[0].requires_grad_(False)
    assert count_parameters(frozen, trainable_only=True) == 10


def test_serialized_size_grows_with_the_parameters():
    small, big = serialized_size(SmallCNN(width=8)), serialized_size(SmallCNN(width=32))
    assert big > small > 4 * count_parameters(SmallCNN(width=8))


@pytest.mark.parametrize(
    "net, shape", [(SmallCNN(), (2, 1, 16, 16)), (SmallCNN(width=8, kernel_size=5), (1, 1, 16, 16))]
)
def test_macs_agree_with_pytorch_flop_counter(net, shape):
    x = torch.zeros(shape)
    with FlopCounterMode(display=False) as counter:
        net(x)
    assert 2 * count_macs(net, x) == counter.get_total_flops()


def test_macs_agree_with_pytorch_on_a_timm_resnet():
    net = create_model("resnet18", num_classes=10).eval()
    x = torch.zeros(1, 3, 64, 64)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x)
    assert 2 * count_macs(net, x) == counter.get_total_flops()


def test_sparsity_of_tensors_and_models():
    assert sparsity(torch.tensor([0.0, 1.0, 0.0, 2.0])) == 0.5
    net = SmallCNN()
    with torch.no_grad():
        net.classifier.weight.zero_()
    expected = net.classifier.weight.numel() / sum(
        m.weight.numel() for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)
    )
    assert sparsity(net) == pytest.approx(expected)
    with pytest.raises(ValueError, match="no conv or linear"):
        sparsity(nn.ReLU())


def test_latency_reports_a_median_inside_its_spread_and_restores_threads():
    before = torch.get_num_threads()
    lat = measure_latency(SmallCNN().eval(), torch.zeros(1, 1, 16, 16), runs=10, threads=1)
    assert 0 < lat.p10_ms <= lat.median_ms <= lat.p90_ms and lat.threads == 1
    assert torch.get_num_threads() == before


def test_latency_refuses_a_model_in_training_mode():
    with pytest.raises(ValueError, match="net.eval"):
        measure_latency(SmallCNN(), torch.zeros(1, 1, 16, 16))


@given(runs=st.integers(-3, 2) | st.floats(3, 10))
def test_latency_rejects_bad_run_counts(runs):
    with pytest.raises((ValueError, TypeError), match="runs"):
        measure_latency(SmallCNN().eval(), torch.zeros(1, 1, 16, 16), runs=runs)


def test_peak_memory_sees_a_large_allocation():
    usage = peak_memory(lambda: torch.ones(64 * 2**20 // 4).sum())
    assert usage.extra_bytes > 48 * 2**20
    assert usage.result.item() == 64 * 2**20 // 4


def test_activation_memory_grows_in_proportion_to_the_batch():
    net = SmallCNN()

    def measure(n):
        return activation_memory(net, torch.zeros(n, 1, 16, 16), torch.zeros(n, dtype=torch.long))

    small, big = measure(8), measure(1024)
    assert big == pytest.approx(128 * small, rel=0.02)
    # conv1's output alone (16 channels x 16 x 16 float32 per image) must be among what is kept
    assert small > 8 * 16 * 16 * 16 * 4
    assert all(p.grad is None for p in net.parameters())  # nothing left behind
    with pytest.raises(ValueError, match="same number"):
        activation_memory(net, torch.zeros(4, 1, 16, 16), torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize(
    "n, text",
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"), (5 * 2**20, "5.0 MB"), (3 * 2**30, "3.0 GB")],
)
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize(
    "bad",
    [
        lambda: count_parameters("net"),
        lambda: sparsity([1, 2]),
        lambda: serialized_size(3),
        lambda: peak_memory(5),
        lambda: count_macs(SmallCNN(), torch.zeros(0, 1, 16, 16)),
        lambda: speedup({}, "a", "b"),
    ],
)
def test_measure_functions_reject_bad_input(bad):
    with pytest.raises((TypeError, ValueError), match="argument"):
        bad()


def test_speedup_divides_the_reference_median_by_the_models():
    from labkit.measure import Latency

    def lat(ms):
        return Latency(median_ms=ms, p10_ms=ms, p90_ms=ms, runs=1, threads=1)

    timings = {"base": lat(30.0), "fast": lat(7.0)}
    assert speedup(timings, "fast", "base") == 4.286
    assert speedup(timings, "base", "fast") == 0.233
    with pytest.raises(ValueError, match="argument 'name' must be one of 'base', 'fast'"):
        speedup(timings, "slow", "base")
