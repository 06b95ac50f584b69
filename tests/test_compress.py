"""labkit.compress: compression steps chained on a model of the test's own (not the course's),
kept compressed while it learns, finished, and measured."""

import copy

import pytest
import torch
from torch import nn

from labkit import compress as C
from labkit.data import Split
from labkit.measure import tensor_bytes
from labkit.models import weight_layers
from labkit.train import fit


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 4),
    )


def _split(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, 8, 8, generator=g)
    y = (X[:, 0].mean((1, 2)) > 0).long() + 2 * (X[:, 1].mean((1, 2)) > 0).long()
    return Split(X, y, torch.arange(n))


def _zeros(net):
    weights = [m.weight for m in weight_layers(net).values()]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)


def test_factorize_prune_and_quantize_chain_and_stay_compressed_while_they_learn():
    net, train = _net(), _split()
    before = copy.deepcopy(net.state_dict())
    steps = [C.Factorize(fraction=0.5), C.Prune(0.6), C.QuantizeAware(4)]
    model = C.compress(net, steps)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # untouched
    assert model.steps == tuple(steps) and model.bits == 4
    assert isinstance(model.net[2], nn.Sequential)  # the 16 -> 32 conv became a product
    fit(model.net, train, epochs=2, lr=1e-2, after_step=model.after_step, progress=False)
    final = model.finish()
    assert _zeros(final) >= 0.6 - 1e-3  # fine-tuning did not regrow pruned weights (to a weight)
    for w in (m.weight for m in weight_layers(final).values()):
        assert max(len(torch.unique(row)) for row in w.reshape(len(w), -1)) <= 16  # 4 bits
    assert model.after_step is None  # finished: nothing more to keep
    report = model.report(train, train.X[:1])
    assert report.stored_bytes < tensor_bytes(net) / 8  # 4-bit, 60% zeros, fewer weights
    assert report.nonzero_params < report.n_params and report.macs > 0
    assert 0 <= report.accuracy.value <= 1


def test_the_stored_size_counts_bits_bitmap_and_scales():
    net = _net()
    plain = C.compress(net, [C.Prune(0.5)])
    n_weights = sum(m.weight.numel() for m in weight_layers(net).values())
    others = tensor_bytes(net) - 4 * n_weights  # the biases, in float32
    kept = sum(int((m.weight != 0).sum()) for m in weight_layers(plain.net).values())
    bitmaps = sum(-(-m.weight.numel() // 8) for m in weight_layers(net).values())
    assert plain.stored_bytes() == 4 * kept + bitmaps + others
    q = C.compress(net, [C.QuantizeAware(8)])
    scales = 4 * sum(m.weight.shape[0] for m in weight_layers(net).values())
    assert q.stored_bytes() == n_weights + scales + others  # one byte per weight at 8 bits


def test_channels_are_removed_first_and_need_an_example():
    net, train = _net(), _split()
    with pytest.raises(ValueError, match="example"):
        C.compress(net, [C.PruneChannels(0.5)])
    model = C.compress(net, [C.PruneChannels(0.5), C.QuantizeAware(8)], train.X[:2])
    assert model.net[0].out_channels == 8 and model.net[2].out_channels == 16
    assert model.after_step is None and model.finish()(train.X[:2]).shape == (2, 4)


def test_bad_steps_are_refused_before_any_work():
    net = _net()
    with pytest.raises(ValueError, match="order"):
        C.compress(net, [C.QuantizeAware(4), C.Prune(0.5)])
    with pytest.raises(ValueError, match="order"):
        C.compress(net, [C.Prune(0.5), C.Prune(0.7)])
    with pytest.raises(TypeError, match="steps"):
        C.compress(net, "prune")
    with pytest.raises(TypeError, match="steps"):
        C.compress(net, [0.9])
    with pytest.raises(TypeError, match="net"):
        C.compress("net", [C.Prune(0.5)])
    for make in (
        lambda: C.Prune(1.0),
        lambda: C.Prune(float("nan")),
        lambda: C.PruneChannels(-0.1),
        lambda: C.QuantizeAware(1),
        lambda: C.Prune(0.0),
        lambda: C.Factorize(fraction=0.5, method="qr"),
        lambda: C.Factorize(fraction=0),
        lambda: C.Factorize(ranks={}),
        lambda: C.Factorize(),
        lambda: C.Factorize(ranks={"2": 4}, fraction=0.5),
    ):
        with pytest.raises((ValueError, TypeError)):
            make()
    with pytest.raises(ValueError, match="not a layer"):
        C.compress(net, [C.Factorize(ranks={"nope": 2})])


def test_a_single_step_may_be_given_alone():
    model = C.compress(_net(), C.Prune(0.3))
    assert model.steps == (C.Prune(0.3),) and _zeros(model.net) == pytest.approx(0.3, abs=1e-3)


def test_steps_are_hashable_so_a_search_can_key_results_by_chain():
    chain = (C.Factorize(ranks={"2": (4, 4)}), C.Prune(0.5), C.QuantizeAware(4))
    assert len({chain, tuple(chain)}) == 1 and C.Factorize(ranks={"2": 4}).ranks == (("2", 4),)


def test_a_report_needs_the_rounded_weights_and_matches_packed_bytes(monkeypatch):
    from labkit.quantize.fewer_bits import packed_bytes

    net, train = _net(), _split()
    model = C.compress(net, [C.QuantizeAware(4)])
    with pytest.raises(RuntimeError, match="finish"):
        model.report(train, train.X[:1])
    final = model.finish()
    assert model.stored_bytes() == packed_bytes(final, 4)  # the same arithmetic, two ways


def test_too_many_channels_removed_is_refused_not_ignored():
    with pytest.raises(ValueError, match="channel_ratio"):
        C.compress(_net(), [C.PruneChannels(0.95)], _split().X[:2])
