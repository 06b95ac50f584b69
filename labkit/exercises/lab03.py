"""Exercises of notebooks/03_pruning.ipynb.

Used by: notebook 03 (``from labkit.exercises import lab03``) and the tests
(``tests/test_exercises.py`` runs every question's declaration, with ``example_context()``
in place of the notebook's variables).
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from labkit.check import (
    Alternative,
    NotAttempted,
    Planted,
    Question,
    Wrong,
    bind,
    call_learner,
    is_placeholder,
    want_callable,
    want_choice,
)
from labkit.models import weight_layers
from labkit.numeric import Mistake, Numeric
from labkit.prune.masks import global_magnitude_masks, magnitude_mask
from labkit.zoo import load_pretrained

_OTHER_LAYERS = ("features.0", "features.8", "classifier")  # Q1: the baseline's other layers
NEAR_TIE = 1.0  # Q3: total drops within 1 point of the largest count as "most sensitive" too


def example_context() -> dict:
    """A sensitivity scan with a known answer, standing in for the notebook's ``scan``."""
    scan = {
        "features.0": [99.0, 90.0, 40.0],
        "features.4": [99.0, 98.0, 80.0],
        "classifier": [99.0, 99.0, 97.0],
    }
    return {"scan": scan}


# --------------------------------------------------------------------------- Q1: kept weights


def _kept_at_90(n: int) -> int:
    return n - round(0.9 * n)


@functools.cache
def _sizes() -> dict[str, int]:
    """The number of weights of each layer of the baseline."""
    return {
        name: m.weight.numel()
        for name, m in weight_layers(load_pretrained("digits_baseline")).items()
    }


def _n() -> int:
    return _sizes()["features.4"]


def _fits(name: str, count: str) -> Mistake:
    """The answer for another layer: all its weights, or what a 90% mask keeps of them."""
    kept = count == "kept"
    return Mistake(
        f"{count} of {name}",
        lambda: _kept_at_90(_sizes()[name]) if kept else _sizes()[name],
        f"{{kept:,}} fits {name} ({{sizes[{name}]:,}} entries); the question is about "
        "net.features[4].weight",
    )


def _solution_q1(net):
    n = net.features[4].weight.numel()
    kept = n - round(0.9 * n)
    return kept


q1 = Numeric(
    answers=["kept"],
    what="a count of weights",
    whole=True,
    truth=lambda: _kept_at_90(_n()),
    mistakes=[
        Mistake(
            "the pruned count",
            lambda: round(0.9 * _n()),
            "{kept:,} is how many are pruned (set to zero); the question asks how many stay",
        ),
        Mistake(
            "every entry",
            _n,
            "{kept:,} is every entry of net.features[4].weight; at 90% sparsity most are pruned",
        ),
        Mistake(
            "truncated",
            lambda: int(0.1 * _n()),
            "{kept:,} looks like 10% of {n:,} cut down to a whole number ({tenth:g} -> {kept}); "
            "a mask rounds the number it prunes to the nearest whole number",
        ),
        *[_fits(name, count) for name in _OTHER_LAYERS for count in ("all", "kept")],
        Mistake(
            "more than there are",
            lambda: _n() + 1,
            "{kept:,} cannot be a count of kept weights: the tensor has {n:,} entries",
            when=lambda kept: not 0 <= kept <= _n(),
        ),
        Mistake(
            "off by one",
            lambda: _kept_at_90(_n()) + 1,
            "{kept:,} is close but not it: look at how the pruned count is rounded",
            when=lambda kept, truth: 0 < abs(kept - truth) <= 2,
        ),
    ],
    facts=lambda: {
        "n": _n(),
        "tenth": 0.1 * _n(),
        "pruned": _n() - _kept_at_90(_n()),
        "sizes": _sizes(),
    },
    wrong_message=(
        "{kept:,} is not what a 90% mask keeps of the {n:,} entries of net.features[4].weight"
    ),
    success="{truth} of {n:,} weights stay; the other {pruned:,} become '-' (zero).",
    hints=[
        "First count the entries of the weight tensor (a tensor's .numel()); 90% of them are "
        "pruned.",
        "A mask prunes a whole number of entries, rounded to the nearest like magnitude_mask "
        "does, and keeps all the others. You can also build the mask and count what it keeps.",
    ],
    solution=_solution_q1,
    wrong=[Planted("a fraction", (0.1,), "whole number")],
    right=[
        Alternative(
            "counted from a mask",
            lambda net: (int(magnitude_mask(net.features[4].weight, 0.9).sum()),),
        ),
        Alternative("a whole float", lambda net: (float(_solution_q1(net)),)),
    ],
)


