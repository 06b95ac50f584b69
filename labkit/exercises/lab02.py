"""Exercises of notebooks/02_hyperparameter_search.ipynb."""

from __future__ import annotations

import math

import numpy as np

from labkit.check import (
    Alternative,
    NotAttempted,
    Planted,
    Question,
    Wrong,
    bind,
    call_learner,
    is_placeholder,
    want_callable,
    want_choice,
    want_int,
)
from labkit.search import COURSE_SPACE, STRATEGIES, SearchSpace
from labkit.search_table import Replay

NEAR_TIE = (
    0.0025  # lines within a quarter point of the lowest count as lowest: a plot cannot split them
)


def example_context() -> dict:
    """A regret picture with a known answer, standing in for the notebook's ``result``:
    at the budget (6 evaluations) tpe is lowest and gp within a near tie.

    Used by: tests/test_exercises.py, in place of the notebook's variables.
    """
    curves = {
        "grid": np.full((1, 6), 0.10),
        "random": np.array([[0.3, 0.2, 0.05, 0.05, 0.05, 0.05]] * 3),
        "tpe": np.array([[0.3, 0.1, 0.05, 0.02, 0.02, 0.02]] * 3),
        "gp": np.array([[0.3, 0.1, 0.025, 0.0215, 0.0215, 0.0215]] * 3),
        "tt": np.array([[0.3, 0.04, 0.04, 0.04, 0.04, 0.04]] * 3),  # lowest early, not at the end
    }
    return {"result": Replay(budget=6, curves=curves, best_error=0.0, grid_size=40)}


# --------------------------------------------------------------------------- Q1: grid size


def _check_q1(n_points) -> str:
    n_points = want_int(n_points, "the number of grid points")
    counts = [len(v) for v in COURSE_SPACE.values()]
    truth = math.prod(counts)
    if n_points == sum(counts):
        raise Wrong(
            f"{n_points} adds the numbers of values; a grid tries every value of one "
            "hyperparameter with every value of the others, so they multiply."
        )
    if n_points != truth:
        raise Wrong(f"{n_points} is not it: multiply the number of values of each hyperparameter.")
    return (
        f"{' x '.join(map(str, counts))} = {truth} grid points. One more hyperparameter with "
        f"5 values would make {5 * truth}: the grid grows exponentially with the dimensions."
    )


def _solution_q1():
    n_points = math.prod(len(values) for values in COURSE_SPACE.values())
    return n_points


q1 = Question(
    answers=["n_points"],
    checker=_check_q1,
    hints=[
        "A grid pairs every value of one hyperparameter with every value of all the others.",
        "Count the values of each hyperparameter in COURSE_SPACE, then combine the counts.",
    ],
    solution=_solution_q1,
    wrong=[
        Planted("added, not multiplied", (sum(len(v) for v in COURSE_SPACE.values()),), "multiply"),
        Planted("one short", (math.prod(len(v) for v in COURSE_SPACE.values()) - 1,), "is not it"),
        Planted("a string", ("384",), "whole number"),
    ],
    right=[Alternative("from a SearchSpace", lambda: (SearchSpace(COURSE_SPACE).size,))],
)


# --------------------------------------------------------------------------- Q2: random search


def _toy_space() -> SearchSpace:
    return SearchSpace({"a": [0, 1, 2, 3, 4], "b": ["x", "y", "z"], "c": [0.1, 0.2]})


def _toy_objective(config: dict) -> float:
    return config["a"] * 0.1 + {"x": 0.3, "y": 0.0, "z": 0.5}[config["b"]] + config["c"]


