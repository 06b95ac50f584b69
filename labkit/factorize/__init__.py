"""Notebook 06, matrix factorization: low-rank layers and their formulas (lowrank); layers timed
at candidate ranks and ranks chosen from measured times (ranks); the pictures and the rank
explorer.

Each module's public names are importable from here: ``from labkit.factorize import ...``.
The benchmark (``bench.py``) and the timing probes (``probes.py``) are imported only when
`labkit bench factorize` or `labkit reference record` runs them.
"""

from labkit.factorize.lowrank import (
    METHODS,
    approximation_error,
    energy_rank,
    energy_ranks,
    factorizable_layers,
    factorize_layer,
    factorize_model,
    factorized_cost,
    kernel_error,
    low_rank,
    max_rank,
    method_matrix,
    singular_values,
    tucker2,
    tucker2_reconstruct,
    uniform_ranks,
)
from labkit.factorize.plots import (
    plot_predicted_vs_measured,
    plot_spectra,
)
from labkit.factorize.ranks import (
    COURSE_RANKS,
    RankOption,
    choose_ranks,
    energy_curves,
    energy_threshold_ranks,
    layer_inputs,
    match_parameters,
    time_layers,
    time_ranks,
    wide_convs,
)
from labkit.factorize.widget import (
    RankCalculator,
)

NOTEBOOK = "06_matrix_factorization"

__all__ = [
    "COURSE_RANKS",
    "METHODS",
    "RankCalculator",
    "RankOption",
    "approximation_error",
    "choose_ranks",
    "energy_curves",
    "energy_rank",
    "energy_ranks",
    "energy_threshold_ranks",
    "factorizable_layers",
    "factorize_layer",
    "factorize_model",
    "factorized_cost",
    "kernel_error",
    "layer_inputs",
    "low_rank",
    "match_parameters",
    "max_rank",
    "method_matrix",
    "plot_predicted_vs_measured",
    "plot_spectra",
    "singular_values",
    "time_layers",
    "time_ranks",
    "tucker2",
    "tucker2_reconstruct",
    "uniform_ranks",
    "wide_convs",
]
