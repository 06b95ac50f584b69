"""Notebook 02's app: pick strategies and a budget, see the regret curves change."""

from __future__ import annotations

from labkit.app import App
from labkit.search.plots import plot_regret
from labkit.search.table import NoiseBand, Replay, SearchTable, replay


class SearchPicker(App):
    """Pick strategies and a budget: the regret curves up to that budget, the noise band, and
    how many repetitions reached it. Grid and TTOpt depend on the budget (the lattice that fits
    it, TTOpt's plan), so they are replayed for the chosen budget, in milliseconds; the other
    strategies' runs up to budget b are the first b evaluations of the notebook's replay.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Explore: budget and strategies".
    """

    def __init__(self, table: SearchTable, result: Replay, band: NoiseBand) -> None:
        import ipywidgets as w

        if not isinstance(result, Replay) or not isinstance(table, SearchTable):
            raise TypeError("arguments 'table' and 'result' must be a SearchTable and a Replay")
        self.table, self.result, self.band = table, result, band
        self._replays: dict[tuple[str, int], object] = {}
        self.strategies = w.SelectMultiple(
            options=list(result.curves),
            value=tuple(result.curves),
            description="strategies",
            rows=len(result.curves),
        )
        self.budget = w.IntSlider(
            value=result.budget,
            min=2,
            max=result.budget,
            description="budget",
            continuous_update=False,
        )
        super().__init__([self.strategies, self.budget])

    def _curves(self, strategy: str, budget: int):
        if strategy not in ("grid", "tt"):
            return self.result.curves[strategy][:, :budget]
        key = (strategy, budget)
        if key not in self._replays:
            repeats = len(self.result.curves[strategy])
            again = replay(self.table, [strategy], budget=budget, repeats=repeats, progress=False)
            self._replays[key] = again.curves[strategy]
        return self._replays[key]

    def draw(self) -> None:
        """The regret curves of the chosen strategies up to the chosen budget, and their hits."""
        b, chosen = self.budget.value, list(self.strategies.value) or list(self.result.curves)
        shown = Replay(
            b,
            {s: self._curves(s, b) for s in chosen},
            self.result.best_error,
            self.result.grid_size,
        )
        ax = plot_regret(shown)
        ax.axhspan(0, 100 * self.band.width, color="grey", alpha=0.15, label="noise band")
        ax.legend(fontsize=8)
        ax.set_title(f"regret within {b} evaluations ({b / self.table.space.size:.1%} of the grid)")
        self.state = {"budget": b, "reached": {}}
        for s in chosen:
            summary = shown.summary(s, self.band.width)
            self.state["reached"][s] = summary.hits
            print(  # fallbacks are counted per whole run, so not shown for a shorter budget
                f"{s:>6}: reached the band in {summary.hits:2d}/{summary.repeats} runs "
                f"(95% CI {100 * summary.share_low:.0f}-{100 * summary.share_high:.0f}%)"
            )
