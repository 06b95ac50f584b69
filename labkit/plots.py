"""One consistent look for the course's pictures: curves, histograms, heatmaps, trade-offs.

Introduced in notebooks/00_welcome.ipynb; ``labkit.setup()`` applies the style.
Each function draws on ``ax`` if given (else a new figure) and returns the axes, except
``show_images`` and ``show_kernels``, which draw a grid of small pictures and return the figure.
This module imports no other part of labkit but the argument checks, so any module may use it.

A picture that only one lesson draws lives in that lesson's ``plots.py`` and uses the style
and the helpers here (``PALETTE``, ``new_axes``, ``as_numpy``).

Used by: labkit.env (the style) and each lesson's pictures (labkit.search.plots,
labkit.quantize.plots, labkit.precision.plots, labkit.distill.plots).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch

from labkit._validate import check_choice, check_int, check_tensor

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


def new_axes(ax: plt.Axes | None, figsize: tuple[float, float] | None = None) -> plt.Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def as_numpy(values) -> np.ndarray:
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
    """One line per run: ``metric`` per epoch. ``histories``: a ``labkit.train.History`` or
    {label: History}.

    Lesson: notebooks/00_welcome.ipynb, "A model trained in seconds".
    """
    check_choice("metric", metric, _METRICS)
    if hasattr(histories, metric) and not isinstance(histories, Mapping):
        histories = {"": histories}
    if not isinstance(histories, Mapping) or not histories:
        raise TypeError(
            "argument 'histories' must be a History or a non-empty {label: History} dict"
        )
    ax = new_axes(ax)
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
    """Histogram of a tensor's (or array's) values, e.g. one layer's weights.

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Parameters: what the model learned".
    """
    data = as_numpy(values).ravel()
    if data.size == 0:
        raise ValueError("argument 'values' is empty")
    ax = new_axes(ax)
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
    xticklabels: Sequence | None = None,
    yticklabels: Sequence | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> plt.Axes:
    """A 2-D tensor as a picture; ``symmetric`` centres the colours on zero (weights).
    ``xticklabels``/``yticklabels`` name the columns and rows (for a table of values).

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The table: every grid point, trained".
    """
    data = as_numpy(matrix)
    if data.ndim != 2:
        raise ValueError(f"argument 'matrix' must be 2-D, got shape {data.shape}")
    ax = new_axes(ax)
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
    for labels, n, setter in (
        (xticklabels, data.shape[1], ax.set_xticks),
        (yticklabels, data.shape[0], ax.set_yticks),
    ):
        if labels is not None:
            if len(labels) != n:
                raise ValueError(f"tick labels: {len(labels)} given for {n} columns or rows")
            setter(range(n), [f"{v:g}" if isinstance(v, float) else str(v) for v in labels])
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    if title:
        ax.set_title(title)
    return ax


def show_kernels(
    weight: torch.Tensor,
    crossed: Sequence[bool] | torch.Tensor | None = None,
    cols: int = 8,
    title: str | None = None,
) -> plt.Figure:
    """Every kernel of a conv layer's first input channel as a small picture (red positive,
    blue negative, one colour scale for all); the kernels marked in ``crossed`` (one bool per
    output channel) are crossed out.

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Parameters: what the model learned".
    """
    check_tensor("weight", weight, ndim=4)
    kernels = weight.detach().cpu().float()[:, 0]
    n = len(kernels)
    cols = min(check_int("cols", cols, min_value=1, max_value=64), n)
    if crossed is not None and len(crossed) != n:
        raise ValueError(f"argument 'crossed' needs one bool per kernel ({n}), got {len(crossed)}")
    rows = -(-n // cols)
    limit = float(kernels.abs().max()) or 1.0
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols, 1.3 * rows + 0.3), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if k >= n:
            ax.axis("off")
            continue
        ax.imshow(kernels[k].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        if crossed is not None and bool(crossed[k]):
            h, w = kernels[k].shape
            ax.plot([-0.5, w - 0.5], [-0.5, h - 0.5], "k-", lw=2)
            ax.plot([-0.5, w - 0.5], [h - 0.5, -0.5], "k-", lw=2)
    if title:
        fig.suptitle(title)
    return fig


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
    """Points of (cost, quality), optional labels and (low, high) error bars, e.g. 95% CIs.

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Kernel size: wider patterns, or
    finer detail and less compute".
    """
    x, y = as_numpy(x), as_numpy(y)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(
            f"arguments 'x' and 'y' must be non-empty and of equal length, "
            f"got {x.shape} and {y.shape}"
        )
    ax = new_axes(ax)
    if yerr is not None:
        bounds = as_numpy(yerr)
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
    """A grid of images with their labels; a wrong prediction is shown in red. Returns the figure.

    Lesson: notebooks/00_welcome.ipynb, "The running example: Fashion-MNIST".
    """
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


def plot_over_seeds(
    x: Sequence[float],
    runs: Mapping[str, Sequence[Sequence[float]]],
    xlabel: str = "x",
    ylabel: str = "accuracy (%)",
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """One line per label: the mean over seeds at each ``x``, with a band from the lowest to
    the highest seed. ``runs``: {label: one list of values (one per x) for each seed}.

    Lesson: notebooks/03_pruning.ipynb, "Fine-tuning brings the accuracy back".
    """
    x = as_numpy(x)
    if not isinstance(runs, Mapping) or not runs:
        raise TypeError("argument 'runs' must be a non-empty {label: [values per seed]} dict")
    ax = new_axes(ax)
    for label, per_seed in runs.items():
        values = as_numpy(per_seed)
        if values.ndim != 2 or values.shape[1] != len(x):
            raise ValueError(
                f"argument 'runs': {label!r} needs one list of {len(x)} values per seed, "
                f"got shape {values.shape}"
            )
        (line,) = ax.plot(x, values.mean(0), marker="o", label=f"{label} ({len(values)} seeds)")
        ax.fill_between(x, values.min(0), values.max(0), color=line.get_color(), alpha=0.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_savings(
    savings: Mapping[str, Mapping[str, float]], ax: plt.Axes | None = None, title: str | None = None
) -> plt.Axes:
    """Grouped bars of ratios against a baseline (above 1: it saves), one group per model and
    one bar per measure, e.g. {"slim": {"file bytes": 3.9, "MACs": 3.8, "speed": 2.1}}. A
    dashed line marks 1 (no saving). A value of None (not measured) draws no bar, labelled
    "n/a".

    Lesson: notebooks/03_pruning.ipynb, "Structured pruning that really removes channels".
    """
    if not isinstance(savings, Mapping) or not savings:
        raise TypeError("argument 'savings' must be a non-empty {model: {measure: ratio}} dict")
    measures = list(next(iter(savings.values())))
    ax = new_axes(ax)
    width = 0.8 / len(measures)
    for i, measure in enumerate(measures):
        values = [savings[model][measure] for model in savings]
        heights = [0.0 if v is None else float(v) for v in values]
        bars = ax.bar(np.arange(len(savings)) + i * width, heights, width=width, label=measure)
        labels = ["n/a" if v is None else f"{float(v):.1f}x" for v in values]
        ax.bar_label(bars, labels=labels, fontsize=8)
    ax.axhline(1, color="grey", ls="--", lw=1)
    ax.set_xticks(np.arange(len(savings)) + width * (len(measures) - 1) / 2, list(savings))
    ax.set_ylabel("baseline / model (x)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def mark_savings_ranges(
    ax: plt.Axes, measure: str, ranges: Mapping[str, tuple[float, float]]
) -> plt.Axes:
    """Error bars on the ``measure`` bars of a :func:`plot_savings` chart: for each model (a
    group), a line from the lowest to the highest value measured, e.g. the slowest and the
    fastest round of a timed ratio; the bar's label moves above the line.

    Lesson: notebooks/03_pruning.ipynb, "Structured pruning that really removes channels".
    """
    groups = [t.get_text() for t in ax.get_xticklabels()]
    bars = [c for c in ax.containers if c.get_label() == measure]
    if len(bars) != 1:
        raise ValueError(f"argument 'measure': the chart has no bars named {measure!r}")
    if not isinstance(ranges, Mapping) or set(ranges) != set(groups):
        raise ValueError(f"argument 'ranges' must give (low, high) for each of {groups}")
    for group, bar in zip(groups, bars[0].patches, strict=True):
        low, high = (float(v) for v in ranges[group])
        if not low <= bar.get_height() <= high:
            raise ValueError(
                f"argument 'ranges': {group!r} spans {low:g}-{high:g}, "
                f"which does not hold its bar ({bar.get_height():g})"
            )
        x = bar.get_x() + bar.get_width() / 2
        ax.errorbar(
            x,
            bar.get_height(),
            [[bar.get_height() - low], [high - bar.get_height()]],
            color="black",
            capsize=3,
            lw=1,
        )
        for text in ax.texts:  # the value printed on the bar (bar_label), moved above the line
            if hasattr(text, "xy") and abs(text.xy[0] - x) < 1e-9:
                text.xy = (x, high)
    return ax