# --------------------------------------------------------------------------- Q2: global masks

# Layer shapes and sparsities whose pruned counts have fractions below and at or above .5, so
# that a count rounded down (or up) is caught; then two cases with ties (equal |w|): zeros left
# by an earlier pruning, and values rounded to one decimal (+0.3 and -0.3 tie too). With ties
# the choice among the tied weights is free: those cases check the count and that every pruned
# |w| is at most every kept |w|; the others compare with torch's global_unstructured.
_Q2_CASES = [
    ({"a": (40,), "b": (8, 4, 3, 3)}, 0.9, None),
    ({"a": (7,), "b": (10, 12)}, 0.25, None),
    ({"a": (3, 3), "b": (5,)}, 0.5, None),
    ({"only": (13,)}, 0.65, None),
    ({"a": (6, 2), "b": (4,), "c": (2, 2, 2)}, 0.0, None),
    ({"a": (4, 5), "b": (12,)}, 0.25, "zeros"),
    ({"a": (5, 6), "b": (3, 3)}, 0.5, "rounded"),
]


_TIES = {
    "zeros": "equal |w|: zeros left by an earlier pruning",
    "rounded": "equal |w|: values such as 0.3 and -0.3",
}


def _q2_weights(shapes: dict, ties: str | None, generator: torch.Generator) -> dict:
    weights = {n: torch.randn(s, generator=generator) for n, s in shapes.items()}
    if ties == "zeros":  # every other entry already pruned: 50% zeros, more than the cut
        for w in weights.values():
            w.view(-1)[::2] = 0.0
    elif ties == "rounded":
        weights = {n: (w * 10).round() / 10 for n, w in weights.items()}
    return weights


def _torch_global_masks(weights: dict[str, torch.Tensor], sparsity: float) -> dict:
    """torch.nn.utils.prune.global_unstructured on layers holding these weights."""
    layers = {}
    for name, w in weights.items():
        layer = nn.Linear(1, 1)
        layer.weight = nn.Parameter(w.clone())
        layers[name] = layer
    torch_prune.global_unstructured(
        [(layer, "weight") for layer in layers.values()],
        pruning_method=torch_prune.L1Unstructured,
        amount=sparsity,
    )
    return {name: layer.weight_mask.bool() for name, layer in layers.items()}


def _smallest_first(magnitudes: torch.Tensor, first: torch.Tensor) -> bool:
    """True if every |w| where ``first`` is True is at most every |w| where it is False."""
    if not first.any() or first.all():
        return True
    return bool(magnitudes[first].max() <= magnitudes[~first].min())


