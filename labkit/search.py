"""Hyperparameter search over a discrete space: grid, random, Bayesian (Optuna TPE and GP)
and tensor-train (TTOpt), all behind one function, ``search``.

Serves notebooks/02_hyperparameter_search.ipynb. The same objective callable (a config dict
-> an error to minimize) works live (``live_objective``: train and validate) and against the
stored table of every grid point (``labkit.search_table``), so hundreds of searches replay in
seconds; ``labkit bench search`` summarizes them.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from labkit._validate import check_choice, check_float, check_int
from labkit.data import check_dataset
from labkit.train import train_small_cnn

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
        return list(self.params)

    @property
    def shape(self) -> tuple[int, ...]:
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
        return {k: list(v) for k, v in self.params.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {len(v)} values" for k, v in self.params.items())
        return f"SearchSpace({inner}; {self.size} grid points)"


@dataclass
class Trace:
    """What a search evaluated, in order: configs and their errors (lower is better).

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
    space, same budget, 20 repetitions".
    """

    strategy: str
    configs: list[dict] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def __len__(self) -> int:
        return len(self.errors)

    def best_so_far(self) -> np.ndarray:
        """The best error found after 1, 2, ... evaluations."""
        return np.minimum.accumulate(np.asarray(self.errors, dtype=float))

    @property
    def best_error(self) -> float:
        return float(min(self.errors))

    @property
    def best_config(self) -> dict:
        return self.configs[int(np.argmin(self.errors))]

    def evals_to_reach(self, target: float, tolerance: float = 0.0) -> int | None:
        """Evaluations until an error <= target + tolerance was found (None if never)."""
        hits = np.nonzero(self.best_so_far() <= target + tolerance + 1e-12)[0]
        return int(hits[0]) + 1 if len(hits) else None


def _check_space_objective_budget(space: SearchSpace, objective: Objective, budget: int) -> int:
    if not isinstance(space, SearchSpace):
        raise TypeError(
            f"argument 'space' must be a labkit.search.SearchSpace, got {type(space).__name__}"
        )
    if not callable(objective):
        raise TypeError("argument 'objective' must be callable: config dict -> error")
    return check_int("budget", budget, min_value=1, max_value=space.size)


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

    def __call__(self, index: Sequence[int]) -> float:
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
            self.bar.update(1)
        return error


def _grid(ev: _Evaluator, rng: np.random.Generator) -> None:
    for index in itertools.product(*(range(n) for n in ev.space.shape)):
        if ev.done:
            return
        ev(index)


def _random(ev: _Evaluator, rng: np.random.Generator) -> None:
    # Sampling without replacement: a repeated point would teach nothing new.
    for flat in rng.permutation(ev.space.size):
        if ev.done:
            return
        ev(np.unravel_index(flat, ev.space.shape))


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
        # Each hyperparameter is an ordered integer index, so the samplers can use the order
        # (a larger learning rate is "next to" a smaller one), which categories would hide.
        unseen = (np.unravel_index(f, ev.space.shape) for f in rng.permutation(ev.space.size))
        while not ev.done:
            trial = study.ask()
            index = tuple(
                trial.suggest_int(name, 0, n - 1)
                for name, n in zip(ev.space.names, ev.space.shape, strict=True)
            )
            repeat = index in ev.cache
            study.tell(trial, ev(index))  # a repeat costs nothing: it comes from the cache
            if repeat:
                # The sampler asked for a point it already knows: it has stopped learning
                # here, so the next trial is an unseen point chosen at random.
                for nxt in unseen:
                    if tuple(int(i) for i in nxt) not in ev.cache:
                        study.enqueue_trial(
                            {name: int(i) for name, i in zip(ev.space.names, nxt, strict=True)}
                        )
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
    if not ev.done:  # TTOpt stopped early (it converged): spend the rest at random
        _random(ev, rng)


_RUNNERS = {"grid": _grid, "random": _random, "tpe": _optuna("tpe"), "gp": _optuna("gp"), "tt": _tt}


def search(
    strategy: str,
    space: SearchSpace,
    objective: Objective,
    budget: int,
    seed: int = 0,
    progress: bool = False,
) -> Trace:
    """Run one search: at most ``budget`` distinct evaluations of ``objective``.

    ``strategy``: "grid" (grid order), "random" (without replacement), "tpe" or "gp"
    (Optuna's Bayesian samplers), "tt" (TTOpt, tensor-train). Returns the Trace.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "The comparison: every strategy, same
    space, same budget, 20 repetitions".
    """
    check_choice("strategy", strategy, STRATEGIES)
    budget = _check_space_objective_budget(space, objective, budget)
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
    """How much below ``best`` (we minimize) each point is expected to land, under the surrogate.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Bayesian optimization, one step at a time".
    """
    from scipy.stats import norm  # ~60 MB and 1 s: only where expected improvement is drawn

    mean, std = np.asarray(mean, dtype=float), np.asarray(std, dtype=float)
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
