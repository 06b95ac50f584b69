"""Hyperparameter search over a discrete space: grid, random, Bayesian (Optuna TPE and GP)
and tensor-train (TTOpt), all behind one function, ``search``.

Serves notebooks/02_hyperparameter_search.ipynb. The same objective callable (a config dict
-> an error to minimize) works live (``live_objective``: train and validate) and against the
stored table of every grid point (``labkit.search.table``), so hundreds of searches replay in
seconds; ``labkit bench search`` summarizes them.

Used by: labkit.search.table (the replays) and labkit.search.bench.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from labkit._validate import check_callable, check_choice, check_float, check_int
from labkit.data import check_dataset
from labkit.trial import train_small_cnn

STRATEGIES = ("grid", "random", "tpe", "gp", "tt")
Objective = Callable[[dict], float]


class SearchSpace:
    """Named, ordered lists of allowed values, one per hyperparameter; the grid is their product.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The search space and the objective".
    """

    def __init__(self, params: Mapping[str, Sequence]) -> None:
        if not isinstance(params, Mapping) or not params:
            raise ValueError("argument 'params' must be a non-empty {name: [values]} dict")
        self.params: dict[str, tuple] = {}
        for name, values in params.items():
            if not isinstance(name, str) or not name:
                raise TypeError(f"argument 'params': names must be non-empty strings, got {name!r}")
            if isinstance(values, str) or not isinstance(values, Sequence) or len(values) == 0:
                raise ValueError(
                    f"argument 'params': '{name}' needs a non-empty list of values, got {values!r}"
                )
            if len(set(values)) != len(values):
                raise ValueError(f"argument 'params': '{name}' lists a value twice: {list(values)}")
            self.params[name] = tuple(values)

    @property
    def names(self) -> list[str]:
        """The hyperparameters' names, in order."""
        return list(self.params)

    @property
    def shape(self) -> tuple[int, ...]:
        """How many values each hyperparameter has: the grid's shape."""
        return tuple(len(v) for v in self.params.values())

    @property
    def size(self) -> int:
        """Number of grid points: the product of the number of values of each hyperparameter."""
        return math.prod(self.shape)

    def config(self, index: Sequence[int]) -> dict:
        """The config at a multi-index, e.g. (0, 2, 1, 3) -> {'lr': ..., ...}."""
        if len(index) != len(self.shape):
            raise ValueError(f"argument 'index' must have {len(self.shape)} entries, got {index!r}")
        out = {}
        for (name, values), i in zip(self.params.items(), index, strict=True):
            i = int(i)
            if not 0 <= i < len(values):
                raise ValueError(
                    f"argument 'index': {i} is outside 0..{len(values) - 1} for '{name}'"
                )
            out[name] = values[i]
        return out

    def index(self, config: Mapping) -> tuple[int, ...]:
        """The multi-index of a config; a clear error for a name or value outside the space."""
        if not isinstance(config, Mapping):
            raise TypeError(f"argument 'config' must be a dict, got {type(config).__name__}")
        missing, extra = set(self.params) - set(config), set(config) - set(self.params)
        if missing or extra:
            raise ValueError(
                f"argument 'config' must name exactly {self.names}; "
                f"missing {sorted(missing)}, unknown {sorted(extra)}"
            )
        out = []
        for name, values in self.params.items():
            if config[name] not in values:
                raise ValueError(
                    f"argument 'config': {name}={config[name]!r} is not in the "
                    f"space; allowed: {list(values)}"
                )
            out.append(values.index(config[name]))
        return tuple(out)

    def all_configs(self) -> list[dict]:
        """Every grid point, in grid order (the last hyperparameter varies fastest)."""
        return [self.config(i) for i in itertools.product(*(range(n) for n in self.shape))]

    def to_dict(self) -> dict:
        """The space as {name: [values]}, for JSON."""
        return {k: list(v) for k, v in self.params.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {len(v)} values" for k, v in self.params.items())
        return f"SearchSpace({inner}; {self.size} grid points)"


@dataclass
class Trace:
    """What a search evaluated, in order: configs and their errors (lower is better)."""

    strategy: str
    configs: list[dict] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    seconds: float = 0.0
    fallback: list[bool] = field(default_factory=list)  # per evaluation: labkit's random pick?

    def __len__(self) -> int:
        return len(self.errors)

    def best_so_far(self) -> np.ndarray:
        """The best error found after 1, 2, ... evaluations."""
        return np.minimum.accumulate(np.asarray(self.errors, dtype=float))

    @property
    def fallbacks(self) -> int:
        """How many evaluations labkit chose at random in the strategy's place (see ``search``)."""
        return int(sum(self.fallback))

    @property
    def best_error(self) -> float:
        """The lowest error the search found."""
        return float(min(self.errors))

    @property
    def best_config(self) -> dict:
        """The config with the lowest error found."""
        return self.configs[int(np.argmin(self.errors))]

    def evals_to_reach(self, target: float, tolerance: float = 0.0) -> int:
        """Evaluations until an error <= target + tolerance was found. A search that never got
        there counts as one more than the evaluations it made (``len(self) + 1``), the same
        rule as ``Replay.evals_to_reach`` (``budget + 1``): a hit on the last evaluation is
        still a hit, and medians over runs stay numbers."""
        target = check_float("target", target)
        tolerance = check_float("tolerance", tolerance, low=0)
        hits = np.nonzero(self.best_so_far() <= target + tolerance + 1e-12)[0]
        return int(hits[0]) + 1 if len(hits) else len(self) + 1


class _Evaluator:
    """Calls the objective once per distinct config and records the trace."""

    def __init__(
        self, space: SearchSpace, objective: Objective, budget: int, strategy: str, progress: bool
    ) -> None:
        self.space, self.objective, self.budget = space, objective, budget
        self.cache: dict[tuple[int, ...], float] = {}
        self.trace = Trace(strategy)
        self.bar = tqdm(total=budget, desc=strategy, disable=not progress, leave=False)

    @property
    def done(self) -> bool:
        return len(self.trace) >= self.budget

    def __call__(self, index: Sequence[int], fallback: bool = False) -> float:
        key = tuple(int(i) for i in index)
        if key in self.cache:
            return self.cache[key]
        config = self.space.config(key)
        error = float(self.objective(config))
        if not math.isfinite(error):
            raise ValueError(f"the objective returned {error} for {config}; it must be a number")
        self.cache[key] = error
        if not self.done:
            self.trace.configs.append(config)
            self.trace.errors.append(error)
            self.trace.fallback.append(fallback)
            self.bar.update(1)
        return error


_SHUFFLE_LIMIT = 10**6  # grids up to this size are shuffled; larger ones are sampled


def _random_order(space: SearchSpace, rng: np.random.Generator) -> Iterator[tuple[int, ...]]:
    """Grid points in a random order without repeats (for a huge grid: draws skipping repeats)."""
    if space.size <= _SHUFFLE_LIMIT:
        for flat in rng.permutation(space.size):
            yield tuple(int(i) for i in np.unravel_index(flat, space.shape))
        return
    drawn: set[tuple[int, ...]] = set()
    while True:
        for row in rng.integers(0, space.shape, size=(1024, len(space.shape))):
            key = tuple(int(i) for i in row)
            if key not in drawn:
                drawn.add(key)
                yield key


def grid_lattice(shape: Sequence[int], budget: int) -> list[list[int]]:
    """The coarser grid that ``search("grid", ...)`` evaluates when the full grid does not fit
    the budget: for each axis, the positions of the values it keeps.

    How many values per axis: start with one each, then again and again give one more value
    to the axis with the smallest share of its values kept so far (on a tie, the axis listed
    first), skipping an axis whose next value would take the lattice over ``budget``; stop
    when no axis can grow. The kept values are evenly spaced from the first to the last (one
    value: the middle one). A budget as large as the grid keeps every value.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
    space, same budget, repeated".
    """
    if isinstance(shape, str) or not isinstance(shape, Sequence) or len(shape) == 0:
        raise TypeError(f"argument 'shape' must be a non-empty list of axis lengths, got {shape!r}")
    shape = [check_int("shape", n, min_value=1) for n in shape]
    budget = check_int("budget", budget, min_value=1)
    counts = [1] * len(shape)
    while True:
        total = math.prod(counts)
        growable = [
            a
            for a, n in enumerate(shape)
            if counts[a] < n and total // counts[a] * (counts[a] + 1) <= budget
        ]
        if not growable:
            break
        counts[min(growable, key=lambda a: (counts[a] / shape[a], a))] += 1
    return [
        [(n - 1) // 2] if k == 1 else [int(i) for i in np.round(np.linspace(0, n - 1, k))]
        for n, k in zip(shape, counts, strict=True)
    ]


def _grid(ev: _Evaluator, rng: np.random.Generator) -> None:
    # Every combination of a coarser set of values, so that the whole lattice fits the budget;
    # visited in a seeded random order, so a search stopped early has seen every region.
    points = list(itertools.product(*grid_lattice(ev.space.shape, ev.budget)))
    for i in rng.permutation(len(points)):
        ev(points[i])


def _random(ev: _Evaluator, rng: np.random.Generator) -> None:
    # Sampling without replacement: a repeated point would teach nothing new.
    for index in _random_order(ev.space, rng):
        if ev.done:
            return
        ev(index)


def _optuna(sampler_name: str) -> Callable[[_Evaluator, np.random.Generator], None]:
    def run(ev: _Evaluator, rng: np.random.Generator) -> None:
        import optuna  # ~0.5 s and ~30 MB: only when a Bayesian search runs

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        seed = int(rng.integers(2**31))
        if sampler_name == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
        else:
            sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=5)
        study = optuna.create_study(sampler=sampler, direction="minimize")
        # Ordered integer indices, not categories: a sampler can use that lr 1e-3 is next to 3e-3.
        unseen = _random_order(ev.space, rng)
        queued = False  # is the next trial a point labkit chose, not the sampler?
        while not ev.done:
            trial = study.ask()
            index = tuple(
                trial.suggest_int(name, 0, n - 1)
                for name, n in zip(ev.space.names, ev.space.shape, strict=True)
            )
            repeat = index in ev.cache
            study.tell(trial, ev(index, fallback=queued))  # a repeat is answered from memory
            queued = False
            if repeat:
                # labkit's change to the sampler (see `search`): next, a random unseen point.
                for nxt in unseen:
                    if nxt not in ev.cache:
                        study.enqueue_trial(dict(zip(ev.space.names, nxt, strict=True)))
                        queued = True
                        break

    return run


def _tt(ev: _Evaluator, rng: np.random.Generator, rank: int = 2) -> None:
    from ttopt import TTOpt  # only when a tensor-train search runs

    def f(indices: np.ndarray) -> np.ndarray:
        return np.array([ev(i) for i in indices])

    # The grid is a tensor with one axis per hyperparameter; TTOpt explores it through a
    # low-rank tensor-train model, asking for whole fibres of it at a time.
    tt = TTOpt(
        f,
        d=len(ev.space.shape),
        n=list(ev.space.shape),
        evals=ev.budget,
        is_func=False,
        is_vect=True,
        with_cache=True,
        with_wrn=False,
    )
    tt.optimize(rank=rank, seed=int(rng.integers(2**31)))
    # TTOpt stops early when it asks mostly for points it has seen (it has converged); labkit's
    # change (see `search`): the rest of the budget goes to random unseen points.
    for index in _random_order(ev.space, rng):
        if ev.done:
            return
        ev(index, fallback=True)


_RUNNERS = {"grid": _grid, "random": _random, "tpe": _optuna("tpe"), "gp": _optuna("gp"), "tt": _tt}


def search(
    strategy: str,
    space: SearchSpace,
    objective: Objective,
    budget: int,
    seed: int = 0,
    progress: bool = False,
) -> Trace:
    """Run one search: at most ``budget`` distinct evaluations of ``objective``; returns the Trace.

    ``strategy``:

    - "grid": every combination of a coarser lattice that fits the budget
      (``grid_lattice``: evenly spaced values per axis, the shares kept as equal as the budget
      allows), evaluated in a seeded random order. It may use fewer than ``budget``
      evaluations; with a budget as large as the grid, it is the full grid.
    - "random": points drawn without replacement.
    - "tpe", "gp": Optuna's Bayesian samplers (TPESampler, GPSampler), 5 random startup trials.
    - "tt": TTOpt, tensor-train optimization with rank 2.

    Two changes labkit makes to the strategies, both counted in ``Trace.fallbacks`` (the
    number of evaluations labkit chose at random in the strategy's place): when TPE or GP
    proposes a point already evaluated, the sampler is told its known value at no cost, and
    the next trial is an unseen point drawn at random; when TTOpt stops before the budget is
    spent, the rest goes to unseen points drawn at random. Used directly, Optuna would spend
    a trial on each repeat, and TTOpt would simply stop.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
    space, same budget, repeated".
    """
    check_choice("strategy", strategy, STRATEGIES)
    if not isinstance(space, SearchSpace):
        raise TypeError(f"argument 'space' must be a SearchSpace, got {type(space).__name__}")
    check_callable("objective", objective, "callable: config dict -> error")
    budget = check_int("budget", budget, min_value=1, max_value=space.size)
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    ev = _Evaluator(space, objective, budget, strategy, progress)
    start = time.perf_counter()
    try:
        _RUNNERS[strategy](ev, np.random.default_rng(seed))
    finally:
        ev.bar.close()
    ev.trace.seconds = time.perf_counter() - start
    return ev.trace


# ---------------------------------------------------------------------------------------------
# Bayesian optimization in one dimension, from scratch (notebook 02's picture of one step).


def gp_posterior(
    x_seen, y_seen, x_query, length_scale: float = 1.0, signal: float = 1.0, noise: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of a Gaussian-process surrogate with an RBF kernel.

    k(a, b) = signal**2 * exp(-(a - b)**2 / (2 * length_scale**2)); ``noise`` is the variance
    added on the diagonal for the observations. The prior mean is the mean of ``y_seen``.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Bayesian optimization, one step at a time".
    """
    x_seen, y_seen, x_query = (
        np.asarray(v, dtype=float).ravel() for v in (x_seen, y_seen, x_query)
    )
    if not all(np.isfinite(v).all() for v in (x_seen, y_seen, x_query)):
        raise ValueError("arguments 'x_seen', 'y_seen' and 'x_query' must be finite numbers")
    if x_seen.size == 0 or x_seen.size != y_seen.size:
        raise ValueError(
            "arguments 'x_seen' and 'y_seen' must be non-empty and of equal length, "
            f"got {x_seen.size} and {y_seen.size}"
        )
    for name, value in (("length_scale", length_scale), ("signal", signal)):
        check_float(name, value, low=0, low_inclusive=False)
    check_float("noise", noise, low=0)

    def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return signal**2 * np.exp(-((a[:, None] - b[None, :]) ** 2) / (2 * length_scale**2))

    prior = y_seen.mean()
    k_ss = kernel(x_seen, x_seen) + noise * np.eye(x_seen.size)
    k_qs = kernel(x_query, x_seen)
    chol = np.linalg.cholesky(k_ss)
    alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, y_seen - prior))
    mean = prior + k_qs @ alpha
    v = np.linalg.solve(chol, k_qs.T)
    var = np.clip(signal**2 - (v**2).sum(axis=0), 0, None)
    return mean, np.sqrt(var)


def expected_improvement(mean, std, best: float) -> np.ndarray:
    """Expected improvement E[max(best - f, 0)] under the surrogate f ~ N(mean, std**2): how far
    below ``best`` (we minimize) a point is expected to land, counting a point above it as 0.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Bayesian optimization, one step at a time".
    """
    from scipy.stats import norm  # ~60 MB and 1 s: only where expected improvement is drawn

    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and np.isfinite(best)):
        raise ValueError("arguments 'mean', 'std' and 'best' must be finite numbers")
    if mean.shape != std.shape:
        raise ValueError(f"arguments 'mean' and 'std' differ in shape: {mean.shape}, {std.shape}")
    if (std < 0).any():
        raise ValueError("argument 'std' must not be negative")
    gain = best - mean
    safe = np.where(std > 0, std, 1.0)
    z = gain / safe
    return np.where(std > 0, gain * norm.cdf(z) + std * norm.pdf(z), np.maximum(gain, 0.0))


# ---------------------------------------------------------------------------------------------
# The course's search space, and the objective trained live.

COURSE_SPACE = {
    "lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
    "batch_size": [32, 64, 128, 256],
    "width": [4, 8, 16, 32],
    "kernel_size": [1, 3, 5, 7],
}


def live_objective(
    data, epochs: int = 3, train_subset: int | None = 1000, seed: int = 0, progress: bool = False
) -> Objective:
    """config -> validation error of a SmallCNN trained with it now.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The search space and the objective".
    """
    check_dataset("data", data)
    epochs = check_int("epochs", epochs, min_value=1, max_value=100)
    if train_subset is not None:
        data = data.with_train_subset(
            min(check_int("train_subset", train_subset, min_value=10), len(data.train))
        )

    def train_and_validate(config: dict) -> float:
        return train_small_cnn(
            data, epochs=epochs, seed=seed, progress=progress, **config
        ).val_error

    return train_and_validate
