import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import prune as torch_prune

from labkit import plots
from labkit.measure import count_parameters, file_bytes
from labkit.models import create_model, fold_batchnorm
from labkit.prune.masks import (
    apply_masks,
    global_magnitude_masks,
    iterative_prune,
    keep_masks,
    layer_sparsity,
    layerwise_magnitude_masks,
    magnitude_mask,
    neuron_mask,
    neuron_masks,
    pack_sparse,
    prune_channels,
    remove_neurons,
    sensitivity_scan,
    sparse_state_bytes,
    unpack_sparse,
    zero_neurons,
)


@pytest.fixture
def net():
    return create_model("small_cnn", width=8, kernel_size=3, seed=0)


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.7, 0.95])
def test_magnitude_mask_matches_torch_prune_on_the_same_layer(sparsity):
    layer = nn.Conv2d(8, 16, 3)
    ours = magnitude_mask(layer.weight, sparsity)
    torch_prune.l1_unstructured(layer, "weight", amount=sparsity)
    assert torch.equal(ours, layer.weight_mask.bool())


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 300), st.floats(0, 0.999))
def test_magnitude_mask_prunes_exactly_the_smallest(n, sparsity):
    weight = torch.randn(n)
    mask = magnitude_mask(weight, sparsity)
    assert int((~mask).sum()) == round(sparsity * n)
    if mask.any() and (~mask).any():
        assert weight[mask].abs().min() >= weight[~mask].abs().max()


def test_global_pruning_uses_one_threshold_and_layerwise_one_per_layer(net):
    masks = global_magnitude_masks(net, 0.8)
    total = sum(m.numel() for m in masks.values())
    assert sum(int((~m).sum()) for m in masks.values()) == round(0.8 * total)
    per_layer = {n: 1 - m.float().mean().item() for n, m in masks.items()}
    assert max(per_layer.values()) - min(per_layer.values()) > 0.1  # layers differ
    layerwise = layerwise_magnitude_masks(net, 0.8)
    for m in layerwise.values():
        assert 1 - m.float().mean().item() == pytest.approx(0.8, abs=0.02)
    apply_masks(net, masks)
    assert all(s == pytest.approx(per_layer[n], abs=1e-6) for n, s in layer_sparsity(net).items())


def test_neuron_pruning_removes_whole_filters_but_not_the_classes(net):
    mask = neuron_mask(net.features[0], 0.5)
    per_filter = mask.flatten(1).all(dim=1) | (~mask).flatten(1).all(dim=1)
    assert per_filter.all() and int((~mask.flatten(1).all(dim=1)).sum()) == 4
    masks = neuron_masks(net, 0.5)
    assert "classifier" not in masks and set(masks) == {"features.0", "features.4", "features.8"}


def test_neuron_masks_match_torch_ln_structured_on_the_same_layers(net):
    folded = fold_batchnorm(net.eval())
    masks = neuron_masks(folded, 0.5)
    for name, layer in list(dict(folded.named_modules()).items()):
        if name in masks:
            torch_prune.ln_structured(layer, "weight", amount=0.5, n=2, dim=0)
            assert torch.equal(layer.weight_mask.bool(), masks[name])


def test_a_zeroed_filter_before_batch_norm_is_a_constant_but_zero_neurons_makes_it_zero(net):
    net.eval()
    with torch.no_grad():  # batch norm statistics that make beta - gamma * mu / sigma nonzero
        net.features[1].running_mean.uniform_(-1, 1)
        net.features[1].bias.uniform_(0.5, 1)
    masks = neuron_masks(net, 0.5)
    gone = ~masks["features.0"].flatten(1).all(dim=1)
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        constant = apply_masks(copy.deepcopy(net), masks).features[:3](x)[:, gone]
        assert (constant > 0).all() and (constant == constant[0, :, :1, :1]).all()
        with pytest.raises(ValueError, match="fold_batchnorm"):
            zero_neurons(copy.deepcopy(net), masks)
        folded = fold_batchnorm(net)
        zeroed = zero_neurons(folded, neuron_masks(folded, 0.5))
        gone = ~neuron_masks(folded, 0.5)["features.0"].flatten(1).all(dim=1)
        assert (zeroed.features[:3](x)[:, gone] == 0).all()
        assert (zeroed.features[0].bias[gone] == 0).all()


