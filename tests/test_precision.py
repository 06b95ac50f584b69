import pytest
import torch

from labkit import precision as P
from labkit import precision as amp
from labkit.models import create_model

# ----------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "dtype,exponent,mantissa,largest",
    [
        ("float32", 8, 23, 3.4028234663852886e38),
        ("float16", 5, 10, 65504.0),
        ("bfloat16", 8, 7, None),
    ],
)
def test_format_info_reads_finfo(dtype, exponent, mantissa, largest):
    info = P.format_info(dtype)
    assert (info.exponent_bits, info.mantissa_bits) == (exponent, mantissa)
    assert info.bits == 1 + exponent + mantissa
    if largest:
        assert info.max == largest
    # the smallest subnormal really is the smallest positive number of the format
    tiny = torch.tensor(info.smallest_subnormal, dtype=torch.float64).to(P.FORMATS[dtype])
    assert float(tiny) == info.smallest_subnormal
    assert (
        float(torch.tensor(info.smallest_subnormal / 2.1, dtype=torch.float64).to(tiny.dtype)) == 0
    )


@pytest.mark.parametrize("dtype", list(P.FORMATS))
@pytest.mark.parametrize("x", [1.0, -3.14, 0.1, 1e-5, 6e-8, 1e30, 65504.0, 0.0])
def test_decoding_the_bits_gives_what_pytorch_stores(dtype, x):
    stored = float(torch.tensor(x, dtype=torch.float64).to(P.FORMATS[dtype]))
    assert P.decode(*P.bit_fields(x, dtype)) == stored


def test_running_sum_stalls_in_16_bits():
    values = torch.full((4096,), 0.01)
    assert abs(P.running_sum(values, "float32") - 40.96) < 0.01
    assert P.running_sum(values, "float16") == 32  # 0.01 is below half a step at 32
    assert P.running_sum(values, "bfloat16") < P.running_sum(values, "float16")


def test_fate_in_counts_underflow_and_overflow():
    v = torch.tensor([1e-9, 1e-6, 1.0, 1e5])
    fate = P.fate_in(v, "float16")
    assert fate == {"underflow": 0.25, "subnormal": 0.25, "normal": 0.25, "overflow": 0.25}
    scaled = P.fate_in(v, "float16", scale=1024)
    assert scaled["underflow"] == 0 and scaled["overflow"] == 0.25
    assert P.fate_in(v, "bfloat16")["normal"] == 1.0


def test_round_trip_error_orders_the_formats():
    t = torch.randn(1000, generator=torch.Generator().manual_seed(0))
    assert P.round_trip_error(t, "float32") == 0
    assert 4 < P.round_trip_error(t, "bfloat16") / P.round_trip_error(t, "float16") < 16


# ----------------------------------------------------------------- autocast


def test_autocast_ops_records_what_ran_in_16_bits():
    net = create_model("small_cnn", width=8, seed=0).eval()
    X, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])
    records = P.autocast_ops(lambda: torch.nn.functional.cross_entropy(net(X), y))
    out = {r.op: r.output for r in records}
    assert out["convolution"] == "bfloat16" and out["addmm"] == "bfloat16"
    assert out["_log_softmax"] == "float32" and out["nll_loss_forward"] == "float32"
    fp16 = P.autocast_ops(lambda: net(X), dtype=torch.float16)
    assert {r.output for r in fp16 if r.op == "convolution"} == {"float16"}


# ----------------------------------------------------------------- loss scaling


def test_dynamic_scaler_rule():
    s = P.DynamicScaler(init_scale=8.0, growth_interval=2)
    s.update(False)
    assert s.get_scale() == 8.0
    s.update(False)
    assert s.get_scale() == 16.0 and s.good_steps == 0
    s.update(False)
    s.update(True)
    assert s.get_scale() == 8.0 and s.good_steps == 0
    with pytest.raises(TypeError, match="found_inf"):
        s.update("no")  # a string is not a verdict (it would have halved the scale)
    with pytest.raises(RuntimeError, match="step"):
        s.update()  # nothing found yet: no step was taken


def test_dynamic_scaler_holds_at_the_largest_float32_power_of_two_as_grad_scaler_does():
    ours = P.DynamicScaler(init_scale=2.0**126, growth_interval=1)
    theirs = torch.amp.GradScaler("cpu", init_scale=2.0**126, growth_interval=1)
    net = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    for _ in range(4):  # 2^126 -> 2^127, then 2^128 would be inf in float32: both hold
        for scaler in (ours, theirs):
            opt.zero_grad()
            scaler.scale(net(torch.zeros(1, 1)).sum() * 0).backward()
            scaler.step(opt)
            scaler.update()
    assert ours.get_scale() == theirs.get_scale() == 2.0**127


def test_dynamic_scaler_has_grad_scalers_methods_so_fit_runs_with_either(data):
    from labkit.train import SCALER_METHODS

    assert all(callable(getattr(P.DynamicScaler(), m)) for m in SCALER_METHODS)


def test_our_scaler_matches_grad_scaler_step_for_step(data):
    settings = dict(init_scale=2.0**24, growth_interval=4)
    ours = amp.scaler_run(P.DynamicScaler(**settings), data.train, steps=40)
    theirs = amp.scaler_run(torch.amp.GradScaler("cpu", **settings), data.train, steps=40)
    assert ours.scales == theirs.scales
    assert ours.skipped == theirs.skipped
    # not trivial: it overflowed at first, skipped steps, and grew again after good steps
    assert ours.skipped[:3] == [0, 1, 2]
    assert any(b > a for a, b in zip(ours.scales, ours.scales[1:], strict=False))


def test_activation_gradients_of_every_layer(baseline, data):
    grads = P.activation_gradients(baseline, data.test.X[:8], data.test.y[:8])
    assert list(grads)[0] == "features.0" and list(grads)[-1] == "classifier"
    assert grads["classifier"].shape == (8, 10)
    assert all(p.grad is None for p in baseline.parameters())
    before = {n: b.clone() for n, b in baseline.named_buffers()}
    P.activation_gradients(baseline.train(), data.test.X[:8], data.test.y[:8])
    baseline.eval()
    assert all(torch.equal(before[n], b) for n, b in baseline.named_buffers())


# ----------------------------------------------------------------- training plumbing


def test_training_side_by_side_and_memory(data):
    net = create_model("small_cnn", width=8, seed=0)
    small = data.train.subset(256)
    run = amp.train_side_by_side(net, small, epochs=1, batch_size=128, progress=False)
    assert set(run.nets) == set(P.PRECISIONS)
    assert all(len(v) == -(-len(small) // 128) for v in run.step_ms.values())
    X, y = data.train.X[:32], data.train.y[:32]
    f32 = amp.activation_bytes(net, X, y, "float32")
    bf16 = amp.activation_bytes(net, X, y, "bfloat16")
    assert 0.4 < bf16 / f32 < 0.65


def test_time_training_steps_gives_ratios():
    net = create_model("small_cnn", width=8, seed=0)
    X, y = torch.randn(8, 1, 16, 16), torch.arange(8)
    lat = amp.time_training_steps(
        {"float32": (net, "float32"), "bfloat16": (net, "bfloat16")}, X, y, rounds=2, runs=2
    )
    assert lat.ratio("bfloat16", "float32").rounds == 2


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", ["float8", torch.int8, None, "fp16", 16])
def test_an_unknown_dtype_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="argument 'dtype' must be one of"):
        P.format_info(bad)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"init_scale": 0}, "init_scale"),
        ({"init_scale": -1.0}, "init_scale"),
        ({"init_scale": float("nan")}, "init_scale"),
        ({"growth_interval": 0}, "growth_interval"),
        ({"growth_interval": 2.5}, "growth_interval"),
        ({"growth_factor": 1.0}, "growth_factor"),
        ({"backoff_factor": 1.0}, "backoff_factor"),
    ],
)
def test_bad_scaler_settings_are_refused(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        P.DynamicScaler(**kwargs)


@pytest.mark.parametrize("device", ["meta", "nonsense", 3.5])
def test_a_device_without_autocast_is_refused(device):
    with pytest.raises(ValueError, match="argument 'device'"):
        P.autocast_ops(lambda: None, device=device)
    with pytest.raises(ValueError, match="argument 'device'"):
        amp.autocast_for("bfloat16", device)


def test_other_bad_input():
    with pytest.raises(ValueError, match="argument 'precision'"):
        amp.autocast_for("int8")
    with pytest.raises(ValueError, match="scale"):
        P.fate_in(torch.ones(3), "float16", scale=-2)
    with pytest.raises(ValueError, match="no non-zero"):
        P.fate_in(torch.zeros(3), "float16")
    with pytest.raises(ValueError, match="0s and 1s"):
        P.decode("0", "0121", "000")
    with pytest.raises(ValueError, match="argument 'x'"):
        P.bit_fields(float("nan"), "float16")
    with pytest.raises(TypeError, match="argument 'scaler'"):
        amp.scaler_run("dynamic", None)


def test_an_absent_device_is_refused_not_silently_switched_off():
    absent = ["cuda:99"] + ([] if torch.cuda.is_available() else ["cuda", torch.device("cuda")])
    for device in absent:
        with pytest.raises(ValueError, match="argument 'device'.*no .*device on this machine"):
            P.autocast_ops(lambda: None, device=device)
        with pytest.raises(ValueError, match="argument 'device'.*no .*device"):
            amp.autocast_for("bfloat16", device)
        with pytest.raises(ValueError, match="argument 'device'.*no .*device"):
            amp.make_scaler("float16_scaled", device)


@pytest.mark.parametrize("dtype", [torch.float32, "float32"])
def test_autocast_to_float32_is_refused(dtype):
    with pytest.raises(ValueError, match="argument 'dtype' must be 'bfloat16' or 'float16'"):
        P.autocast_ops(lambda: None, dtype)
