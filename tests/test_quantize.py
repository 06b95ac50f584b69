import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from labkit import quantize as L
from labkit import quantize as Q
from labkit.measure import tensor_bytes
from labkit.models import create_model


@pytest.fixture
def net():
    return create_model("small_cnn", width=8, kernel_size=3, seed=0).eval()


# ----------------------------------------------------------------- the affine mapping


@pytest.mark.parametrize(
    "bits,signed,expected",
    [(8, True, (-128, 127)), (8, False, (0, 255)), (4, True, (-8, 7)), (2, False, (0, 3))],
)
def test_qrange(bits, signed, expected):
    assert Q.qrange(bits, signed) == expected


@pytest.mark.parametrize("bits", [1, 17, 0, -3])
def test_bits_outside_2_to_16_are_refused_by_name(bits):
    with pytest.raises(ValueError, match="argument 'bits'.*\\[2, 16\\]"):
        Q.qrange(bits)
    with pytest.raises(ValueError, match="argument 'bits'"):
        Q.qparams(-1.0, 1.0, bits=bits)
    with pytest.raises(ValueError, match="argument 'bits'"):
        L.quantize_weights(nn.Linear(2, 2), bits)


def test_course_brief_example_3_14_maps_to_an_integer_and_back():
    qp = Q.qparams(-3.2, 3.2, bits=8, symmetric=True)
    q = Q.quantize(torch.tensor([3.14]), qp)
    assert q.dtype == torch.int64 and -128 <= int(q) <= 127
    assert abs(float(Q.dequantize(q, qp)) - 3.14) <= float(qp.scale) / 2


# PyTorch's own quantize ops: the ones exported int8 graphs (PT2E) are made of.
DECOMPOSED = torch.ops.quantized_decomposed


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_quantize_matches_pytorch_quantize_per_tensor(symmetric, seed):
    import torchao.quantization.pt2e  # noqa: F401  (registers the ops)

    torch.manual_seed(seed)
    x = torch.randn(5000) * 3 + (0 if symmetric else 1.5)
    qp = Q.qparams_for(x, 8, symmetric=symmetric)
    dtype = torch.int8 if qp.qmin < 0 else torch.uint8
    args = (float(qp.scale), int(qp.zero_point), qp.qmin, qp.qmax, dtype)
    ref = DECOMPOSED.quantize_per_tensor.default(x, *args)
    assert torch.equal(Q.quantize(x, qp), ref.long())
    back = DECOMPOSED.dequantize_per_tensor.default(ref, *args)
    assert torch.allclose(Q.dequantize(Q.quantize(x, qp), qp), back)


@pytest.mark.parametrize("seed", range(3))
def test_per_channel_matches_pytorch_quantize_per_channel_and_fake_quantize(seed):
    import torchao.quantization.pt2e  # noqa: F401

    torch.manual_seed(seed)
    w = torch.randn(16, 8, 3, 3) * torch.linspace(0.1, 2, 16).view(-1, 1, 1, 1)
    qp = Q.qparams_for(w, 8, symmetric=True, per_channel=True, axis=0)
    ref = DECOMPOSED.quantize_per_channel.default(
        w, qp.scale, qp.zero_point, 0, qp.qmin, qp.qmax, torch.int8
    )
    assert torch.equal(Q.quantize(w, qp), ref.long())
    fq = torch.fake_quantize_per_channel_affine(
        w, qp.scale, qp.zero_point.int(), 0, qp.qmin, qp.qmax
    )
    assert torch.allclose(Q.fake_quantize(w, qp), fq)


@pytest.mark.parametrize("symmetric", [True, False])
def test_qparams_match_torchao_minmax_observer(symmetric):
    from torchao.quantization.pt2e.observer import MinMaxObserver

    x = torch.randn(500) + 0.3
    scheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    obs = MinMaxObserver(dtype=torch.qint8 if symmetric else torch.quint8, qscheme=scheme)
    obs(x)
    scale, zero = obs.calculate_qparams()
    ours = Q.qparams_for(x, 8, symmetric=symmetric)
    assert torch.allclose(ours.scale, scale.squeeze(), rtol=1e-6)
    assert int(ours.zero_point) == int(zero)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=2, max_size=50),
    st.integers(2, 16),
    st.booleans(),
)
def test_rounding_error_is_at_most_half_a_step_inside_the_range(values, bits, symmetric):
    x = torch.tensor(values)
    qp = Q.qparams_for(x, bits, symmetric=symmetric)
    err = (Q.fake_quantize(x, qp) - x).abs().max()
    # half a step, plus float32 rounding of x * (1 / scale) near 2^16
    assert float(err) <= float(qp.scale) * 0.51 + 1e-6
    q = Q.quantize(x, qp)
    assert int(q.min()) >= qp.qmin and int(q.max()) <= qp.qmax