def _run_learner(fn, space: SearchSpace, budget: int, seed: int) -> list[int]:
    """Run the learner's search once; the flat grid positions it evaluated, in order."""
    calls: list[dict] = []

    def objective(config):
        calls.append(dict(config))
        return _toy_objective(config)

    out = call_learner(fn, space, objective, budget, seed, what="random_search")
    try:
        pairs = [(dict(config), float(error)) for config, error in out]
    except (TypeError, ValueError):
        raise Wrong("return a list of (config, error) pairs, one per evaluation") from None
    if any(is_placeholder(c) or is_placeholder(e) for c, e in pairs):
        raise NotAttempted
    if len(pairs) != budget:
        raise Wrong(f"with budget={budget} it returned {len(pairs)} evaluations")
    if len(calls) != budget:
        raise Wrong(
            f"with budget={budget} it called the objective {len(calls)} times; each evaluation "
            "is a training run, so call it exactly budget times"
        )
    flat = []
    for config, error in pairs:
        try:
            index = space.index(config)
        except (ValueError, TypeError) as err:
            raise Wrong(f"{config} is not a point of the space: {err}") from None
        if not math.isclose(error, _toy_objective(config)):
            raise Wrong(f"the error stored for {config} is not what the objective returned")
        flat.append(int(np.ravel_multi_index(index, space.shape)))
    if len(set(flat)) != len(flat):
        raise Wrong(
            f"with budget={budget} some points were evaluated twice; draw without "
            "replacement (a repeat costs a training run and teaches nothing)"
        )
    return flat


def _check_q2(random_search) -> str:
    fn = want_callable(random_search, "random_search")
    space = _toy_space()
    orders = {}
    for seed in range(12):
        for budget in (1, 7, space.size):
            orders[seed, budget] = _run_learner(fn, space, budget, seed)
    if _run_learner(fn, space, 7, 3) != orders[3, 7]:
        raise Wrong("the same seed gave a different order: draw from np.random.default_rng(seed)")
    if len({tuple(orders[s, 7]) for s in range(12)}) < 6:
        raise Wrong("different seeds gave (almost) the same points: the order should be random")
    covered = {i for s in range(12) for i in orders[s, 7]}
    if len(covered) < space.size // 2:
        raise Wrong(
            f"over 12 seeds, 7 evaluations each only ever visited {len(covered)} of the "
            f"{space.size} points: a random search may land anywhere in the space"
        )
    steps = [
        b - a
        for s in range(12)
        for a, b in zip(orders[s, space.size], orders[s, space.size][1:], strict=False)
    ]
    if sum(d == 1 for d in steps) > len(steps) / 2:
        raise Wrong(
            "the points come out in grid order (each the neighbour of the last), only started "
            "at a different place: shuffle the whole list"
        )
    return (
        "Random search, without repeats, reproducible by seed: the baseline every method must beat."
    )


def _solution_q2():
    def random_search(space, objective, budget, seed):
        rng = np.random.default_rng(seed)
        points = space.all_configs()
        chosen = [points[i] for i in rng.permutation(len(points))[:budget]]
        return [(config, objective(config)) for config in chosen]

    return random_search


def _grid_prefix(space, objective, budget, seed):
    rng = np.random.default_rng(seed)
    points = space.all_configs()[:budget]
    return [(points[i], objective(points[i])) for i in rng.permutation(len(points))]


def _rotation(space, objective, budget, seed):
    points = space.all_configs()
    points = points[seed % len(points) :] + points[: seed % len(points)]
    return [(c, objective(c)) for c in points[:budget]]


def _with_replacement(space, objective, budget, seed):
    rng = np.random.default_rng(seed)
    points = space.all_configs()
    return [(c, objective(c)) for c in (points[i] for i in rng.integers(len(points), size=budget))]


def _unseeded(space, objective, budget, seed):
    rng = np.random.default_rng()
    points = space.all_configs()
    return [(points[i], objective(points[i])) for i in rng.permutation(len(points))[:budget]]


def _one_short(space, objective, budget, seed):
    rng = np.random.default_rng(seed)
    points = space.all_configs()
    return [(points[i], objective(points[i])) for i in rng.permutation(len(points))[: budget - 1]]


def _lying(space, objective, budget, seed):
    rng = np.random.default_rng(seed)
    points = space.all_configs()
    return [
        (points[i], objective(points[i]) / 2 + 0.1) for i in rng.permutation(len(points))[:budget]
    ]


