"""Notebook 01, parameters vs hyperparameters: the parameter table and the explorer that trains.

Each module's public names are importable from here: ``from labkit.hparams import ...``.
The timing probe (``probes.py``) is imported only when `labkit reference record` runs it.
"""

from labkit.hparams.parameters import (
    parameter_table,
    print_parameter_table,
)
from labkit.hparams.widget import (
    BATCH_SIZES,
    EXPLORER_IMAGES,
    KERNEL_SIZES,
    LEARNING_RATES,
    Explorer,
    explorer,
)

NOTEBOOK = "01_parameters_vs_hyperparameters"

__all__ = [
    "BATCH_SIZES",
    "EXPLORER_IMAGES",
    "Explorer",
    "KERNEL_SIZES",
    "LEARNING_RATES",
    "explorer",
    "parameter_table",
    "print_parameter_table",
]
