"""Notebook 04's picture: values with the grid a quantizer can hold drawn over them."""

from __future__ import annotations

import matplotlib.pyplot as plt

from labkit.plots import PALETTE, as_numpy, plot_histogram


def plot_quantization_grid(
    values,
    levels,
    ax: plt.Axes | None = None,
    title: str | None = None,
    bins: int = 80,
    lo: float | None = None,
    hi: float | None = None,
) -> plt.Axes:
    """Histogram of ``values`` with a thin line at every value the grid can hold (``levels``,
    e.g. the dequantized integers of a 4-bit grid, or a k-means codebook), and the clipping
    range [lo, hi] shaded outside.

    Lesson: notebooks/04_quantization.ipynb, "The affine mapping: scale and zero point".
    """
    data = as_numpy(values).ravel()
    grid = as_numpy(levels).ravel()
    if data.size == 0 or grid.size == 0:
        raise ValueError("arguments 'values' and 'levels' must not be empty")
    ax = plot_histogram(data, bins=bins, ax=ax, title=title)
    for level in grid:
        ax.axvline(level, color=PALETTE[1], lw=0.8, alpha=0.8)
    if lo is not None and data.min() < lo:
        ax.axvspan(data.min(), lo, color="0.5", alpha=0.2, label="clipped")
    if hi is not None and data.max() > hi:
        ax.axvspan(hi, data.max(), color="0.5", alpha=0.2, label="clipped" if lo is None else None)
    return ax
