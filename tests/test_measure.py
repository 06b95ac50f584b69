import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from labkit.measure import (
    activation_memory,
    compare_latency,
    count_macs,
    count_parameters,
    file_bytes,
    format_bytes,
    measure_latency,
    peak_memory,
    sparsity,
    tensor_bytes,
)
from labkit.models import SmallCNN, create_model


def test_count_parameters_counts_weights_and_biases():
    assert count_parameters(nn.Linear(3, 4)) == 16
    frozen = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    frozen[0].requires_grad_(False)
    assert count_parameters(frozen, trainable_only=True) == 10


def test_file_bytes_grow_with_the_parameters_and_exceed_the_tensor_bytes():
    small, big = file_bytes(SmallCNN(width=8)), file_bytes(SmallCNN(width=32))
    assert big > small > tensor_bytes(SmallCNN(width=8)) > 4 * count_parameters(SmallCNN(width=8))


def test_tensor_bytes_count_parameters_and_buffers_once():
    net = SmallCNN(width=8)
    numbers = sum(t.numel() * t.element_size() for t in net.state_dict().values())
    assert tensor_bytes(net) == numbers == tensor_bytes(net.state_dict())
    shared = torch.zeros(10)
    assert tensor_bytes([shared, shared]) == 40
    with pytest.raises(TypeError, match="argument 'obj'"):
        tensor_bytes(3)


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
        lambda: file_bytes(3),
        lambda: peak_memory(5),
        lambda: count_macs(SmallCNN(), torch.zeros(0, 1, 16, 16)),
        lambda: compare_latency({}, torch.zeros(1)),
    ],
)
def test_measure_functions_reject_bad_input(bad):
    with pytest.raises((TypeError, ValueError), match="argument"):
        bad()


def test_ratios_are_taken_inside_each_round_and_summarized():
    from labkit.measure import Latency, LatencyComparison

    def lat(ms):
        return Latency(median_ms=ms, p10_ms=ms, p90_ms=ms, runs=1, threads=1)

    timings = LatencyComparison(
        {"base": [lat(30.0), lat(60.0), lat(30.0)], "fast": [lat(7.5), lat(12.0), lat(10.0)]}
    )
    ratio = timings.ratio("fast", "base")
    assert (ratio.median, ratio.low, ratio.high, ratio.rounds) == (4.0, 3.0, 5.0, 3)
    assert timings["base"].median_ms == 30.0
    with pytest.raises(ValueError, match="argument 'name' must be one of the timed models"):
        timings.ratio("slow", "base")


def test_compare_latency_times_every_model_side_by_side():
    net = SmallCNN().eval()
    result = compare_latency({"a": net, "b": net}, torch.zeros(2, 1, 16, 16), rounds=3, runs=3)
    assert set(result) == {"a", "b"} and all(len(r) == 3 for r in result.rounds.values())
    assert 0 < result.ratio("a", "b").median
    with pytest.raises(ValueError, match="nets"):
        compare_latency({}, torch.zeros(1))


def test_count_macs_leaves_the_model_as_it_was_and_counts_transposed_convs():
    net = create_model("resnet18", num_classes=10)  # in training mode, with batch norm
    before = {k: v.clone() for k, v in net.state_dict().items()}
    count_macs(net, torch.zeros(1, 3, 32, 32))  # one image: training-mode batch norm would fail
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    up = nn.ConvTranspose2d(4, 8, 3, stride=2)
    x = torch.zeros(1, 4, 5, 5)
    with FlopCounterMode(display=False) as counter:
        up(x)
    assert 2 * count_macs(up, x) == counter.get_total_flops() > 0


def test_activation_memory_leaves_batch_norm_statistics_alone():
    net = SmallCNN()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    activation_memory(net, torch.randn(8, 1, 16, 16), torch.zeros(8, dtype=torch.long))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_activation_memory_counts_a_slice_as_the_slice_not_its_whole_storage():
    net = SmallCNN()
    big = torch.randn(2000, 1, 16, 16)
    y = torch.zeros(2000, dtype=torch.long)
    small, large = (
        activation_memory(net, big[:8], y[:8]),
        activation_memory(net, big[:512], y[:512]),
    )
    assert large == pytest.approx(64 * small, rel=0.02)