def test_zero_neurons_refuses_masks_that_split_a_unit_and_leaves_the_net_alone():
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    before = copy.deepcopy(net.state_dict())
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[0, 0] = False
    with pytest.raises(ValueError, match="whole rows"):
        zero_neurons(net, {"0": mask})
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_removing_hidden_neurons_shrinks_both_layers_and_equals_zeroing_them():
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(20, 16), torch.nn.ReLU(), torch.nn.Linear(16, 5)
    ).eval()
    first, second = remove_neurons(mlp[0], mlp[2], 0.25)
    assert first.weight.shape == (12, 20) and first.bias.shape == (12,)
    assert second.weight.shape == (5, 12)
    smaller = torch.nn.Sequential(first, torch.nn.ReLU(), second)
    assert count_parameters(smaller) == 21 * 12 + 13 * 5
    zeroed = zero_neurons(copy.deepcopy(mlp), neuron_masks(mlp, 0.25))
    x = torch.randn(8, 20)
    with torch.no_grad():
        assert torch.allclose(smaller(x), zeroed(x), atol=1e-6)
    assert mlp[0].out_features == 16  # the original is untouched


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda a, b: remove_neurons(a, torch.nn.ReLU(), 0.5), "next_layer"),
        (lambda a, b: remove_neurons(a, torch.nn.Linear(7, 2), 0.5), "takes 7 inputs"),
        (lambda a, b: remove_neurons(a, b, 0.9), "leaves none"),
        (lambda a, b: remove_neurons(a, b, float("nan")), "channel_ratio"),
    ],
)
def test_remove_neurons_names_the_bad_argument(call, word):
    with pytest.raises((TypeError, ValueError), match=word):
        call(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))


def test_fine_tuning_with_keep_masks_does_not_regrow_pruned_weights(net, data):
    from labkit.train import fit

    masks = global_magnitude_masks(net, 0.7)
    apply_masks(net, masks)
    fit(
        net,
        data.with_train_subset(128).train,
        epochs=1,
        progress=False,
        after_step=keep_masks(net, masks),
    )
    for name, s in layer_sparsity(net).items():
        assert s >= 1 - masks[name].float().mean().item() - 1e-6


def test_zeros_do_not_shrink_a_dense_file_but_the_sparse_format_does(net):
    dense_before = file_bytes(net)
    apply_masks(net, global_magnitude_masks(net, 0.9))
    assert file_bytes(net) == pytest.approx(dense_before, rel=0.01)
    assert sparse_state_bytes(net) < dense_before / 2
    restored = copy.deepcopy(net)
    restored.load_state_dict(unpack_sparse(pack_sparse(net)))
    for a, b in zip(net.state_dict().values(), restored.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_sensitivity_scan_leaves_the_net_alone_and_scores_every_layer(net):
    before = copy.deepcopy(net.state_dict())
    calls = []

    def score(trial):
        calls.append(1)
        return float(sum((p == 0).sum() for p in trial.parameters()))

    result = sensitivity_scan(net, score, sparsities=[0.0, 0.5], progress=False)
    assert set(result) == {"features.0", "features.4", "features.8", "classifier"}
    assert all(r[1] > r[0] for r in result.values())  # more zeros at 0.5
    assert len(calls) == 8
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_structured_pruning_really_removes_channels(net, data):
    small = prune_channels(net, 0.5, data.val.X[:1])
    assert small.features[0].out_channels == 4
    assert count_parameters(small) < count_parameters(net) / 2.5
    assert small(data.val.X[:3]).shape == (3, 10)
    assert net.features[0].out_channels == 8  # the original is untouched


@pytest.mark.parametrize(
    "call, word",
    [
        (lambda n: magnitude_mask(n.features[0].weight, 1.0), "sparsity"),
        (lambda n: magnitude_mask(n.features[0].weight, -0.1), "sparsity"),
        (lambda n: neuron_mask(nn.ReLU(), 0.5), "no weight"),
        (lambda n: neuron_masks(nn.Sequential(nn.Linear(2, 2)), 0.5), "before its last"),
        (lambda n: layerwise_magnitude_masks(n, {"nope": 0.5}), "nope"),
        (lambda n: apply_masks(n, {"features.0": torch.ones(3, dtype=torch.bool)}), "shape"),
        (lambda n: global_magnitude_masks(nn.Sequential(nn.ReLU()), 0.5), "no conv or linear"),
        (lambda n: magnitude_mask(torch.tensor([1.0, float("nan")]), 0.5), "NaN"),
        (lambda n: apply_masks(n, {"features.0": torch.ones(8, 1, 3, 3)}), "bool"),
        (lambda n: sensitivity_scan(n, lambda m: 1.0, sparsities=0.5), "sparsities"),
        (lambda n: sensitivity_scan(n, 3), "evaluate_fn"),
        (lambda n: prune_channels(n, 1.5, torch.zeros(1, 1, 16, 16)), "channel_ratio"),
    ],
)
def test_bad_input_names_the_argument(net, call, word):
    with pytest.raises((ValueError, TypeError), match=word):
        call(net)


def test_iterative_pruning_reaches_its_sparsity_and_keeps_it(net, data):
    small = data.with_train_subset(128)
    iterative_prune(net, small, 0.8, steps=2, epochs_per_step=1, progress=False)
    total = sum(m.weight.numel() for m in prunable_layers_of(net))
    zeros = sum(int((m.weight == 0).sum()) for m in prunable_layers_of(net))
    assert zeros >= round(0.8 * total)
    assert not net.training


def prunable_layers_of(net):
    from labkit.models import weight_layers

    return list(weight_layers(net).values())


def test_iterative_pruning_checks_its_data_before_touching_the_model(net):
    before = copy.deepcopy(net.state_dict())
    with pytest.raises(TypeError, match="argument 'data'"):
        iterative_prune(net, "not data", 0.8)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_single_layer_model_is_stored_sparse():
    layer = nn.Linear(64, 64)
    apply_masks(layer, {"": magnitude_mask(layer.weight, 0.9)})
    assert isinstance(pack_sparse(layer)["weight"], dict)
    assert sparse_state_bytes(layer) < file_bytes(layer) / 2


def test_one_shot_without_fine_tuning_is_iterative_pruning_with_one_step_and_no_epochs(net, data):
    one_shot = apply_masks(copy.deepcopy(net), global_magnitude_masks(net, 0.6))
    same = iterative_prune(copy.deepcopy(net), data, 0.6, steps=1, epochs_per_step=0)
    assert all(
        torch.equal(a, b)
        for a, b in zip(one_shot.state_dict().values(), same.state_dict().values(), strict=True)
    )


def test_the_seed_of_iterative_pruning_orders_the_batches(net, data):
    small = data.with_train_subset(128)
    runs = [
        iterative_prune(copy.deepcopy(net), small, 0.5, 1, 1, seed=seed, progress=False)
        for seed in (0, 0, 1)
    ]
    weights = [r.features[4].weight for r in runs]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])
    with pytest.raises(ValueError, match="seed"):
        iterative_prune(net, small, 0.5, seed=-1)


