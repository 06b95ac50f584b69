"""Exercises of notebooks/02_hyperparameter_search.ipynb."""

from __future__ import annotations

import math
import numbers

import numpy as np

from labkit.check import Question, Wrong


def _check_q1(n_points) -> str:
    from labkit.search import COURSE_SPACE

    if isinstance(n_points, bool) or not isinstance(n_points, numbers.Integral):
        raise Wrong(f"the number of grid points is a whole number, got {n_points!r}")
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


q1 = Question(
    "lab02.q1",
    _check_q1,
    hint="len(values) for each hyperparameter in COURSE_SPACE, then multiply (math.prod).",
    solution="""
n_points = math.prod(len(values) for values in COURSE_SPACE.values())
lab02.q1.check(n_points)
""",
)


def _toy_space():
    from labkit.search import SearchSpace

    return SearchSpace({"a": [0, 1, 2, 3, 4], "b": ["x", "y", "z"], "c": [0.1, 0.2]})


def _toy_objective(config: dict) -> float:
    return config["a"] * 0.1 + {"x": 0.3, "y": 0.0, "z": 0.5}[config["b"]] + config["c"]


def _check_q2(fn) -> str:
    if not callable(fn):
        raise Wrong(f"give the function random_search itself, got {type(fn).__name__}")
    space = _toy_space()
    firsts = set()
    for seed in range(8):
        for budget in (1, 7, space.size):
            calls: list[dict] = []

            def objective(config, calls=calls):
                calls.append(dict(config))
                return _toy_objective(config)

            try:
                out = fn(space, objective, budget, seed)
            except Exception as err:  # the learner's code: report, do not crash the check
                raise Wrong(f"random_search raised {type(err).__name__}: {err}") from err
            try:
                pairs = [(dict(c), float(e)) for c, e in out]
            except (TypeError, ValueError) as err:
                raise Wrong("return a list of (config, error) pairs") from err
            if len(pairs) != budget:
                raise Wrong(f"with budget={budget} it returned {len(pairs)} evaluations")
            if len(calls) != budget:
                raise Wrong(
                    f"with budget={budget} it called the objective {len(calls)} times; "
                    "each evaluation is a training run, so call it exactly budget times"
                )
            keys = []
            for config, error in pairs:
                try:
                    keys.append(space.index(config))
                except ValueError as err:
                    raise Wrong(f"{config} is not a point of the space: {err}") from err
                if not math.isclose(error, _toy_objective(config)):
                    raise Wrong(f"the error stored for {config} is not what the objective returned")
            if len(set(keys)) != len(keys):
                raise Wrong(
                    f"with budget={budget} some points were evaluated twice; draw without "
                    "replacement (a repeat costs a training run and teaches nothing)"
                )
            if budget == 7:
                firsts.add(tuple(keys))
    if len(firsts) < 4:
        raise Wrong(
            "different seeds gave (almost) the same points: the order should be random, "
            "drawn from np.random.default_rng(seed)"
        )
    return (
        "Random search, without repeats, reproducible by seed: the baseline every method must beat."
    )


q2 = Question(
    "lab02.q2",
    _check_q2,
    hint=(
        "all_points = space.all_configs(); rng = np.random.default_rng(seed); "
        "pick rng.permutation(len(all_points))[:budget]; evaluate each."
    ),
    solution="""
def random_search(space, objective, budget, seed):
    rng = np.random.default_rng(seed)
    points = space.all_configs()
    chosen = [points[i] for i in rng.permutation(len(points))[:budget]]
    return [(config, objective(config)) for config in chosen]


lab02.q2.check(random_search)
""",
)


def _check_q3(strategy, result) -> str:
    from labkit.search import STRATEGIES, Replay

    if not isinstance(result, Replay):
        raise Wrong("pass the replay result drawn in the plot, `result`, as the second argument")
    if strategy not in STRATEGIES:
        raise Wrong(f"answer with one of {list(STRATEGIES)}, got {strategy!r}")
    at = min(result.budget, max(1, round(0.10 * result.grid_size)))
    if strategy not in result.best_so_far:
        raise Wrong(f"{strategy!r} was not replayed in `result`")
    medians = {s: float(np.median(result.regret(s)[:, at - 1])) for s in result.best_so_far}
    best = min(medians.values())
    winners = [s for s, m in medians.items() if m <= best + 1e-12]
    if strategy not in winners:
        raise Wrong(
            f"at {at} evaluations the median regret of {strategy} is {100 * medians[strategy]:.2f} "
            f"points; another line is lower there. Read the solid lines at x = {at}."
        )
    return (
        f"{strategy}: median regret {100 * best:.2f} points after {at} evaluations. "
        "Look at the band too: it shows how much a single search can vary."
    )


q3 = Question(
    "lab02.q3",
    _check_q3,
    hint="Find x = 10% of the grid on the regret plot; which solid line (median) is lowest?",
    solution="""
at = round(0.10 * result.grid_size)
medians = {s: np.median(result.regret(s)[:, at - 1]) for s in result.best_so_far}
best_at_10pct = min(medians, key=medians.get)
lab02.q3.check(best_at_10pct, result)
""",
)
