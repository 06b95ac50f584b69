"""Training and evaluation: one loop for the whole course, with a progress bar.

Introduced in notebooks/00_welcome.ipynb (training the baseline) and used for
every experiment in notebooks/01_parameters_vs_hyperparameters.ipynb.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from labkit._validate import check_choice, check_float, check_int, check_module
from labkit.data import Dataset, Split

Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


def accuracy_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (good even near 0% and 100%)."""
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
    """A measured accuracy with its 95% confidence interval (Wilson)."""

    correct: int
    total: int

    @property
    def value(self) -> float:
        return self.correct / self.total

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
        return f"{100 * self.value:.1f}% (95% CI {100 * lo:.1f}-{100 * hi:.1f}%, n={self.total})"


@dataclass
class History:
    """What happened in each epoch of ``fit``."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)  # every step, to see the noise
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.train_loss)


def _check_split(name: str, split: Split) -> Split:
    if not isinstance(split, Split):
        raise TypeError(
            f"argument '{name}' must be a labkit.data.Split (such as data.train), "
            f"got {type(split).__name__}"
        )
    if len(split) == 0:
        raise ValueError(f"argument '{name}' is empty")
    return split


def _device_of(net: nn.Module) -> torch.device:
    p = next(net.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def _loss_and_accuracy(net: nn.Module, split: Split, batch_size: int) -> tuple[float, int]:
    device = _device_of(net)
    total_loss, correct = 0.0, 0
    for start in range(0, len(split), batch_size):
        X = split.X[start : start + batch_size].to(device)
        y = split.y[start : start + batch_size].to(device)
        logits = net(X)
        total_loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
    return total_loss / len(split), correct


def evaluate(net: nn.Module, split: Split, batch_size: int = 512) -> Accuracy:
    """Accuracy of ``net`` on ``split``, with its 95% confidence interval."""
    check_module("net", net)
    _check_split("split", split)
    batch_size = check_int("batch_size", batch_size, min_value=1)
    was_training = net.training
    net.eval()
    try:
        _, correct = _loss_and_accuracy(net, split, batch_size)
    finally:
        net.train(was_training)
    return Accuracy(correct, len(split))


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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
    """Train ``net`` on ``train`` and record loss and accuracy each epoch.

    ``loss_fn(logits, y, X)`` replaces cross-entropy (notebook 07 uses it for distillation);
    ``after_step(net)`` runs after every optimizer step (notebook 03 re-applies pruning masks).
    ``on_epoch(epoch, history)`` runs after each epoch; returning True stops training early
    (notebook 02's Optuna pruner uses it).
    ``seed`` fixes the order of the batches.
    """
    check_module("net", net)
    _check_split("train", train)
    if val is not None:
        _check_split("val", val)
    epochs = check_int("epochs", epochs, min_value=1, max_value=10_000)
    lr = check_float("lr", lr, low=0, high=10, low_inclusive=False)
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=len(train))
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    weight_decay = check_float("weight_decay", weight_decay, low=0, high=1)
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    for fn_name, fn in (("loss_fn", loss_fn), ("after_step", after_step), ("on_epoch", on_epoch)):
        if fn is not None and not callable(fn):
            raise TypeError(f"argument '{fn_name}' must be callable or None")

    params = [p for p in net.parameters() if p.requires_grad]
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    device = _device_of(net)
    g = torch.Generator().manual_seed(seed)
    history = History()
    start_time = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=True)
    for _ in bar:
        net.train()
        order = torch.randperm(len(train), generator=g)
        total_loss, correct = 0.0, 0
        for start in range(0, len(train), batch_size):
            idx = order[start : start + batch_size]
            X, y = train.X[idx].to(device), train.y[idx].to(device)
            logits = net(X)
            loss = loss_fn(logits, y, X) if loss_fn else F.cross_entropy(logits, y)
            if not torch.isfinite(loss):
                history.train_loss.append(float("nan"))
                history.train_acc.append(float("nan"))
                bar.set_postfix_str("loss is not finite: lr too high? stopped")
                history.seconds = time.perf_counter() - start_time
                net.eval()
                return history
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
        if val is not None:
            net.eval()
            vloss, vcorrect = _loss_and_accuracy(net, val, 512)
            history.val_loss.append(vloss)
            history.val_acc.append(vcorrect / len(val))
            bar.set_postfix(
                loss=f"{history.train_loss[-1]:.3f}", val_acc=f"{history.val_acc[-1]:.3f}"
            )
        else:
            bar.set_postfix(loss=f"{history.train_loss[-1]:.3f}")
        if on_epoch is not None and on_epoch(history.epochs, history):
            bar.set_postfix_str(f"stopped after epoch {history.epochs}")
            break
    bar.close()
    net.eval()
    history.seconds = time.perf_counter() - start_time
    return history


@dataclass
class Trial:
    """One training run of the course model with given hyperparameters, and its outcome."""

    hyperparameters: dict
    history: History
    val: Accuracy
    parameters: int
    seconds: float
    net: nn.Module

    @property
    def val_error(self) -> float:
        """The objective that tuning minimizes: the fraction of validation images misread."""
        return self.val.error


def train_small_cnn(
    data: Dataset,
    *,
    lr: float = 3e-3,
    batch_size: int = 64,
    epochs: int = 3,
    kernel_size: int = 3,
    width: int = 16,
    optimizer: str = "adam",
    seed: int = 0,
    progress: bool = True,
    on_epoch: Callable[[int, History], bool | None] | None = None,
) -> Trial:
    """Build a fresh SmallCNN with these hyperparameters, train it, and score it on data.val.

    The one experiment behind notebook 01's trade-offs, its explorer, and notebook 02's search.
    ``on_epoch`` is passed to ``fit`` (return True to stop early, as a pruner does).
    """
    from labkit.measure import count_parameters
    from labkit.models import create_model

    if not isinstance(data, Dataset):
        raise TypeError(f"argument 'data' must be a labkit.data.Dataset, got {type(data).__name__}")
    net = create_model(
        "small_cnn",
        seed=seed,
        width=width,
        kernel_size=kernel_size,
        num_classes=data.num_classes,
        in_channels=data.image_shape[0],
    )
    desc = f"lr={lr:g} bs={batch_size} k={kernel_size} w={width}"
    history = fit(
        net,
        data.train,
        data.val,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        optimizer=optimizer,
        seed=seed,
        progress=progress,
        desc=desc,
        on_epoch=on_epoch,
    )
    hp = dict(
        lr=lr,
        batch_size=batch_size,
        epochs=epochs,
        kernel_size=kernel_size,
        width=width,
        optimizer=optimizer,
        seed=seed,
    )
    return Trial(hp, history, evaluate(net, data.val), count_parameters(net), history.seconds, net)