def _check_q2_case(fn, shapes, sparsity, ties, generator) -> None:
    weights = _q2_weights(shapes, ties, generator)
    where = f"on layers {shapes} at sparsity {sparsity}"
    masks = call_learner(
        fn, {n: w.clone() for n, w in weights.items()}, sparsity, what=f"my_global_masks {where}"
    )
    if not isinstance(masks, dict) or set(masks) != set(weights):
        raise Wrong(f"return a dict with one mask per layer name: {sorted(weights)}")
    if any(is_placeholder(m) for m in masks.values()):
        raise NotAttempted
    for name, mask in masks.items():
        if not isinstance(mask, torch.Tensor) or mask.shape != weights[name].shape:
            raise Wrong(f"the mask for {name!r} must be a tensor shaped like its weight")
        if mask.dtype != torch.bool:
            raise Wrong(f"return bool masks (True = keep), got dtype {mask.dtype}")
    magnitudes = torch.cat([w.abs().flatten() for w in weights.values()])
    keep = torch.cat([masks[n].flatten() for n in weights])
    total, pruned = keep.numel(), int((~keep).sum())
    want = round(sparsity * total)
    inverted = "True means keep: your masks mark the weights to prune True"
    if pruned != want:
        if pruned == total - want:
            raise Wrong(
                f"{where}, {inverted} (they keep {want} of {total} weights; sparsity {sparsity} "
                f"keeps {total - want})"
            )
        tie_note = (
            f"; this case has ties ({_TIES[ties]}): prune exactly that many, any of the tied ones"
            if ties
            else ""
        )
        raise Wrong(
            f"{where} ({total} weights in all), your masks prune {pruned}; they should prune "
            f"round({sparsity} * {total}) = {want}{tie_note}"
        )
    if ties:
        right_choice = _smallest_first(magnitudes, ~keep)
    else:
        expected = _torch_global_masks(weights, sparsity)
        right_choice = all(torch.equal(masks[n], expected[n]) for n in weights)
    if right_choice:
        return
    if _smallest_first(magnitudes, keep):  # the largest pruned: the masks are inverted
        raise Wrong(f"{where}, {inverted}")
    per_layer = all(int((~masks[n]).sum()) == round(sparsity * weights[n].numel()) for n in weights)
    raise Wrong(
        f"{where}, the count is right but not the choice: "
        + (
            "you prune each layer by the same fraction; global pruning uses one threshold for "
            "all layers together"
            if per_layer
            else "prune the entries with the smallest absolute value over all layers"
        )
    )


def _check_q2(my_global_masks) -> str:
    fn = want_callable(my_global_masks, "my_global_masks")
    generator = torch.Generator().manual_seed(3)
    for shapes, sparsity, ties in _Q2_CASES:
        _check_q2_case(fn, shapes, sparsity, ties, generator)
    return (
        "Identical to torch.nn.utils.prune.global_unstructured on every case without ties; "
        "with ties, the right count and only the smallest |w| pruned."
    )


def _solution_q2():
    def my_global_masks(weights, sparsity):
        flat = torch.cat([w.abs().flatten() for w in weights.values()])
        keep = torch.ones(flat.numel(), dtype=torch.bool)
        n_prune = round(sparsity * flat.numel())
        if n_prune:
            keep[torch.topk(flat, n_prune, largest=False).indices] = False
        masks, start = {}, 0
        for name, w in weights.items():
            masks[name] = keep[start : start + w.numel()].view_as(w)
            start += w.numel()
        return masks

    return my_global_masks


def _split(keep: torch.Tensor, weights: dict) -> dict:
    out, start = {}, 0
    for n, w in weights.items():
        out[n] = keep[start : start + w.numel()].view_as(w)
        start += w.numel()
    return out


def _per_layer(weights, sparsity):
    return {n: magnitude_mask(w, sparsity) for n, w in weights.items()}


def _floor_count(weights, sparsity):
    flat = torch.cat([w.abs().flatten() for w in weights.values()])
    n_prune = int(sparsity * flat.numel())
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    if n_prune:
        keep[torch.topk(flat, n_prune, largest=False).indices] = False
    return _split(keep, weights)


def _signed(weights, sparsity):
    flat = torch.cat([w.flatten() for w in weights.values()])
    threshold = flat.sort().values[round(sparsity * flat.numel())] if sparsity else -float("inf")
    return {n: w >= threshold for n, w in weights.items()}


def _by_threshold(weights, sparsity):
    flat = torch.cat([w.abs().flatten() for w in weights.values()])
    k = round(sparsity * flat.numel())
    if k == 0:
        return {n: torch.ones_like(w, dtype=torch.bool) for n, w in weights.items()}
    threshold = flat.sort().values[k - 1]  # the largest magnitude that is pruned
    return {n: w.abs() > threshold for n, w in weights.items()}


def _by_kthvalue(weights, sparsity):
    flat = torch.cat([w.abs().flatten() for w in weights.values()])
    threshold = flat.kthvalue(round(sparsity * flat.numel())).values  # k = 0 is out of range
    return {n: w.abs() > threshold for n, w in weights.items()}


