"""Exercises of notebooks/03_pruning.ipynb."""

from __future__ import annotations

import numbers

import torch

from labkit.check import Question, Wrong


def _layer_weights() -> int:
    from labkit.zoo import load_pretrained

    return load_pretrained("baseline").features[4].weight.numel()


def _check_q1(kept) -> str:
    if isinstance(kept, bool) or not isinstance(kept, numbers.Integral):
        raise Wrong(f"a count of weights is a whole number, got {kept!r}")
    n = _layer_weights()
    truth = n - round(0.9 * n)
    if kept == round(0.9 * n):
        raise Wrong(f"{kept} is how many are pruned (set to zero); the question asks how many stay")
    if kept != truth:
        raise Wrong(
            f"net.features[4].weight has {n:,} entries; 90% sparsity prunes round(0.9 * {n:,})"
        )
    return f"{truth} of {n:,} weights stay; the other {n - truth:,} become '-' (zero)."


q1 = Question(
    "lab03.q1",
    _check_q1,
    hint="weight.numel() entries; 90% sparsity prunes round(0.9 * n) of them.",
    solution="""
n = net.features[4].weight.numel()
kept = n - round(0.9 * n)
lab03.q1.check(kept)
""",
)


def _check_q2(fn) -> str:
    from torch.nn.utils import prune as torch_prune

    if not callable(fn):
        raise Wrong(f"give the function my_magnitude_mask itself, got {type(fn).__name__}")
    generator = torch.Generator().manual_seed(3)
    for shape, sparsity in [((40,), 0.5), ((8, 4, 3, 3), 0.9), ((10, 12), 0.25), ((5, 5), 0.0)]:
        weight = torch.randn(shape, generator=generator)
        try:
            mask = fn(weight.clone(), sparsity)
        except Exception as err:
            raise Wrong(f"my_magnitude_mask raised {type(err).__name__}: {err}") from err
        if not isinstance(mask, torch.Tensor) or mask.shape != weight.shape:
            raise Wrong(f"return a tensor shaped like the weight {tuple(shape)}")
        if mask.dtype != torch.bool:
            raise Wrong(f"return a bool mask (True = keep), got dtype {mask.dtype}")
        layer = torch.nn.Linear(1, 1)
        layer.weight = torch.nn.Parameter(weight.clone())
        torch_prune.l1_unstructured(layer, "weight", amount=sparsity)
        expected = layer.weight_mask.bool()
        pruned, want = int((~mask).sum()), int((~expected).sum())
        if pruned != want:
            raise Wrong(
                f"at sparsity {sparsity} on {weight.numel()} weights your mask prunes {pruned}; "
                f"it should prune {want}"
            )
        if not torch.equal(mask, expected):
            raise Wrong(
                "the count is right but not the choice: prune the entries with the smallest "
                "absolute value (a large negative weight matters as much as a large positive one)"
            )
    return "Identical to torch.nn.utils.prune.l1_unstructured on every test tensor."


q2 = Question(
    "lab03.q2",
    _check_q2,
    hint=(
        "n_prune = round(sparsity * weight.numel()); torch.topk(weight.abs().flatten(), n_prune, "
        "largest=False).indices are the ones to prune."
    ),
    solution="""
def my_magnitude_mask(weight, sparsity):
    n_prune = round(sparsity * weight.numel())
    mask = torch.ones(weight.numel(), dtype=torch.bool)
    if n_prune:
        smallest = torch.topk(weight.abs().flatten(), n_prune, largest=False).indices
        mask[smallest] = False
    return mask.view_as(weight)


lab03.q2.check(my_magnitude_mask)
""",
)


def _check_q3(layer, scan) -> str:
    if not isinstance(scan, dict) or not scan:
        raise Wrong("pass the sensitivity scan result, `scan`, as the second argument")
    if layer not in scan:
        raise Wrong(f"answer with one of the layer names {sorted(scan)}, got {layer!r}")
    # The most sensitive layer loses the most accuracy, summed over the sparsities scanned.
    loss = {name: sum(accs[0] - a for a in accs) for name, accs in scan.items()}
    worst = max(loss, key=loss.get)
    if layer != worst:
        raise Wrong(
            f"{layer} loses less accuracy than another layer as it is pruned; look for the "
            "curve that falls first and furthest"
        )
    return f"{layer}: prune it least (or not at all), and prune the robust layers more."


q3 = Question(
    "lab03.q3",
    _check_q3,
    hint="In the sensitivity plot, which curve drops first and furthest?",
    solution="""
drop = {name: sum(accs[0] - a for a in accs) for name, accs in scan.items()}
most_sensitive = max(drop, key=drop.get)
lab03.q3.check(most_sensitive, scan)
""",
)
