"""Compressed students: a compressed copy of a model, ready to be fine-tuned."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from labkit._validate import check_module
from labkit.factorize.lowrank import factorize_model
from labkit.factorize.ranks import COURSE_RANKS
from labkit.prune.masks import apply_masks, global_magnitude_masks, keep_masks
from labkit.quantize.fewer_bits import add_fake_quant, bake_fake_quant


@dataclass
class Compressed:
    """A compressed copy of the teacher ready to be fine-tuned: the model, what must run after
    every step to keep it compressed (or None), and what turns it into the final model.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Distillation repairs compression".
    """

    net: nn.Module
    after_step: Callable[[nn.Module], None] | None
    finish: Callable[[nn.Module], nn.Module]


def _pruned(teacher: nn.Module, sparsity: float = 0.9) -> Compressed:
    net = copy.deepcopy(teacher)
    masks = global_magnitude_masks(net, sparsity)
    apply_masks(net, masks)
    return Compressed(net, keep_masks(net, masks), lambda n: n)


def _qat(teacher: nn.Module, bits: int = 2) -> Compressed:
    return Compressed(add_fake_quant(copy.deepcopy(teacher), bits), None, bake_fake_quant)


def _factorized(teacher: nn.Module) -> Compressed:
    # notebook 06's Tucker-2 ranks: about 3.5x fewer parameters, most of the accuracy lost
    net = factorize_model(teacher, COURSE_RANKS["tucker"], "tucker")
    return Compressed(net, None, lambda n: n)


# One line per compression: name -> (builder, what it does).
COMPRESSIONS: dict[str, tuple[Callable[[nn.Module], Compressed], str]] = {
    "pruned": (_pruned, "90% of the weights removed (global magnitude), masks kept"),
    "qat": (_qat, "2-bit weights, quantization-aware training"),
    "factorized": (_factorized, "Tucker-2 factorized convolutions (notebook 06's ranks)"),
}


def compress(teacher: nn.Module, method: str) -> Compressed:
    """A compressed copy of ``teacher`` by ``method`` (a key of ``COMPRESSIONS``: "pruned",
    "qat", "factorized"), to be fine-tuned with or without the teacher by :func:`train_student`.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Distillation repairs compression".
    """
    check_module("teacher", teacher)
    if not isinstance(method, str) or method not in COMPRESSIONS:
        raise ValueError(
            f"argument 'method' must be one of {', '.join(map(repr, COMPRESSIONS))}; got {method!r}"
        )
    return COMPRESSIONS[method][0](teacher)
