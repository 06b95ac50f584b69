import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit.search.strategies import (
    COURSE_SPACE,
    STRATEGIES,
    SearchSpace,
    Trace,
    expected_improvement,
    gp_posterior,
    grid_lattice,
    live_objective,
    search,
)
from labkit.search.table import Replay, SearchTable, median_interval, noise_band, replay, table_path

SPACE = SearchSpace({"a": [0, 1, 2, 3, 4, 5], "b": [10, 20, 30], "c": ["x", "y", "z", "w"]})


def _smooth_errors(space: SearchSpace) -> np.ndarray:
    """A low-rank landscape with its minimum at a=4, b=20, c='y'."""
    a, b, c = np.meshgrid(*(np.arange(n) for n in space.shape), indexing="ij")
    return 0.02 + 0.05 * (a - 4) ** 2 + 0.1 * (b - 1) ** 2 + 0.03 * (c - 1) ** 2


@pytest.fixture(scope="module")
def table():
    errors = _smooth_errors(SPACE)
    return SearchTable(SPACE, np.stack([errors, errors + 0.01], axis=-1))


def test_space_counts_its_grid():
    assert SPACE.shape == (6, 3, 4) and SPACE.size == 72
    configs = SPACE.all_configs()
    assert len(configs) == 72 and configs[0] == {"a": 0, "b": 10, "c": "x"}
    assert configs[1] == {"a": 0, "b": 10, "c": "y"}  # the last name varies fastest
    assert SearchSpace(COURSE_SPACE).size == 6 * 4 * 4 * 4


@given(st.tuples(st.integers(0, 5), st.integers(0, 2), st.integers(0, 3)))
def test_config_and_index_are_inverse(index):
    assert SPACE.index(SPACE.config(index)) == index


@pytest.mark.parametrize(
    "params, word",
    [
        ({}, "non-empty"),
        ({"lr": []}, "non-empty list"),
        ({"lr": [1, 1]}, "twice"),
        ({"lr": "abc"}, "non-empty list"),
        ([1, 2], "non-empty"),
    ],
)
def test_bad_spaces_are_rejected(params, word):
    with pytest.raises((ValueError, TypeError), match=word):
        SearchSpace(params)


def test_configs_outside_the_space_are_named():
    with pytest.raises(ValueError, match="a=9 is not in the space"):
        SPACE.index({"a": 9, "b": 10, "c": "x"})
    with pytest.raises(ValueError, match="missing \\['c'\\]"):
        SPACE.index({"a": 1, "b": 10})


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_spends_its_budget_on_distinct_points(strategy, table):
    calls = []

    def objective(config):
        calls.append(config)
        return table.objective()(config)

    trace = search(strategy, SPACE, objective, budget=20, seed=3)
    # the grid evaluates its whole lattice, which fits the budget; the others spend all of it
    expected = math.prod(map(len, grid_lattice(SPACE.shape, 20))) if strategy == "grid" else 20
    assert len(trace) == expected and len(trace.fallback) == len(trace)
    keys = [tuple(c.values()) for c in trace.configs]
    assert len(set(keys)) == len(trace)
    assert all(SPACE.index(c) is not None for c in trace.configs)
    assert len({tuple(c.values()) for c in calls}) == len(calls)  # never trained twice
    assert list(trace.best_so_far()) == sorted(trace.best_so_far(), reverse=True)
    if strategy in ("grid", "random"):
        assert trace.fallbacks == 0  # only TPE, GP and TTOpt are ever helped out


@pytest.mark.parametrize("strategy", ["grid", "random", "tpe", "tt", "gp"])
def test_searches_are_reproducible(strategy, table):
    first = search(strategy, SPACE, table.objective(), budget=12, seed=5)
    again = search(strategy, SPACE, table.objective(), budget=12, seed=5)
    assert first.configs == again.configs and first.fallback == again.fallback


