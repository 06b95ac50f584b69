"""Notebook 05's pictures: float formats on one number line, fractions per layer."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import torch

from labkit.plots import PALETTE


def plot_number_line(
    ranges: Mapping[str, tuple[float, float, float]],
    samples: Mapping[str, object] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Float formats on one logarithmic line of magnitudes: for each format (name ->
    (smallest subnormal, smallest normal, largest)), a thin bar over its subnormal numbers and a
    thick bar over its normal numbers; below them, a histogram of the magnitudes of each sample
    (name -> tensor), zeros left out.

    Lesson: notebooks/05_mixed_precision.ipynb, "Number formats, bit by bit".
    """
    if not isinstance(ranges, Mapping) or not ranges:
        raise TypeError("argument 'ranges' must be a non-empty {format: (sub, normal, max)} dict")
    own_figure = ax is None
    ax = ax if ax is not None else plt.subplots(figsize=(8, 3.2))[1]
    for i, (name, (sub, normal, largest)) in enumerate(ranges.items()):
        y = len(ranges) - i
        ax.plot([np.log10(sub), np.log10(normal)], [y, y], color=PALETTE[i], lw=2, alpha=0.5)
        ax.plot([np.log10(normal), np.log10(largest)], [y, y], color=PALETTE[i], lw=7)
        ax.text(np.log10(largest), y + 0.2, name, ha="right", va="bottom", fontsize=9)
    ax.set_ylim(0.4, len(ranges) + 0.8)  # room for the labels above the bars
    if samples:
        twin = ax.twinx()
        for j, (name, values) in enumerate(samples.items()):
            data = np.abs(torch.as_tensor(values).detach().double().cpu().numpy().ravel())
            data = data[data > 0]
            twin.hist(
                np.log10(data),
                bins=60,
                alpha=0.45,
                color=PALETTE[(j + 3) % len(PALETTE)],
                label=name,
                density=True,
            )
        twin.set_yticks([])
        twin.legend(fontsize=8, loc="center left")
    ax.set_yticks([])
    ax.set_xlabel("log10 of magnitude (thin: subnormal numbers, thick: normal numbers)")
    if title:
        ax.set_title(title)
    if own_figure and ax.figure.get_layout_engine() is None:
        ax.figure.tight_layout()  # labkit.setup() turns constrained layout on instead
    return ax


def plot_fractions(
    fractions: Mapping[str, Mapping[str, float]],
    ax: plt.Axes | None = None,
    title: str | None = None,
    ylabel: str = "fraction",
) -> plt.Axes:
    """Grouped bars of fractions (0 to 1): one group per item (a layer), one bar per series,
    e.g. {"no scaling": {"features.0": 0.23, ...}, "scale 1024": {...}}.

    Lesson: notebooks/05_mixed_precision.ipynb, "Loss scaling, from scratch".
    """
    if not isinstance(fractions, Mapping) or not fractions:
        raise TypeError("argument 'fractions' must be a non-empty {series: {item: value}} dict")
    items = list(next(iter(fractions.values())))
    ax = ax if ax is not None else plt.subplots(figsize=(8, 3.2))[1]
    width = 0.8 / len(fractions)
    for i, (series, values) in enumerate(fractions.items()):
        heights = [float(values[item]) for item in items]
        ax.bar(
            np.arange(len(items)) + i * width,
            heights,
            width=width,
            label=series,
            color=PALETTE[i % len(PALETTE)],
        )
    ax.set_xticks(np.arange(len(items)) + width * (len(fractions) - 1) / 2, items, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax
