"""Pruning: weight (unstructured), neuron and structured (whole channels), by magnitude or by
sensitivity; masks kept through fine-tuning; and what the zeros really save.

Serves notebooks/03_pruning.ipynb; ``labkit bench prune`` (labkit/prune/bench.py) measures it.

A *mask* is a bool tensor shaped like a weight: True keeps the entry, False prunes it (the
"-" entries of the matrix picture). The layers pruned are ``labkit.models.weight_layers``.

A neuron (a conv filter, a row of a linear layer) is removed only when its output is zero:
its weights *and* its bias. Batch norm after a conv would turn a zeroed filter into a constant
map, so neuron pruning folds batch norm into the conv first (``labkit.models.fold_batchnorm``).

Used by: labkit.prune.widget, labkit.prune.bench, labkit.prune.probes and labkit.compress.
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from labkit._validate import check_callable, check_float, check_int, check_module, check_tensor
from labkit.data import check_dataset
from labkit.models import weight_layers
from labkit.train import fit


def _check_sparsity(sparsity: float) -> float:
    return check_float("sparsity", sparsity, low=0, high=1, high_inclusive=False)


def _keep_largest(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """A bool mask over ``scores`` (flat) that is False for the round(sparsity * n) smallest.
    Every pruning criterion below differs only in what it scores."""
    n_prune = round(sparsity * scores.numel())
    keep = torch.ones(scores.numel(), dtype=torch.bool)
    if n_prune:
        keep[torch.topk(scores.flatten(), n_prune, largest=False).indices] = False
    return keep


def _check_layer(layer: nn.Module) -> torch.Tensor:
    weight = getattr(layer, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(
            f"argument 'layer': a {type(layer).__name__} has no weight to prune; "
            "give a Conv2d or Linear layer"
        )
    return weight


def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep the largest |w|; prune the round(sparsity * n) smallest. From scratch.

    Lesson: notebooks/03_pruning.ipynb, "Magnitude pruning, from scratch".
    """
    check_tensor("weight", weight, finite=True)
    sparsity = _check_sparsity(sparsity)
    return _keep_largest(weight.detach().abs(), sparsity).view_as(weight)


def global_magnitude_masks(net: nn.Module, sparsity: float) -> dict[str, torch.Tensor]:
    """One threshold for every layer: the smallest |w| of the whole network are pruned.

    Lesson: notebooks/03_pruning.ipynb, "Layer-wise or global?".
    """
    sparsity = _check_sparsity(sparsity)
    layers = weight_layers(net)
    if not layers:
        raise ValueError("argument 'net' has no conv or linear layer to prune")
    flat = torch.cat([m.weight.detach().abs().flatten() for m in layers.values()])
    keep = _keep_largest(flat, sparsity)
    masks, start = {}, 0
    for name, m in layers.items():
        n = m.weight.numel()
        masks[name] = keep[start : start + n].view_as(m.weight)
        start += n
    return masks


def layerwise_magnitude_masks(
    net: nn.Module, sparsity: float | Mapping[str, float]
) -> dict[str, torch.Tensor]:
    """The same sparsity in every layer (a number), or one per layer (a {name: sparsity} dict).

    Lesson: notebooks/03_pruning.ipynb, "Layer-wise or global?".
    """
    layers = weight_layers(net)
    if isinstance(sparsity, Mapping):
        unknown = set(sparsity) - set(layers)
        if unknown:
            raise ValueError(
                f"argument 'sparsity' names {sorted(unknown)}, not prunable layers of net; "
                f"allowed: {sorted(layers)}"
            )
        plan = {n: _check_sparsity(s) for n, s in sparsity.items()}
        return {n: magnitude_mask(layers[n].weight, s) for n, s in plan.items()}
    sparsity = _check_sparsity(sparsity)
    return {n: magnitude_mask(m.weight, sparsity) for n, m in layers.items()}


def _check_channel_ratio(channel_ratio: float) -> float:
    return check_float("channel_ratio", channel_ratio, low=0, high=1, high_inclusive=False)


def neuron_mask(layer: nn.Module, channel_ratio: float) -> torch.Tensor:
    """Prune the ``channel_ratio`` of the layer's output units (conv filters or linear rows)
    with the smallest L2 norm. The mask covers the weight only; :func:`zero_neurons` also
    zeroes the units' biases.
    """
    weight = _check_layer(layer)
    if getattr(layer, "transposed", False):
        raise TypeError("argument 'layer': a transposed convolution keeps its outputs on dim 1")
    channel_ratio = _check_channel_ratio(channel_ratio)
    keep = _keep_largest(weight.detach().flatten(1).norm(dim=1), channel_ratio)
    return keep.view(-1, *([1] * (weight.dim() - 1))).expand_as(weight).clone()


