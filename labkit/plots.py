"""One consistent look for the course's pictures: curves, histograms, heatmaps, trade-offs.

Introduced in notebooks/00_welcome.ipynb; ``labkit.setup()`` applies the style.
Each function draws on ``ax`` if given (else a new figure) and returns the axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

# Okabe-Ito: distinguishable with every common kind of colour blindness.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def use_style() -> None:
    """Apply the course's plot style (called by ``labkit.setup()``)."""
    mpl.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "figure.dpi": 100,
            "figure.constrained_layout.use": True,
            "axes.prop_cycle": mpl.cycler(color=PALETTE),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 11,
            "axes.titleweight": "bold",
            "legend.frameon": False,
            "image.cmap": "viridis",
        }
    )


def _axes(ax: plt.Axes | None, figsize: tuple[float, float] | None = None) -> plt.Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _as_numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().float().numpy()
    return np.asarray(values, dtype=float)


_METRICS = {
    "val_acc": "validation accuracy",
    "train_acc": "training accuracy",
    "train_loss": "training loss",
    "val_loss": "validation loss",
}


def plot_curves(
    histories, metric: str = "val_acc", ax: plt.Axes | None = None, title: str | None = None
) -> plt.Axes:
    """One line per run: ``metric`` per epoch. ``histories``: a History or {label: History}."""
    from labkit._validate import check_choice
    from labkit.train import History

    check_choice("metric", metric, _METRICS)
    if isinstance(histories, History):
        histories = {"": histories}
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError(
            "argument 'histories' must be a History or a non-empty {label: History} dict"
        )
    ax = _axes(ax)
    for label, h in histories.items():
        values = getattr(h, metric)
        ax.plot(range(1, len(values) + 1), values, marker="o", ms=3, label=str(label) or None)
    ax.set_xlabel("epoch")
    ax.set_ylabel(_METRICS[metric])
    if any(str(label) for label in histories):
        ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_histogram(
    values,
    bins: int = 60,
    ax: plt.Axes | None = None,
    title: str | None = None,
    xlabel: str = "value",
    log: bool = False,
) -> plt.Axes:
    """Histogram of a tensor's (or array's) values, e.g. one layer's weights."""
    data = _as_numpy(values).ravel()
    if data.size == 0:
        raise ValueError("argument 'values' is empty")
    ax = _axes(ax)
    ax.hist(data, bins=bins, color=PALETTE[0], alpha=0.85, log=log)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    if title:
        ax.set_title(title)
    return ax


def plot_heatmap(
    matrix,
    ax: plt.Axes | None = None,
    title: str | None = None,
    cmap: str = "RdBu_r",
    symmetric: bool = True,
    colorbar: bool = True,
) -> plt.Axes:
    """A 2-D tensor as a picture; ``symmetric`` centres the colours on zero (weights)."""
    data = _as_numpy(matrix)
    if data.ndim != 2:
        raise ValueError(f"argument 'matrix' must be 2-D, got shape {data.shape}")
    ax = _axes(ax)
    limit = np.nanmax(np.abs(data)) if symmetric and data.size else None
    image = ax.imshow(
        data,
        cmap=cmap,
        vmin=-limit if limit else None,
        vmax=limit,
        interpolation="nearest",
        aspect="auto",
    )
    ax.grid(False)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    if title:
        ax.set_title(title)
    return ax