def _by_argsort(weights, sparsity):
    flat = torch.cat([w.abs().flatten() for w in weights.values()])
    keep = torch.ones(flat.numel(), dtype=torch.bool)
    keep[flat.argsort(stable=True)[: round(sparsity * flat.numel())]] = False
    return _split(keep, weights)


def _through_labkit(weights, sparsity):
    net = nn.ModuleDict()
    for name, w in weights.items():
        layer = nn.Linear(1, 1)
        layer.weight = nn.Parameter(w.clone())
        net[name] = layer
    return global_magnitude_masks(net, sparsity)


q2 = Question(
    answers=["my_global_masks"],
    checker=_check_q2,
    hints=[
        "Global pruning ranks every weight of every layer together, by magnitude, against one "
        "threshold.",
        "Join the layers' |w| into one long vector (torch.cat of flattened tensors), prune "
        "round(sparsity * n) smallest there, then cut the vector back into the layers' shapes. "
        "Mind ties: several weights can share one |w|.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted("each layer alone", (_per_layer,), "same fraction"),
        Planted("count rounded down", (_floor_count,), "should prune"),
        Planted("signed values, not magnitudes", (_signed,), "prune"),
        Planted("a threshold: on ties it prunes too many", (_by_threshold,), "has ties"),
        Planted("kthvalue: fails when nothing is pruned", (_by_kthvalue,), "at sparsity 0.0"),
        Planted(
            "inverted: True marks the pruned weights",
            (lambda w, s: {n: ~m for n, m in _through_labkit(w, s).items()},),
            "True means keep",
        ),
        Planted(
            "float masks",
            (lambda w, s: {n: m.float() for n, m in _through_labkit(w, s).items()},),
            "bool masks",
        ),
        Planted(
            "one mask for everything",
            (lambda w, s: torch.ones(3, dtype=torch.bool),),
            "one mask per layer",
        ),
    ],
    right=[
        Alternative("argsort instead of topk", (_by_argsort,)),
        Alternative("labkit's own, through layers", (_through_labkit,)),
    ],
)


# --------------------------------------------------------------------------- Q3: sensitivity


def _check_q3(most_sensitive, scan) -> str:
    if not isinstance(scan, dict) or not scan:
        raise Wrong("pass the sensitivity scan result, `scan`, as the second argument")
    layer = want_choice(most_sensitive, sorted(scan), "the layer")
    drop = {name: sum(accs[0] - a for a in accs) for name, accs in scan.items()}
    largest = max(drop.values())
    if drop[layer] < largest - NEAR_TIE:
        raise Wrong(
            f"{layer} loses {drop[layer]:.1f} points in all, added over the sparsities scanned; "
            "another layer loses more. Add up each curve's drop below its first point."
        )
    return f"{layer}: prune it least (or not at all), and prune the robust layers more."


def _solution_q3(scan):
    drop = {name: sum(accs[0] - a for a in accs) for name, accs in scan.items()}
    most_sensitive = max(drop, key=drop.get)
    return most_sensitive


def _from_an_array(scan):
    names = np.array(list(scan))
    drops = [sum(accs[0] - a for a in accs) for accs in scan.values()]
    return names[np.argmax(drops)], scan  # a numpy.str_, not a str


def _by_mean_accuracy(scan):
    return (min(scan, key=lambda name: sum(scan[name]) / len(scan[name])), scan)


q3 = Question(
    answers=["most_sensitive"],
    given=["scan"],
    checker=_check_q3,
    hints=[
        "Sensitive means: pruning that layer alone costs the most accuracy.",
        "For each layer, add up how far its curve lies below its unpruned accuracy (the first "
        "point) over all the sparsities scanned; the largest total wins.",
    ],
    solution=_solution_q3,
    wrong=[
        Planted(
            "the most robust layer", lambda scan: ("classifier", scan), "another layer loses more"
        ),
        Planted("not a layer", lambda scan: ("conv1", scan), "one of"),
        Planted("no scan passed", ("features.0", [1, 2]), "scan result"),
    ],
    right=[
        Alternative("lowest mean accuracy (same ranking)", _by_mean_accuracy),
        Alternative("a NumPy string, read from an array of names", _from_an_array),
    ],
)

QUESTIONS = bind(globals())