@pytest.mark.parametrize(
    "budget, counts",
    [(19, [2, 2, 2, 2]), (38, [4, 2, 2, 2]), (96, [5, 3, 3, 2]), (384, [6, 4, 4, 4]), (1, [1] * 4)],
)
def test_the_grid_lattice_shares_the_budget_across_the_axes(budget, counts):
    lattice = grid_lattice((6, 4, 4, 4), budget)
    assert [len(axis) for axis in lattice] == counts
    assert math.prod(counts) <= budget
    for axis, n in zip(lattice, (6, 4, 4, 4), strict=True):
        assert axis == sorted(set(axis)) and all(0 <= i < n for i in axis)
        if len(axis) > 1:  # evenly spaced, from the first value to the last
            assert axis[0] == 0 and axis[-1] == n - 1
            assert max(np.diff(axis)) - min(np.diff(axis)) <= 1
    assert grid_lattice((6, 4, 4, 4), 38)[0] == [0, 2, 3, 5]
    assert grid_lattice((5, 4), 1) == [[2], [1]]  # one value: the middle one


@pytest.mark.parametrize(
    "shape, budget, error, word",
    [
        ((), 4, TypeError, "shape"),
        ("abc", 4, TypeError, "shape"),
        ((3, 0), 4, ValueError, "shape"),
        ((3, 2.5), 4, TypeError, "shape"),
        ((3, 4), 0, ValueError, "budget"),
        ((3, 4), float("nan"), TypeError, "budget"),
    ],
)
def test_the_grid_lattice_refuses_bad_arguments(shape, budget, error, word):
    with pytest.raises(error, match=word):
        grid_lattice(shape, budget)


def test_grid_search_with_the_whole_grid_is_guaranteed_on_it(table):
    trace = search("grid", SPACE, table.objective(), budget=SPACE.size, seed=2)
    assert sorted(map(str, trace.configs)) == sorted(map(str, SPACE.all_configs()))
    assert trace.configs != SPACE.all_configs()  # a seeded order, not grid order
    assert trace.best_error == pytest.approx(table.best_error)
    assert trace.best_config == table.best_config == {"a": 4, "b": 20, "c": "y"}


def test_grid_search_on_a_budget_visits_every_lattice_point_in_a_seeded_order(table):
    lattice = grid_lattice(SPACE.shape, 12)
    wanted = {
        tuple(SPACE.config((i, j, k)).values())
        for i in lattice[0]
        for j in lattice[1]
        for k in lattice[2]
    }
    orders = [search("grid", SPACE, table.objective(), budget=12, seed=s).configs for s in (0, 1)]
    for configs in orders:
        assert {tuple(c.values()) for c in configs} == wanted
    assert orders[0] != orders[1]


def test_random_search_samples_without_replacement(table):
    trace = search("random", SPACE, table.objective(), budget=SPACE.size, seed=1)
    assert sorted(map(str, trace.configs)) == sorted(map(str, SPACE.all_configs()))
    assert trace.configs != SPACE.all_configs()


def test_model_based_searches_beat_random_on_a_smooth_landscape(table):
    result = replay(table, ["random", "tpe", "tt"], budget=30, repeats=8, progress=False)
    medians = {s: np.median(result.evals_to_reach(s, 0.0)) for s in result.curves}
    assert min(medians["tpe"], medians["tt"]) < medians["random"]


@pytest.mark.parametrize(
    "kwargs, error, word",
    [
        (dict(strategy="hill-climb"), ValueError, "strategy"),
        (dict(budget=0), ValueError, "budget"),
        (dict(budget=73), ValueError, "budget"),
        (dict(space={"a": [1]}), TypeError, "space"),
        (dict(objective=3), TypeError, "objective"),
        (dict(seed=-1), ValueError, "seed"),
    ],
)
def test_search_rejects_bad_arguments(kwargs, error, word, table):
    args = dict(strategy="random", space=SPACE, objective=table.objective(), budget=10, seed=0)
    args.update(kwargs)
    with pytest.raises(error, match=word):
        search(**args)


def test_an_objective_that_returns_nan_is_refused():
    with pytest.raises(ValueError, match="must be a number"):
        search("random", SPACE, lambda c: float("nan"), budget=3)


def test_trace_counts_evaluations_to_a_target():
    trace = Trace("x", [{}] * 4, [0.5, 0.3, 0.4, 0.1])
    assert trace.evals_to_reach(0.3) == 2
    assert trace.evals_to_reach(0.05, tolerance=0.06) == 4
    assert trace.evals_to_reach(0.0) == len(trace) + 1  # never: one more than it made


def test_tables_save_and_load(tmp_path, table):
    path = table.save(tmp_path / "t.json")
    loaded = SearchTable.load(path)
    assert loaded.space.to_dict() == SPACE.to_dict()
    assert np.allclose(loaded.errors, table.errors)
    with pytest.raises(FileNotFoundError, match="labkit search build-table"):
        SearchTable.load(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="shape"):
        SearchTable(SPACE, np.zeros((6, 3, 4)))


def test_a_hit_on_the_last_evaluation_counts_and_never_is_past_the_budget(table):
    from labkit.search.table import Replay

    curves = {"x": np.array([[0.5, 0.4, 0.0], [0.5, 0.5, 0.5]])}
    result = Replay(budget=3, curves=curves, best_error=0.0, grid_size=10)
    assert list(result.evals_to_reach("x", 0.0)) == [3, 4]
    assert result.reached("x", 0.0) == 0.5


def test_replay_takes_a_number_of_repeats_per_strategy(table):
    result = replay(
        table, ["grid", "random"], budget=5, repeats={"grid": 2, "random": 3}, progress=False
    )
    assert len(result.curves["grid"]) == 2 and len(result.curves["random"]) == 3
    assert len(replay(table, ["grid"], budget=5, repeats={}, progress=False).curves["grid"]) == 20
    with pytest.raises(TypeError, match="strategies"):
        replay(table, "random", budget=5)


def test_the_noise_band_comes_from_the_seeds(table):
    band = noise_band(SearchTable.load(table_path()))
    assert 0 < band.width < 0.1 and band.points >= 1 and "seed" in band.definition
    # The variance is pooled over the best `pooled` points: the best 5% of the grid.
    means = np.sort(SearchTable.load(table_path()).mean_errors, axis=None)
    cut = np.quantile(means, 0.05)
    assert means[band.pooled - 1] <= cut < means[band.pooled]
    assert band.pooled == pytest.approx(0.05 * len(means), abs=2)
    with pytest.raises(ValueError, match="two seeds"):
        noise_band(SearchTable(SPACE, _smooth_errors(SPACE)[..., None]))


def test_a_damaged_table_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="git checkout"):
        SearchTable.load(path)
    with pytest.raises(ValueError, match="NaN"):
        SearchTable(SPACE, np.full(SPACE.shape + (2,), np.nan))


def test_the_shipped_table_covers_the_course_space():
    table = SearchTable.load(table_path())
    assert table.space.to_dict() == SearchSpace(COURSE_SPACE).to_dict()
    assert table.errors.shape == SearchSpace(COURSE_SPACE).shape + (len(table.meta["seeds"]),)
    assert len(table.meta["seeds"]) >= 2
    assert ((table.errors >= 0) & (table.errors <= 1)).all()
    assert table.meta["command"] == "labkit search build-table"
    assert table.best_error < 0.1  # the best settings read over 90% of digits


def test_the_live_objective_trains_and_returns_the_validation_error(data):
    error = live_objective(data, epochs=1, train_subset=200)(
        {"lr": 3e-3, "batch_size": 64, "width": 4, "kernel_size": 3}
    )
    assert 0 <= error <= 1


def test_the_from_scratch_gp_matches_scikit_learn():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel

    x, query = np.array([0.0, 1.0, 2.5, 4.0]), np.linspace(-1, 5, 25)
    y = np.sin(x) * 3
    mean, std = gp_posterior(x, y, query, length_scale=0.8, signal=2.0, noise=0.01)
    gpr = GaussianProcessRegressor(
        ConstantKernel(4.0, "fixed") * RBF(0.8, "fixed"), alpha=0.01, optimizer=None
    ).fit(x[:, None], y - y.mean())
    sk_mean, sk_std = gpr.predict(query[:, None], return_std=True)
    np.testing.assert_allclose(mean, sk_mean + y.mean(), atol=1e-9)
    np.testing.assert_allclose(std, sk_std, atol=1e-7)
    # At an observation (tiny noise) the surrogate is certain; far away it falls back to the prior.
    m0, s0 = gp_posterior(x, y, x, noise=1e-8)
    np.testing.assert_allclose(m0, y, atol=1e-4)
    assert s0.max() < 1e-3
    _, far = gp_posterior(x, y, [100.0], signal=2.0)
    assert far[0] == pytest.approx(2.0)


def test_expected_improvement_trades_mean_against_uncertainty():
    ei = expected_improvement([1.0, 1.0, 0.5, 2.0], [0.0, 0.5, 0.0, 0.0], best=1.0)
    assert ei[0] == 0  # certain and no better: nothing to gain
    assert ei[1] > 0  # uncertain: may be better
    assert ei[2] == pytest.approx(0.5)  # certain improvement
    assert ei[3] == 0
    with pytest.raises(ValueError, match="std"):
        expected_improvement([1.0], [-1.0], best=0.0)
    with pytest.raises(ValueError, match="x_seen"):
        gp_posterior([], [], [1.0])
    with pytest.raises(ValueError, match="length_scale"):
        gp_posterior([1.0], [1.0], [1.0], length_scale=0)


def test_samplers_that_repeat_themselves_still_spend_the_whole_budget():
    # A flat objective gives a model nothing to learn, so Optuna proposes repeats; the search
    # must fill its budget with distinct points instead of looping.
    space = SearchSpace({"a": [0, 1, 2], "b": [0, 1, 2]})
    trace = search("tpe", space, lambda c: 1.0, budget=space.size, seed=0)
    assert len(trace) == space.size
    assert len({tuple(c.values()) for c in trace.configs}) == space.size


def test_regret_plot_draws_every_strategy(table):
    import matplotlib.pyplot as plt

    from labkit.search.plots import plot_regret

    result = replay(table, ["grid", "random"], budget=10, repeats=3, progress=False)
    ax = plot_regret(result)
    labels = [line.get_label() for line in ax.get_lines()]
    assert any("random (median of 3)" in label for label in labels)
    assert any("grid" in label for label in labels)
    plt.close(ax.figure)
    with pytest.raises(TypeError, match="replay"):
        plot_regret({"random": []})


def test_fallbacks_count_the_points_labkit_chose_for_a_sampler():
    # A flat objective teaches TPE nothing, so it proposes repeats: each repeat is answered from
    # memory, and the next trial is a random unseen point, counted as a fallback.
    space = SearchSpace({"a": [0, 1, 2], "b": [0, 1, 2]})
    trace = search("tpe", space, lambda c: 1.0, budget=space.size, seed=0)
    assert 0 < trace.fallbacks < space.size
    assert trace.fallbacks == sum(trace.fallback) and len(trace.fallback) == len(trace)
    assert not trace.fallback[0]  # the first point is always the sampler's own


def test_ttopt_leftover_budget_is_spent_at_random_and_counted():
    # TTOpt recovers a rank-1 landscape with few fibres and stops early; the rest of the budget
    # goes to random unseen points, all of them after TTOpt's own.
    space = SearchSpace({f"x{i}": list(range(5)) for i in range(3)})
    trace = search("tt", space, lambda c: float(sum(c.values())), budget=space.size, seed=0)
    assert len(trace) == space.size and trace.fallbacks > 0
    first = trace.fallback.index(True)
    assert all(trace.fallback[first:])


def test_random_search_samples_grids_too_large_to_list():
    wide = SearchSpace({f"x{i}": list(range(10)) for i in range(9)})  # 10**9 points
    trace = search("random", wide, lambda c: float(sum(c.values())), budget=300, seed=4)
    again = search("random", wide, lambda c: float(sum(c.values())), budget=300, seed=4)
    assert len({tuple(c.values()) for c in trace.configs}) == 300
    assert trace.configs == again.configs
    assert trace.fallbacks == 0


def test_tt_finds_the_minimum_of_a_separable_function_on_a_huge_grid():
    wide = SearchSpace({f"x{i}": list(range(8)) for i in range(10)})  # 8**10 points

    def objective(config):
        return float(sum((v - 5) ** 2 for v in config.values()))

    tt = search("tt", wide, objective, budget=600, seed=0)
    rnd = search("random", wide, objective, budget=600, seed=0)
    assert tt.best_error == 0.0 < rnd.best_error


