"""Exercises of notebooks/02_hyperparameter_search.ipynb.

Used by: notebook 02 (``from labkit.exercises import lab02``) and the tests
(``tests/test_exercises.py`` runs every question's declaration, with ``example_context()``
in place of the notebook's variables).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch

from labkit.check import (
    Alternative,
    NotAttempted,
    Planted,
    Question,
    Wrong,
    bind,
    call_learner,
    describe,
    is_placeholder,
    want_callable,
    want_choice,
)
from labkit.numeric import Mistake, Numeric
from labkit.search.strategies import COURSE_SPACE, STRATEGIES, SearchSpace
from labkit.search.table import Replay

NEAR_TIE = (
    0.0025  # lines within a quarter point of the lowest count as lowest: a plot cannot split them
)


def example_context() -> dict:
    """A regret picture with a known answer, standing in for the notebook's ``result``:
    at the budget (6 evaluations) tpe is lowest and gp within a near tie."""
    curves = {
        "grid": np.full((1, 6), 0.10),
        "random": np.array([[0.3, 0.2, 0.05, 0.05, 0.05, 0.05]] * 3),
        "tpe": np.array([[0.3, 0.1, 0.05, 0.02, 0.02, 0.02]] * 3),
        "gp": np.array([[0.3, 0.1, 0.025, 0.0215, 0.0215, 0.0215]] * 3),
        "tt": np.array([[0.3, 0.04, 0.04, 0.04, 0.04, 0.04]] * 3),  # lowest early, not at the end
    }
    return {"result": Replay(budget=6, curves=curves, best_error=0.0, grid_size=40)}


# --------------------------------------------------------------------------- Q1: grid size

EPOCHS = [1, 3, 5, 10]  # the hyperparameter Q1 adds to the grid


_COUNTS = [len(v) for v in COURSE_SPACE.values()] + [len(EPOCHS)]
_Q1_TRUTH, _WITHOUT_EPOCHS = math.prod(_COUNTS), math.prod(_COUNTS[:-1])


def _solution_q1():
    space_with_epochs = dict(COURSE_SPACE, epochs=[1, 3, 5, 10])
    n_points = math.prod(len(values) for values in space_with_epochs.values())
    return n_points


q1 = Numeric(
    answers=["n_points"],
    what="the number of grid points",
    whole=True,
    truth=_Q1_TRUTH,
    mistakes=[
        Mistake(
            "added, not multiplied",
            sum(_COUNTS),
            "{n_points} adds the numbers of values; a grid tries every value of one "
            "hyperparameter with every value of the others, so they multiply.",
        ),
        Mistake(
            "forgot epochs",
            _WITHOUT_EPOCHS,
            f"{{n_points}} is the grid without epochs: each of the {len(EPOCHS)} epoch values "
            "is tried with every point of that grid.",
        ),
        Mistake(
            "added the epoch values to the old grid",
            _WITHOUT_EPOCHS + len(EPOCHS),
            f"{{n_points}} adds the {len(EPOCHS)} epoch values to the grid's points; each of "
            "them is tried with every point, so multiply.",
        ),
    ],
    wrong_message="{n_points} is not it: multiply the number of values of each hyperparameter.",
    success=(
        f"{' x '.join(map(str, _COUNTS))} = {_Q1_TRUTH} grid points, {len(EPOCHS)} times as "
        "many as without epochs: every hyperparameter added multiplies the grid by its number "
        "of values, so the grid grows exponentially with the dimensions."
    ),
    hints=[
        "A grid pairs every value of one hyperparameter with every value of all the others, "
        "epochs included.",
        "Count the values of each hyperparameter, the new one too, then combine the counts.",
    ],
    solution=_solution_q1,
    wrong=[Planted("one short", (_Q1_TRUTH - 1,), "is not it")],
    right=[
        Alternative(
            "from a SearchSpace", lambda: (SearchSpace(dict(COURSE_SPACE, epochs=EPOCHS)).size,)
        ),
        Alternative("the old grid times 4", lambda: (SearchSpace(COURSE_SPACE).size * 4,)),
    ],
)


# --------------------------------------------------------------------------- Q2: random search

REL_TOL = 1e-6  # an error kept as float32 (a NumPy scalar, a tensor) is still the one returned


def _toy_space() -> SearchSpace:
    return SearchSpace({"a": [0, 1, 2, 3, 4], "b": ["x", "y", "z"], "c": [0.1, 0.2]})


def _toy_objective(config: dict) -> float:
    return config["a"] * 0.1 + {"x": 0.3, "y": 0.0, "z": 0.5}[config["b"]] + config["c"]


def _flat(space: SearchSpace, config) -> int:
    return int(np.ravel_multi_index(space.index(config), space.shape))


def _run_learner(fn, space: SearchSpace, budget: int, seed: int) -> list[int]:
    """Run the learner's search once; the flat grid positions it called the objective with, in
    the order of the calls (the evaluation order is what makes a search random, not the list
    it returns)."""
    calls: list[int] = []

    def objective(config):
        flat = _flat(space, config)  # a clear error for something that is not a config
        calls.append(flat)
        return _toy_objective(config)

    out = call_learner(fn, space, objective, budget, seed, what="random_search")
    try:
        items = list(out)
    except Exception as err:  # the learner's result: any error becomes a message
        raise Wrong(
            f"return a list of (config, error) pairs, got {describe(out)} ({type(err).__name__})"
        ) from None
    if is_placeholder(items):
        raise NotAttempted
    try:
        pairs = [(config, float(error)) for config, error in items]
    except Exception:  # a pair that is not one, an error that is not a number
        raise Wrong(
            f"return a list of (config, error) pairs, one per evaluation; got {describe(items)}"
        ) from None
    if len(pairs) != budget:
        raise Wrong(f"with budget={budget} it returned {len(pairs)} evaluations")
    if len(calls) != budget:
        raise Wrong(
            f"with budget={budget} it called the objective {len(calls)} times; each evaluation "
            "is a training run, so call it exactly budget times"
        )
    if len(set(calls)) != len(calls):
        raise Wrong(
            f"with budget={budget} some points were evaluated twice; draw without "
            "replacement (a repeat costs a training run and teaches nothing)"
        )
    returned = []
    for config, error in pairs:
        try:
            returned.append(_flat(space, config))
        except (ValueError, TypeError) as err:
            raise Wrong(f"{describe(config)} is not a point of the space: {err}") from None
        if not math.isclose(error, _toy_objective(config), rel_tol=REL_TOL, abs_tol=1e-9):
            raise Wrong(f"the error stored for {config} is not what the objective returned")
    if sorted(returned) != sorted(calls):
        raise Wrong("the list holds points the objective was not called with")
    if returned != calls:
        raise Wrong(
            "the pairs are not in the order the objective was called: return them in the "
            "order you evaluated them (a search's history is in order)"
        )
    return calls


def _check_q2(random_search) -> str:
    fn = want_callable(random_search, "random_search")
    space = _toy_space()
    n = space.size
    orders = {}
    for seed in range(12):
        for budget in (1, 7, n):
            orders[seed, budget] = _run_learner(fn, space, budget, seed)
    if _run_learner(fn, space, 7, 3) != orders[3, 7]:
        raise Wrong("the same seed gave a different order: draw from np.random.default_rng(seed)")
    if len({tuple(orders[s, 7]) for s in range(12)}) < 6:
        raise Wrong("different seeds gave (almost) the same points: the order should be random")
    covered = {i for s in range(12) for i in orders[s, 7]}
    if len(covered) < n // 2:
        raise Wrong(
            f"over 12 seeds, 7 evaluations each only ever visited {len(covered)} of the "
            f"{n} points: a random search may land anywhere in the space"
        )
    # A fixed step from one evaluation to the next (grid order: a step of 1) is a sweep.
    strides = []
    for s in range(12):
        steps = [(b - a) % n for a, b in zip(orders[s, n], orders[s, n][1:], strict=False)]
        step, count = Counter(steps).most_common(1)[0]
        if count > len(steps) / 2:
            strides.append(step)
    if len(strides) >= 6:
        if Counter(strides).most_common(1)[0][0] == 1:
            raise Wrong(
                "the points come out in grid order (each the neighbour of the last), only "
                "started at a different place: shuffle the whole list"
            )
        raise Wrong(
            "each point comes the same number of grid positions after the last: a sweep of "
            "the grid in a fixed pattern, not a random order; shuffle the whole list"
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


# Planted and alternative answers; most evaluate grid positions in a given order.


def _evaluate(space, objective, order) -> list:
    points = space.all_configs()
    return [(points[i], objective(points[i])) for i in order]


def _grid_prefix(space, objective, budget, seed):
    return _evaluate(space, objective, np.random.default_rng(seed).permutation(budget))


def _rotation(space, objective, budget, seed):
    return _evaluate(space, objective, [(seed + k) % space.size for k in range(budget)])


def _stride(space, objective, budget, seed):  # (seed + 7k) mod n: every point, no randomness
    return _evaluate(space, objective, [(seed + 7 * k) % space.size for k in range(budget)])


def _sorted_subset(space, objective, budget, seed):  # random points, evaluated in grid order
    chosen = np.random.default_rng(seed).permutation(space.size)[:budget]
    return _evaluate(space, objective, sorted(chosen))


def _shuffled_after(space, objective, budget, seed):  # grid order evaluated, list shuffled after
    pairs = _sorted_subset(space, objective, budget, seed)
    return [pairs[i] for i in np.random.default_rng(seed).permutation(len(pairs))]


def _sorted_by_error(space, objective, budget, seed):
    return sorted(_solution_q2()(space, objective, budget, seed), key=lambda pair: pair[1])


def _returned_in_grid_order(space, objective, budget, seed):
    pairs = _solution_q2()(space, objective, budget, seed)
    return sorted(pairs, key=lambda pair: space.index(pair[0]))


def _with_replacement(space, objective, budget, seed):
    rng = np.random.default_rng(seed)
    return _evaluate(space, objective, rng.integers(space.size, size=budget))


def _unseeded(space, objective, budget, seed):
    return _evaluate(space, objective, np.random.default_rng().permutation(space.size)[:budget])


def _one_short(space, objective, budget, seed):
    return _solution_q2()(space, objective, budget, seed)[:-1]


def _lying(space, objective, budget, seed):
    pairs = _solution_q2()(space, objective, budget, seed)
    return [(config, error / 2 + 0.1) for config, error in pairs]


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


def _draw_until_new(space, objective, budget, seed):  # draws with repeats, skips the seen ones
    rng = np.random.default_rng(seed)
    points, seen, out = space.all_configs(), set(), []
    while len(out) < budget:
        i = int(rng.integers(len(points)))
        if i not in seen:
            seen.add(i)
            out.append([points[i], objective(points[i])])
    return out


def _float32_errors(space, objective, budget, seed):
    pairs = _solution_q2()(space, objective, budget, seed)
    return [(config, np.float32(error)) for config, error in pairs]


def _tensor_errors(space, objective, budget, seed):
    pairs = _solution_q2()(space, objective, budget, seed)
    return [(config, torch.tensor(error, dtype=torch.float32)) for config, error in pairs]


q2 = Question(
    answers=["random_search"],
    checker=_check_q2,
    hints=[
        "Random search visits points of the grid in a random order, never the same point "
        "twice, and stops after budget of them. The check watches the order of your calls "
        "to objective.",
        "The same seed must give the same order: make all the randomness from seed "
        "(np.random.default_rng or random.Random take one), and look among its methods for "
        "one that draws without repeats.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted("only the first points of the grid", (_grid_prefix,), "only ever visited"),
        Planted("grid order, rotated by the seed", (_rotation,), "grid order"),
        Planted("a fixed stride, (seed + 7k) mod n", (_stride,), "fixed pattern"),
        Planted("random points, evaluated in grid order", (_sorted_subset,), "grid order"),
        Planted(
            "evaluated in grid order, the list shuffled after",
            (_shuffled_after,),
            "order the objective was called",
        ),
        Planted("pairs sorted by error", (_sorted_by_error,), "order the objective was called"),
        Planted(
            "evaluated at random, returned in grid order",
            (_returned_in_grid_order,),
            "order the objective was called",
        ),
        Planted("draws with replacement", (_with_replacement,), "evaluated twice"),
        Planted("ignores the seed", (_unseeded,), "same seed"),
        Planted("one evaluation short", (_one_short,), "returned"),
        Planted("reports other errors", (_lying,), "not what the objective returned"),
        Planted("a name, not a function", ("random",), "function random_search itself"),
    ],
    right=[
        Alternative("Python's random module, seeded", (_with_random_module,)),
        Alternative("flat indices drawn by rng.choice", (_index_by_index,)),
        Alternative("draws again until a new point, pairs as lists", (_draw_until_new,)),
        Alternative("errors kept as NumPy float32", (_float32_errors,)),
        Alternative("errors kept as float32 tensors", (_tensor_errors,)),
    ],
)


# --------------------------------------------------------------------------- Q3: read the plot


def _check_q3(best_at_budget, result) -> str:
    if not isinstance(result, Replay):
        raise Wrong("pass the replay result drawn in the plot, `result`, as the second argument")
    if set(result.curves) != set(STRATEGIES):
        raise Wrong(
            "pass the replay drawn in the regret plot, `result`, as the second argument; this "
            f"one replays {sorted(result.curves)}, the plot every strategy"
        )
    strategy = want_choice(best_at_budget, STRATEGIES, "the strategy")
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


def _from_an_array(result):
    names = np.array(sorted(result.curves))
    medians = [np.median(result.regret(name)[:, -1]) for name in names]
    return names[np.argmin(medians)], result  # a numpy.str_, not a str


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
        Planted("a NumPy array of a name", lambda result: (np.array(["gp"]), result), "one of"),
        Planted(
            "another replay, not the plotted one",
            lambda result: ("tpe", Replay(result.budget, {"tpe": result.curves["tpe"]}, 0.0, 40)),
            "drawn in the regret plot",
        ),
    ],
    right=[
        Alternative("a line within a near tie", lambda result: ("gp", result)),
        Alternative("a NumPy string, read from an array of names", _from_an_array),
    ],
)

QUESTIONS = bind(globals())