def neuron_masks(net: nn.Module, channel_ratio: float) -> dict[str, torch.Tensor]:
    """:func:`neuron_mask` for every conv and linear layer but the last (whose outputs are the
    classes). Rank the units of a batch-norm network after folding it: the folded weight
    carries batch norm's scale (gamma / sigma), the raw weight does not.

    Lesson: notebooks/03_pruning.ipynb, "Neuron pruning: whole filters at once".
    """
    channel_ratio = _check_channel_ratio(channel_ratio)
    layers = list(weight_layers(net).items())[:-1]
    if not layers:
        raise ValueError("argument 'net' needs a layer before its last one to prune neurons in")
    return {name: neuron_mask(layer, channel_ratio) for name, layer in layers}


def zero_neurons(net: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """Remove the units that whole-unit ``masks`` prune (from :func:`neuron_masks`): zero their
    weights *and* their biases, in place, so that they output exactly zero. Refuses a network
    with batch norm, where a zeroed unit outputs a constant instead: fold it first with
    ``labkit.models.fold_batchnorm``. Returns ``net``.

    Lesson: notebooks/03_pruning.ipynb, "Neuron pruning: whole filters at once".
    """
    layers = _check_masks(net, masks)
    norms = [n for n, m in net.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if norms:
        raise ValueError(
            f"argument 'net' has batch norm ({', '.join(norms[:3])}): a zeroed unit would "
            "output a constant, not zero; fold it first with labkit.models.fold_batchnorm(net)"
        )
    units = {}
    for name, mask in masks.items():
        flat = mask.flatten(1)
        if not torch.equal(flat.all(dim=1), flat.any(dim=1)):
            raise ValueError(
                f"argument 'masks': the mask for {name!r} prunes parts of units; neuron "
                "masks keep or prune whole rows (labkit.prune.neuron_masks)"
            )
        units[name] = flat.all(dim=1)
    with torch.no_grad():
        for name, keep in units.items():
            layer = layers[name]
            layer.weight.mul_(masks[name].to(layer.weight.dtype))
            if layer.bias is not None:
                layer.bias.mul_(keep.to(layer.bias.dtype))
    return net


def remove_neurons(
    layer: nn.Linear, next_layer: nn.Linear, channel_ratio: float
) -> tuple[nn.Linear, nn.Linear]:
    """Neuron pruning of a hidden fully connected layer that really shrinks it: drop the
    ``channel_ratio`` of ``layer``'s units (its output channels) with the smallest L2 norm
    (their rows of the weight and their biases) and the matching columns of ``next_layer``.
    Returns two new, smaller layers.

    Lesson: notebooks/03_pruning.ipynb, "Neurons of a fully connected layer".
    """
    for arg, value in (("layer", layer), ("next_layer", next_layer)):
        if not isinstance(value, nn.Linear):
            raise TypeError(f"argument '{arg}' must be an nn.Linear, got {type(value).__name__}")
    if next_layer.in_features != layer.out_features:
        raise ValueError(
            f"argument 'next_layer' takes {next_layer.in_features} inputs; 'layer' has "
            f"{layer.out_features} outputs"
        )
    channel_ratio = _check_channel_ratio(channel_ratio)
    keep = neuron_mask(layer, channel_ratio)[:, 0]  # one bool per unit (per row)
    n_kept = int(keep.sum())
    if n_kept == 0:
        raise ValueError(
            f"argument 'channel_ratio': {channel_ratio} of {layer.out_features} units leaves none"
        )
    smaller = nn.Linear(layer.in_features, n_kept, bias=layer.bias is not None)
    after = nn.Linear(n_kept, next_layer.out_features, bias=next_layer.bias is not None)
    with torch.no_grad():
        smaller.weight.copy_(layer.weight[keep])
        after.weight.copy_(next_layer.weight[:, keep])
        if layer.bias is not None:
            smaller.bias.copy_(layer.bias[keep])
        if next_layer.bias is not None:
            after.bias.copy_(next_layer.bias)
    return smaller, after


def _check_masks(net: nn.Module, masks: Mapping[str, torch.Tensor]) -> dict[str, nn.Module]:
    layers = weight_layers(net)
    if not isinstance(masks, Mapping):
        raise TypeError(
            f"argument 'masks' must be a {{layer name: mask}} dict, got {type(masks).__name__}"
        )
    for name, mask in masks.items():
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"argument 'masks': the mask for {name!r} must be a bool tensor")
        if name not in layers:
            raise ValueError(f"argument 'masks' names {name!r}, not a prunable layer of net")
        if mask.shape != layers[name].weight.shape:
            raise ValueError(
                f"argument 'masks': the mask for {name!r} has shape {tuple(mask.shape)}, "
                f"the weight {tuple(layers[name].weight.shape)}"
            )
    return layers


def apply_masks(net: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """Zero the pruned weights in place (masks from any function above); returns ``net``.

    Lesson: notebooks/03_pruning.ipynb, "Layer-wise or global?".
    """
    layers = _check_masks(net, masks)
    with torch.no_grad():
        for name, mask in masks.items():
            layers[name].weight.mul_(mask.to(layers[name].weight.dtype))
    return net


def keep_masks(net: nn.Module, masks: Mapping[str, torch.Tensor]) -> Callable[..., None]:
    """An ``after_step`` hook for ``labkit.fit``: re-zero pruned weights after every optimizer
    step, so fine-tuning recovers accuracy without regrowing them.

    Lesson: notebooks/04_quantization.ipynb, "What each technique costs to apply".
    """
    layers = _check_masks(net, masks)
    pairs = [(layers[n].weight, m.to(layers[n].weight.device)) for n, m in masks.items()]

    def reapply(_net: nn.Module | None = None) -> None:
        with torch.no_grad():
            for weight, mask in pairs:
                weight.mul_(mask)

    return reapply


def layer_sparsity(net: nn.Module) -> dict[str, float]:
    """Fraction of exact zeros in each conv and linear layer's weight.

    Lesson: notebooks/03_pruning.ipynb, "Layer-wise or global?".
    """
    return {n: float((m.weight == 0).float().mean()) for n, m in weight_layers(net).items()}


def pack_sparse(net: nn.Module) -> dict[str, object]:
    """The state dict with every prunable weight stored as a bitmap (1 bit per entry: kept or
    pruned) plus its kept values; the rest dense. Bytes per weight tensor of n entries at
    sparsity s: n/8 + 4(1-s)n instead of 4n, so the weights at 90% zeros pack about 7.6x
    smaller. A saved file gains less: it also holds the other tensors (biases, batch norm) and
    torch.save's bookkeeping per tensor, which weigh a lot in a small model.

    Lesson: notebooks/03_pruning.ipynb, "What the zeros really save".
    """
    weights = {f"{n}.weight" if n else "weight" for n in weight_layers(net)}
    packed: dict[str, object] = {}
    for key, value in net.state_dict().items():
        value = value.detach().cpu()
        if key in weights:
            keep = value != 0
            bits = torch.from_numpy(np.packbits(keep.flatten().numpy()))
            packed[key] = {"shape": tuple(value.shape), "bitmap": bits, "values": value[keep]}
        else:
            packed[key] = value
    return packed


def unpack_sparse(packed: Mapping[str, object]) -> dict[str, torch.Tensor]:
    """Back to a dense state dict (for load_state_dict): the inverse of ``pack_sparse``."""
    state = {}
    for key, value in packed.items():
        if isinstance(value, dict):
            n = int(np.prod(value["shape"]))
            keep = torch.from_numpy(np.unpackbits(value["bitmap"].numpy())[:n].astype(bool))
            dense = torch.zeros(n, dtype=value["values"].dtype)
            dense[keep] = value["values"]
            state[key] = dense.view(value["shape"])
        else:
            state[key] = value
    return state


def sparse_state_bytes(net: nn.Module) -> int:
    """Bytes of ``pack_sparse(net)`` saved with torch.save: what pruning saves on disk.

    Lesson: notebooks/03_pruning.ipynb, "What the zeros really save".
    """
    buffer = io.BytesIO()
    torch.save(pack_sparse(net), buffer)
    return buffer.getbuffer().nbytes


def sensitivity_scan(
    net: nn.Module,
    evaluate_fn: Callable[[nn.Module], float],
    sparsities: Sequence[float] = (0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95),
    progress: bool = True,
) -> dict[str, list[float]]:
    """Prune one layer at a time (by magnitude) to each sparsity; record evaluate_fn(net).
    ``net`` itself is left untouched.

    Lesson: notebooks/03_pruning.ipynb, "Sensitivity analysis: which layers can lose the most?".
    """
    check_callable("evaluate_fn", evaluate_fn, "a function: net -> accuracy")
    if isinstance(sparsities, str) or not isinstance(sparsities, Sequence) or not sparsities:
        raise ValueError("argument 'sparsities' must list at least one sparsity, e.g. [0.5, 0.9]")
    sparsities = [_check_sparsity(s) for s in sparsities]
    layers = weight_layers(net)
    result: dict[str, list[float]] = {}
    bar = tqdm(total=len(layers) * len(sparsities), desc="sensitivity", disable=not progress)
    for name in layers:
        result[name] = []
        for s in sparsities:
            trial = copy.deepcopy(net)
            apply_masks(trial, {name: magnitude_mask(weight_layers(trial)[name].weight, s)})
            result[name].append(float(evaluate_fn(trial)))
            bar.update(1)
    bar.close()
    return result


def prune_channels(net: nn.Module, channel_ratio: float, example: torch.Tensor) -> nn.Module:
    """Structured pruning that really removes channels: torch-pruning's dependency-aware pruner
    removes the ``channel_ratio`` of each conv layer's output channels with the smallest L2
    norm, and the matching inputs of the next layers and batch norms. Returns a smaller copy;
    the classifier's outputs are kept.

    Lesson: notebooks/03_pruning.ipynb, "Structured pruning that really removes channels".
    """
    import torch_pruning as tp  # imported when used: most notebooks never need it

    channel_ratio = _check_channel_ratio(channel_ratio)
    check_tensor("example", example, min_ndim=2)
    small = copy.deepcopy(net).eval()
    ignored = [m for m in small.modules() if isinstance(m, nn.Linear)]
    pruner = tp.pruner.MetaPruner(
        small,
        example,
        importance=tp.importance.MagnitudeImportance(p=2),
        pruning_ratio=channel_ratio,
        ignored_layers=ignored,
    )
    before = {n: m.out_channels for n, m in small.named_modules() if isinstance(m, nn.Conv2d)}
    pruner.step()
    # torch-pruning leaves a layer whole, without a word, where cutting would empty a group of
    # layers it ties together: refuse rather than return a model that did not shrink as asked
    after = {n: m.out_channels for n, m in small.named_modules() if isinstance(m, nn.Conv2d)}
    whole = [n for n, c in before.items() if after.get(n) == c and int(c * channel_ratio) >= 1]
    if whole:
        raise ValueError(
            f"argument 'channel_ratio': at {channel_ratio:g}, torch-pruning left "
            f"{', '.join(whole)} whole (removing that share would empty layers tied to it); "
            "choose a smaller channel_ratio"
        )
    return small


def iterative_prune(
    net: nn.Module,
    data,
    sparsity: float,
    steps: int = 3,
    epochs_per_step: int = 2,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> nn.Module:
    """Prune (global magnitude) in ``steps`` growing steps up to ``sparsity``, fine-tuning
    ``epochs_per_step`` epochs after each with the masks kept. ``steps=1`` is one-shot pruning
    plus fine-tuning; ``epochs_per_step=0`` prunes without fine-tuning. ``seed`` fixes the order
    of the training batches. Works on ``net`` in place and returns it; every argument is
    checked before it is touched.

    Lesson: notebooks/03_pruning.ipynb, "Fine-tuning brings the accuracy back".
    """
    check_module("net", net)
    check_dataset("data", data)
    lr = check_float("lr", lr, low=0, high=10, low_inclusive=False)
    sparsity = _check_sparsity(sparsity)
    steps = check_int("steps", steps, min_value=1, max_value=100)
    epochs_per_step = check_int("epochs_per_step", epochs_per_step, min_value=0, max_value=100)
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    for k in range(1, steps + 1):
        masks = global_magnitude_masks(net, sparsity * k / steps)
        apply_masks(net, masks)
        if epochs_per_step:
            fit(
                net,
                data.train,
                epochs=epochs_per_step,
                lr=lr,
                seed=seed,
                after_step=keep_masks(net, masks),
                progress=progress,
                desc=f"fine-tune at {sparsity * k / steps:.0%}",
            )
    return net.eval()
