"""Students: a small model learns from a large teacher's softened outputs, alone or as the
repair step after compression (the loss itself is ``labkit.distill.loss``).

The teacher's outputs are computed once, in eval mode (``teacher_logits``), and looked up by
batch: ``train_student`` runs the course's one loop, ``labkit.fit``, whose loss function gets
the batch's positions in the training split, so a distilled epoch costs what a plain epoch
costs. Solo and distilled students go through the same loop, with the same initial weights and
the same batch order for a seed, so their accuracies can be compared seed by seed.

Serves notebooks/07_knowledge_distillation.ipynb; the seed sweeps are in
``labkit.distill.table``.

Used by: labkit.distill.table, labkit.distill.bench and labkit.distill.probes.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable

import torch
from torch import nn

from labkit._validate import check_float, check_int, check_module, check_tensor
from labkit.data import Split, check_split
from labkit.distill.loss import (
    TEMPERATURE,
    WEIGHT,
    check_temperature,
    check_weight,
    distillation_loss,
)
from labkit.models import SmallCNN
from labkit.train import History, fit


@torch.no_grad()
def teacher_logits(teacher: nn.Module, split: Split, batch_size: int = 512) -> torch.Tensor:
    """The teacher's logits for every image of ``split``, computed once in eval mode (batch
    norm uses its running statistics, dropout is off; a teacher left in training mode would
    give other targets and update its own statistics). The teacher's mode is restored.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Cheap on two cores: the teacher runs
    once".
    """
    check_module("teacher", teacher)
    check_split("split", split)
    batch_size = check_int("batch_size", batch_size, min_value=1)
    was_training = teacher.training
    teacher.eval()
    try:
        with torch.no_grad():  # targets, not part of the student's graph (and no memory kept)
            return torch.cat(
                [teacher(split.X[i : i + batch_size]) for i in range(0, len(split), batch_size)]
            )
    finally:
        teacher.train(was_training)


def _num_classes(net: nn.Module, split: Split) -> int:
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            return int(net(split.X[:1]).shape[1])
    finally:
        net.train(was_training)


def loss_for(
    targets: torch.Tensor | nn.Module,
    temperature: float = TEMPERATURE,
    weight: float = WEIGHT,
) -> Callable[..., torch.Tensor]:
    """The ``loss_fn`` that ``labkit.fit`` takes for distillation: :func:`distillation_loss`
    against ``targets``, the teacher's logits for every training image (looked up by the
    batch's positions), or the teacher itself (run on every batch, without gradients). A
    capstone that fine-tunes with a teacher and a validation split passes it to ``fit``.
    """
    T, weight = check_temperature(temperature), check_weight(weight)
    if isinstance(targets, nn.Module):
        teacher = targets

        def live(logits, y, X, idx):  # the teacher runs on every batch
            with torch.no_grad():
                wanted = teacher(X)
            return distillation_loss(logits, wanted, y, T, weight)

        return live
    check_tensor("targets", targets, ndim=2, finite=True)

    def looked_up(logits, y, X, idx):  # the teacher's logits of these images
        return distillation_loss(logits, targets[idx], y, T, weight)

    return looked_up


def train_student(
    net: nn.Module,
    train: Split,
    targets: torch.Tensor | nn.Module | None = None,
    *,
    temperature: float = TEMPERATURE,
    weight: float = WEIGHT,
    epochs: int = 20,
    lr: float = 1e-2,
    batch_size: int = 64,
    seed: int = 0,
    after_step: Callable[[nn.Module], None] | None = None,
    progress: bool = True,
    desc: str = "student",
    **fit_options,
) -> History:
    """Train ``net`` on ``train`` with the course's one loop (``labkit.fit``): with ``targets``
    (the teacher's logits for every training image, from :func:`teacher_logits`) on
    :func:`distillation_loss`, the batch's targets looked up by its positions; without them on
    the labels alone; given the teacher itself, it runs the teacher on every batch (the costly
    way, for comparison; the teacher runs in eval mode, and its own mode is restored after).
    Adam with a one-cycle learning-rate schedule (up to ``lr``, then down to almost 0), so the
    last epoch's model is a settled one. ``seed`` fixes the batch order, as in ``labkit.fit``;
    ``after_step(net)`` runs after every step (pruning keeps its masks there); any other
    option of ``fit`` (``val``, ``on_epoch``, ``precision``, ``max_steps``...) goes to it. The
    model is left in eval mode.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Solo or distilled: the same student,
    seed by seed".
    """
    check_module("net", net)
    check_split("train", train)
    loss_fn = None
    if targets is not None:
        loss_fn = loss_for(targets, temperature, weight)
    else:  # labels alone: still refuse a temperature or a weight that could never be used
        check_temperature(temperature)
        check_weight(weight)
    if isinstance(targets, torch.Tensor):
        if len(targets) != len(train):
            raise ValueError(
                f"argument 'targets' must hold the teacher's logits for each of the "
                f"{len(train)} training images, got {len(targets)}"
            )
        classes = _num_classes(net, train)
        if classes != targets.shape[1]:
            raise ValueError(
                f"teacher and student must have the same number of classes: the student has "
                f"{classes}, the teacher {targets.shape[1]}"
            )
    with _eval_mode(targets if isinstance(targets, nn.Module) else None):
        return fit(
            net,
            train,
            **{
                "epochs": epochs,
                "lr": lr,
                "batch_size": batch_size,
                "optimizer": "adam",
                "schedule": "onecycle",
                "seed": seed,
                "loss_fn": loss_fn,
                "after_step": after_step,
                "progress": progress,
                "desc": desc,
                **fit_options,
            },
        )


@contextlib.contextmanager
def _eval_mode(teacher: nn.Module | None):
    """A live teacher runs in eval mode for the whole run; its own mode comes back after."""
    if teacher is None:
        yield
        return
    was_training = teacher.training
    teacher.eval()
    try:
        yield
    finally:
        teacher.train(was_training)


def time_epochs(
    teacher: nn.Module, net: nn.Module, train: Split, rounds: int = 3
) -> dict[str, list[float]]:
    """Seconds of one training epoch of copies of ``net`` on ``train``, three ways, in
    interleaved rounds: "plain" (labels only), "distilled" (the teacher's logits computed once,
    looked up by batch) and "teacher live" (the teacher run on every batch). The one-off cost
    of computing the logits is returned too, as "teacher once".

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Cheap on two cores: the teacher runs
    once".
    """
    check_module("teacher", teacher)
    check_module("net", net)
    rounds = check_int("rounds", rounds, min_value=1, max_value=20)
    start = time.perf_counter()
    targets = teacher_logits(teacher, train)
    out: dict[str, list[float]] = {"teacher once": [time.perf_counter() - start]}
    ways = {"plain": None, "distilled": targets, "teacher live": teacher}
    for r in range(rounds):
        for name, way in ways.items():
            history = train_student(
                copy.deepcopy(net), train, way, epochs=1, seed=r, progress=False
            )
            out.setdefault(name, []).append(history.seconds)
    return out


def student(width: int = 4, depth: int = 3, seed: int = 0, num_classes: int = 10) -> nn.Module:
    """A fresh SmallCNN student: ``width`` channels in its first block (the course model has
    16), random initial weights fixed by ``seed``.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Solo or distilled: the same student,
    seed by seed".
    """
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    torch.manual_seed(seed)
    return SmallCNN(width=width, depth=depth, num_classes=num_classes)


# --------------------------------------------------------------------- compressed students


def gap_recovered(acc_teacher: float, acc_alone: float, acc_distilled: float) -> float:
    """The share of the accuracy gap that distillation closes:
    (acc_distilled - acc_alone) / (acc_teacher - acc_alone). 1: all of it; 0: none; below 0:
    distillation made it worse. The gap must not be zero.
    """
    teacher = check_float("acc_teacher", acc_teacher)
    alone = check_float("acc_alone", acc_alone)
    distilled = check_float("acc_distilled", acc_distilled)
    if teacher == alone:
        raise ValueError(
            "arguments 'acc_teacher' and 'acc_alone' are equal: there is no gap to recover"
        )
    return (distilled - alone) / (teacher - alone)