def test_replay_pads_a_short_grid_and_records_fallbacks(table):
    result = replay(table, ["grid", "tpe"], budget=20, repeats=3, progress=False)
    assert result.curves["grid"].shape == (3, 20) and result.curves["tpe"].shape == (3, 20)
    used = math.prod(map(len, grid_lattice(SPACE.shape, 20)))
    assert (
        used <= 20 and (result.curves["grid"][:, used - 1 :] == result.curves["grid"][:, -1:]).all()
    )
    assert set(result.fallbacks) == {"grid", "tpe"} and (result.fallbacks["grid"] == 0).all()
    with pytest.raises(ValueError, match="strategy"):
        result.regret("random")
    with pytest.raises((TypeError, ValueError), match="tolerance"):
        result.evals_to_reach("grid", float("nan"))


def _replay_with_hits(**hits):
    """A replay in which strategy s reached the band (regret 0) in hits[s][0] of hits[s][1] runs."""
    curves = {s: np.array([[1.0, 0.0]] * k + [[1.0, 1.0]] * (n - k)) for s, (k, n) in hits.items()}
    return Replay(budget=2, curves=curves, best_error=0.0, grid_size=10)


def test_the_share_difference_is_newcombes_interval():
    # Newcombe (1998), example (a): 56/70 - 48/80, hybrid score interval 0.0524 to 0.3339
    result = _replay_with_hits(a=(56, 70), b=(48, 80))
    diff = result.compare("b", "a", 0.0)
    assert diff.difference == pytest.approx(56 / 70 - 48 / 80)
    assert (diff.low, diff.high) == pytest.approx((0.0524, 0.3339), abs=5e-4)
    assert diff.detectable and "a reaches it more often" in str(diff)
    same = _replay_with_hits(a=(10, 20), b=(11, 20)).compare("a", "b", 0.0)
    assert not same.detectable and "no detectable difference" in str(same)


def test_a_summary_counts_hits_with_their_intervals():
    summary = _replay_with_hits(a=(15, 20)).summary("a", 0.0)
    assert (summary.hits, summary.repeats, summary.share) == (15, 20, 0.75)
    assert summary.share_low < 0.75 < summary.share_high
    assert summary.median_evals == 2 and summary.median_regret_at_budget == 0.0
    assert "15/20" in str(summary)
    never = _replay_with_hits(a=(0, 5)).summary("a", 0.0)
    assert never.median_evals == 3 and "never" in str(never)  # budget + 1: never reached


def test_the_median_interval_brackets_the_median():
    values = np.arange(1, 42)
    low, high = median_interval(values)
    assert low <= np.median(values) <= high and high - low < 20
    assert median_interval([3.0] * 10) == (3.0, 3.0)
    with pytest.raises(ValueError, match="values"):
        median_interval([1.0, float("nan")])
    with pytest.raises(ValueError, match="values"):
        median_interval([])


def test_the_bench_reports_the_band_and_the_fallbacks():
    from labkit.search.bench import run

    result = run(repeats=1, budget_fraction=0.05)
    assert result["grid_size"] == 384 and result["repeats"] == 1 and result["budget"] == 19
    assert result["grid_lattice"] == [2, 2, 2, 2]
    rows = {r["method"]: r for r in result["rows"]}
    assert set(rows) == set(STRATEGIES)
    for row in rows.values():
        assert 1 <= row["median_evals_to_band"] <= 20 and row["mean_fallbacks"] >= 0
        low, high = row["reached_band_ci"]
        assert low <= row["reached_band"] <= high
    assert rows["grid"]["reached_band"] == 0 and rows["grid"]["mean_fallbacks"] == 0


def test_the_gp_and_expected_improvement_refuse_nan():
    with pytest.raises(ValueError, match="finite"):
        gp_posterior([0, 1], [0.1, float("nan")], [0.5])
    with pytest.raises(ValueError, match="finite"):
        expected_improvement([0.1], [float("nan")], 0.2)
