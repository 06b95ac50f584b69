"""Training and evaluation: one loop for the whole course, with a progress bar, and accuracy
with its 95% interval.

Introduced in notebooks/00_welcome.ipynb ("A model trained in seconds") and used for every
experiment after it. The loop, ``fit``, reads in one screen: ``_train_epoch`` and
``_evaluate_split`` do the work; ``fit`` checks arguments, builds the optimizer and keeps the
record.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from labkit._validate import (
    check_callable,
    check_choice,
    check_float,
    check_int,
    check_module,
)
from labkit.data import Dataset, Split, check_dataset, check_split
from labkit.measure import count_parameters
from labkit.models import create_model

Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal
EVAL_BATCH = 512  # images per forward pass when evaluating (memory, not accuracy)


def accuracy_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (good even near 0% and 100%).

    Lesson: notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".
    """
    total = check_int("total", total, min_value=1)
    correct = check_int("correct", correct, min_value=0, max_value=total)
    confidence = check_float("confidence", confidence, low=0.5, high=1, high_inclusive=False)
    z = (
        Z_95
        if confidence == 0.95
        else torch.distributions.Normal(0, 1).icdf(torch.tensor((1 + confidence) / 2)).item()
    )
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    # At 0 or all correct the bound is exactly p; rounding must not push it past p.
    low = 0.0 if correct == 0 else min(p, max(0.0, centre - half))
    high = 1.0 if correct == total else max(p, min(1.0, centre + half))
    return low, high


@dataclass(frozen=True)
class Accuracy:
    """A measured accuracy with its 95% confidence interval (Wilson). ``value`` is a fraction
    (0.98); ``percent`` the same in percent (98.0).

    Lesson: notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".
    """

    correct: int
    total: int

    @property
    def value(self) -> float:
        return self.correct / self.total

    @property
    def percent(self) -> float:
        return 100 * self.correct / self.total

    @property
    def interval(self) -> tuple[float, float]:
        return accuracy_interval(self.correct, self.total)

    @property
    def error(self) -> float:
        return 1 - self.value

    def __float__(self) -> float:
        return self.value

    def __str__(self) -> str:
        lo, hi = self.interval
        return f"{self.percent:.1f}% (95% CI {100 * lo:.1f}-{100 * hi:.1f}%, n={self.total})"


