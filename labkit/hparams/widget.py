"""Notebook 01's explorer: choose hyperparameters, press Train, see the curves and the result
(the parameter table is ``labkit.hparams.parameters``).

Serves notebooks/01_parameters_vs_hyperparameters.ipynb.

Used by: notebook 01, through ``explorer(data)``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from labkit.app import App
from labkit.data import Dataset, check_dataset
from labkit.plots import plot_curves
from labkit.reference import reference_timing
from labkit.trial import Trial, train_small_cnn

LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
KERNEL_SIZES = [1, 3, 5, 7]
EXPLORER_IMAGES = 1000  # training images per explorer run: a run takes seconds


class Explorer(App):
    """A small app: choose hyperparameters, press Train, see the curves and the result.

    Each run trains a fresh SmallCNN on the first 1,000 training images, so it takes seconds;
    the last four runs stay on the plot. ``widget`` is the ipywidgets box to display (a
    notebook shows the Explorer itself); ``train()`` runs once with the current choices and
    draws in the calling cell; the button draws in the app's own output.
    """

    def __init__(self, data: Dataset) -> None:
        import ipywidgets as w  # the widget library loads with the first explorer

        check_dataset("data", data)
        self.data = data.with_train_subset(min(EXPLORER_IMAGES, len(data.train)))
        style = {"description_width": "100px"}  # room for "learning rate"
        self.lr = w.SelectionSlider(
            options=LEARNING_RATES, value=3e-3, description="learning rate", style=style
        )
        self.batch = w.Dropdown(
            options=BATCH_SIZES, value=64, description="batch size", style=style
        )
        self.epochs = w.IntSlider(value=4, min=1, max=15, description="epochs", style=style)
        self.kernel = w.Dropdown(
            options=KERNEL_SIZES, value=3, description="kernel size", style=style
        )
        self.runs: dict[str, Trial] = {}
        button = w.Button(description="Train", button_style="primary", icon="play")
        super().__init__([[self.lr, self.batch], [self.epochs, self.kernel]], button, "Training...")

    def train(self) -> None:
        """Train once with the chosen values and draw here, in the calling cell (the run is kept
        in ``runs``; nothing is returned, so a cell ending with it shows no more)."""
        self.draw()
        plt.show()

    def draw(self) -> None:
        """Train once with the chosen values; draw the last four runs; print the result."""
        trial = train_small_cnn(
            self.data,
            lr=self.lr.value,
            batch_size=self.batch.value,
            epochs=self.epochs.value,
            kernel_size=self.kernel.value,
            progress=False,
        )
        label = (
            f"lr={self.lr.value:g}, bs={self.batch.value}, ep={self.epochs.value}, "
            f"k={self.kernel.value}"
        )
        self.runs[label] = trial
        last = {name: t.history for name, t in list(self.runs.items())[-4:]}
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        plot_curves(last, "train_loss", ax=axes[0], title="training loss (last 4 runs)")
        plot_curves(last, "val_acc", ax=axes[1], title="validation accuracy")
        self.state = {"label": label, "val_accuracy": trial.val_accuracy.value}
        print(
            f"{label}: validation {trial.val_accuracy}; {trial.n_params:,} parameters; "
            f"{trial.seconds:.1f} s"
        )
        print(reference_timing("01.explorer_run_s", trial.seconds))


def explorer(data: Dataset) -> Explorer:
    """The interactive explorer of notebook 01 (see :class:`Explorer`).

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Explore: all four at once".
    """
    return Explorer(data)