def plot_tradeoff(
    x: Sequence[float],
    y: Sequence[float],
    labels: Sequence[str] | None = None,
    yerr: Sequence[tuple[float, float]] | None = None,
    xlabel: str = "cost",
    ylabel: str = "accuracy",
    ax: plt.Axes | None = None,
    title: str | None = None,
    logx: bool = False,
) -> plt.Axes:
    """Points of (cost, quality), optional labels and (low, high) error bars, e.g. 95% CIs."""
    x, y = _as_numpy(x), _as_numpy(y)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(
            f"arguments 'x' and 'y' must be non-empty and of equal length, "
            f"got {x.shape} and {y.shape}"
        )
    ax = _axes(ax)
    if yerr is not None:
        bounds = _as_numpy(yerr)
        if bounds.shape != (len(y), 2):
            raise ValueError(
                f"argument 'yerr' must hold one (low, high) pair per point, "
                f"got shape {bounds.shape}"
            )
        ax.errorbar(
            x, y, yerr=[y - bounds[:, 0], bounds[:, 1] - y], fmt="o", capsize=4, color=PALETTE[0]
        )
    else:
        ax.plot(x, y, "o", color=PALETTE[0])
    for xi, yi, label in zip(x, y, labels or [], strict=False):
        ax.annotate(str(label), (xi, yi), textcoords="offset points", xytext=(6, 6), fontsize=9)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return ax


def show_images(
    X: torch.Tensor,
    labels: Sequence | None = None,
    predictions: Sequence | None = None,
    n: int = 16,
    cols: int = 8,
    cmap: str = "gray_r",
) -> plt.Figure:
    """A grid of images with their labels; a wrong prediction is shown in red."""
    from labkit._validate import check_int, check_tensor

    check_tensor("X", X, min_ndim=3)
    n = min(check_int("n", n, min_value=1, max_value=400), len(X))
    cols = min(check_int("cols", cols, min_value=1, max_value=40), n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, 1.25 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = X[i].detach().cpu()
        img = img[0] if img.ndim == 3 and img.shape[0] == 1 else img
        img = img.permute(1, 2, 0) if img.ndim == 3 else img
        ax.imshow(img.numpy(), cmap=cmap if img.ndim == 2 else None)
        text, color = "", "black"
        if labels is not None:
            text = str(labels[i])
        if predictions is not None:
            wrong = labels is not None and str(predictions[i]) != str(labels[i])
            text = f"{text}->{predictions[i]}" if wrong else text or str(predictions[i])
            color = "#D55E00" if wrong else "black"
        ax.set_title(text, fontsize=9, color=color)
    return fig


def plot_regret(result, ax: plt.Axes | None = None, mark_fraction: float | None = 0.10) -> plt.Axes:
    """Regret (best error so far minus the grid's best, in points) against evaluations: the
    median over repetitions as a line, the 25-75% band shaded. ``result``: a
    labkit.search.Replay (notebook 02)."""
    from labkit.search import Replay

    if not isinstance(result, Replay):
        raise TypeError(
            f"argument 'result' must be a labkit.search.Replay, got {type(result).__name__}"
        )
    ax = _axes(ax, figsize=(8, 4.2))
    x = np.arange(1, result.budget + 1)
    for i, strategy in enumerate(result.best_so_far):
        regret = 100 * result.regret(strategy)
        low, mid, high = np.percentile(regret, [25, 50, 75], axis=0)
        colour = PALETTE[i % len(PALETTE)]
        n = len(regret)
        label = (
            f"{strategy} (one fixed order)" if strategy == "grid" else f"{strategy} (median of {n})"
        )
        ax.plot(x, mid, color=colour, label=label)
        ax.fill_between(x, low, high, color=colour, alpha=0.18, linewidth=0)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_ylim(bottom=0)
    if mark_fraction:
        at = round(mark_fraction * result.grid_size)
        if at <= result.budget:
            ax.axvline(at, color="grey", ls=":", lw=1)
            ax.annotate(
                f"{mark_fraction:.0%} of the grid ",
                (at, 1),
                xycoords=("data", "axes fraction"),
                ha="right",
                va="top",
                color="grey",
            )
    ax.set_xlabel("evaluations (training runs)")
    ax.set_ylabel("regret (points of error)")
    ax.legend()
    return ax


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
    range [lo, hi] shaded outside (notebook 04)."""
    data = _as_numpy(values).ravel()
    grid = _as_numpy(levels).ravel()
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