@dataclass
class History:
    """What happened in each epoch of ``fit``.

    Lesson: notebooks/00_welcome.ipynb, "A model trained in seconds".
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)  # every step, to see the noise
    seconds: float = 0.0
    stopped: str = ""  # why training ended early, if it did

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def _device_of(net: nn.Module) -> torch.device:
    p = next(net.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def _evaluate_split(net: nn.Module, split: Split) -> tuple[float, torch.Tensor]:
    """Mean cross-entropy and the predicted class of every image, in eval mode."""
    device = _device_of(net)
    total_loss, predicted = 0.0, []
    for start in range(0, len(split), EVAL_BATCH):
        X = split.X[start : start + EVAL_BATCH].to(device)
        y = split.y[start : start + EVAL_BATCH].to(device)
        logits = net(X)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        predicted.append(logits.argmax(1).cpu())
    return total_loss / len(split), torch.cat(predicted)


def predict(net: nn.Module, split: Split) -> torch.Tensor:
    """The class ``net`` predicts for every image of ``split`` (eval mode; the model's mode is
    restored). Two models' predictions on the same images are what a paired comparison needs.

    Lesson: notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".
    """
    check_module("net", net)
    check_split("split", split)
    was_training = net.training
    net.eval()
    try:
        return _evaluate_split(net, split)[1]
    finally:
        net.train(was_training)


def evaluate(net: nn.Module, split: Split) -> Accuracy:
    """Accuracy of ``net`` on ``split``, with its 95% confidence interval.

    Lesson: notebooks/00_welcome.ipynb, "Accuracy with its uncertainty".
    """
    predicted = predict(net, split)
    return Accuracy(int((predicted == split.y).sum()), len(split))


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def _make_optimizer(
    net: nn.Module, name: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    params = [p for p in net.parameters() if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)


def _train_epoch(
    net: nn.Module,
    train: Split,
    opt: torch.optim.Optimizer,
    order: torch.Tensor,
    batch_size: int,
    loss_fn: LossFn | None,
    after_step: Callable[[nn.Module], None] | None,
    history: History,
) -> bool:
    """One pass over ``train`` in ``order``; appends to ``history``. False if the loss stopped
    being a finite number (a learning rate too high), which ends training."""
    device = _device_of(net)
    net.train()
    total_loss, correct = 0.0, 0
    for start in range(0, len(train), batch_size):
        idx = order[start : start + batch_size]
        X, y = train.X[idx].to(device), train.y[idx].to(device)
        logits = net(X)
        loss = loss_fn(logits, y, X) if loss_fn else F.cross_entropy(logits, y)
        if not torch.isfinite(loss):
            return False
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if after_step is not None:
            after_step(net)
        history.batch_loss.append(loss.item())
        total_loss += history.batch_loss[-1] * len(idx)
        correct += (logits.argmax(1) == y).sum().item()
    history.train_loss.append(total_loss / len(train))
    history.train_acc.append(correct / len(train))
    return True


def fit(
    net: nn.Module,
    train: Split,
    val: Split | None = None,
    *,
    epochs: int = 5,
    lr: float = 3e-3,
    batch_size: int = 64,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    seed: int = 0,
    loss_fn: LossFn | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
    on_epoch: Callable[[int, History], bool | None] | None = None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``net`` on ``train`` (where the model is: the CPU in this course) and record loss
    and accuracy each epoch; the model is left in eval mode.

    ``loss_fn(logits, y, X)`` replaces cross-entropy (distillation uses it);
    ``after_step(net)`` runs after every optimizer step (pruning re-applies its masks there);
    ``on_epoch(epoch, history)`` runs after each epoch, and returning True stops training
    (an Optuna pruner uses it). ``seed`` fixes the order of the batches. A loss that stops
    being finite (learning rate too high) ends training, with ``history.stopped`` saying why.

    Lesson: notebooks/00_welcome.ipynb, "A model trained in seconds".
    """
    check_module("net", net)
    check_split("train", train)
    if val is not None:
        check_split("val", val)
    epochs = check_int("epochs", epochs, min_value=1, max_value=10_000)
    lr = check_float("lr", lr, low=0, high=10, low_inclusive=False)
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=len(train))
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    weight_decay = check_float("weight_decay", weight_decay, low=0, high=1)
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    for fn_name, fn in (("loss_fn", loss_fn), ("after_step", after_step), ("on_epoch", on_epoch)):
        if fn is not None:
            check_callable(fn_name, fn)

    opt = _make_optimizer(net, optimizer, lr, weight_decay)
    g = torch.Generator().manual_seed(seed)
    history = History()
    start_time = time.perf_counter()
    with tqdm(range(epochs), desc=desc, disable=not progress, leave=True) as bar:
        for _ in bar:
            order = torch.randperm(len(train), generator=g)
            if not _train_epoch(net, train, opt, order, batch_size, loss_fn, after_step, history):
                history.stopped = "the loss stopped being a finite number: lr too high?"
                bar.set_postfix_str(history.stopped)
                break
            postfix = {"loss": f"{history.train_loss[-1]:.3f}"}
            if val is not None:
                net.eval()
                val_loss, predicted = _evaluate_split(net, val)
                history.val_loss.append(val_loss)
                history.val_acc.append(float((predicted == val.y).float().mean()))
                postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
            bar.set_postfix(postfix)
            if on_epoch is not None and on_epoch(history.epochs, history):
                history.stopped = f"stopped after epoch {history.epochs} by on_epoch"
                bar.set_postfix_str(history.stopped)
                break
    net.eval()
    history.seconds = time.perf_counter() - start_time
    return history


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
        return dataclasses.asdict(self)


@dataclass
class Trial:
    """One training run of the course model with given hyperparameters, and its outcome.

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "The objective: an error to
    minimize".
    """

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
