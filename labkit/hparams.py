"""Parameters vs hyperparameters: the tables and the interactive explorer.

Serves notebooks/01_parameters_vs_hyperparameters.ipynb.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from torch import nn

from labkit._validate import check_module
from labkit.data import Dataset


def parameter_table(net: nn.Module) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, shape, count) for every learned tensor of ``net``, in order."""
    check_module("net", net)
    return [(name, tuple(p.shape), p.numel()) for name, p in net.named_parameters()]


def print_parameter_table(net: nn.Module) -> None:
    rows = parameter_table(net)
    width = max(len(r[0]) for r in rows)
    print(f"{'tensor':<{width}}  {'shape':<16} {'count':>8}")
    for name, shape, count in rows:
        print(f"{name:<{width}}  {str(shape):<16} {count:>8,}")
    print(f"{'total':<{width}}  {'':<16} {sum(r[2] for r in rows):>8,}")


LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
KERNEL_SIZES = [1, 3, 5, 7]


def explorer(data: Dataset):
    """A small app: choose hyperparameters, press Train, see the curves and the result.

    Trains a fresh SmallCNN on a 1,000-image slice of data.train so a run takes seconds.
    Returns the ipywidgets box (the notebook displays it).
    """
    import ipywidgets as w
    from IPython.display import display

    from labkit.plots import plot_curves
    from labkit.train import train_small_cnn

    if not isinstance(data, Dataset):
        raise TypeError(f"argument 'data' must be a labkit.data.Dataset, got {type(data).__name__}")
    small = data.with_train_subset(min(1000, len(data.train)))
    style = {"description_width": "100px"}  # room for "learning rate"
    lr = w.SelectionSlider(
        options=LEARNING_RATES, value=3e-3, description="learning rate", style=style
    )
    batch = w.Dropdown(options=BATCH_SIZES, value=64, description="batch size", style=style)
    epochs = w.IntSlider(value=4, min=1, max=15, description="epochs", style=style)
    kernel = w.Dropdown(options=KERNEL_SIZES, value=3, description="kernel size", style=style)
    button = w.Button(description="Train", button_style="primary", icon="play")
    out = w.Output()
    runs: dict[str, object] = {}

    def train_once() -> None:
        trial = train_small_cnn(
            small,
            lr=lr.value,
            batch_size=batch.value,
            epochs=epochs.value,
            kernel_size=kernel.value,
        )
        label = f"lr={lr.value:g}, bs={batch.value}, ep={epochs.value}, k={kernel.value}"
        runs[label] = trial.history
        last = dict(list(runs.items())[-4:])
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        plot_curves(last, "train_loss", ax=axes[0], title="training loss (last 4 runs)")
        plot_curves(last, "val_acc", ax=axes[1], title="validation accuracy")
        plt.show()
        print(
            f"{label}: validation {trial.val}; {trial.parameters:,} parameters; "
            f"{trial.seconds:.1f} s"
        )

    def on_click(_) -> None:
        with out:
            out.clear_output(wait=True)
            train_once()

    button.on_click(on_click)
    box = w.VBox([w.HBox([lr, batch]), w.HBox([epochs, kernel]), button, out])
    # One run without a click, drawn in the calling cell rather than inside the Output
    # widget: notebook runners (nbclient) can hang capturing an Output widget's clear_output.
    box.train = train_once
    display(box)
    return box
