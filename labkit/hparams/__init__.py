"""Notebook 01, parameters vs hyperparameters: the parameter table and the explorer that trains.

Each module's public names are importable from here: ``from labkit.hparams import ...``.
The benchmark (``bench.py``) and the timing probes (``probes.py``) are imported only when
`labkit reference record` runs them.
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