def test_zero_is_exact_and_more_bits_means_less_error():
    x = torch.randn(10_000)
    errors = []
    for bits in (2, 4, 8, 16):
        qp = Q.qparams_for(x, bits, symmetric=False)
        assert float(Q.fake_quantize(torch.zeros(1), qp)) == 0.0
        errors.append(Q.quantization_error(x, qp)["mse"])
    assert errors == sorted(errors, reverse=True) and errors[-1] < errors[0] / 1000


def test_per_channel_beats_per_tensor_when_channels_differ():
    w = torch.randn(8, 64) * torch.logspace(-2, 0, 8).view(-1, 1)
    per_tensor = Q.quantization_error(w, Q.qparams_for(w, 4, True, per_channel=False))["mse"]
    per_channel = Q.quantization_error(w, Q.qparams_for(w, 4, True, per_channel=True))["mse"]
    assert per_channel < per_tensor / 2


def test_qparams_bad_input():
    with pytest.raises(ValueError, match="'lo' must not be larger"):
        Q.qparams(1.0, -1.0)
    with pytest.raises(ValueError, match="finite"):
        Q.qparams(float("nan"), 1.0)
    with pytest.raises(ValueError, match="need 'axis'"):
        Q.qparams(torch.zeros(3), torch.ones(3))
    with pytest.raises(TypeError, match="argument 'qp'"):
        Q.quantize(torch.ones(2), (0.1, 0))


# ----------------------------------------------------------------- calibration


def test_calibration_methods_on_data_with_an_outlier():
    torch.manual_seed(0)
    values = torch.cat([torch.rand(100_000), torch.tensor([50.0])])
    lo, hi = Q.calibration_range(values, "minmax")
    assert hi == 50.0
    _, hi_p = Q.calibration_range(values, "percentile", percentile=99.9)
    assert hi_p < 1.01
    _, hi_m = Q.calibration_range(values, "mse", bits=8)
    assert hi_m < 50.0
    bulk = values[:-1]  # the typical values, without the outlier
    errs = {
        m: Q.quantization_error(bulk, Q.qparams(*Q.calibration_range(values, m), 8))["mse"]
        for m in Q.CALIBRATION_METHODS
    }
    # mse weighs the outlier's own clipping error too, so it clips less than percentile
    assert errs["mse"] < errs["minmax"] and errs["percentile"] < errs["minmax"] / 100


def test_calibration_bad_input():
    with pytest.raises(ValueError, match="argument 'method'"):
        Q.calibration_range(torch.ones(3), "average")
    with pytest.raises(ValueError, match="argument 'values' is empty"):
        Q.calibration_range(torch.ones(0))


@pytest.mark.parametrize("calibration", [torch.zeros(0, 1, 16, 16), [], [torch.zeros(0)]])
def test_empty_calibration_set_is_refused(net, calibration):
    with pytest.raises(ValueError, match="argument 'calibration' is empty"):
        Q.collect_inputs(net, calibration)


def test_simulated_int8_keeps_accuracy_and_2_bit_activations_do_not(baseline, data):
    from labkit.train import evaluate

    calib = data.train.X[:256]
    before = copy.deepcopy(baseline.state_dict())
    full = evaluate(baseline, data.test).value
    int8 = evaluate(Q.simulate_quantized(baseline, calib, 8, 8), data.test).value
    a2 = evaluate(Q.simulate_quantized(baseline, calib, None, 2), data.test).value
    assert abs(int8 - full) <= 0.01
    assert a2 < full - 0.05
    for k, v in baseline.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k])


# ----------------------------------------------------------------- integer-only layer


def test_integer_linear_matches_float_within_a_few_steps():
    torch.manual_seed(0)
    layer = nn.Linear(64, 10)
    x = torch.rand(32, 64)
    y = layer(x).detach()
    x_qp = Q.qparams_for(x, 8, symmetric=False)
    out_qp = Q.qparams_for(y, 8, symmetric=False)
    r = Q.integer_linear(x, layer, x_qp, out_qp)
    assert r["acc_int32"].dtype == torch.int32
    # The accumulator is exact integer arithmetic: check it against int64 matmul.
    exact = (r["x_q"].long() - int(x_qp.zero_point)) @ r["w_q"].long().T
    w_scale = Q.qparams_for(layer.weight.detach(), 8, True, True, 0).scale
    bias_q = torch.round(layer.bias.detach().double() / (x_qp.scale.double() * w_scale)).long()
    assert torch.equal(r["acc_int32"].long(), exact + bias_q)
    assert (r["y"] - y).abs().max() < 4 * float(out_qp.scale)
    # integers only, and never more than one step from the float64 multiply
    assert r["y_q"].dtype == torch.int64 and r["m0"].dtype == torch.int64
    assert int((r["y_q"] - r["y_q_float"]).abs().max()) <= 1


