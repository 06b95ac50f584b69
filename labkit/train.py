"""Training and evaluation: one loop for the whole course, with a progress bar, and accuracy
with its 95% interval.

Introduced in notebooks/00_welcome.ipynb ("A model trained in seconds") and used for every
experiment after it. The loop, ``fit``, reads in one screen: ``train_step`` takes one step,
``_train_epoch`` one pass, ``_evaluate_split`` scores; ``fit`` checks arguments, builds the
optimizer and its schedule, and keeps the record. What later lessons need is a switch, not a
copy of the loop (nanoGPT's single loop does mixed precision the same way):

- ``loss_fn(logits, y, X, idx)`` replaces cross-entropy; ``idx`` are the batch's positions in
  the training split, so a loss can look up per-image targets (distillation's teacher logits);
- ``schedule="onecycle"``: the learning rate rises to ``lr`` and falls to almost 0;
- ``precision``: ``"float32"``, or autocast to ``"bfloat16"``, or ``"float16_scaled"`` (autocast
  to float16 with a loss scaler: PyTorch's ``GradScaler`` or any object with its methods);
- ``after_step(net)``, ``on_epoch(epoch, history)``: hooks for pruning's masks and for pruners.

Used by: every lesson that trains (labkit.prune.masks, labkit.quantize.fewer_bits,
labkit.distill.students, labkit.precision.training) and labkit.zoo.
"""

from __future__ import annotations

import inspect
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
from labkit.autocast import PRECISIONS, autocast_for, check_autocast_device, make_scaler
from labkit.data import Split, check_split

Z_95 = 1.959963984540054  # two-sided 95% quantile of the standard normal
EVAL_BATCH = 512  # images per forward pass when evaluating (memory, not accuracy)
SCHEDULES = ("constant", "onecycle")
SCALER_METHODS = ("scale", "step", "update", "get_scale")  # what fit asks of a loss scaler


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
    """A measured accuracy with its 95% confidence interval (Wilson). ``value`` is a fraction
    (0.98); ``percent`` the same in percent (98.0).
    """

    correct: int
    total: int

    @property
    def value(self) -> float:
        """The accuracy as a fraction (0.98)."""
        return self.correct / self.total

    @property
    def percent(self) -> float:
        """The accuracy in percent (98.0)."""
        return 100 * self.correct / self.total

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% Wilson interval, as fractions (low, high)."""
        return accuracy_interval(self.correct, self.total)

    @property
    def error(self) -> float:
        """The error rate: 1 - value."""
        return 1 - self.value

    def __float__(self) -> float:
        return self.value

    def __str__(self) -> str:
        lo, hi = self.interval
        return f"{self.percent:.1f}% (95% CI {100 * lo:.1f}-{100 * hi:.1f}%, n={self.total})"


@dataclass
class History:
    """What happened in each epoch of ``fit``."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)  # every step, to see the noise
    scales: list[float] = field(default_factory=list)  # float16: the loss scale of every step
    skipped: list[int] = field(default_factory=list)  # float16: the steps the scaler skipped
    seconds: float = 0.0
    stopped: str = ""  # why training ended early, if it did

    @property
    def epochs(self) -> int:
        """How many epochs were trained."""
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


LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def train_step(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    scaler,
    X: torch.Tensor,
    y: torch.Tensor,
    precision: str = "float32",
    loss_fn: LossFn | None = None,
    idx: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """One training step, the standard recipe in every precision: the forward pass under
    ``autocast_for(precision)``, the loss (``loss_fn(logits, y, X, idx)`` or cross-entropy),
    ``scaler.scale(loss).backward()``, ``scaler.step(opt)`` (which skips the step when a
    gradient is inf or NaN), ``scaler.update()``. Returns the loss, the logits and whether the
    optimizer stepped; a loss that is not a finite number returns before any backward pass.

    Lesson: notebooks/05_mixed_precision.ipynb, "Mixed precision training".
    """
    opt.zero_grad(set_to_none=True)
    with autocast_for(precision, X.device):
        logits = net(X)
        loss = loss_fn(logits, y, X, idx) if loss_fn else F.cross_entropy(logits, y)
    if not torch.isfinite(loss):
        return loss, logits, False
    before = scaler.get_scale()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    return loss, logits, not scaler.get_scale() < before  # a scaler backs off when it skips


def _make_optimizer(
    net: nn.Module, name: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    params = [p for p in net.parameters() if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)


@dataclass
class _Run:
    """What one training run carries from step to step."""

    opt: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler | None
    scaler: object
    precision: str
    loss_fn: LossFn | None
    after_step: Callable[[nn.Module], None] | None
    max_steps: int | None
    steps: int = 0


def _train_epoch(
    net: nn.Module, train: Split, order: torch.Tensor, batch_size: int, run: _Run, history: History
) -> bool:
    """One pass over ``train`` in ``order``; appends to ``history``. False if the loss stopped
    being a finite number (a learning rate too high), which ends training."""
    device = _device_of(net)
    net.train()
    total_loss, correct, seen = 0.0, 0, 0
    for start in range(0, len(train), batch_size):
        if run.max_steps is not None and run.steps >= run.max_steps:
            break
        idx = order[start : start + batch_size]
        X, y = train.X[idx].to(device), train.y[idx].to(device)
        scale = run.scaler.get_scale()
        loss, logits, stepped = train_step(
            net, run.opt, run.scaler, X, y, run.precision, run.loss_fn, idx
        )
        if not torch.isfinite(loss):
            return False
        if run.schedule is not None and stepped:  # a skipped step moves no schedule either
            run.schedule.step()
        if run.after_step is not None:
            run.after_step(net)
        if run.precision == "float16_scaled":
            history.scales.append(scale)
            if not stepped:
                history.skipped.append(run.steps)
        run.steps += 1
        history.batch_loss.append(loss.item())
        total_loss += history.batch_loss[-1] * len(idx)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(idx)
    history.train_loss.append(total_loss / max(seen, 1))
    history.train_acc.append(correct / max(seen, 1))
    return True


def _check_loss_fn(net: nn.Module, train: Split, loss_fn: LossFn, precision: str) -> None:
    """Try ``loss_fn`` on the first two images, in eval mode without gradients (nothing about
    the model changes), so that a wrong one is refused before any training step."""
    try:
        inspect.signature(loss_fn).bind(None, None, None, None)
    except TypeError:
        raise TypeError(
            "argument 'loss_fn' must take (logits, y, X, idx): the batch's logits, labels, "
            "images and positions in the training split"
        ) from None
    except ValueError:  # a builtin without a signature: let the trial call tell
        pass
    idx = torch.arange(min(2, len(train)))
    device = _device_of(net)
    X, y = train.X[idx].to(device), train.y[idx].to(device)
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad(), autocast_for(precision, device):
            loss = loss_fn(net(X), y, X, idx)
    except Exception as err:
        raise TypeError(
            f"argument 'loss_fn' failed on two training images: {type(err).__name__}: {err}"
        ) from None
    finally:
        net.train(was_training)
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0 or not loss.is_floating_point():
        raise TypeError(
            "argument 'loss_fn' must return the batch's loss as one number in a tensor "
            f"(0-d, floating point), got {type(loss).__name__}"
            + (f" of shape {tuple(loss.shape)}" if isinstance(loss, torch.Tensor) else "")
        )


def fit(
    net: nn.Module,
    train: Split,
    val: Split | None = None,
    *,
    epochs: int = 5,
    lr: float = 3e-3,
    batch_size: int | None = None,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    schedule: str = "constant",
    precision: str = "float32",
    scaler=None,
    seed: int = 0,
    max_steps: int | None = None,
    loss_fn: LossFn | None = None,
    after_step: Callable[[nn.Module], None] | None = None,
    on_epoch: Callable[[int, History], bool | None] | None = None,
    progress: bool = True,
    desc: str = "training",
) -> History:
    """Train ``net`` on ``train`` (where the model is: the CPU in this course) and record loss
    and accuracy each epoch; the model is left in eval mode.

    ``loss_fn(logits, y, X, idx)`` replaces cross-entropy (``idx``: the batch's positions in
    ``train``, so distillation looks up the teacher's logits of these images);
    ``after_step(net)`` runs after every optimizer step (pruning re-applies its masks there);
    ``batch_size`` defaults to 64 (or the whole split, when it is smaller);
    ``on_epoch(epoch, history)`` runs after each epoch, and returning True stops training
    (an Optuna pruner uses it). ``schedule``: "constant", or "onecycle" (up to ``lr``, then
    down to almost 0, stepped every batch). ``precision``: "float32", "bfloat16" (autocast) or
    "float16_scaled" (autocast to float16 with ``scaler``, default ``torch.amp.GradScaler``;
    the scale of every step and the steps it skipped are in ``history.scales`` and
    ``history.skipped``). ``seed`` fixes the order of the batches; ``max_steps`` stops after
    that many steps. A loss that stops being finite (learning rate too high) ends training,
    with ``history.stopped`` saying why.

    Lesson: notebooks/00_welcome.ipynb, "A model trained in seconds".
    """
    check_module("net", net)
    check_split("train", train)
    if val is not None:
        check_split("val", val)
    epochs = check_int("epochs", epochs, min_value=1, max_value=10_000)
    lr = check_float("lr", lr, low=0, high=10, low_inclusive=False)
    if batch_size is None:
        batch_size = min(64, len(train))
    batch_size = check_int("batch_size", batch_size, min_value=1, max_value=len(train))
    check_choice("optimizer", optimizer, ("adam", "sgd"))
    weight_decay = check_float("weight_decay", weight_decay, low=0, high=1)
    check_choice("schedule", schedule, SCHEDULES)
    check_choice("precision", precision, PRECISIONS)
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    if max_steps is not None:
        max_steps = check_int("max_steps", max_steps, min_value=1)
    for fn_name, fn in (("loss_fn", loss_fn), ("after_step", after_step), ("on_epoch", on_epoch)):
        if fn is not None:
            check_callable(fn_name, fn)
    device = _device_of(net)
    if scaler is None:
        scaler = make_scaler(precision, device)
    elif precision != "float16_scaled":
        raise ValueError(
            f"argument 'scaler' is for precision='float16_scaled'; got precision={precision!r}"
        )
    elif not all(callable(getattr(scaler, m, None)) for m in SCALER_METHODS):
        raise TypeError(
            "argument 'scaler' must be a loss scaler with the methods of torch.amp.GradScaler "
            f"({', '.join(SCALER_METHODS)}), got {type(scaler).__name__}"
        )
    elif callable(getattr(scaler, "is_enabled", None)) and not scaler.is_enabled():
        raise ValueError(
            "argument 'scaler' is switched off (enabled=False): float16 would train unscaled"
        )
    check_autocast_device("device of 'net'", device)
    if loss_fn is not None:
        _check_loss_fn(net, train, loss_fn, precision)

    opt = _make_optimizer(net, optimizer, lr, weight_decay)
    steps_per_epoch = -(-len(train) // batch_size)
    total = (
        epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)
    )
    run = _Run(
        opt,
        torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total)
        if schedule == "onecycle"
        else None,
        scaler,
        precision,
        loss_fn,
        after_step,
        max_steps,
    )
    g = torch.Generator().manual_seed(seed)
    history = History()
    start_time = time.perf_counter()
    with tqdm(range(epochs), desc=desc, disable=not progress, leave=True) as bar:
        for _ in bar:
            order = torch.randperm(len(train), generator=g)
            if not _train_epoch(net, train, order, batch_size, run, history):
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
            if max_steps is not None and run.steps >= max_steps:
                break
    net.eval()
    history.seconds = time.perf_counter() - start_time
    return history
