import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils import prune as torch_prune

from labkit.measure import count_parameters, file_bytes
from labkit.models import create_model
from labkit.prune import (
    apply_masks,
    global_magnitude_masks,
    keep_masks,
    layer_sparsity,
    layerwise_magnitude_masks,
    magnitude_mask,
    neuron_mask,
    pack_sparse,
    prune_channels,
    prune_masks,
    sensitivity_scan,
    sparse_state_bytes,
    unpack_sparse,
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
    masks = prune_masks(net, "neuron", 0.5)
    assert "classifier" not in masks


def test_fine_tuning_with_keep_masks_does_not_regrow_pruned_weights(net, data):
    from labkit.train import fit

    masks = prune_masks(net, "unstructured", 0.7)
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
    apply_masks(net, prune_masks(net, "unstructured", 0.9))
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
        (lambda n: prune_masks(n, "random", 0.5), "method"),
        (lambda n: layerwise_magnitude_masks(n, {"nope": 0.5}), "nope"),
        (lambda n: apply_masks(n, {"features.0": torch.ones(3, dtype=torch.bool)}), "shape"),
        (lambda n: global_magnitude_masks(nn.Sequential(nn.ReLU()), 0.5), "no conv or linear"),
        (lambda n: magnitude_mask(torch.tensor([1.0, float("nan")]), 0.5), "NaN"),
        (lambda n: apply_masks(n, {"features.0": torch.ones(8, 1, 3, 3)}), "bool"),
        (lambda n: sensitivity_scan(n, lambda m: 1.0, sparsities=0.5), "sparsities"),
        (lambda n: sensitivity_scan(n, 3), "evaluate_fn"),
        (lambda n: prune_channels(n, 1.5, torch.zeros(1, 1, 16, 16)), "ratio"),
    ],
)
def test_bad_input_names_the_argument(net, call, word):
    with pytest.raises((ValueError, TypeError), match=word):
        call(net)


def test_iterative_pruning_reaches_its_sparsity_and_keeps_it(net, data):
    from labkit.prune import iterative_prune

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
    from labkit.prune import iterative_prune

    before = copy.deepcopy(net.state_dict())
    with pytest.raises(TypeError, match="argument 'data'"):
        iterative_prune(net, "not data", 0.8)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_single_layer_model_is_stored_sparse():
    layer = nn.Linear(64, 64)
    apply_masks(layer, {"": magnitude_mask(layer.weight, 0.9)})
    assert isinstance(pack_sparse(layer)["weight"], dict)
    assert sparse_state_bytes(layer) < file_bytes(layer) / 2