def test_integer_linear_takes_the_weight_grid_it_is_given():
    torch.manual_seed(1)
    layer = nn.Linear(16, 4)
    x = torch.rand(8, 16)
    w_qp = Q.qparams_for(layer.weight.detach(), 4, symmetric=True)  # 4 bits, per tensor
    qp = Q.qparams_for(x, 8, symmetric=False)
    r = Q.integer_linear(x, layer, qp, Q.qparams_for(layer(x).detach(), 8, False), w_qp=w_qp)
    assert int(r["w_q"].min()) >= -8 and int(r["w_q"].max()) <= 7


@settings(max_examples=60, deadline=None)
@given(st.floats(2**-31, 1, exclude_max=True, allow_nan=False))
def test_fixed_point_multiplier_is_m0_times_a_power_of_two(m):
    m0, shift = Q.fixed_point_multiplier(m)
    assert 2**30 <= int(m0) < 2**31 and 1 <= int(shift) <= 61
    assert abs(int(m0) * 2.0 ** -int(shift) / m - 1) <= 2**-30


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(-(2**31) + 1, 2**31 - 1), min_size=1, max_size=20),
    st.floats(2**-20, 0.99, allow_nan=False),
)
def test_requantize_is_within_one_step_of_the_float_multiply(values, m):
    acc = torch.tensor(values, dtype=torch.int32)
    m0, shift = Q.fixed_point_multiplier(m)
    got = Q.requantize(acc, m0, shift)
    assert got.dtype == torch.int64
    assert float((got.double() - torch.round(acc.double() * m)).abs().max()) <= 1


def test_requantize_rounds_halves_up_with_a_shift():
    acc = torch.tensor([3, 5, -3, -5, 4], dtype=torch.int32)
    m0, shift = torch.tensor(2**30), torch.tensor(31)  # multiply by exactly 1/2
    assert Q.requantize(acc, m0, shift).tolist() == [2, 3, -1, -2, 2]


@pytest.mark.parametrize("m", [0.0, -0.5, 1.0, 2.0**-32, float("nan"), float("inf")])
def test_fixed_point_multiplier_bad_input(m):
    with pytest.raises(ValueError, match="argument 'm'"):
        Q.fixed_point_multiplier(m)


def test_requantize_bad_input():
    m0, shift = Q.fixed_point_multiplier(0.5)
    with pytest.raises(TypeError, match="argument 'acc' must be an integer tensor"):
        Q.requantize(torch.ones(3), m0, shift)
    with pytest.raises(ValueError, match="argument 'shift'"):
        Q.requantize(torch.ones(3, dtype=torch.int32), m0, torch.tensor(0))


def test_quantizer_errors_names_every_quantizer():
    w = torch.randn(8, 4, 3, 3) * torch.logspace(-2, 0, 8).view(-1, 1, 1, 1)  # channels differ
    errors = Q.quantizer_errors(w, bits=(8, 4))
    assert len(errors) == 8 and "4-bit asymmetric per-channel" in errors
    for bits in (8, 4):
        for mapping in ("symmetric", "asymmetric"):
            pc, pt = (
                errors[f"{bits}-bit {mapping} per-channel"],
                errors[f"{bits}-bit {mapping} per-tensor"],
            )
            assert pc["mse"] <= pt["mse"]
    with pytest.raises(ValueError, match="argument 'bits'"):
        Q.quantizer_errors(w, bits=(1,))


def test_integer_linear_bad_input():
    layer = nn.Linear(4, 2)
    qp = Q.qparams(0.0, 1.0)
    with pytest.raises(ValueError, match="argument 'x' must have 4 columns"):
        Q.integer_linear(torch.ones(3, 5), layer, qp, qp)
    with pytest.raises(TypeError, match="argument 'layer'"):
        Q.integer_linear(torch.ones(3, 4), nn.Conv2d(1, 1, 1), qp, qp)
    with pytest.raises(TypeError, match="must be QParams"):
        Q.integer_linear(torch.ones(3, 4), layer, qp, (0.1, 0))


# ----------------------------------------------------------------- sizes


