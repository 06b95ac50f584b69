"""The tabular benchmark of notebook 02: every grid point of the course's search space trained
in advance, so that hundreds of searches replay in seconds and every strategy looks up the
same numbers.

Serves notebooks/02_hyperparameter_search.ipynb ("The table: every grid point, trained" and
"The comparison"); ``labkit search build-table`` rebuilds the table and ``labkit bench search``
(labkit/search/bench.py) summarizes the replays.

Used by: `labkit search build-table`, and labkit.search.bench and labkit.search.widget, which
replay it.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from labkit import store
from labkit._validate import check_choice, check_float, check_int, check_names
from labkit.data import load_digits
from labkit.search.strategies import (
    COURSE_SPACE,
    STRATEGIES,
    Objective,
    SearchSpace,
    live_objective,
    search,
)
from labkit.train import accuracy_interval

TABLE_RECIPE = dict(epochs=3, train_subset=1000, seeds=[0, 1])
BUILD_MINUTES = 17  # how long `labkit search build-table` took on a 2-core machine (meta.seconds)
COMMAND = "labkit search build-table"


def table_path() -> Path:
    """Where the table is kept: data/search_table.json."""
    return store.table_path("search_table.json")


class SearchTable:
    """Validation errors of every grid point, for several training seeds.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Grid or random: the cost".
    """

    def __init__(self, space: SearchSpace, errors: np.ndarray, meta: dict | None = None) -> None:
        errors = np.asarray(errors, dtype=float)
        if errors.shape[:-1] != space.shape:
            raise ValueError(
                f"argument 'errors' must have shape {space.shape} + (seeds,), got {errors.shape}"
            )
        if not np.isfinite(errors).all():
            raise ValueError("argument 'errors' holds NaN or infinite values")
        self.space, self.errors, self.meta = space, errors, meta or {}
        self._path: Path | None = None

    @property
    def mean_errors(self) -> np.ndarray:
        """The objective: validation error averaged over training seeds, for every grid point."""
        return self.errors.mean(axis=-1)

    @property
    def best_error(self) -> float:
        """The grid's lowest mean validation error."""
        return float(self.mean_errors.min())

    @property
    def best_config(self) -> dict:
        """The grid point with the lowest mean validation error."""
        return self.space.config(np.unravel_index(int(self.mean_errors.argmin()), self.space.shape))

    def objective(self) -> Objective:
        """config -> mean validation error, looked up instead of trained."""
        means = self.mean_errors

        def lookup(config: dict) -> float:
            return float(means[self.space.index(config)])

        return lookup

    @property
    def path(self) -> Path:
        """The file this table was read from or written to (data/search_table.json)."""
        return self._path or table_path()

    def save(self, path: Path | None = None) -> Path:
        """Write the table as JSON, atomically: a failed build never leaves half a table."""
        self._path = store.save_record(
            {
                "space": self.space.to_dict(),
                "errors": self.errors.round(6).tolist(),
                "meta": self.meta,
            },
            Path(path or table_path()),
        )
        return self._path

    @classmethod
    def load(cls, path: Path | None = None) -> SearchTable:
        """Read the table; a missing or damaged file gets a message that says how to restore it."""
        path = Path(path or table_path())
        record = store.load_record(path, COMMAND, BUILD_MINUTES)
        try:
            table = cls(SearchSpace(record["space"]), np.array(record["errors"]), record["meta"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(
                f"{path} is damaged ({err}). {store.rebuild_hint(COMMAND, BUILD_MINUTES)}"
            ) from None
        table._path = path
        return table


def build_table(
    space: Mapping[str, Sequence] | None = None,
    epochs: int = TABLE_RECIPE["epochs"],
    train_subset: int = TABLE_RECIPE["train_subset"],
    seeds: Sequence[int] = tuple(TABLE_RECIPE["seeds"]),
    progress: bool = True,
    path: Path | None = None,
) -> SearchTable:
    """Train every grid point once per seed and save the table (``labkit search build-table``)."""
    space = SearchSpace(space or COURSE_SPACE)
    if isinstance(seeds, str) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError("argument 'seeds' must list at least one seed")
    seeds = [check_int("seeds", s, min_value=0) for s in seeds]
    data = load_digits()
    errors = np.zeros(space.shape + (len(seeds),))
    start = time.perf_counter()
    configs = list(itertools.product(*(range(n) for n in space.shape)))
    objectives = [live_objective(data, epochs, train_subset, seed) for seed in seeds]
    for index in tqdm(configs, desc="training every grid point", disable=not progress):
        for s, objective in enumerate(objectives):
            errors[index + (s,)] = objective(space.config(index))
    meta = store.build_meta(
        COMMAND,
        start,
        epochs=epochs,
        train_subset=train_subset,
        seeds=list(seeds),
        dataset=dict(name="digits", **data.details),
        validation_images=len(data.val),
        objective="validation error (fraction)",
    )
    table = SearchTable(space, errors, meta)
    table.save(path)
    return table


@dataclass(frozen=True)
class NoiseBand:
    """How far above the grid's best error a point can lie and still be indistinguishable from
    it with the table's seeds: ``width`` (a fraction), how many grid points lie inside, the
    definition in words, and ``pooled``: how many of the best grid points the seed-to-seed
    variance was pooled over (the best ``pooled`` points by mean error).
    """

    width: float
    points: int
    definition: str
    pooled: int


def noise_band(table: SearchTable, share: float = 0.05) -> NoiseBand:
    """The noise band of the table's best: 1.96 standard deviations of the difference between
    two points' seed-averaged errors, with the seed-to-seed variance pooled over the best
    ``share`` of the grid. Only the best points are pooled because that is where a search's
    winners lie, and runs that barely train (the bad corners of the grid) vary far more from
    seed to seed. A search "finds the best" when its best error so far enters the band:
    inside it, the seeds cannot tell a point from the table's best.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The noise band: not detectably
    worse than the best".
    """
    if not isinstance(table, SearchTable):
        raise TypeError(f"argument 'table' must be a SearchTable, got {type(table).__name__}")
    share = check_float("share", share, low=0, high=1, low_inclusive=False)
    seeds = table.errors.shape[-1]
    if seeds < 2:
        raise ValueError("the table needs at least two seeds per point to measure its noise")
    means = table.mean_errors
    top = means <= np.quantile(means, share)
    sd = float(np.sqrt(np.var(table.errors[top], axis=-1, ddof=1).mean()))
    width = 1.96 * sd * np.sqrt(2 / seeds)
    inside = int((means <= table.best_error + width + 1e-12).sum())
    definition = (
        f"1.96 x the standard deviation of a difference of two {seeds}-seed means, seed "
        f"variance pooled over the best {share:.0%} of the grid"
    )
    return NoiseBand(float(width), inside, definition, int(top.sum()))


@dataclass
class Replay:
    """Best-so-far curves of many repetitions of each strategy on one table.

    ``curves[strategy]`` has one row per repetition and one column per evaluation; a grid whose
    lattice holds fewer points than the budget stops there, and its curve stays flat after.
    ``fallbacks[strategy]`` counts, per repetition, the evaluations labkit chose at random in
    the strategy's place (``labkit.search.search`` says when).
    """

    budget: int
    curves: dict[str, np.ndarray]
    best_error: float
    grid_size: int
    fallbacks: dict[str, np.ndarray] = field(default_factory=dict)

    def _curves(self, strategy: str) -> np.ndarray:
        check_choice("strategy", strategy, list(self.curves))
        return self.curves[strategy]

    def regret(self, strategy: str) -> np.ndarray:
        """Best error found so far minus the grid's best, per repetition and evaluation."""
        return self._curves(strategy) - self.best_error

    def evals_to_reach(self, strategy: str, tolerance: float = 0.005) -> np.ndarray:
        """Per repetition: evaluations until within ``tolerance`` of the grid's best; a search
        that never got there within the budget counts as ``budget + 1``, so that a hit on the
        very last evaluation (``budget``) is still a hit. Count hits with ``reached``."""
        tolerance = check_float("tolerance", tolerance, low=0)
        hit = self.regret(strategy) <= tolerance + 1e-12
        return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, self.budget + 1)

    def reached(self, strategy: str, tolerance: float = 0.005) -> float:
        """The share of repetitions that came within ``tolerance`` of the grid's best."""
        return float((self.evals_to_reach(strategy, tolerance) <= self.budget).mean())

    def summary(self, strategy: str, tolerance: float) -> StrategySummary:
        """What the repetitions of one strategy say: how many reached the band (within
        ``tolerance`` of the grid's best), with the share's 95% Wilson interval, and the median
        evaluations to get there, with a 95% bootstrap interval of that median.

        Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
        space, same budget, repeated".
        """
        evals = self.evals_to_reach(strategy, tolerance)
        hits = int((evals <= self.budget).sum())
        low, high = accuracy_interval(hits, len(evals))
        med_low, med_high = median_interval(evals)
        fallbacks = self.fallbacks.get(strategy, np.zeros(len(evals)))
        return StrategySummary(
            strategy=strategy,
            repeats=len(evals),
            hits=hits,
            share_low=low,
            share_high=high,
            median_evals=float(np.median(evals)),
            median_evals_low=med_low,
            median_evals_high=med_high,
            median_regret_at_budget=float(np.median(self.regret(strategy)[:, -1])),
            mean_fallbacks=float(np.mean(fallbacks)),
            budget=self.budget,
        )

    def compare(self, a: str, b: str, tolerance: float) -> ShareDifference:
        """The share of repetitions of ``b`` that reached the band minus that of ``a``, with a
        95% interval (Newcombe's method from the two Wilson intervals; the repetitions of two
        strategies are independent samples). "No detectable difference" when it holds zero.

        Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
        space, same budget, repeated".
        """
        sa, sb = self.summary(a, tolerance), self.summary(b, tolerance)
        pa, pb = sa.share, sb.share
        d = pb - pa
        low = d - math.sqrt((pb - sb.share_low) ** 2 + (sa.share_high - pa) ** 2)
        high = d + math.sqrt((sb.share_high - pb) ** 2 + (pa - sa.share_low) ** 2)
        return ShareDifference((a, b), d, max(-1.0, low), min(1.0, high))


@dataclass(frozen=True)
class StrategySummary:
    """One strategy's repetitions on the table: ``hits`` of ``repeats`` reached the noise band
    (share with its 95% Wilson interval); median evaluations to the band (``budget + 1``
    counts a run that never reached it) with a 95% bootstrap interval; median regret at the
    budget (a fraction); mean evaluations chosen by labkit's random fallback.
    """

    strategy: str
    repeats: int
    hits: int
    share_low: float
    share_high: float
    median_evals: float
    median_evals_low: float
    median_evals_high: float
    median_regret_at_budget: float
    mean_fallbacks: float
    budget: int

    @property
    def share(self) -> float:
        """The share of repetitions that reached the noise band."""
        return self.hits / self.repeats

    def __str__(self) -> str:
        never = self.budget + 1

        def evals(v: float) -> str:
            return "never" if v >= never else f"{v:g}"

        return (
            f"{self.strategy:>6}: reached the band in {self.hits:2d}/{self.repeats} runs "
            f"({100 * self.share:3.0f}%, 95% CI {100 * self.share_low:.0f}-"
            f"{100 * self.share_high:.0f}%); median evaluations to it "
            f"{evals(self.median_evals)} (95% CI {evals(self.median_evals_low)}-"
            f"{evals(self.median_evals_high)}); {self.mean_fallbacks:.1f} random fallbacks per run"
        )


@dataclass(frozen=True)
class ShareDifference:
    """The share of runs reaching the band, strategy ``names[1]`` minus ``names[0]``, with its
    95% interval; ``detectable`` when the interval excludes zero.
    """

    names: tuple[str, str]
    difference: float
    low: float
    high: float

    @property
    def detectable(self) -> bool:
        """True when the interval excludes zero."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        a, b = self.names
        verdict = (
            f"{b if self.difference > 0 else a} reaches it more often"
            if self.detectable
            else "no detectable difference"
        )
        return (
            f"share reaching the band, {b} - {a}: {100 * self.difference:+.0f} points "
            f"(95% CI {100 * self.low:+.0f} to {100 * self.high:+.0f}): {verdict}"
        )


def median_interval(
    values, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """A percentile-bootstrap interval of the median of ``values`` (repetitions of a search):
    the median of ``resamples`` resamples drawn with replacement, its middle ``confidence``.
    """
    values = np.asarray(values, dtype=float).ravel()
    if values.size == 0 or not np.isfinite(values).all():
        raise ValueError("argument 'values' must be a non-empty list of finite numbers")
    confidence = check_float("confidence", confidence, low=0.5, high=1, high_inclusive=False)
    resamples = check_int("resamples", resamples, min_value=100)
    seed = check_int("seed", seed, min_value=0)
    rng = np.random.default_rng(seed)
    medians = np.median(rng.choice(values, size=(resamples, values.size)), axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(medians, [tail, 1 - tail])
    return float(low), float(high)


def replay(
    table: SearchTable,
    strategies: Sequence[str] = STRATEGIES,
    budget: int | None = None,
    repeats: int | Mapping[str, int] = 20,
    seed: int = 0,
    progress: bool = True,
) -> Replay:
    """Run each strategy ``repeats`` times against the table (seeds ``seed``, ``seed + 1``, ...).
    ``repeats`` may give one count for every strategy or a {strategy: count} dict (the GP
    sampler is slow per trial, so a notebook may run it fewer times).

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
    space, same budget, repeated".
    """
    if not isinstance(table, SearchTable):
        raise TypeError(f"argument 'table' must be a SearchTable, got {type(table).__name__}")
    strategies = check_names("strategies", strategies, STRATEGIES)
    budget = (
        table.space.size
        if budget is None
        else check_int("budget", budget, min_value=1, max_value=table.space.size)
    )
    if isinstance(repeats, Mapping):
        check_names("repeats", list(repeats), strategies)
        counts = {s: check_int("repeats", repeats.get(s, 20), min_value=1) for s in strategies}
    else:
        counts = dict.fromkeys(strategies, check_int("repeats", repeats, min_value=1))
    seed = check_int("seed", seed, min_value=0)
    objective = table.objective()
    curves, fallbacks = {}, {}
    for strategy in strategies:
        runs, fell_back = [], []
        for r in tqdm(
            range(counts[strategy]), desc=f"replaying {strategy}", disable=not progress, leave=False
        ):
            trace = search(strategy, table.space, objective, budget, seed=seed + r)
            best = trace.best_so_far()
            # A grid lattice smaller than the budget stops early: its best stays where it was.
            runs.append(np.concatenate([best, np.full(budget - len(best), best[-1])]))
            fell_back.append(trace.fallbacks)
        curves[strategy], fallbacks[strategy] = np.array(runs), np.array(fell_back)
    return Replay(budget, curves, table.best_error, table.space.size, fallbacks)
