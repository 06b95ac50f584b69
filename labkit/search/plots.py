"""Notebook 02's picture: regret against evaluations, in the course's style."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from labkit._validate import check_int
from labkit.plots import PALETTE, new_axes


def plot_regret(
    replay, ax: plt.Axes | None = None, mark_at: int | None = None, mark_label: str = ""
) -> plt.Axes:
    """Regret (best error so far minus the grid's best, in points) against evaluations: the
    median over repetitions as a line, the 25-75% band shaded. ``replay``: a
    ``labkit.search.Replay``. ``mark_at`` draws a dotted line at that many evaluations.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
    space, same budget, repeated".
    """
    if not all(hasattr(replay, a) for a in ("curves", "regret", "budget")):
        raise TypeError(
            f"argument 'replay' must be a labkit.search.Replay, got {type(replay).__name__}"
        )
    ax = new_axes(ax, figsize=(8, 4.2))
    x = np.arange(1, replay.budget + 1)
    for i, strategy in enumerate(replay.curves):
        regret = 100 * replay.regret(strategy)
        low, mid, high = np.percentile(regret, [25, 50, 75], axis=0)
        colour = PALETTE[i % len(PALETTE)]
        n = len(regret)
        label = f"{strategy} (one fixed order)" if n == 1 else f"{strategy} (median of {n})"
        ax.plot(x, mid, color=colour, label=label)
        ax.fill_between(x, low, high, color=colour, alpha=0.18, linewidth=0)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)
    if mark_at is not None:
        mark_at = check_int("mark_at", mark_at, min_value=1, max_value=replay.budget)
        ax.axvline(mark_at, color="grey", ls=":", lw=1)
        if mark_label:
            ax.annotate(
                f"{mark_label} ",
                (mark_at, 1),
                xycoords=("data", "axes fraction"),
                ha="right",
                va="top",
                color="grey",
            )
    ax.set_xlabel("evaluations (training runs)")
    ax.set_ylabel("regret (points of error)")
    ax.legend()
    return ax
