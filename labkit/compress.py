"""Compression as chainable steps: remove channels (structured pruning), factorize layers at
ranks, prune weights at a sparsity, train aware of quantization at a number of bits. Each step
is a small parameterized record; ``compress(net, steps, example)`` applies a chain of them to a
copy of ``net`` and returns a :class:`Compressed` model to fine-tune (with ``labkit.fit`` or
with a teacher, ``labkit.distill.train_student``), which keeps itself compressed while it learns
and reports its size, multiply-accumulates and accuracy.

The steps are the ones notebooks 03, 04 and 06 teach, composed: distillation (notebook 07)
repairs a compressed copy of its teacher, and the capstone (notebook 08) searches over chains.
They apply in one order, the only one in which each leaves the next something to work on:
channels go first (they change the shapes the others see), then factorization (new, smaller
layers), then pruning masks on those layers' weights, and quantization-aware training last (it
rounds whatever weights remain, and a zero stays zero on a symmetric grid).

Used by: labkit.distill.table (notebook 07's compressed students) and the capstone.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from labkit._validate import check_bits, check_float, check_module, check_tensor
from labkit.data import Split, check_split
from labkit.factorize.lowrank import (
    METHODS,
    factorize_model,
    factorized_cost,
    uniform_ranks,
)
from labkit.measure import count_macs, count_parameters
from labkit.models import weight_layers
from labkit.prune.masks import apply_masks, global_magnitude_masks, keep_masks, prune_channels
from labkit.quantize.fewer_bits import add_fake_quant, bake_fake_quant
from labkit.train import Accuracy, evaluate


@dataclass(frozen=True)
class PruneChannels:
    """Structured pruning: remove ``channel_ratio`` of every convolution's output channels
    (smallest L2 norm, torch-pruning keeps the shapes consistent): a smaller dense model."""

    channel_ratio: float

    def __post_init__(self) -> None:
        check_float("channel_ratio", self.channel_ratio, low=0, high=1, high_inclusive=False)


@dataclass(frozen=True)
class Factorize:
    """Replace layers by low-rank products: either ``ranks`` ({layer name: rank}, any
    factorizable layer), or the same ``fraction`` of every convolution's largest rank (where that
    leaves it smaller); ``method`` "svd", "spatial" or "tucker". Hashable: ``ranks`` is kept as
    a tuple of (name, rank) pairs."""

    ranks: tuple | None = None
    fraction: float | None = None
    method: str = "tucker"

    def __post_init__(self) -> None:
        if (self.ranks is None) == (self.fraction is None):
            raise ValueError("arguments 'ranks' and 'fraction': give exactly one of the two")
        if self.fraction is not None:
            check_float("fraction", self.fraction, low=0, high=1, low_inclusive=False)
        if self.method not in METHODS:
            raise ValueError(
                f"argument 'method' must be one of {list(METHODS)}, got {self.method!r}"
            )
        if self.ranks is not None:
            ranks = self.ranks
            if isinstance(ranks, dict):
                ranks = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in ranks.items())
            if not isinstance(ranks, tuple) or not ranks:
                raise TypeError(
                    f"argument 'ranks' must be a non-empty {{layer: rank}} dict, got {self.ranks!r}"
                )
            object.__setattr__(self, "ranks", ranks)


@dataclass(frozen=True)
class Prune:
    """Unstructured pruning: zero the ``sparsity`` share of all conv and linear weights with the
    smallest magnitude (one global threshold); the masks are kept through fine-tuning."""

    sparsity: float

    def __post_init__(self) -> None:
        check_float(
            "sparsity", self.sparsity, low=0, high=1, low_inclusive=False, high_inclusive=False
        )


@dataclass(frozen=True)
class QuantizeAware:
    """Quantization-aware training: every conv and linear weight is seen rounded to a
    symmetric per-channel grid of ``bits`` bits while it learns, and stored so at the end."""

    bits: int

    def __post_init__(self) -> None:
        check_bits(self.bits)


Step = PruneChannels | Factorize | Prune | QuantizeAware
ORDER = (PruneChannels, Factorize, Prune, QuantizeAware)  # see the module docstring


@dataclass
class Compressed:
    """A compressed copy, ready to fine-tune: ``net``; ``after_step(net)``, what must run after
    every optimizer step to keep it compressed (None if nothing must); ``finish()``, the final
    model once fine-tuning is done (quantized weights baked in); and what the steps were.
    ``stored_bytes()`` is its size stored compactly (see there); ``report(split, example)``
    measures size, multiply-accumulates and accuracy at once."""

    net: nn.Module
    steps: tuple[Step, ...]
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    _keep: Callable[[nn.Module], None] | None = None

    @property
    def after_step(self) -> Callable[[nn.Module], None] | None:
        """The hook for ``fit(after_step=...)``: re-zero the pruned weights (None if unpruned)."""
        return self._keep

    @property
    def bits(self) -> int:
        """The bits each stored weight takes: the quantization step's, or 32 (float32)."""
        return next((s.bits for s in self.steps if isinstance(s, QuantizeAware)), 32)

    def finish(self) -> nn.Module:
        """The final model: quantization-aware weights replaced by their rounded values (in
        place), in eval mode. Call it once fine-tuning is done: ``after_step`` is None after."""
        self._keep = None  # the masks' tensors are the model's own; nothing to keep any more
        return bake_fake_quant(self.net).eval()

    def stored_bytes(self) -> int:
        """Bytes of the model stored compactly: each conv and linear weight at ``bits`` bits
        per kept number (packed), plus, where pruned, a 1-bit-per-entry bitmap of which are
        kept, plus, where quantized, one float32 scale per output channel; every other tensor
        (biases, batch norm) in float32."""
        layers = weight_layers(self.net)
        weights = {id(_stored_weight(m)) for m in layers.values()}
        total = 0
        for name, layer in layers.items():
            w = _stored_weight(layer)
            kept = int((w != 0).sum()) if name in self.masks else w.numel()
            total += math.ceil(kept * self.bits / 8)
            if name in self.masks:
                total += math.ceil(w.numel() / 8)
            if self.bits < 32:
                total += 4 * w.shape[0]
        for t in self.net.state_dict(keep_vars=True).values():
            if id(t) not in weights:
                total += t.numel() * t.element_size()
        return total

    def report(self, split: Split, example: torch.Tensor) -> CompressionReport:
        """Size stored compactly, parameters kept (nonzero), multiply-accumulates of one pass
        over ``example`` (dense: zeros are still multiplied by dense kernels), and accuracy on
        ``split``; the model is measured as it is now (call after ``finish()``)."""
        check_split("split", split)
        check_tensor("example", example, min_ndim=2)
        if any(hasattr(m, "parametrizations") for m in weight_layers(self.net).values()):
            raise RuntimeError(
                "the weights are still being trained aware of quantization: call finish() "
                "first, so that the report measures the rounded weights the model will store"
            )
        kept = sum(int((p != 0).sum()) for p in self.net.parameters())
        return CompressionReport(
            self.stored_bytes(),
            count_parameters(self.net),
            kept,
            count_macs(self.net, example),
            evaluate(self.net, split),
        )


@dataclass(frozen=True)
class CompressionReport:
    """What a compressed model costs and keeps: bytes stored compactly, parameters (all, and
    the nonzero ones), multiply-accumulates of one pass, and accuracy with its interval."""

    stored_bytes: int
    n_params: int
    nonzero_params: int
    macs: int
    accuracy: Accuracy


def _stored_weight(layer: nn.Module) -> torch.Tensor:
    """A layer's weight as stored: under a quantization-aware parametrization, the original."""
    param = getattr(layer, "parametrizations", None)
    return param.weight.original if param is not None and "weight" in param else layer.weight


def _check_steps(steps: Sequence[Step]) -> tuple[Step, ...]:
    if isinstance(steps, ORDER):
        steps = (steps,)
    if isinstance(steps, str) or not isinstance(steps, Sequence) or not steps:
        raise TypeError(
            "argument 'steps' must be a list of compression steps such as "
            f"[Prune(0.9), QuantizeAware(4)], got {steps!r}"
        )
    kinds = []
    for step in steps:
        if not isinstance(step, ORDER):
            raise TypeError(
                "argument 'steps' holds "
                f"{step!r}; allowed: {', '.join(k.__name__ for k in ORDER)} (labkit.compress)"
            )
        kinds.append(ORDER.index(type(step)))
    if kinds != sorted(set(kinds)):
        raise ValueError(
            "argument 'steps': each kind at most once, in the order "
            f"{' -> '.join(k.__name__ for k in ORDER)}; got "
            f"{' -> '.join(type(s).__name__ for s in steps)}"
        )
    return tuple(steps)


def _factorize(net: nn.Module, step: Factorize) -> nn.Module:
    ranks = dict(step.ranks) if step.ranks is not None else None
    if ranks is None:  # the same share of every convolution's rank, where that saves weights
        convs = [n for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
        layers = dict(net.named_modules())
        ranks = {
            name: rank
            for name, rank in uniform_ranks(net, step.fraction, step.method, convs).items()
            if factorized_cost(layers[name], rank, step.method)["params"]
            < factorized_cost(layers[name], None, step.method)["params"]
        }
        if not ranks:
            raise ValueError(
                f"argument 'steps': Factorize(fraction={step.fraction:g}) leaves no convolution "
                "smaller than it was; give a smaller fraction or ranks"
            )
    return factorize_model(net, ranks, step.method)


def compress(
    net: nn.Module, steps: Sequence[Step] | Step, example: torch.Tensor | None = None
) -> Compressed:
    """A compressed copy of ``net`` by a chain of ``steps`` (see the module docstring for the
    order), ready to fine-tune; ``net`` is left as it was. ``example`` (a batch of inputs) is
    needed only to remove channels, which traces the model. Every step is checked before any
    work starts.
    """
    check_module("net", net)
    steps = _check_steps(steps)
    if any(isinstance(s, PruneChannels) for s in steps):
        if example is None:
            raise ValueError("argument 'example' is needed to remove channels (PruneChannels)")
        check_tensor("example", example, min_ndim=2)
    out = copy.deepcopy(net)
    masks: dict[str, torch.Tensor] = {}
    keep = None
    for step in steps:
        if isinstance(step, PruneChannels):
            out = prune_channels(out, step.channel_ratio, example)
        elif isinstance(step, Factorize):
            out = _factorize(out, step)
        elif isinstance(step, Prune):
            masks = global_magnitude_masks(out, step.sparsity)
            apply_masks(out, masks)
            # made before quantization-aware training wraps the weights: it holds the stored
            # weight tensors themselves, which the wrapper keeps as its "original"
            keep = keep_masks(out, masks)
        else:
            add_fake_quant(out, step.bits)
    return Compressed(out, steps, masks, keep)
