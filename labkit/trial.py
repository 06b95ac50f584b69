"""The course's one experiment: a fresh SmallCNN trained with given hyperparameters and scored
on the validation images. Notebook 01's trade-offs, its explorer and notebook 02's search all
run it; ``Hyperparameters`` checks every choice on creation.

Used by: labkit.hparams.widget, labkit.search.strategies and their probes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from labkit._validate import check_choice, check_float, check_int
from labkit.data import Dataset, check_dataset
from labkit.measure import count_parameters
from labkit.models import create_model
from labkit.train import Accuracy, History, evaluate, fit


@dataclass(frozen=True)
class Hyperparameters:
    """The choices behind one training run of the course model, each checked on creation.

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Hyperparameters: what we chose".
    """

    lr: float = 3e-3  # step size of the optimizer
    batch_size: int = 64  # images averaged per step
    epochs: int = 3  # passes over the training images
    kernel_size: int = 3  # side of every conv kernel (odd)
    width: int = 16  # channels of the first conv block (the others use twice that)
    depth: int = 3  # conv blocks (layers) of the model
    optimizer: str = "adam"  # "adam" or "sgd" (with momentum 0.9)
    seed: int = 0  # initial weights and batch order

    def __post_init__(self) -> None:
        check_float("lr", self.lr, low=0, high=10, low_inclusive=False)
        check_int("batch_size", self.batch_size, min_value=1)
        check_int("epochs", self.epochs, min_value=1, max_value=10_000)
        check_int("kernel_size", self.kernel_size, min_value=1, max_value=11)
        check_int("width", self.width, min_value=1, max_value=512)
        check_int("depth", self.depth, min_value=1, max_value=8)
        check_choice("optimizer", self.optimizer, ("adam", "sgd"))
        check_int("seed", self.seed, min_value=0, max_value=2**32 - 1)

    @classmethod
    def of(cls, **values) -> Hyperparameters:
        """Hyperparameters from keyword arguments; an unknown name is refused by name."""
        allowed = [f.name for f in dataclasses.fields(cls)]
        for name in values:
            check_choice("hyperparameter name", name, allowed)
        return cls(**values)

    def as_dict(self) -> dict:
        """The hyperparameters as a plain dict."""
        return dataclasses.asdict(self)


@dataclass
class Trial:
    """One training run of the course model with given hyperparameters, and its outcome (what
    ``train_small_cnn`` returns)."""

    hyperparameters: Hyperparameters
    history: History
    val_accuracy: Accuracy
    n_params: int
    net: nn.Module

    @property
    def val_error(self) -> float:
        """The objective that tuning minimizes: the fraction of validation images misread."""
        return self.val_accuracy.error

    @property
    def seconds(self) -> float:
        """The wall time of the training run."""
        return self.history.seconds


def train_small_cnn(
    data: Dataset,
    *,
    progress: bool = True,
    on_epoch: Callable[[int, History], bool | None] | None = None,
    **hyperparameters,
) -> Trial:
    """Build a fresh SmallCNN with these hyperparameters (names and defaults:
    :class:`Hyperparameters`), train it on ``data.train``, and score it on ``data.val``.

    The one experiment behind notebook 01's trade-offs, its explorer, and notebook 02's search.
    ``on_epoch`` is passed to ``fit`` (return True to stop early, as a pruner does).

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "The objective: an error to
    minimize".
    """
    check_dataset("data", data)
    hp = Hyperparameters.of(**hyperparameters)
    net = create_model(
        "small_cnn",
        seed=hp.seed,
        width=hp.width,
        kernel_size=hp.kernel_size,
        depth=hp.depth,
        num_classes=data.num_classes,
        in_channels=data.image_shape[0],
    )
    history = fit(
        net,
        data.train,
        data.val,
        epochs=hp.epochs,
        lr=hp.lr,
        batch_size=hp.batch_size,
        optimizer=hp.optimizer,
        seed=hp.seed,
        progress=progress,
        desc=f"lr={hp.lr:g} bs={hp.batch_size} k={hp.kernel_size} w={hp.width}",
        on_epoch=on_epoch,
    )
    return Trial(hp, history, evaluate(net, data.val), count_parameters(net), net)
