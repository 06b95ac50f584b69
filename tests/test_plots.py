import matplotlib.pyplot as plt
import pytest
import torch

from labkit import plots
from labkit.train import History


def test_every_plot_draws_and_returns_its_axes():
    h = History(train_loss=[1.0, 0.5], val_acc=[0.5, 0.8])
    assert len(plots.plot_curves({"a": h, "b": h}, "val_acc").lines) == 2
    assert plots.plot_histogram(torch.randn(100)).patches
    assert plots.plot_heatmap(torch.randn(3, 4)).images
    ax = plots.plot_tradeoff([1, 2], [0.5, 0.9], labels=["a", "b"], yerr=[(0.4, 0.6), (0.8, 0.95)])
    assert ax.get_xlabel() == "cost" and len(ax.texts) == 2
    fig = plots.show_images(torch.rand(5, 1, 8, 8), [1, 2, 3, 4, 5], [1, 2, 0, 4, 5], n=5)
    assert sum(a.title.get_color() == "#D55E00" for a in fig.axes) == 1  # one mistake, in red


def test_style_uses_the_colour_blind_safe_palette():
    plots.use_style()
    assert plt.rcParams["axes.prop_cycle"].by_key()["color"][:3] == plots.PALETTE[:3]


@pytest.mark.parametrize(
    "bad, word",
    [
        (lambda: plots.plot_curves(History(), "accuracy"), "metric"),
        (lambda: plots.plot_curves({}), "histories"),
        (lambda: plots.plot_histogram([]), "values"),
        (lambda: plots.plot_heatmap(torch.zeros(2, 2, 2)), "matrix"),
        (lambda: plots.plot_tradeoff([1, 2], [1]), "'x' and 'y'"),
        (lambda: plots.plot_tradeoff([1, 2], [1, 2], yerr=[(0, 1)]), "yerr"),
        (lambda: plots.show_images(torch.zeros(4)), "'X'"),
    ],
)
def test_plots_reject_bad_input_by_name(bad, word):
    with pytest.raises((TypeError, ValueError), match=word):
        bad()


def test_plot_quantization_grid_draws_a_line_per_level_and_shades_clipping():
    import torch

    from labkit.quantize.plots import plot_quantization_grid

    values = torch.linspace(-1, 1, 200)
    ax = plot_quantization_grid(values, torch.tensor([-0.5, 0.0, 0.5]), lo=-0.8, hi=0.8)
    assert len(ax.lines) == 3
    assert len(ax.patches) > 2  # histogram bars plus the two clipped spans
    with pytest.raises(ValueError, match="must not be empty"):
        plot_quantization_grid(values, [])