def test_the_pruning_plots_draw_and_check_their_arguments():
    ax = plots.plot_over_seeds([0.5, 0.9], {"a": [[90, 80], [92, 70]], "b": [[99, 98], [99, 97]]})
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    ax = plots.plot_savings(
        {"slim": {"bytes": 4.0, "speed": 1.5}, "zeros": {"bytes": 1.0, "speed": 1.0}}
    )
    assert len(ax.patches) == 4
    plots.mark_savings_ranges(ax, "speed", {"slim": (1.2, 1.9), "zeros": (0.8, 1.1)})
    moved = sorted(t.xy[1] for t in ax.texts if t.get_text() in ("1.5x", "1.0x"))
    assert moved[-2:] == [1.1, 1.9]  # the speed labels sit above their error bars
    with pytest.raises(ValueError, match="does not hold its bar"):
        plots.mark_savings_ranges(ax, "speed", {"slim": (1.6, 1.9), "zeros": (0.8, 1.1)})
    with pytest.raises(ValueError, match="no bars named"):
        plots.mark_savings_ranges(ax, "MACs", {"slim": (1, 2), "zeros": (1, 2)})
    with pytest.raises(ValueError, match="each of"):
        plots.mark_savings_ranges(ax, "speed", {"slim": (1, 2)})
    with pytest.raises(ValueError, match="'a' needs one list of 2 values"):
        plots.plot_over_seeds([0.5, 0.9], {"a": [[1, 2, 3]]})
    with pytest.raises(TypeError, match="savings"):
        plots.plot_savings({})


def test_the_prune_benchmark_never_times_a_model_that_compiled_to_nothing(monkeypatch, net):
    from labkit.deploy import Compiled
    from labkit.prune import bench as bench_prune

    # A "compiled" model for which torch.compile built no graph (as past its recompile limit,
    # where the wrapper silently runs the model eagerly) must not be timed as compiled.
    monkeypatch.setattr(
        bench_prune, "compile_model", lambda model, *args: Compiled(model, True, 0.0)
    )
    result = bench_prune._compile(net, torch.zeros(2, 1, 16, 16), False, "slim")
    assert not result.compiled and "no graph" in result.reason and result.mode == "eager"
