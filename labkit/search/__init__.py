"""Notebook 02, hyperparameter search: grid, random, Bayesian and tensor-train strategies, the
stored table of every grid point and its replays, the regret picture and the app.

Each module's public names are importable from here: ``from labkit.search import ...``.
The benchmark (``bench.py``) and the timing probes (``probes.py``) are imported only when
`labkit bench search` or `labkit reference record` runs them.
"""

from labkit.search.plots import (
    plot_regret,
)
from labkit.search.strategies import (
    COURSE_SPACE,
    STRATEGIES,
    SearchSpace,
    Trace,
    expected_improvement,
    gp_posterior,
    grid_lattice,
    live_objective,
    search,
)
from labkit.search.table import (
    BUILD_MINUTES,
    COMMAND,
    TABLE_RECIPE,
    NoiseBand,
    Replay,
    SearchTable,
    ShareDifference,
    StrategySummary,
    build_table,
    median_interval,
    noise_band,
    replay,
    table_path,
)
from labkit.search.widget import (
    SearchPicker,
)

NOTEBOOK = "02_hyperparameter_search"

__all__ = [
    "BUILD_MINUTES",
    "COMMAND",
    "COURSE_SPACE",
    "NoiseBand",
    "Replay",
    "STRATEGIES",
    "SearchPicker",
    "SearchSpace",
    "SearchTable",
    "ShareDifference",
    "StrategySummary",
    "TABLE_RECIPE",
    "Trace",
    "build_table",
    "expected_improvement",
    "gp_posterior",
    "grid_lattice",
    "live_objective",
    "median_interval",
    "noise_band",
    "plot_regret",
    "replay",
    "search",
    "table_path",
]
