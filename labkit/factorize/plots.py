"""Notebook 06's pictures: singular-value spectra, predicted against measured speed-ups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from labkit._validate import check_tensor


def plot_spectra(
    spectra: Mapping[str, torch.Tensor], ax: plt.Axes | None = None, title: str | None = None
) -> plt.Axes:
    """Singular values of several matrices, each divided by its largest, against the rank
    (a fraction of the matrix's full rank, so that layers of any size share one axis); log
    scale. A fast fall means a low rank keeps most of the matrix.

    Lesson: notebooks/06_matrix_factorization.ipynb, "The singular value decomposition".
    """
    if not isinstance(spectra, Mapping) or not spectra:
        raise TypeError("argument 'spectra' must be a non-empty {name: singular values} dict")
    if ax is None:
        _, ax = plt.subplots()
    for name, s in spectra.items():
        s = check_tensor(f"spectra[{name!r}]", torch.as_tensor(s), ndim=1).float().numpy()
        x = np.arange(1, len(s) + 1) / len(s)
        ax.plot(x, s / s.max(), "o-", ms=3, label=f"{name} ({len(s)} values)")
    ax.set_yscale("log")
    ax.set_xlabel("rank / full rank")
    ax.set_ylabel("singular value / largest")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_predicted_vs_measured(
    points: Mapping[str, Sequence[tuple[float, float]]],
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Measured speed-up against the speed-up the count of multiply-accumulates predicts, one
    series per layer ({layer: [(predicted, measured), ...]}), log-log; the diagonal is
    "time follows MACs" and the dashed line 1 is "as fast as the original".

    Lesson: notebooks/06_matrix_factorization.ipynb, "Does it pay on this CPU?".
    """
    if not isinstance(points, Mapping) or not points:
        raise TypeError("argument 'points' must be a non-empty {layer: [(predicted, measured)]}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.2))
    everything = []
    for name, pairs in points.items():
        xy = np.asarray(pairs, dtype=float).reshape(-1, 2)
        everything.append(xy)
        ax.plot(xy[:, 0], xy[:, 1], "o", alpha=0.8, label=name)
    xy = np.concatenate(everything)
    lo, hi = min(xy.min(), 0.5), max(xy.max(), 2)
    ax.plot([lo, hi], [lo, hi], color="grey", lw=1, label="time follows MACs")
    ax.axhline(1, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted speed-up (original MACs / factorized MACs)")
    ax.set_ylabel("measured speed-up")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax
