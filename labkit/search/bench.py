"""``labkit bench search``: every strategy replayed many times on the search table.

Rows are strategies (``method``: "grid", "random", "tpe", "gp", "tt"), each with
``median_evals_to_band`` (evaluations until the best error so far lies in the noise band of
the grid's best; ``budget + 1`` when never reached) and its 95% bootstrap interval
``median_evals_to_band_ci``, ``reached_band`` (the share of repetitions that reached it within
the budget) with its 95% Wilson interval ``reached_band_ci``, ``median_regret_at_budget``
(points), ``mean_fallbacks`` (evaluations per run that labkit chose at random in the
strategy's place: see ``labkit.search.search``) and ``repeats``. The top level keeps
``grid_size``, ``repeats``, ``budget``, the grid's ``grid_lattice`` (values kept per axis) and
the band with its definition.

Used by: `labkit bench search` and `make bench`.
"""

from __future__ import annotations

from labkit._validate import check_float, check_int
from labkit.bench.common import envelope
from labkit.search.strategies import STRATEGIES, grid_lattice
from labkit.search.table import SearchTable, noise_band, replay

UNITS = {
    "median_evals_to_band": "evaluations, median over repetitions (budget + 1: never)",
    "median_evals_to_band_ci": "95% bootstrap interval of that median",
    "reached_band": "share of repetitions that reached the noise band within the budget",
    "reached_band_ci": "95% Wilson interval of that share",
    "median_regret_at_budget": "percentage points of validation error above the grid's best",
    "mean_fallbacks": "evaluations per run chosen at random in the strategy's place",
}
COLUMNS = [
    ("median_evals_to_band", "evals to band", "{:.1f}"),
    ("reached_band", "reached", "{:.0%}"),
    ("reached_band_ci", "reached CI", "{0[0]:.0%}-{0[1]:.0%}"),
    ("mean_fallbacks", "fallbacks/run", "{:.1f}"),
]
OPTIONS = {
    "--repeats": dict(type=int, default=20, help="repetitions of each strategy (>= 20)"),
    "--budget-fraction": dict(
        type=float, default=0.25, help="evaluations per search, as a fraction of the grid"
    ),
}


def run(repeats: int = 20, budget_fraction: float = 0.25, progress: bool = False) -> dict:
    """Replay each strategy ``repeats`` times with a budget of ``budget_fraction`` of the grid."""
    repeats = check_int("repeats", repeats, min_value=1)
    budget_fraction = check_float(
        "budget_fraction", budget_fraction, low=0, high=1, low_inclusive=False
    )
    table = SearchTable.load()
    budget = max(1, round(budget_fraction * table.space.size))
    band = noise_band(table)
    result = replay(table, STRATEGIES, budget=budget, repeats=repeats, progress=progress)
    rows = []
    for s in STRATEGIES:
        summary = result.summary(s, band.width)
        rows.append(
            {
                "method": s,
                "model": "course",
                "median_evals_to_band": summary.median_evals,
                "median_evals_to_band_ci": [summary.median_evals_low, summary.median_evals_high],
                "reached_band": round(summary.share, 3),
                "reached_band_ci": [round(summary.share_low, 3), round(summary.share_high, 3)],
                "median_regret_at_budget": round(100 * summary.median_regret_at_budget, 3),
                "mean_fallbacks": round(summary.mean_fallbacks, 2),
                "repeats": summary.repeats,
            }
        )
    return envelope(
        "search",
        {"model": "course", "best_error_pct": round(100 * table.best_error, 3)},
        rows,
        UNITS,
        grid_size=table.space.size,
        repeats=repeats,
        budget=budget,
        grid_lattice=[len(axis) for axis in grid_lattice(table.space.shape, budget)],
        band={
            "width_points": round(100 * band.width, 3),
            "points_in_band": band.points,
            "definition": band.definition,
        },
    )
