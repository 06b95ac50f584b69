"""Notebook 07's app: pick a temperature and a weight of the stored grid, see the paired gain."""

from __future__ import annotations

import matplotlib.pyplot as plt

from labkit.app import App
from labkit.distill.table import DistillTable


class DistillExplorer(App):
    """Pick a temperature and a weight of the stored grid: each seed's solo and distilled
    accuracy (a line joins the pair: the same initial weights and batch order), and the paired
    gain with its 95% interval over seeds. Every number is looked up in the stored table.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Temperature and weight".
    """

    def __init__(self, table: DistillTable) -> None:
        import ipywidgets as w

        if not isinstance(table, DistillTable):
            raise TypeError(
                "argument 'table' must be a labkit.distill.DistillTable (DistillTable.load())"
            )
        self.table = table
        grid = table.record["grid"]
        self.temperature = w.SelectionSlider(
            options=grid["temperatures"],
            value=grid["temperatures"][len(grid["temperatures"]) // 2 - 1],
            description="temperature",
            continuous_update=False,
        )
        self.weight = w.SelectionSlider(
            options=grid["weights"],
            value=grid["weights"][1],
            description="weight",
            continuous_update=False,
        )
        super().__init__([self.temperature, self.weight])

    def draw(self) -> None:
        """Each seed's pair and the paired gain of the chosen cell, looked up in the table."""
        t, wt = self.temperature.value, self.weight.value
        result = self.table.grid_cell(t, wt)
        fig, ax = plt.subplots(figsize=(6.4, 3.2))
        for s, d in zip(result.solo, result.distilled, strict=True):
            ax.plot([0, 1], [s, d], color="grey", lw=1, marker="o")
        ax.axhline(self.table.teacher["acc"], color="black", ls="--", lw=1, label="teacher")
        ax.set_xticks([0, 1], ["solo", f"distilled (T={t:g}, weight={wt:g})"])
        ax.set_xlim(-0.3, 1.3)
        ax.set_ylabel("test accuracy (%)")
        ax.legend(fontsize=8)
        gain = result.gain
        ax.set_title(f"gain {gain.mean:+.2f} points (95% CI {gain.low:+.2f} to {gain.high:+.2f})")
        self.state = {"temperature": t, "weight": wt, "gain": gain.mean, "verdict": result.verdict}
        print(result)
