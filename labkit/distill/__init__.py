"""Notebook 07, knowledge distillation: the loss from scratch (loss); teacher logits once and
students trained alone or distilled (students); the stored seed sweeps (table); the pictures and
the app.

Each module's public names are importable from here: ``from labkit.distill import ...``.
The benchmark (``bench.py``) and the timing probes (``probes.py``) are imported only when
`labkit bench distill` or `labkit reference record` runs them.
"""

from labkit.distill.loss import (
    TEMPERATURE,
    WEIGHT,
    check_temperature,
    check_weight,
    distillation_loss,
    reference_loss,
    soften,
)
from labkit.distill.plots import (
    plot_gain_grid,
    plot_gains,
    plot_soft_targets,
)
from labkit.distill.students import (
    gap_recovered,
    loss_for,
    student,
    teacher_logits,
    time_epochs,
    train_student,
)
from labkit.distill.table import (
    BUILD_MINUTES,
    COMMAND,
    COMPRESSIONS,
    RECIPE,
    DistillTable,
    Gain,
    build_table,
    epochs_for,
    table_path,
)
from labkit.distill.widget import (
    DistillExplorer,
)

NOTEBOOK = "07_knowledge_distillation"

__all__ = [
    "BUILD_MINUTES",
    "COMMAND",
    "COMPRESSIONS",
    "DistillExplorer",
    "DistillTable",
    "Gain",
    "RECIPE",
    "TEMPERATURE",
    "WEIGHT",
    "build_table",
    "check_temperature",
    "check_weight",
    "distillation_loss",
    "epochs_for",
    "gap_recovered",
    "loss_for",
    "plot_gain_grid",
    "plot_gains",
    "plot_soft_targets",
    "reference_loss",
    "soften",
    "student",
    "table_path",
    "teacher_logits",
    "time_epochs",
    "train_student",
]
