import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit.search import (
    COURSE_SPACE,
    STRATEGIES,
    SearchSpace,
    expected_improvement,
    gp_posterior,
    live_objective,
    search,
)
from labkit.search_table import SearchTable, noise_band, replay, table_path

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
    assert len(trace) == 20
    keys = [tuple(c.values()) for c in trace.configs]
    assert len(set(keys)) == 20
    assert all(SPACE.index(c) is not None for c in trace.configs)
    assert len({tuple(c.values()) for c in calls}) == len(calls)  # never trained twice
    assert list(trace.best_so_far()) == sorted(trace.best_so_far(), reverse=True)


@pytest.mark.parametrize("strategy", ["random", "tpe", "tt", "gp"])
def test_searches_are_reproducible(strategy, table):
    first = search(strategy, SPACE, table.objective(), budget=12, seed=5)
    again = search(strategy, SPACE, table.objective(), budget=12, seed=5)
    assert first.configs == again.configs


def test_grid_search_goes_in_grid_order_and_is_guaranteed_on_its_grid(table):
    trace = search("grid", SPACE, table.objective(), budget=SPACE.size)
    assert trace.configs == SPACE.all_configs()
    assert trace.best_error == pytest.approx(table.best_error)
    assert trace.best_config == table.best_config == {"a": 4, "b": 20, "c": "y"}


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
    from labkit.search import Trace

    trace = Trace("x", [{}] * 4, [0.5, 0.3, 0.4, 0.1])
    assert trace.evals_to_reach(0.3) == 2
    assert trace.evals_to_reach(0.05, tolerance=0.06) == 4
    assert trace.evals_to_reach(0.0) is None


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
    from labkit.search_table import Replay

    curves = {"x": np.array([[0.5, 0.4, 0.0], [0.5, 0.5, 0.5]])}
    result = Replay(budget=3, curves=curves, best_error=0.0, grid_size=10)
    assert list(result.evals_to_reach("x", 0.0)) == [3, 4]
    assert result.reached("x", 0.0) == 0.5


def test_replay_takes_a_number_of_repeats_per_strategy(table):
    result = replay(table, ["grid", "random"], budget=5, repeats={"random": 3}, progress=False)
    assert len(result.curves["grid"]) == 1 and len(result.curves["random"]) == 3
    with pytest.raises(TypeError, match="strategies"):
        replay(table, "random", budget=5)


def test_the_noise_band_comes_from_the_seeds(table):
    band = noise_band(SearchTable.load(table_path()))
    assert 0 < band.width < 0.1 and band.points >= 1 and "seed" in band.definition
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

    from labkit.plots import plot_regret

    result = replay(table, ["grid", "random"], budget=10, repeats=3, progress=False)
    ax = plot_regret(result)
    labels = [line.get_label() for line in ax.get_lines()]
    assert any("random (median of 3)" in label for label in labels)
    assert any("grid" in label for label in labels)
    plt.close(ax.figure)
    with pytest.raises(TypeError, match="replay"):
        plot_regret({"random": []})
