"""Each notebook's app answers a change of its controls: the picture and the numbers change,
at once (the browser test drives them in JupyterLab too)."""

import pytest

from labkit.prune.widget import SparsityExplorer
from labkit.quantize.widget import BitsExplorer
from labkit.search.table import SearchTable, noise_band, replay
from labkit.search.widget import SearchPicker


def test_the_sparsity_slider_prunes_more_and_reads_less(baseline, data):
    app = SparsityExplorer(baseline, data)
    app.update()
    before = dict(app.state)
    app.sparsity.value = 0.9
    assert app.state["sparsity"] == 0.9 and app.state["bytes"] < before["bytes"]
    assert app.state["accuracy"] < before["accuracy"]
    app.method.value = "layer-wise"
    assert app.state["layer_sparsity"] == pytest.approx(0.9, abs=0.01)
    with pytest.raises(ValueError, match="argument 'layer'"):
        SparsityExplorer(baseline, data, layer="nope")


def test_the_bits_slider_rounds_more_coarsely_with_fewer_bits(baseline, data):
    app = BitsExplorer(baseline, data)
    app.update()
    four = dict(app.state)
    app.bits.value = 2
    assert app.state["mse"] > four["mse"] and app.state["accuracy"] < four["accuracy"]
    app.per_channel.value = False
    assert app.state["mse"] > 0
    with pytest.raises(TypeError, match="argument 'data'"):
        BitsExplorer(baseline, "digits")


def test_the_search_picker_follows_the_budget():
    table = SearchTable.load()
    result = replay(table, ["grid", "random", "tt"], budget=19, repeats=4, progress=False)
    app = SearchPicker(table, result, noise_band(table))
    app.update()
    full = dict(app.state["reached"])
    app.budget.value = 3
    assert app.state["budget"] == 3
    assert all(app.state["reached"][s] <= full[s] for s in full)
    app.strategies.value = ("random",)
    assert list(app.state["reached"]) == ["random"]


def test_the_scale_slider_moves_gradients_out_of_underflow(baseline, data):
    from labkit.precision.formats import activation_gradients
    from labkit.precision.widget import ScaleExplorer

    grads = activation_gradients(baseline.train(), data.train.X[:64], data.train.y[:64])
    baseline.eval()
    app = ScaleExplorer(grads)
    app.update()
    unscaled = dict(app.state)
    assert unscaled["underflow"] > 0.01 and unscaled["overflow"] == 0
    app.log2_scale.value = 12
    assert app.state["underflow"] < unscaled["underflow"] and app.state["scale"] == 4096
    app.log2_scale.value = 30
    assert app.state["overflow"] > 0
    # fixed axes: the number line does not move with the slider, fractions are drawn on 0..1
    assert app.state["xlim"] == unscaled["xlim"] and app.state["ylim"] == (0, 1)
    with pytest.raises(TypeError, match="argument 'grads'"):
        ScaleExplorer([1, 2])


def test_the_rank_calculator_counts_and_measures_at_once(baseline):
    from labkit.factorize.widget import RankCalculator

    app = RankCalculator(baseline, {"features.4": (8, 8), "features.8": (4, 4)})
    app.update()
    four = dict(app.state)
    app.rank.value = 12
    assert app.state["params"] > four["params"] and app.state["error"] < four["error"]
    app.method.value = "tucker"  # features.8: 32 out, 32 in
    assert app.state["rank"] == (12, 12) and app.state["param_ratio"] > 1
    assert app.rank.max == 32
    app.rank.value = 32
    assert app.state["rank"] == (32, 32) and app.state["error"] < 1e-5  # full: the kernel
    assert app.state["param_ratio"] < 1  # larger than the original: "more", not "fewer"
    app.layer.value = "features.4"  # 32 out, 16 in: each mode up to its own size
    assert app.rank.max == 32 and app.state["rank"] == (32, 16) and app.state["error"] < 1e-5
    app.rank.value = 10  # the curve's error is the error of the layer built at that rank
    from labkit.factorize.lowrank import kernel_error

    want = kernel_error(baseline.features[4].weight, (10, 10), "tucker")
    assert app.state["error"] == pytest.approx(want, abs=1e-4)
    app.rank.value = 32
    app.method.value = "svd"
    assert app.state["rank"] == 32 and app.state["error"] < 1e-5
    for shape in app.REAL_SIZE:  # real-size shapes, random weights
        app.layer.value = shape
        app.method.value = "tucker"
        assert app.rank.max == app.REAL_SIZE[shape][0]
    with pytest.raises(ValueError, match="argument 'in_hw'"):
        RankCalculator(baseline, {"nope": (1, 1)})


def test_the_distill_explorer_looks_up_the_stored_grid():
    from labkit.distill.table import DistillTable
    from labkit.distill.widget import DistillExplorer

    table = DistillTable.load()
    app = DistillExplorer(table)
    app.update()
    first = dict(app.state)
    app.temperature.value = table.record["grid"]["temperatures"][-1]
    assert app.state["temperature"] != first["temperature"]
    assert app.state["gain"] == pytest.approx(
        table.grid_cell(app.state["temperature"], app.state["weight"]).gain.mean
    )
    app.weight.value = table.record["grid"]["weights"][-1]
    assert app.state["weight"] == table.record["grid"]["weights"][-1]
    with pytest.raises(TypeError, match="argument 'table'"):
        DistillExplorer("table")