def _with_random_module(space, objective, budget, seed):
    import random

    points = space.all_configs()
    chosen = random.Random(seed).sample(points, budget)
    return [(c, objective(c)) for c in chosen]


def _index_by_index(space, objective, budget, seed):
    rng = np.random.default_rng(seed + 1000)
    out = []
    for flat in rng.choice(space.size, size=budget, replace=False):
        config = space.config(np.unravel_index(flat, space.shape))
        out.append((config, objective(config)))
    return out


q2 = Question(
    answers=["random_search"],
    checker=_check_q2,
    hints=[
        "Random search picks points of the grid in a random order, never the same point twice, "
        "and stops after budget of them.",
        "A seeded NumPy generator, np.random.default_rng(seed), can shuffle the positions "
        "0 .. len(points) - 1 of space.all_configs().",
    ],
    solution=_solution_q2,
    wrong=[
        Planted("only the first points of the grid", (_grid_prefix,), "only ever visited"),
        Planted("grid order, rotated by the seed", (_rotation,), "grid order"),
        Planted("draws with replacement", (_with_replacement,), "evaluated twice"),
        Planted("ignores the seed", (_unseeded,), "same seed"),
        Planted("one evaluation short", (_one_short,), "returned"),
        Planted("reports other errors", (_lying,), "not what the objective returned"),
        Planted("a name, not a function", ("random",), "function random_search itself"),
    ],
    right=[
        Alternative("Python's random module, seeded", (_with_random_module,)),
        Alternative("flat indices drawn by rng.choice", (_index_by_index,)),
    ],
)


# --------------------------------------------------------------------------- Q3: read the plot


def _check_q3(best_at_budget, result) -> str:
    if not isinstance(result, Replay):
        raise Wrong("pass the replay result drawn in the plot, `result`, as the second argument")
    strategy = want_choice(best_at_budget, STRATEGIES, "the strategy")
    if strategy not in result.curves:
        raise Wrong(f"{strategy!r} was not replayed in `result`")
    at = result.budget
    medians = {s: float(np.median(result.regret(s)[:, -1])) for s in result.curves}
    best = min(medians.values())
    if medians[strategy] > best + NEAR_TIE:
        raise Wrong(
            f"at {at} evaluations the median regret of {strategy} is {100 * medians[strategy]:.2f} "
            f"points; another line is lower there. Read the solid lines at the right edge, "
            f"x = {at}."
        )
    tied = sorted(s for s, m in medians.items() if m <= best + NEAR_TIE and s != strategy)
    return (
        f"{strategy}: median regret {100 * medians[strategy]:.2f} points after {at} evaluations"
        + (f" (within a quarter point of {', '.join(tied)}: a tie on this plot)" if tied else "")
        + ". Compare it with the grey noise band too: a line inside it has found a point as "
        "good as the best, as far as the table can tell; and the band around each line shows "
        "how much a single search can vary."
    )


def _solution_q3(result):
    medians = {s: np.median(result.regret(s)[:, -1]) for s in result.curves}
    best_at_budget = min(medians, key=medians.get)
    return best_at_budget


q3 = Question(
    answers=["best_at_budget"],
    given=["result"],
    checker=_check_q3,
    hints=[
        "The budget is the last evaluation drawn: look at the right edge of the plot.",
        "There, which solid line (the median over repetitions) is lowest? Lower regret is better.",
    ],
    solution=_solution_q3,
    wrong=[
        Planted("a higher line", lambda result: ("random", result), "another line is lower"),
        Planted("the grid", lambda result: ("grid", result), "another line is lower"),
        Planted(
            "lowest early in the plot, not at its right edge",
            lambda result: ("tt", result),
            "another line is lower",
        ),
        Planted("not a strategy", lambda result: ("bayes", result), "one of"),
        Planted("no replay passed", ("tpe", {"tpe": 0}), "replay result"),
        Planted("a list of names", lambda result: (["tpe"], result), "one of"),
    ],
    right=[Alternative("a line within a near tie", lambda result: ("gp", result))],
)

QUESTIONS = bind(globals())
