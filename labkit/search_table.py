"""The tabular benchmark of notebook 02: every grid point of the course's search space trained
in advance, so that hundreds of searches replay in seconds and every strategy looks up the
same numbers.

Serves notebooks/02_hyperparameter_search.ipynb ("The table: every grid point, trained" and
"The comparison"); ``labkit search build-table`` rebuilds the table and ``labkit bench search``
(labkit/bench/search.py) summarizes the replays.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from labkit._validate import check_float, check_int, check_names
from labkit.data import data_dir, load_digits
from labkit.env import versions
from labkit.search import COURSE_SPACE, STRATEGIES, Objective, SearchSpace, live_objective, search

TABLE_RECIPE = dict(epochs=3, train_subset=1000, seeds=[0, 1])
BUILD_MINUTES = 17  # how long `labkit search build-table` took on a 2-core machine (meta.seconds)


def table_path() -> Path:
    """Where the table is kept: data/search_table.json.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Grid or random: the cost".
    """
    return data_dir() / "search_table.json"


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

    @property
    def mean_errors(self) -> np.ndarray:
        """The objective: validation error averaged over training seeds, for every grid point."""
        return self.errors.mean(axis=-1)

    @property
    def best_error(self) -> float:
        return float(self.mean_errors.min())

    @property
    def best_config(self) -> dict:
        return self.space.config(np.unravel_index(int(self.mean_errors.argmin()), self.space.shape))

    def objective(self) -> Objective:
        """config -> mean validation error, looked up instead of trained."""
        means = self.mean_errors

        def lookup(config: dict) -> float:
            return float(means[self.space.index(config)])

        return lookup

    def save(self, path: Path | None = None) -> Path:
        """Write the table as JSON, atomically: a failed build never leaves half a table."""
        path = Path(path or table_path())
        record = {
            "space": self.space.to_dict(),
            "errors": self.errors.round(6).tolist(),
            "meta": self.meta,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path | None = None) -> SearchTable:
        """Read the table; a missing or damaged file gets a message that says how to restore it."""
        path = Path(path or table_path())
        fix = (
            f"Restore it with `git checkout data/` or rebuild it with `labkit search build-table` "
            f"(about {BUILD_MINUTES} min)."
        )
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing. {fix}")
        try:
            record = json.loads(path.read_text())
            return cls(SearchSpace(record["space"]), np.array(record["errors"]), record["meta"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path} is damaged ({err}). {fix}") from None


def build_table(
    space: Mapping[str, Sequence] | None = None,
    epochs: int = TABLE_RECIPE["epochs"],
    train_subset: int = TABLE_RECIPE["train_subset"],
    seeds: Sequence[int] = tuple(TABLE_RECIPE["seeds"]),
    progress: bool = True,
    path: Path | None = None,
) -> SearchTable:
    """Train every grid point once per seed and save the table (``labkit search build-table``).

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Grid or random: the cost".
    """
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
    v = versions()
    meta = {
        "command": "labkit search build-table",
        "epochs": epochs,
        "train_subset": train_subset,
        "seeds": list(seeds),
        "dataset": dict(name="digits", **data.details),
        "validation_images": len(data.val),
        "objective": "validation error (fraction)",
        "seconds": round(time.perf_counter() - start, 1),
        "torch": v["torch"],
        "labkit": v["labkit"],
    }
    table = SearchTable(space, errors, meta)
    table.save(path)
    return table


@dataclass(frozen=True)
class NoiseBand:
    """How far above the grid's best error a point can lie and still be indistinguishable from
    it with the table's seeds: ``width`` (a fraction), how many grid points lie inside, and the
    definition in words.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The table: every grid point, trained".
    """

    width: float
    points: int
    definition: str


def noise_band(table: SearchTable, share: float = 0.05) -> NoiseBand:
    """The noise band of the table's best: 1.96 standard deviations of the difference between
    two points' seed-averaged errors, with the seed-to-seed variance pooled over the best
    ``share`` of the grid (where the search's winners are). A search "finds the best" when its
    best error so far enters the band: inside it, the seeds cannot tell points apart.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The table: every grid point, trained".
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
    return NoiseBand(float(width), inside, definition)


@dataclass
class Replay:
    """Best-so-far curves of many repetitions of each strategy on one table.

    ``curves[strategy]`` has one row per repetition and one column per evaluation.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
    space, same budget, 20 repetitions".
    """

    budget: int
    curves: dict[str, np.ndarray]
    best_error: float
    grid_size: int

    def regret(self, strategy: str) -> np.ndarray:
        """Best error found so far minus the grid's best, per repetition and evaluation."""
        return self.curves[strategy] - self.best_error

    def evals_to_reach(self, strategy: str, tolerance: float = 0.005) -> np.ndarray:
        """Per repetition: evaluations until within ``tolerance`` of the grid's best; a search
        that never got there within the budget counts as ``budget + 1``, so that a hit on the
        very last evaluation (``budget``) is still a hit."""
        hit = self.regret(strategy) <= tolerance + 1e-12
        return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, self.budget + 1)

    def reached(self, strategy: str, tolerance: float = 0.005) -> float:
        """The share of repetitions that came within ``tolerance`` of the grid's best."""
        return float((self.evals_to_reach(strategy, tolerance) <= self.budget).mean())


def replay(
    table: SearchTable,
    strategies: Sequence[str] = STRATEGIES,
    budget: int | None = None,
    repeats: int | Mapping[str, int] = 20,
    seed: int = 0,
    progress: bool = True,
) -> Replay:
    """Run each strategy ``repeats`` times against the table (different seeds each time).
    ``repeats`` may give one count for every strategy or a {strategy: count} dict (the GP
    sampler is slow per trial, so a notebook may run it fewer times).

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
    space, same budget, 20 repetitions".
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
    objective = table.objective()
    curves = {}
    for strategy in strategies:
        # Grid order is fixed, so one run is every run.
        n = 1 if strategy == "grid" else counts[strategy]
        runs = [
            search(strategy, table.space, objective, budget, seed=seed + r).best_so_far()
            for r in tqdm(range(n), desc=f"replaying {strategy}", disable=not progress, leave=False)
        ]
        curves[strategy] = np.array(runs)
    return Replay(budget, curves, table.best_error, table.space.size)