def test_float_and_packed_sizes(net):
    n_float = sum(t.numel() for t in net.state_dict().values() if t.is_floating_point())
    assert tensor_bytes(net) >= 4 * n_float
    w = sum(m.weight.numel() for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    p8, p4 = L.packed_bytes(net, 8), L.packed_bytes(net, 4)
    assert p8 - p4 == pytest.approx(w / 2, abs=4)
    assert tensor_bytes(net) / p8 > 3


# ----------------------------------------------------------------- QAT and codebooks


def test_fake_quant_weight_uses_straight_through_gradient():
    layer = L.add_fake_quant(nn.Linear(8, 4), 4)
    w = layer.weight
    assert len(torch.unique(w[0])) <= 16
    layer(torch.ones(1, 8)).sum().backward()
    g = layer.parametrizations.weight.original.grad
    assert torch.allclose(g, torch.ones(4, 8))  # d(sum)/dW passes through rounding unchanged
    L.bake_fake_quant(layer)
    assert isinstance(layer.weight, nn.Parameter) and len(torch.unique(layer.weight[0])) <= 16


def test_quantize_weights_puts_each_channel_on_its_grid(net):
    q = L.quantize_weights(net, 3)
    for m in q.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            for row in m.weight.flatten(1):
                assert len(torch.unique(row)) <= 8


def test_quantize_weights_per_layer_uses_one_grid_per_layer(net):
    q = L.quantize_weights(net, 3, per_channel=False)
    for m in q.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            assert len(torch.unique(m.weight)) <= 8
            steps = torch.unique(m.weight).diff()
            assert torch.allclose(steps / steps.min(), (steps / steps.min()).round(), atol=1e-3)
    with pytest.raises(TypeError, match="argument 'per_channel'"):
        L.quantize_weights(net, 3, per_channel="no")


def test_packed_bytes_per_layer_keeps_one_scale_per_layer(net):
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    channels = sum(m.weight.shape[0] for m in layers)
    saved = L.packed_bytes(net, 4) - L.packed_bytes(net, 4, per_channel=False)
    assert saved == 4 * (channels - len(layers))
    with pytest.raises(TypeError, match="argument 'per_channel'"):
        L.packed_bytes(net, 4, per_channel=1)


@pytest.mark.parametrize("k", [4, 16])
def test_kmeans_1d_agrees_with_scikit_learn_on_real_weights(baseline, k):
    from sklearn.cluster import KMeans

    w = baseline.features[4].weight.detach().flatten()
    centroids, idx = L.kmeans_1d(w, k, iterations=100)
    ours = float(((w - centroids[idx]) ** 2).sum())
    km = KMeans(k, n_init=10, random_state=0).fit(w.numpy().reshape(-1, 1))
    assert ours <= km.inertia_ * 1.03
    assert len(centroids) == k and torch.all(centroids[1:] > centroids[:-1])
    # every value sits at its nearest centroid
    nearest = (w[:, None] - centroids[None]).abs().argmin(1)
    assert torch.equal(nearest, idx)


def test_codebook_quantize_uses_2_to_the_bits_values_per_layer(net):
    q = L.codebook_quantize(net, 2)
    for m in q.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            assert len(torch.unique(m.weight)) <= 4
    assert L.packed_bytes(q, 2, codebook=True) < L.packed_bytes(q, 2)


def test_qat_recovers_accuracy_at_2_bits(baseline, data):
    from labkit.train import evaluate

    ptq = evaluate(L.quantize_weights(baseline, 2), data.test).value
    trained, history = L.qat(baseline, data, bits=2, epochs=2, progress=False)
    after = evaluate(trained, data.test).value
    assert after > ptq + 0.05
    for m in trained.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            for row in m.weight.flatten(1):
                assert len(torch.unique(row)) <= 4


def test_qat_bad_input(net, data):
    with pytest.raises(TypeError, match="argument 'data' must be a labkit.data.Dataset"):
        L.qat(net, [1, 2, 3], bits=4)
    with pytest.raises(ValueError, match="argument 'bits'"):
        L.qat(net, data, bits=1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cast_model_halves_the_bytes_and_keeps_the_answers(net, dtype):
    from labkit.models import fold_batchnorm

    folded = fold_batchnorm(net)
    half = L.cast_model(folded, dtype)
    assert tensor_bytes(folded) == 2 * tensor_bytes(half.net)
    x = torch.randn(4, 1, 16, 16)
    out = half(x)
    assert out.dtype == torch.float32 and torch.allclose(out, folded(x), atol=0.05)
    assert next(folded.parameters()).dtype == torch.float32  # the original is untouched


def test_cast_model_bad_input(net):
    with pytest.raises(ValueError, match="argument 'dtype'"):
        L.cast_model(net, torch.int8)
    with pytest.raises(TypeError, match="argument 'net'"):
        L.cast_model("net", torch.float16)


def test_nan_and_wrong_types_are_refused_before_any_work():
    nan = torch.tensor([1.0, float("nan"), 2.0])
    with pytest.raises(ValueError, match="argument 'values' holds NaN"):
        Q.calibration_range(nan)
    with pytest.raises(ValueError, match="argument 'values' holds NaN"):
        L.kmeans_1d(nan, 2)
    with pytest.raises(TypeError, match="argument 'qp'"):
        Q.dequantize(torch.ones(3), "qp")
    with pytest.raises(TypeError, match="argument 'calibration'"):
        Q.collect_inputs(create_model("small_cnn"), "images")
