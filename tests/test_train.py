import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from labkit.models import create_model
from labkit.train import Accuracy, accuracy_interval, evaluate, fit
from labkit.trial import train_small_cnn

Z = 1.959963984540054


def _wilson_by_bisection(k: int, n: int) -> tuple[float, float]:
    """The Wilson interval from its definition: the p with |k/n - p| = z * sqrt(p(1-p)/n)."""
    phat = k / n

    def gap(p):
        return abs(phat - p) - Z * math.sqrt(p * (1 - p) / n)

    def root(lo, hi):  # gap(lo) and gap(hi) differ in sign
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if (gap(mid) > 0) == (gap(lo) > 0) else (lo, mid)
        return (lo + hi) / 2

    low = 0.0 if k == 0 else root(0.0, phat)
    high = 1.0 if k == n else root(phat, 1.0)
    return low, high


@given(n=st.integers(1, 5000), data=st.data())
def test_wilson_interval_matches_its_definition(n, data):
    k = data.draw(st.integers(0, n))
    low, high = accuracy_interval(k, n)
    ref_low, ref_high = _wilson_by_bisection(k, n)
    assert low == pytest.approx(ref_low, abs=1e-9) and high == pytest.approx(ref_high, abs=1e-9)
    assert 0 <= low <= k / n <= high <= 1


def test_more_test_images_narrow_the_interval():
    wide, narrow = accuracy_interval(90, 100), accuracy_interval(900, 1000)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


@given(correct=st.integers(-5, 20), total=st.integers(-5, 20))
def test_accuracy_interval_rejects_impossible_counts(correct, total):
    if total >= 1 and 0 <= correct <= total:
        accuracy_interval(correct, total)
    else:
        with pytest.raises(ValueError, match="correct|total"):
            accuracy_interval(correct, total)


def test_accuracy_prints_its_interval():
    text = str(Accuracy(441, 450))
    assert text.startswith("98.0% (95% CI") and "n=450" in text


def test_fit_is_reproducible_and_learns(data):
    small = data.train.subset(400)
    nets = [create_model(seed=0) for _ in range(2)]
    histories = [fit(n, small, data.val, epochs=2, progress=False) for n in nets]
    assert histories[0].train_loss == histories[1].train_loss
    assert torch.equal(nets[0].classifier.weight, nets[1].classifier.weight)
    assert histories[0].train_loss[-1] < histories[0].train_loss[0]
    assert len(histories[0].batch_loss) == 2 * math.ceil(400 / 64)
    assert evaluate(nets[0], data.val).value > 0.2  # ten classes: chance is 0.1


def test_fit_stops_on_a_diverging_loss(data):
    net = create_model(seed=0)
    h = fit(net, data.train.subset(256), epochs=3, lr=10.0, optimizer="sgd", progress=False)
    assert h.epochs <= 3  # ran without crashing; a non-finite loss is recorded as nan
    if any(math.isnan(x) for x in h.train_loss):
        assert math.isnan(h.train_loss[-1])


@pytest.mark.parametrize(
    "kwargs, word",
    [
        (dict(epochs=0), "epochs"),
        (dict(lr=0), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(batch_size=0), "batch_size"),
        (dict(optimizer="rmsprop"), "optimizer"),
        (dict(loss_fn=3), "loss_fn"),
        (dict(loss_fn=lambda logits, y, X: logits.sum()), "loss_fn"),  # the old 3-argument form
        (dict(loss_fn=lambda logits, y, X, idx: 1.0), "loss_fn"),  # a float, not a tensor
        (dict(loss_fn=lambda logits, y, X, idx: logits), "loss_fn"),  # not one number
        (dict(loss_fn=lambda logits, y, X, idx: logits[99]), "loss_fn"),  # raises inside
        (dict(schedule="cosine"), "schedule"),
        (dict(precision="int8"), "precision"),
        (dict(precision="bfloat16", scaler=torch.amp.GradScaler("cpu")), "scaler"),
        (dict(precision="float16_scaled", scaler=object()), "scaler"),
        (
            dict(precision="float16_scaled", scaler=torch.amp.GradScaler("cpu", enabled=False)),
            "scaler",
        ),
        (dict(max_steps=0), "max_steps"),
        (dict(max_steps=True), "max_steps"),
        (dict(max_steps=1.5), "max_steps"),
    ],
)
def test_fit_rejects_bad_arguments_and_leaves_the_model_untouched(data, kwargs, word):
    net = create_model(seed=0)
    before = [p.clone() for p in net.parameters()] + [b.clone() for b in net.buffers()]
    with pytest.raises((ValueError, TypeError), match=word):
        fit(net, data.train.subset(64), progress=False, **kwargs)
    after = list(net.parameters()) + list(net.buffers())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_the_loss_gets_the_batchs_positions_and_max_steps_stops(data):
    train = data.train.subset(100)
    seen = []

    def loss_fn(logits, y, X, idx):
        seen.append(idx.clone())
        assert torch.equal(X, train.X[idx]) and torch.equal(y, train.y[idx])
        return torch.nn.functional.cross_entropy(logits, y)

    history = fit(
        create_model(seed=0), train, batch_size=32, max_steps=5, loss_fn=loss_fn, progress=False
    )
    batches = seen[1:]  # the first call is the check on two images, before training
    assert len(history.batch_loss) == 5 == len(batches)
    assert torch.equal(torch.cat(batches[:4]).sort().values, torch.arange(100))  # one epoch
    assert history.epochs == 2  # the fifth step began a second pass


def test_a_one_cycle_schedule_rises_then_falls(data, monkeypatch):
    import labkit.train as T

    made = []
    original = T._make_optimizer
    monkeypatch.setattr(T, "_make_optimizer", lambda *a: made.append(original(*a)) or made[-1])
    lrs = []
    fit(
        create_model(seed=0),
        data.train.subset(256),
        epochs=2,
        lr=1e-2,
        schedule="onecycle",
        progress=False,
        after_step=lambda n: lrs.append(made[0].param_groups[0]["lr"]),
    )
    # lrs[k] is the rate step k + 2 uses (read after step k + 1 and the schedule's step); the
    # last step used lrs[-2], which is the schedule's end, near 0
    assert max(lrs) == pytest.approx(1e-2, rel=0.1) and lrs[-2] < 1e-4  # 8 steps: near the top
    assert lrs.index(max(lrs)) not in (0, len(lrs) - 1)


def test_mixed_precision_trains_in_every_precision(data):
    train = data.train.subset(128)
    for precision in ("bfloat16", "float16_scaled"):
        history = fit(create_model(seed=0), train, epochs=1, precision=precision, progress=False)
        assert all(math.isfinite(x) for x in history.batch_loss)
    h16 = fit(create_model(seed=0), train, epochs=1, precision="float16_scaled", progress=False)
    assert len(h16.scales) == len(h16.batch_loss) and h16.scales[0] == 2.0**16


def test_the_default_batch_fits_a_small_split(data):
    fit(create_model(seed=0), data.train.subset(20), epochs=1, progress=False)


def test_fit_and_evaluate_reject_what_is_not_a_split(data):
    with pytest.raises(TypeError, match="'train'"):
        fit(create_model(), (data.train.X, data.train.y))
    with pytest.raises(TypeError, match="'net'"):
        evaluate("model", data.val)


def test_train_small_cnn_reports_the_objective(data):
    trial = train_small_cnn(data.with_train_subset(256), epochs=1, kernel_size=5, progress=False)
    assert trial.val_error == pytest.approx(1 - trial.val_accuracy.value)
    assert trial.hyperparameters.kernel_size == 5 and trial.hyperparameters.epochs == 1
    assert trial.net.features[0].kernel_size == (5, 5)
    assert trial.n_params == sum(p.numel() for p in trial.net.parameters())


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"lr": "0.01"}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"learning_rate": 0.1}, "hyperparameter name"),
    ],
)
def test_train_small_cnn_checks_every_hyperparameter_before_training(data, kwargs, word):
    with pytest.raises((TypeError, ValueError), match=word):
        train_small_cnn(data, progress=False, **kwargs)


def test_predict_gives_one_class_per_image_and_restores_the_mode(data):
    from labkit.train import predict

    net = create_model()
    classes = predict(net, data.val)
    assert classes.shape == (len(data.val),) and classes.dtype == torch.int64
    assert net.training


def test_train_small_cnn_passes_on_epoch_so_a_pruner_can_stop_it(data):
    seen = []

    def stop_after_first(epoch, history):
        seen.append(epoch)
        return True

    trial = train_small_cnn(
        data.with_train_subset(200), epochs=3, progress=False, on_epoch=stop_after_first
    )
    assert seen == [1]
    assert trial.history.epochs == 1
