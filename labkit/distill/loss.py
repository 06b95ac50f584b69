"""The distillation loss (Hinton, Vinyals and Dean, 2015), from scratch and with PyTorch's own
``F.kl_div``: the Kullback-Leibler divergence between the teacher's and the student's
probabilities, both softened by a temperature T and scaled by T^2 so that its gradients keep
their size as T changes, mixed with the ordinary cross-entropy with the labels.

Serves notebooks/07_knowledge_distillation.ipynb ("Soft targets", "The loss, from scratch").

Used by: labkit.distill.students (the student loop).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from labkit._validate import check_float, check_tensor

TEMPERATURE = 4.0  # the softening the notebook starts from


WEIGHT = 0.5  # share of the distillation term; 1 - WEIGHT goes to the labels


def check_temperature(temperature: float) -> float:
    """Return ``temperature`` if it is a finite number above 0 (1 leaves the probabilities as
    they are; above 1 softens them).
    """
    return check_float("temperature", temperature, low=0, low_inclusive=False, high=1000)


def check_weight(weight: float) -> float:
    """Return ``weight`` if it lies in [0, 1]: 0 is labels only, 1 the teacher only."""
    return check_float("weight", weight, low=0, high=1)


def _check_logits(student: torch.Tensor, teacher: torch.Tensor, y: torch.Tensor | None) -> None:
    check_tensor("student_logits", student, ndim=2, finite=True)
    check_tensor("teacher_logits", teacher, ndim=2, finite=True)
    if student.shape[1] != teacher.shape[1]:
        raise ValueError(
            f"teacher and student must have the same number of classes: the student has "
            f"{student.shape[1]}, the teacher {teacher.shape[1]}"
        )
    if student.shape[0] != teacher.shape[0]:
        raise ValueError(
            f"arguments 'student_logits' and 'teacher_logits' must hold the same images: "
            f"{student.shape[0]} rows against {teacher.shape[0]}"
        )
    if y is not None:
        check_tensor("y", y, ndim=1)
        if len(y) != student.shape[0] or y.is_floating_point():
            raise ValueError(
                f"argument 'y' must hold one class index per image ({student.shape[0]}), "
                f"got {y.dtype} of shape {tuple(y.shape)}"
            )


def soften(logits: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """Probabilities softened by ``temperature``: softmax(logits / T). T = 1 is the ordinary
    softmax; a larger T lifts the small probabilities, the teacher's "dark knowledge".

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Soft targets: what the teacher knows".
    """
    check_tensor("logits", logits, min_ndim=1, finite=True)
    return torch.softmax(logits / check_temperature(temperature), dim=-1)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    y: torch.Tensor,
    temperature: float = TEMPERATURE,
    weight: float = WEIGHT,
) -> torch.Tensor:
    """weight * T^2 * KL(teacher_T || student_T) + (1 - weight) * cross-entropy(student, y),
    the KL summed over classes and averaged over the images of the batch. From scratch.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "The loss, from scratch".
    """
    _check_logits(student_logits, teacher_logits, y)
    T, weight = check_temperature(temperature), check_weight(weight)
    log_q = torch.log_softmax(student_logits / T, dim=1)  # the student, softened
    log_p = torch.log_softmax(teacher_logits.detach() / T, dim=1)  # the teacher: a fixed target
    kl = (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()  # per image, then the batch mean
    hard = F.cross_entropy(student_logits, y)
    return weight * T * T * kl + (1 - weight) * hard


def reference_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    y: torch.Tensor,
    temperature: float = TEMPERATURE,
    weight: float = WEIGHT,
) -> torch.Tensor:
    """The same loss with PyTorch's ``F.kl_div(..., reduction="batchmean")``, the reduction
    that matches the mathematical KL divergence (the default "mean" divides by the number of
    classes too).

    Lesson: notebooks/07_knowledge_distillation.ipynb, "The loss, from scratch".
    """
    _check_logits(student_logits, teacher_logits, y)
    T, weight = check_temperature(temperature), check_weight(weight)
    kl = F.kl_div(
        F.log_softmax(student_logits / T, dim=1),
        F.log_softmax(teacher_logits.detach() / T, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return weight * T * T * kl + (1 - weight) * F.cross_entropy(student_logits, y)
