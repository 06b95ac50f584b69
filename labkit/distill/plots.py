"""Notebook 07's pictures: soft targets, paired gains with their intervals, the gain grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from labkit._validate import check_tensor
from labkit.plots import as_numpy, new_axes, plot_heatmap


def plot_soft_targets(
    probabilities: Mapping[float, torch.Tensor],
    images: torch.Tensor,
    titles: Sequence[str] | None = None,
) -> plt.Figure:
    """A teacher's class probabilities for a few images at several temperatures: one row per
    image (the image on the left), one bar group per class, one bar per temperature, on a
    logarithmic scale so that the small probabilities, the "dark knowledge", show.
    ``probabilities``: {temperature: (images, classes) probabilities}.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Soft targets: what the teacher knows".
    """
    if not isinstance(probabilities, Mapping) or not probabilities:
        raise TypeError("argument 'probabilities' must be a non-empty {temperature: probs} dict")
    check_tensor("images", images, min_ndim=3)
    first = as_numpy(next(iter(probabilities.values())))
    n, classes = first.shape
    if len(images) != n:
        raise ValueError(f"argument 'images' must hold {n} images, got {len(images)}")
    fig, axes = plt.subplots(
        n, 2, figsize=(7.5, 1.6 * n), gridspec_kw={"width_ratios": [1, 6]}, squeeze=False
    )
    width = 0.8 / len(probabilities)
    for row in range(n):
        axes[row, 0].imshow(as_numpy(images[row]).reshape(images.shape[-2:]), cmap="gray_r")
        axes[row, 0].set_axis_off()
        if titles is not None:
            axes[row, 0].set_title(titles[row], fontsize=9)
        ax = axes[row, 1]
        for i, (t, probs) in enumerate(probabilities.items()):
            ax.bar(np.arange(classes) + i * width, as_numpy(probs)[row], width, label=f"T={t:g}")
        ax.set_yscale("log")
        ax.set_ylim(1e-5, 1.5)
        ax.set_xticks(np.arange(classes) + width * (len(probabilities) - 1) / 2, range(classes))
        ax.set_ylabel("probability", fontsize=8)
    axes[-1, 1].set_xlabel("class")
    axes[0, 1].legend(fontsize=8, ncol=len(probabilities), loc="upper right")
    fig.suptitle("the teacher's probabilities, softened by T (log scale)", fontsize=10)
    return fig


def plot_gains(
    gains: Mapping[str, Sequence[tuple[float, float, float, float]]],
    xlabel: str = "training images",
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Paired gains with their intervals, one line per label: ``gains`` is {label: [(x, mean,
    low, high), ...]}, in points; a dashed line marks 0 (no gain). The x axis is logarithmic.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Where distillation helps: the stored
    sweep".
    """
    if not isinstance(gains, Mapping) or not gains:
        raise TypeError("argument 'gains' must be a non-empty {label: [(x, mean, low, high)]}")
    ax = new_axes(ax)
    for k, (label, points) in enumerate(gains.items()):
        p = as_numpy(points)
        if p.ndim != 2 or p.shape[1] != 4:
            raise ValueError(f"argument 'gains': {label!r} needs (x, mean, low, high) tuples")
        x = p[:, 0] * (1 + 0.04 * (k - (len(gains) - 1) / 2))  # side by side, not on top
        ax.errorbar(
            x, p[:, 1], [p[:, 1] - p[:, 2], p[:, 3] - p[:, 1]], marker="o", capsize=3, label=label
        )
    ax.axhline(0, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    xs = sorted({float(x) for points in gains.values() for x, *_ in points})
    ax.set_xticks(xs, [f"{x:g}" for x in xs])  # the sizes themselves, not powers of ten
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("distilled - solo (points)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_gain_grid(
    means,
    resolvable,
    xticklabels: Sequence,
    yticklabels: Sequence,
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> plt.Axes:
    """A grid of mean gains (points) as a heatmap with each value written in its cell; the
    cells whose interval excludes zero (``resolvable``, a boolean grid of the same shape) get
    a star and a black frame.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Temperature and weight".
    """
    values = as_numpy(means)
    marks = np.asarray(as_numpy(resolvable), dtype=bool)
    if values.ndim != 2 or marks.shape != values.shape:
        raise ValueError(
            f"arguments 'means' and 'resolvable' must be 2-D grids of the same shape, got "
            f"{values.shape} and {marks.shape}"
        )
    ax = plot_heatmap(
        values,
        ax=ax,
        title=title,
        xticklabels=xticklabels,
        yticklabels=yticklabels,
        xlabel=xlabel,
        ylabel=ylabel,
    )
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            star = "*" if marks[i, j] else ""
            ax.text(j, i, f"{values[i, j]:+.2f}{star}", ha="center", va="center", fontsize=9)
            if marks[i, j]:
                ax.add_patch(
                    plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", lw=2)
                )
    return ax
