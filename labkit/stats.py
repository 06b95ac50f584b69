"""Is a difference real? Paired comparisons of two models on the same images, and intervals
over training seeds.

Two models scored on the same test images are a *paired* question: only the images on which
they disagree carry information. Of those, ``b`` are right only for the first model and ``c``
only for the second. With no real difference, each such image is a coin flip, so the exact
McNemar test is a binomial test of ``b`` against ``b + c`` flips; the interval of the accuracy
difference follows from the exact (Clopper-Pearson) interval of the coin's bias. The two agree:
the interval holds zero exactly when the test finds no difference at the 5% level, and then we
say "no detectable difference".

A claim about *training* (this recipe beats that one) must hold over several seeds:
``seed_interval`` gives the mean and its 95% t-interval.

Introduced in notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".

Used by: every lesson's comparisons (given to notebooks by labkit/__init__.py),
labkit.bench.common and labkit.distill.table.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from labkit._validate import check_float, check_int, check_tensor
from labkit.data import Split
from labkit.train import predict

CONFIDENCE = 0.95


@functools.lru_cache(maxsize=64)
def _log_binomial_coefficients(n: int) -> np.ndarray:
    """log C(n, i) for i = 0..n, from log-gamma: exact binomial coefficients of thousands of
    images are integers with thousands of digits, slow to build one by one. One array per n,
    shared by every k (an interval's two bisections ask for k - 1 and k)."""
    lg = np.array([math.lgamma(x + 1) for x in range(n + 1)])
    return lg[n] - lg - lg[::-1]


def _binomial_cdf(k: int, n: int, p: float = 0.5) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed term by term in log space (relative error
    about 1e-11 at n = 10,000: each term's logarithm is a difference of log-gammas near 1e5)."""
    if k < 0:
        return 0.0
    if p <= 0.0 or k >= n:
        return 1.0
    if p >= 1.0:
        return 0.0
    i = np.arange(k + 1)
    log_terms = _log_binomial_coefficients(n)[: k + 1] + i * math.log(p) + (n - i) * math.log1p(-p)
    top = float(log_terms.max())
    return min(1.0, math.exp(top) * float(np.exp(log_terms - top).sum()))


def _bisect(f, target: float, increasing: bool) -> float:
    """The p in [0, 1] where the monotone function f crosses ``target`` (60 halvings)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: how surprising a split of b vs c discordant images
    would be if both models were equally good (each discordant image a fair coin). From scratch.

    Lesson: notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".
    """
    b = check_int("b", b, min_value=0)
    c = check_int("c", c, min_value=0)
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2 * _binomial_cdf(min(b, c), n))


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact interval of a proportion from k successes in n trials: the lowest p under
    which k or more successes are still plausible (probability alpha/2), and the highest p
    under which k or fewer are. From scratch, by bisection on the binomial distribution.

    Lesson: notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".
    """
    n = check_int("n", n, min_value=1)
    k = check_int("k", k, min_value=0, max_value=n)
    confidence = check_float("confidence", confidence, low=0.5, high=1, high_inclusive=False)
    half = (1 - confidence) / 2
    # P(X >= k | p) grows with p; P(X <= k | p) falls with p.
    low = 0.0 if k == 0 else _bisect(lambda p: 1 - _binomial_cdf(k - 1, n, p), half, True)
    high = 1.0 if k == n else _bisect(lambda p: _binomial_cdf(k, n, p), half, False)
    return low, high


@dataclass(frozen=True)
class PairedComparison:
    """Model B against model A on the same ``n`` images: ``difference`` = accuracy of B minus
    accuracy of A (a fraction), its 95% interval [``low``, ``high``], and the exact McNemar
    p-value. ``only_a``/``only_b``: images only A / only B gets right.
    """

    n: int
    only_a: int
    only_b: int
    low: float
    high: float
    p_value: float
    names: tuple[str, str] = ("A", "B")

    @property
    def difference(self) -> float:
        """Accuracy of B minus accuracy of A, as a fraction."""
        return (self.only_b - self.only_a) / self.n

    @property
    def detectable(self) -> bool:
        """True when the interval excludes zero: the test images resolve the difference."""
        return self.low > 0 or self.high < 0

    def points(self) -> tuple[float, float, float]:
        """(difference, low, high) in percentage points."""
        return 100 * self.difference, 100 * self.low, 100 * self.high

    def verdict(self) -> str:
        """The comparison in words: which model is better, or no detectable difference."""
        a, b = self.names
        if not self.detectable:
            return "no detectable difference"
        return f"{b} is {'better' if self.difference > 0 else 'worse'} than {a}"

    def __str__(self) -> str:
        d, lo, hi = self.points()
        a, b = self.names
        return (
            f"{b} - {a}: {d:+.2f} points (95% CI {lo:+.2f} to {hi:+.2f}; "
            f"{self.only_a} image{'' if self.only_a == 1 else 's'} only {a} gets right, "
            f"{self.only_b} only {b}): {self.verdict()}"
        )


def _correct(predictions, y: torch.Tensor, name: str) -> torch.Tensor:
    predictions = torch.as_tensor(predictions)
    check_tensor(name, predictions, ndim=1)
    if predictions.shape != y.shape:
        raise ValueError(
            f"argument '{name}' must hold one prediction per label ({len(y)}), "
            f"got shape {tuple(predictions.shape)}"
        )
    return predictions == y


def paired_comparison(
    predictions_a,
    predictions_b,
    y,
    names: Sequence[str] = ("A", "B"),
    confidence: float = CONFIDENCE,
) -> PairedComparison:
    """Compare two models' predicted classes on the same labelled images (see the module
    docstring): the accuracy difference B - A with its exact interval, and McNemar's p-value.

    Lesson: notebooks/03_pruning.ipynb, "Neurons of a fully connected layer".
    """
    y = check_tensor("y", torch.as_tensor(y), ndim=1)
    right_a = _correct(predictions_a, y, "predictions_a")
    right_b = _correct(predictions_b, y, "predictions_b")
    if isinstance(names, str) or len(names) != 2:
        raise ValueError(f"argument 'names' must be two names, got {names!r}")
    only_a = int((right_a & ~right_b).sum())
    only_b = int((right_b & ~right_a).sum())
    n, m = len(y), only_a + only_b
    if m == 0:  # the models agree on every image: the difference is exactly zero
        low = high = 0.0
    else:  # B's share of the discordant images, pi; difference = (2 pi - 1) m / n
        lo_pi, hi_pi = clopper_pearson(only_b, m, confidence)
        low, high = (2 * lo_pi - 1) * m / n, (2 * hi_pi - 1) * m / n
    return PairedComparison(
        n, only_a, only_b, low, high, mcnemar_exact(only_a, only_b), tuple(names)
    )


def compare_models(
    net_a: nn.Module, net_b: nn.Module, split: Split, names: Sequence[str] = ("A", "B")
) -> PairedComparison:
    """Score two models on the same images and compare them, paired (see
    :func:`paired_comparison`): the accuracy of B minus that of A, with its interval.

    Lesson: notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".
    """
    return paired_comparison(predict(net_a, split), predict(net_b, split), split.y, names)


@dataclass(frozen=True)
class SeedInterval:
    """A mean over training seeds with its 95% t-interval."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies wholly above or below zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.mean:.3g} (95% CI {self.low:.3g} to {self.high:.3g}, {self.n} seeds)"


def seed_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> SeedInterval:
    """Mean of one number measured over several seeds (an accuracy, or a paired gain per seed)
    and its t-interval: mean +- t * sd / sqrt(n). Needs at least two seeds.

    Lesson: notebooks/03_pruning.ipynb, "Fine-tuning brings the accuracy back".
    """
    if isinstance(values, str) or not isinstance(values, Sequence | torch.Tensor):
        raise TypeError(f"argument 'values' must be a list of numbers, got {type(values).__name__}")
    xs = [check_float("values", v) for v in values]
    if len(xs) < 2:
        raise ValueError(f"argument 'values' needs at least two seeds, got {len(xs)}")
    confidence = check_float("confidence", confidence, low=0.5, high=1, high_inclusive=False)
    n = len(xs)
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    from scipy.stats import t  # ~60 MB and 1 s: only where seeds are summarized

    half = float(t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return SeedInterval(mean, mean - half, mean + half, n)
