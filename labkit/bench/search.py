"""``labkit bench search``: every strategy replayed many times on the search table.

Rows are strategies (``method``: "grid", "random", "tpe", "gp", "tt"), each with
``median_evals_to_band`` (evaluations until the best error so far lies in the noise band of
the grid's best; ``budget + 1`` when never reached), ``reached_band`` (the share of repetitions
that reached it within the budget) and ``median_regret_at_budget`` (points). The top level
keeps ``grid_size``, ``repeats``, ``budget`` and the band with its definition.
"""

from __future__ import annotations

import numpy as np

from labkit._validate import check_float, check_int
from labkit.bench.common import envelope
from labkit.search import STRATEGIES
from labkit.search_table import SearchTable, noise_band, replay


def run(repeats: int = 20, budget_fraction: float = 0.25, progress: bool = False) -> dict:
    """Replay each strategy ``repeats`` times with a budget of ``budget_fraction`` of the grid.

    Used by: `labkit bench search`.
    """
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
        evals = result.evals_to_reach(s, band.width)
        rows.append(
            {
                "method": s,
                "model": "course",
                "median_evals_to_band": float(np.median(evals)),
                "reached_band": round(result.reached(s, band.width), 3),
                "median_regret_at_budget": round(
                    float(np.median(100 * result.regret(s)[:, -1])), 3
                ),
                "repeats": len(result.curves[s]),
            }
        )
    return envelope(
        "search",
        {"model": "course", "best_error_pct": round(100 * table.best_error, 3)},
        rows,
        grid_size=table.space.size,
        repeats=repeats,
        budget=budget,
        band={
            "width_points": round(100 * band.width, 3),
            "points_in_band": band.points,
            "definition": band.definition,
        },
    )
