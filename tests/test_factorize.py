"""labkit.factorize (lowrank and ranks): the from-scratch factorizations agree with torch and
tensorly on the same input, the formulas agree with the built layers, bad input is refused by
name."""

import numpy as np
import pytest
import torch
from torch import nn

from labkit import factorize as F
from labkit import factorize as R
from labkit.measure import Ratio, count_macs, count_parameters


def _conv_cases():
    return [
        nn.Conv2d(8, 12, 3, padding=1),
        nn.Conv2d(8, 12, (3, 5), stride=2, padding=(1, 2)),
        nn.Conv2d(8, 10, 3, stride=2, dilation=2, padding=2, bias=False),
    ]


# ----------------------------------------------------------------- the 9 -> 6 example


def test_a_rank_one_3x3_is_exactly_a_3x1_times_a_1x3():
    m = torch.tensor([[1.0], [2.0], [3.0]]) @ torch.tensor([[4.0, 5.0, 6.0]])
    a, b = F.low_rank(m, 1)
    assert a.shape == (3, 1) and b.shape == (1, 3) and a.numel() + b.numel() == 6
    assert torch.allclose(a @ b, m, atol=1e-5)
    assert F.approximation_error(m, 1) < 1e-6


def test_a_general_3x3_is_not_and_the_errors_follow_the_singular_values():
    torch.manual_seed(0)
    m = torch.randn(3, 3)
    s = torch.linalg.svdvals(m)
    for r in (1, 2):
        expected = float(s[r:].norm() / s.norm())
        assert F.approximation_error(m, r) == pytest.approx(expected, rel=1e-4)
        assert F.approximation_error(m, r) > 0.01
    assert F.approximation_error(m, 3) < 1e-5


@pytest.mark.parametrize("seed", range(3))
def test_eckart_young_no_random_rank_r_product_beats_truncated_svd(seed):
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(12, 9, generator=g)
    best = F.approximation_error(m, 3) * float(m.norm())
    for _ in range(200):
        a, b = torch.randn(12, 3, generator=g), torch.randn(3, 9, generator=g)
        # the best scale of a @ b alone still loses
        p = a @ b
        p = p * (p * m).sum() / (p * p).sum()
        assert float((m - p).norm()) >= best - 1e-5


def test_low_rank_matches_torch_svd_lowrank():
    torch.manual_seed(1)
    m = torch.randn(40, 6) @ torch.randn(6, 30) + 0.01 * torch.randn(40, 30)
    a, b = F.low_rank(m, 6)
    u, s, v = torch.svd_lowrank(m, q=6, niter=4)
    theirs = u @ torch.diag(s) @ v.T
    assert torch.allclose(a @ b, theirs, atol=1e-3)


# ----------------------------------------------------------------- layers


@pytest.mark.parametrize("conv", _conv_cases(), ids=["plain", "stride", "dilation"])
@pytest.mark.parametrize("method", F.METHODS)
def test_at_full_rank_every_method_computes_the_same_conv(conv, method):
    x = torch.randn(2, conv.in_channels, 15, 17)
    f = F.factorize_layer(conv, F.max_rank(conv.weight, method), method)
    assert torch.allclose(f(x), conv(x), atol=1e-4)


@pytest.mark.parametrize("conv", _conv_cases(), ids=["plain", "stride", "dilation"])
@pytest.mark.parametrize("method", F.METHODS)
def test_the_formulas_agree_with_the_built_layers(conv, method):
    x = torch.randn(1, conv.in_channels, 15, 17)
    largest = F.max_rank(conv.weight, method)
    rank = tuple(max(1, r // 3) for r in largest) if isinstance(largest, tuple) else largest // 3
    f = F.factorize_layer(conv, rank, method)
    cost = F.factorized_cost(conv, rank, method, (15, 17))
    assert cost["params"] == count_parameters(f)
    assert cost["macs"] == count_macs(f, x)
    original = F.factorized_cost(conv, None, method, (15, 17))
    assert original == {"params": count_parameters(conv), "macs": count_macs(conv, x)}


def test_a_linear_layer_becomes_two_and_matches_its_formula():
    layer = nn.Linear(20, 7)
    f = F.factorize_layer(layer, 3)
    assert [type(m) for m in f] == [nn.Linear, nn.Linear] and f[0].out_features == 3
    assert F.factorized_cost(layer, 3)["params"] == count_parameters(f) == 3 * 27 + 7
    x = torch.randn(4, 20)
    assert torch.allclose(F.factorize_layer(layer, 7)(x), layer(x), atol=1e-5)


def test_tucker2_from_scratch_agrees_with_tensorly():
    import tensorly as tl
    from tensorly.decomposition import partial_tucker

    torch.manual_seed(0)
    # a kernel with structure, like a trained one: low rank plus a little noise
    w = torch.einsum(
        "oa,ib,abhw->oihw", torch.randn(32, 6), torch.randn(16, 6), torch.randn(6, 6, 3, 3)
    )
    w = w + 0.3 * torch.randn_like(w)
    (core, factors), _ = partial_tucker(w.numpy(), rank=[8, 6], modes=[0, 1])
    theirs = tl.tenalg.multi_mode_dot(core, factors, modes=[0, 1])
    their_error = np.linalg.norm(theirs - w.numpy()) / np.linalg.norm(w.numpy())
    c, u_out, u_in = F.tucker2(w, (8, 6))
    assert c.shape == core.shape and u_out.shape == factors[0].shape
    assert u_in.shape == factors[1].shape
    ours = float((F.tucker2_reconstruct(c, u_out, u_in) - w).norm() / w.norm())
    assert ours <= 1.03 * their_error
    c, u_out, u_in = F.tucker2(w, (8, 6), n_iter=10)
    refined = float((F.tucker2_reconstruct(c, u_out, u_in) - w).norm() / w.norm())
    assert refined == pytest.approx(their_error, rel=0.005)
    assert F.kernel_error(w, (8, 6), "tucker") == pytest.approx(ours, rel=1e-5)


def test_factorize_model_replaces_only_the_named_layers(baseline):
    ranks = {"features.4": 4, "features.8": 4}
    f = F.factorize_model(baseline, ranks, "svd")
    assert isinstance(f.features[4], nn.Sequential) and isinstance(baseline.features[4], nn.Conv2d)
    assert count_parameters(f) < count_parameters(baseline)
    assert f(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
    e = F.energy_ranks(baseline, 0.9, "tucker")
    assert isinstance(e["features.8"], tuple) and isinstance(e["classifier"], int)
    u = F.uniform_ranks(baseline, 0.25, "svd", layers=["features.4", "features.8"])
    assert u == {"features.4": 8, "features.8": 8}


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("rank", [0, -1, 4])
def test_a_rank_of_0_or_above_the_matrix_is_refused_by_name(rank):
    with pytest.raises(ValueError, match="argument 'rank'.*\\[1, 3\\]"):
        F.low_rank(torch.randn(3, 5), rank)
    with pytest.raises(ValueError, match="argument 'rank'"):
        F.factorize_layer(nn.Linear(5, 3), rank)


def test_ranks_above_a_conv_s_channels_are_refused():
    conv = nn.Conv2d(4, 6, 3)
    with pytest.raises(ValueError, match="argument 'rank'.*\\[1, 4\\]"):
        F.factorize_layer(conv, (6, 5), "tucker")
    with pytest.raises(ValueError, match="argument 'rank'.*\\[1, 6\\]"):
        F.factorize_layer(conv, 7, "svd")
    with pytest.raises(TypeError, match="argument 'rank'"):
        F.factorize_layer(conv, 2.5, "svd")


@pytest.mark.parametrize(
    "layer,error",
    [
        (nn.BatchNorm2d(4), TypeError),
        (nn.Conv1d(4, 4, 3), TypeError),
        (nn.Conv2d(4, 4, 3, groups=4), ValueError),
        (nn.Conv2d(4, 4, 3, padding="same"), ValueError),
        ("conv", TypeError),
    ],
)
def test_a_layer_that_cannot_be_factorized_is_refused_by_name(layer, error):
    with pytest.raises(error, match="argument 'layer'"):
        F.factorize_layer(layer, 1)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), (1, 2, 3, 4, 5)])
