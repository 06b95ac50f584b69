"""Pruning: weight (unstructured), neuron and structured (whole channels), by magnitude or by
sensitivity; masks kept through fine-tuning; and what the zeros really save.

For notebooks/03_pruning.ipynb and ``labkit bench prune`` (both still to come: issue 4).

A *mask* is a bool tensor shaped like a weight: True keeps the entry, False prunes it (the
"-" entries of the course brief's matrix picture).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from labkit._validate import check_choice, check_float, check_int

PRUNABLE = (nn.Conv2d, nn.Linear)
MASK_METHODS = ("unstructured", "neuron")


def _check_sparsity(sparsity: float) -> float:
    return check_float("sparsity", sparsity, low=0, high=1, high_inclusive=False)


def prunable_layers(net: nn.Module) -> dict[str, nn.Module]:
    """The conv and linear layers of ``net`` by name: the ones whose weights we prune."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"argument 'net' must be a torch.nn.Module, got {type(net).__name__}")
    return {name: m for name, m in net.named_modules() if isinstance(m, PRUNABLE)}


def _check_layer(layer: nn.Module) -> torch.Tensor:
    weight = getattr(layer, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(
            f"argument 'layer': a {type(layer).__name__} has no weight to prune; "
            "give a Conv2d or Linear layer"
        )
    return weight


def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Keep the largest |w|; prune the round(sparsity * n) smallest. From scratch."""
    if not isinstance(weight, torch.Tensor) or weight.numel() == 0:
        raise ValueError("argument 'weight' must be a non-empty tensor")
    sparsity = _check_sparsity(sparsity)
    n_prune = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    if n_prune:
        smallest = torch.topk(weight.detach().abs().flatten(), n_prune, largest=False).indices
        mask[smallest] = False
    return mask.view_as(weight)


def global_magnitude_masks(net: nn.Module, sparsity: float) -> dict[str, torch.Tensor]:
    """One threshold for every layer: the smallest |w| of the whole network are pruned."""
    sparsity = _check_sparsity(sparsity)
    layers = prunable_layers(net)
    if not layers:
        raise ValueError("argument 'net' has no Conv2d or Linear layer to prune")
    flat = torch.cat([m.weight.detach().abs().flatten() for m in layers.values()])
    n_prune = round(sparsity * flat.numel())
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if n_prune:
        keep[torch.topk(flat, n_prune, largest=False).indices] = False
    masks, start = {}, 0
    for name, m in layers.items():
        n = m.weight.numel()
        masks[name] = keep[start : start + n].view_as(m.weight)
        start += n
    return masks


def layerwise_magnitude_masks(
    net: nn.Module, sparsity: float | Mapping[str, float]
) -> dict[str, torch.Tensor]:
    """The same sparsity in every layer (a number), or one per layer (a {name: sparsity} dict)."""
    layers = prunable_layers(net)
    if isinstance(sparsity, Mapping):
        unknown = set(sparsity) - set(layers)
        if unknown:
            raise ValueError(
                f"argument 'sparsity' names {sorted(unknown)}, not prunable layers of net; "
                f"allowed: {sorted(layers)}"
            )
        return {n: magnitude_mask(layers[n].weight, s) for n, s in sparsity.items()}
    return {n: magnitude_mask(m.weight, sparsity) for n, m in layers.items()}


def neuron_mask(layer: nn.Module, sparsity: float) -> torch.Tensor:
    """Prune whole output units (a conv filter or a linear row) with the smallest L2 norm."""
    weight = _check_layer(layer)
    sparsity = _check_sparsity(sparsity)
    norms = weight.detach().flatten(1).norm(dim=1)
    n_prune = round(sparsity * len(norms))
    keep = torch.ones(len(norms), dtype=torch.bool)
    if n_prune:
        keep[torch.topk(norms, n_prune, largest=False).indices] = False
    return keep.view(-1, *([1] * (weight.dim() - 1))).expand_as(weight).clone()


def apply_masks(net: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """Zero the pruned weights in place (masks from any function above); returns ``net``."""
    layers = prunable_layers(net)
    for name, mask in masks.items():
        if name not in layers:
            raise ValueError(f"argument 'masks' names {name!r}, not a prunable layer of net")
        if mask.shape != layers[name].weight.shape:
            raise ValueError(
                f"argument 'masks': the mask for {name!r} has shape {tuple(mask.shape)}, "
                f"the weight {tuple(layers[name].weight.shape)}"
            )
    with torch.no_grad():
        for name, mask in masks.items():
            layers[name].weight.mul_(mask.to(layers[name].weight.dtype))
    return net


def keep_masks(net: nn.Module, masks: Mapping[str, torch.Tensor]) -> Callable[..., None]:
    """An ``after_step`` hook for ``labkit.fit``: re-zero pruned weights after every optimizer
    step, so fine-tuning recovers accuracy without regrowing them."""
    layers = prunable_layers(net)
    pairs = [(layers[n].weight, m.to(layers[n].weight.device)) for n, m in masks.items()]

    def reapply(_net: nn.Module | None = None) -> None:
        with torch.no_grad():
            for weight, mask in pairs:
                weight.mul_(mask)

    return reapply


def layer_sparsity(net: nn.Module) -> dict[str, float]:
    """Fraction of exact zeros in each prunable layer's weight."""
    return {n: float((m.weight == 0).float().mean()) for n, m in prunable_layers(net).items()}


def pack_sparse(net: nn.Module) -> dict[str, object]:
    """The state dict with every prunable weight stored as a bitmap (1 bit per entry: kept or
    pruned) plus its kept values; the rest dense. Bytes per weight tensor of n entries at
    sparsity s: n/8 + 4(1-s)n instead of 4n, so 90% zeros store about 7.6x smaller."""
    import numpy as np

    weights = {f"{n}.weight" for n in prunable_layers(net)}
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
    import numpy as np

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
    """Bytes of ``pack_sparse(net)`` saved with torch.save: what pruning saves on disk."""
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
    ``net`` itself is left untouched."""
    from tqdm.auto import tqdm

    if not callable(evaluate_fn):
        raise TypeError("argument 'evaluate_fn' must be callable: net -> accuracy")
    sparsities = [_check_sparsity(s) for s in sparsities]
    if not sparsities:
        raise ValueError("argument 'sparsities' must list at least one sparsity")
    layers = prunable_layers(net)
    result: dict[str, list[float]] = {}
    bar = tqdm(total=len(layers) * len(sparsities), desc="sensitivity", disable=not progress)
    for name in layers:
        result[name] = []
        for s in sparsities:
            trial = copy.deepcopy(net)
            apply_masks(trial, {name: magnitude_mask(prunable_layers(trial)[name].weight, s)})
            result[name].append(float(evaluate_fn(trial)))
            bar.update(1)
    bar.close()
    return result


def prune_channels(net: nn.Module, ratio: float, example: torch.Tensor) -> nn.Module:
    """Structured pruning that really removes channels: torch-pruning's dependency-aware pruner
    removes the ``ratio`` of each conv layer's output channels with the smallest L2 norm, and
    the matching inputs of the next layers and batch norms. Returns a smaller copy; the
    classifier's outputs are kept."""
    import torch_pruning as tp

    ratio = check_float("ratio", ratio, low=0, high=1, high_inclusive=False)
    if not isinstance(example, torch.Tensor):
        raise TypeError("argument 'example' must be an input tensor, e.g. data.val.X[:1]")
    small = copy.deepcopy(net).eval()
    ignored = [m for m in small.modules() if isinstance(m, nn.Linear)]
    pruner = tp.pruner.MetaPruner(
        small,
        example,
        importance=tp.importance.MagnitudeImportance(p=2),
        pruning_ratio=ratio,
        ignored_layers=ignored,
    )
    pruner.step()
    return small


def prune(net: nn.Module, method: str, sparsity: float) -> dict[str, torch.Tensor]:
    """Masks for ``method`` at ``sparsity``; apply them with ``apply_masks``.

    "unstructured": single weights, smallest magnitude over the whole network (global);
    "neuron": whole output units (conv filters, linear rows) with the smallest L2 norm, in
    every layer but the last (whose outputs are the classes). Zeros keep the shapes; to really
    remove channels use ``prune_channels``.
    """
    check_choice("method", method, MASK_METHODS)
    sparsity = _check_sparsity(sparsity)
    if method == "unstructured":
        return global_magnitude_masks(net, sparsity)
    layers = list(prunable_layers(net).items())[:-1]
    return {n: neuron_mask(m, sparsity) for n, m in layers}


def iterative_prune(
    net: nn.Module,
    data,
    sparsity: float,
    steps: int = 3,
    epochs_per_step: int = 2,
    lr: float = 1e-3,
    progress: bool = True,
) -> nn.Module:
    """Prune (global magnitude) in ``steps`` growing steps up to ``sparsity``, fine-tuning
    ``epochs_per_step`` epochs after each with the masks kept: gentler than one big cut.
    Works on ``net`` in place and returns it."""
    from labkit.train import fit

    sparsity = _check_sparsity(sparsity)
    steps = check_int("steps", steps, min_value=1, max_value=100)
    epochs_per_step = check_int("epochs_per_step", epochs_per_step, min_value=0, max_value=100)
    for k in range(1, steps + 1):
        masks = global_magnitude_masks(net, sparsity * k / steps)
        apply_masks(net, masks)
        if epochs_per_step:
            fit(
                net,
                data.train,
                epochs=epochs_per_step,
                lr=lr,
                after_step=keep_masks(net, masks),
                progress=progress,
                desc=f"fine-tune at {sparsity * k / steps:.0%}",
            )
    return net.eval()


def benchmark(progress: bool = False, latency_batch: int = 256) -> dict:
    """The numbers ``labkit bench prune`` prints (see issue 4 for the format).

    Latency is timed on a batch of ``latency_batch`` test images (throughput, where the
    arithmetic dominates) and, as ``latency_ratio_batch1``, on one image (where fixed
    per-layer overheads dominate and pruning helps far less). Both side by side in one run."""
    from labkit.data import load_digits
    from labkit.measure import compare_latency, serialized_size, speedup
    from labkit.train import evaluate, fit
    from labkit.zoo import load_pretrained

    torch.manual_seed(0)
    data = load_digits()
    base = load_pretrained("baseline").eval()
    example = data.test.X[: check_int("latency_batch", latency_batch, min_value=1, max_value=450)]

    def pct(net: nn.Module) -> float:
        return round(100 * evaluate(net, data.test).value, 2)

    rows, models = [], {"baseline": base}
    for s in (0.5, 0.8, 0.9):
        net = copy.deepcopy(base)
        before = copy.deepcopy(base)
        apply_masks(before, global_magnitude_masks(before, s))
        iterative_prune(net, data, s, steps=3, epochs_per_step=2, progress=progress)
        models[f"unstructured {s}"] = net
        rows.append(
            dict(
                method="unstructured",
                sparsity=s,
                format="bitmap + kept values (labkit.prune.pack_sparse)",
                acc_before_finetune=pct(before),
                acc=pct(net),
                size_bytes=sparse_state_bytes(net),
                dense_size_bytes=serialized_size(net),
            )
        )
    for s in (0.3, 0.5, 0.7):
        net = prune_channels(base, s, data.val.X[:1])
        acc_before = pct(net)
        fit(net, data.train, epochs=6, lr=1e-3, progress=progress, desc=f"fine-tune {s:.0%}")
        net.eval()
        models[f"structured {s}"] = net
        rows.append(
            dict(
                method="structured",
                sparsity=s,
                format="dense, channels removed (torch-pruning)",
                acc_before_finetune=acc_before,
                acc=pct(net),
                size_bytes=serialized_size(net),
            )
        )
    base_size = serialized_size(base)
    base_ms, base1_ms = [], []
    for row in rows:
        name = f"{row['method']} {row['sparsity']}"
        # Each pruned model is timed against the baseline in alternating rounds.
        pair = {"baseline": base, name: models[name]}
        many, one = (
            compare_latency(pair, example, rounds=7),
            compare_latency(pair, example[:1], 7, 50),
        )
        base_ms.append(many["baseline"].median_ms)
        base1_ms.append(one["baseline"].median_ms)
        row["size_ratio"] = round(base_size / row["size_bytes"], 3)
        row["latency_ratio"] = speedup(many, name, "baseline")
        row["latency_ratio_batch1"] = speedup(one, name, "baseline")
        if row["method"] == "unstructured":
            row["dense_size_ratio"] = round(base_size / row.pop("dense_size_bytes"), 3)
    return {
        "technique": "prune",
        "latency_batch": latency_batch,
        "baseline": {
            "acc": pct(base),
            "size_bytes": base_size,
            "latency_ms": round(sorted(base_ms)[len(base_ms) // 2], 3),
            "latency_ms_batch1": round(sorted(base1_ms)[len(base1_ms) // 2], 3),
        },
        "rows": rows,
    }