def test_a_weight_that_is_not_2d_or_4d_is_refused_by_name(shape):
    with pytest.raises(ValueError, match="argument 'weight'"):
        F.max_rank(torch.randn(shape))
    with pytest.raises(ValueError, match="argument 'weight'"):
        F.kernel_error(torch.randn(shape), 1)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="argument 'matrix'.*2-D"):
        F.low_rank(torch.randn(2, 3, 4), 1)
    with pytest.raises(ValueError, match="argument 'matrix'.*NaN"):
        F.low_rank(torch.tensor([[float("nan"), 1.0], [1.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="argument 'method'"):
        F.factorize_layer(nn.Conv2d(2, 2, 3), 1, "cp")
    with pytest.raises(ValueError, match="argument 'energy'"):
        F.energy_rank(torch.randn(3, 3), float("nan"))
    with pytest.raises(ValueError, match="argument 'ranks'.*nope"):
        F.factorize_model(nn.Sequential(nn.Linear(3, 3)), {"nope": 1})
    net = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    with pytest.raises(ValueError, match="argument 'rank'"):
        F.factorize_model(net, {"0": 1, "1": 9})  # nothing half-done: checked before copying


# ----------------------------------------------------------------- rank choice


def _option(rank, params, error, low):
    return R.RankOption(rank, params, params, error, 1.0, Ratio(low, low, low, 1))


def test_choose_ranks_keeps_only_measured_faster_ranks_and_fits_the_budget():
    options = {
        "a": [_option(1, 10, 0.9, 1.5), _option(2, 20, 0.5, 1.4), _option(4, 40, 0.1, 0.9)],
        "b": [_option(1, 10, 0.8, 0.7)],  # never faster: stays as it was
    }
    original = {"a": 100, "b": 100}
    chosen = R.choose_ranks(options, original, budget=0.61)
    assert chosen == {"a": 2}  # 4 is slower; b stays original (100 + 20 <= 122)
    assert R.choose_ranks(options, original, budget=0.55) == {"a": 1}
    with pytest.raises(ValueError, match="argument 'budget'"):
        R.choose_ranks(options, original, budget=0)


def test_time_ranks_measures_each_rank_against_the_original():
    conv = nn.Conv2d(16, 16, 3, padding=1).eval()
    x = torch.randn(1, 16, 12, 12)
    options = R.time_ranks(conv, x, [2, 8], "tucker", rounds=1, runs=3)
    assert [o.rank for o in options] == [2, 8]
    assert options[0].predicted > options[1].predicted > 1
    assert options[0].error > options[1].error
    assert all(o.measured.median > 0 for o in options)
    inputs = R.layer_inputs(nn.Sequential(conv, nn.ReLU()), x, ["0"])
    assert torch.equal(inputs["0"], x)


def test_energy_curves_give_the_ranks_energy_ranks_gives():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(8, 16, 3), nn.ReLU(), nn.Conv2d(16, 12, 3))
    curves = R.energy_curves(net, ["0", "2"])
    for energy in (0.3, 0.7, 0.95, 1.0):
        assert R.energy_threshold_ranks(curves, energy) == F.energy_ranks(net, energy, "tucker")
    with pytest.raises(ValueError, match="argument 'names'"):
        R.energy_curves(net, ["1"])
    with pytest.raises(ValueError, match="argument 'energy'"):
        R.energy_threshold_ranks(curves, float("nan"))


def test_match_parameters_finds_the_knob_of_equal_size():
    conv = nn.Conv2d(64, 64, 3)

    def ranks_for(f):
        return {"c": max(1, round(f * 64))}

    def count(ranks):
        return F.factorized_cost(conv, ranks["c"], "tucker")["params"]

    target = count({"c": 24})
    knob, ranks = R.match_parameters(ranks_for, count, target)
    assert ranks == {"c": 24} and round(knob * 64) == 24
    with pytest.raises(ValueError, match="argument 'target'"):
        R.match_parameters(ranks_for, count, 0)


def test_lab06_a_function_returning_the_blank_is_not_attempted(monkeypatch):
    from labkit.check import ExerciseFailed, ____
    from labkit.exercises import lab06

    monkeypatch.setenv("LABKIT_STRICT_CHECKS", "1")
    for question in (lab06.q1, lab06.q2, lab06.q3):
        with pytest.raises(ExerciseFailed, match="not attempted"):
            question.check(lambda: ____)
