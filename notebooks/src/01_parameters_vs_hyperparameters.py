# %% [markdown]
# # 01 · Parameters vs hyperparameters
#
# ## Overview
#
# A trained model is a pile of numbers. Some of them the model **learned** from data;
# others **we chose** before training began, and they steered how the learning went.
#
# - **Parameters** (weights and biases) are learned in training and make the predictions.
# - **Hyperparameters** (learning rate, batch size, number of epochs, kernel size, number of
#   layers, neurons per layer, ...) are set before training and steer it.
#
# Choosing hyperparameters well is the first optimization in this course: the same model,
# trained with different choices, ends up more or less accurate, faster or slower, bigger or
# smaller. In this notebook you will:
#
# - count and look at the parameters of the real baseline model;
# - run one live experiment for each of five hyperparameters and see its trade-off, each
#   checked on two seeds;
# - play with all four at once in an interactive explorer;
# - meet the *objective* that hyperparameter search (notebook 02) minimizes.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [00 · Welcome](00_welcome.ipynb) | necessary | the data, the model, `labkit.fit` |
# | Gradient descent | helpful | a step downhill on the loss, scaled by the learning rate |
# | Convolution | helpful | a small kernel slides over the image |
#
# **Time to learn:** about 30 minutes.

# %% [markdown]
# ## Imports

# %%
import labkit

labkit.setup()

import functools

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from tqdm.auto import tqdm

from labkit.exercises import ____, lab01
from labkit.hparams import explorer, print_parameter_table
from labkit.measure import activation_memory
from labkit.plots import plot_curves, plot_histogram, plot_tradeoff, show_kernels
from labkit.trial import Hyperparameters
from labkit.zoo import recipe

data = labkit.load_digits()
net = labkit.load_pretrained("digits_baseline")

# %% [markdown]
# ## Parameters: what the model learned
#
# Every tensor that an optimizer step changes is a parameter. `net.named_parameters()` lists
# them; here they are with their shapes. A convolution weight has the shape
# (output channels, input channels, kernel height, kernel width).

# %%
print_parameter_table(net)
buffers = {name: tuple(b.shape) for name, b in net.named_buffers()}
print(f"\nnot parameters: {len(buffers)} buffers, e.g. {list(buffers.items())[:2]}")

# %% [markdown]
# The batch-norm layers also keep **buffers**: running averages of each channel's mean and
# variance, measured from the data during training but never changed by an optimizer step. They
# are stored with the model (and count in its size, notebook 04) but they are not parameters.
#
# The first layer has 16 kernels of 3x3 numbers, each learned from the digits. Drawn as
# pictures (red positive, blue negative), several look like small edge and stroke detectors:

# %%
show_kernels(net.features[0].weight, title="the 16 learned 3x3 kernels of the first convolution")
plt.show()

# %% [markdown]
# Training moved these numbers away from where they started. Compare one layer's weights in a
# freshly initialized model with the same layer after training:

# %%
untrained = labkit.create_model("small_cnn", width=16, kernel_size=3, seed=0)
before, after = untrained.features[4].weight.detach(), net.features[4].weight.detach()
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharex=True)
plot_histogram(before, ax=axes[0], title="before training (random init)", xlabel="weight value")
plot_histogram(after, ax=axes[1], title="after training", xlabel="weight value")
plt.show()
print(f"spread (standard deviation): {before.std():.4f} before, {after.std():.4f} after")
print(f"largest |weight|: {before.abs().max():.3f} before, {after.abs().max():.3f} after")
labkit.expect(bool(after.std() > before.std()), "training should widen the weights' spread")
labkit.expect(
    bool(after.abs().max() > 2 * before.abs().max()), "a few trained weights should grow large"
)

# %% [markdown]
# **Notice:** the trained distribution is wider, and its largest weights are more than twice as
# large as any at the start. This shape matters for pruning (notebook 03: many small weights)
# and quantization (04: a few large ones stretch the grid).

# %% [markdown]
# ## Hyperparameters: what we chose
#
# None of the following was learned. We picked them, and the model's quality depends on them:

# %%
print("architecture:", net.config)
print("training:", recipe("digits_baseline")["train"])
print("number of conv layers:", sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()))

# %% [markdown]
# ## The objective: an error to minimize
#
# To compare choices we need one number to minimize. For an age estimator, the error is the
# number of years its guess is off on photos it did not train on. For our digits, it is the
# **validation error**: the fraction of validation images the model misreads. The validation
# part is used for choosing; the test part stays untouched until the very end, so that the
# final number is not flattered by our choices.
#
# `labkit.train_small_cnn` runs one such experiment: it builds a fresh model with the given
# hyperparameters, trains it, and reports its validation accuracy and error. To keep each run to
# a second or two, the experiments below train for 4 epochs on the first 2,000 training images.
# One run depends on its seed (the initial weights and the order of the batches), so every
# claim below is checked on two seeds. `trained(...)` remembers runs by their full set of
# hyperparameters (`labkit.trial.Hyperparameters`), so a setting shared by two sections, such as
# the defaults, is trained once.

# %%
small = data.with_train_subset(2000)
SEEDS = (0, 1)


@functools.cache
def _run(hyperparameters):
    return labkit.train_small_cnn(small, progress=False, **hyperparameters.as_dict())


def trained(**choices):
    return _run(Hyperparameters.of(epochs=4, **choices))


trial = trained(lr=3e-3)
print(
    f"validation accuracy {trial.val_accuracy}; the objective, validation error = "
    f"{trial.val_error:.3f}"
)

# %% [markdown]
# ## Learning rate: fast but may overshoot, or slow but precise
#
# The learning rate scales every step down the loss. Too small, and in the same number of
# epochs the model barely moves; too large, and steps jump over the valley instead of settling
# in it. We train the same model with four learning rates, two seeds each.

# %%
learning_rates = [1e-4, 3e-3, 3e-2, 1.0]
runs = [(lr, seed) for lr in learning_rates for seed in SEEDS]
lr_runs = {key: trained(lr=key[0], seed=key[1]) for key in tqdm(runs, desc="learning rates")}
lr_trials = {lr: lr_runs[lr, 0] for lr in learning_rates}  # seed 0, for exercise Q4


def smooth(values, window=10):
    return np.convolve(values, np.ones(window) / window, mode="valid")


fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for lr, t in lr_trials.items():
    axes[0].plot(smooth(t.history.batch_loss), label=f"lr={lr:g}")
axes[0].set(xlabel="training step", ylabel="loss (moving average)", title="loss at every step")
axes[0].legend(loc="center right")
plot_curves(
    {f"lr={lr:g}": t.history for lr, t in lr_trials.items()},
    "val_acc",
    ax=axes[1],
    title="validation accuracy (seed 0)",
)
plt.show()
for lr in learning_rates:
    errors = [lr_runs[lr, s].val_error for s in SEEDS]
    print(f"lr={lr:<7g} validation error per seed {', '.join(f'{e:.3f}' for e in errors)}")
for s in SEEDS:
    middle, slow, fast = lr_runs[3e-3, s], lr_runs[1e-4, s], lr_runs[1.0, s]
    labkit.expect_detectable(
        labkit.compare_models(slow.net, middle.net, data.val, names=("1e-4", "3e-3")),
        "3e-3",
        "lr=1e-4 should lag far behind",
    )
    first_epoch = fast.history.batch_loss[: len(fast.history.batch_loss) // 4]
    print(
        f"seed {s}, lr=1: loss {first_epoch[0]:.2f} at the first step, up to "
        f"{max(first_epoch):.2f} in the first epoch"
    )
    labkit.expect(max(first_epoch) > 1.5 * first_epoch[0], "lr=1 should overshoot at first")
    vs_fast = labkit.compare_models(middle.net, fast.net, data.val, names=("3e-3", "1"))
    print(f"seed {s}: {vs_fast}")
    labkit.expect(not (vs_fast.detectable and vs_fast.difference > 0), "lr=1 should not win")

# %% [markdown]
# **Notice:** with both seeds, the smallest rate ends detectably behind 3e-3 (it has barely
# moved), and the largest overshoots: its loss jumps well above where it started before it
# settles, and it ends no better than 3e-3. The best choice lies in between, and only an
# experiment finds it. (Within 4 epochs the large rate recovers well here; with other models it
# may not recover at all.)

# %% [markdown]
# ## Batch size: stable but memory-hungry, or fast but noisy
#
# The batch size is how many images each step averages over. Small batches give many cheap
# but noisy steps (each step is fast, but an epoch of many steps takes long); large batches give
# few smooth steps that need more memory at once. We train
# for the same four epochs at three batch sizes, and measure the memory that one training step
# keeps for its backward pass: the activations of every layer, which grow with the batch.

# %%
batch_sizes = [16, 128, 1024]
batch_runs = {
    (b, s): trained(batch_size=b, seed=s)
    for b, s in tqdm([(b, s) for b in batch_sizes for s in SEEDS], desc="batch sizes")
}
activations = {}
for b in batch_sizes:
    X, y = small.train.X[:b], small.train.y[:b]
    activations[b] = activation_memory(labkit.create_model("small_cnn"), X, y)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for b in batch_sizes:
    t = batch_runs[b, 0]
    steps = np.linspace(0, 4, len(t.history.batch_loss))
    axes[0].plot(steps, t.history.batch_loss, label=f"batch {b}", alpha=0.7, lw=1)
axes[0].set(xlabel="epoch", ylabel="loss of each step", title="noisy small batches, few big ones")
axes[0].legend()
axes[1].bar([str(b) for b in batch_sizes], [activations[b] / 2**20 for b in batch_sizes])
axes[1].set(
    xlabel="batch size",
    ylabel="MB (log scale)",
    yscale="log",
    title="activations kept for the backward pass",
)
plt.show()
for b in batch_sizes:
    t = batch_runs[b, 0]
    errors = ", ".join(f"{batch_runs[b, s].val_error:.3f}" for s in SEEDS)
    print(
        f"batch {b:>3}: {len(t.history.batch_loss):>4} steps, {t.seconds:4.1f} s, "
        f"activations {labkit.format_bytes(activations[b]):>8}, validation error per seed {errors}"
    )
labkit.expect_between(
    "activation memory, batch 1024 / batch 16", activations[1024] / activations[16], 60, 68
)
for s in SEEDS:
    labkit.expect(
        batch_runs[16, s].val_error < batch_runs[1024, s].val_error,
        "in 4 epochs, batch 16 should learn more than batch 1024",
    )
labkit.expect(
    batch_runs[16, 0].seconds > batch_runs[1024, 0].seconds,
    "an epoch of batch 16 should take longer than an epoch of batch 1024",
)

# %% [markdown]
# **Notice:** per epoch of data, the small batches learn the most (many steps), yet in wall-clock
# time an epoch of batch 16 takes longest (every step has a fixed cost); batch 1024 takes two
# smooth steps per epoch and is far from trained. Activation memory grows in proportion to the batch:
# 64x the images, 64x the memory (mind the log scale). A larger batch usually wants a larger
# learning rate or more epochs: the hyperparameters interact.

# %% [markdown]
# ## Epochs: the training loss keeps falling, and the model starts memorizing
#
# One epoch is one pass over the training images. More epochs keep lowering the training loss,
# but what matters is the validation loss. To make the effect visible in seconds we train on
# only 100 original scans (no distorted copies) for 40 epochs, with a learning rate of 0.01.
# One epoch's validation loss is noisy, so we follow its average over 5 epochs.

# %%
few = labkit.load_digits(augment_copies=0).with_train_subset(100)
long_runs = [
    labkit.train_small_cnn(few, epochs=40, lr=1e-2, batch_size=32, seed=s, progress=False)
    for s in tqdm(SEEDS, desc="40 epochs")
]


def average_over_5(values):
    return np.convolve(values, np.ones(5) / 5, mode="valid")  # epoch 3 onwards: centred means


h = long_runs[0].history
smooth_val = average_over_5(h.val_loss)
best_epoch = int(np.argmin(smooth_val)) + 3
plt.plot(range(1, h.epochs + 1), h.train_loss, label="training")
plt.plot(range(1, h.epochs + 1), h.val_loss, label="validation", alpha=0.35)
plt.plot(range(3, h.epochs - 1), smooth_val, label="validation, 5-epoch average", color="C1")
plt.axvline(best_epoch, color="gray", ls="--", label=f"lowest average (epoch {best_epoch})")
plt.xlabel("epoch")
plt.ylabel("loss")
plt.title("loss per epoch on 100 training images (seed 0)")
plt.legend()
plt.show()
for s, run in zip(SEEDS, long_runs, strict=True):
    hs = run.history
    avg = average_over_5(hs.val_loss)
    low = int(np.argmin(avg))
    print(
        f"seed {s}: 5-epoch validation loss lowest {avg[low]:.3f} around epoch {low + 3}, "
        f"{avg[-1]:.3f} at the end ({avg[-1] / avg[low]:.2f}x); training loss at the end "
        f"{hs.train_loss[-1]:.3f}"
    )
    train_avg = average_over_5(hs.train_loss)
    train_fell, val_fell = train_avg[0] / train_avg[-1], avg[0] / avg[-1]
    print(
        f"  first 5 epochs to last 5: training loss divided by {train_fell:.1f}, "
        f"validation loss by {val_fell:.2f}"
    )
    labkit.expect(hs.train_loss[-1] < avg[-1] / 2, "training loss far below validation")
    labkit.expect(
        train_fell > 3 * val_fell,
        f"the training loss divided by {train_fell:.1f}, not 3x the validation's {val_fell:.2f}",
    )

# %% [markdown]
# **Notice:** with both seeds the training loss ends below half the validation loss (its last
# 5-epoch average), and from the first five epochs to the last five it is divided by a factor
# more than three times the validation loss's (the lines above print both factors, and where
# each seed's average validation loss was lowest). The model fits these 100 images far better
# than digits it has not seen: that is overfitting. Keeping the weights of the epoch with the
# lowest validation loss is called *early stopping*.

# %% [markdown]
# ## Kernel size: wider patterns, or finer detail and less compute
#
# A bigger kernel sees a wider patch of the image at once, but it has more weights and each
# output costs more multiply-accumulates (MACs). Here are four kernel sizes, with accuracy and its
# 95% interval against the compute per image. Two models scored on the same validation images are
# a *paired* comparison: `labkit.compare_models` counts the images only one of them gets right
# and says whether the difference is larger than chance (notebook 00).

# %%
one_image = data.test.X[:1]
kernels = [1, 3, 5, 7]
kernel_runs = {
    (k, s): trained(kernel_size=k, seed=s)
    for k, s in tqdm([(k, s) for k in kernels for s in SEEDS], desc="kernel sizes")
}
kernel_trials = {k: kernel_runs[k, 0] for k in kernels}
macs = {k: labkit.count_macs(t.net, one_image) for k, t in kernel_trials.items()}
plot_tradeoff(
    [macs[k] for k in kernels],
    [t.val_accuracy.value for t in kernel_trials.values()],
    labels=[f"{k}x{k}" for k in kernels],
    yerr=[t.val_accuracy.interval for t in kernel_trials.values()],
    xlabel="multiply-accumulates per image",
    ylabel="validation accuracy",
    title="kernel size: accuracy vs compute (seed 0)",
    logx=True,
)
plt.show()
pairs = [(3, 1), (3, 5), (5, 7)]
verdicts = {}
for a, b in pairs:
    for s in SEEDS:
        cmp = labkit.compare_models(
            kernel_runs[a, s].net, kernel_runs[b, s].net, data.val, names=(f"{a}x{a}", f"{b}x{b}")
        )
        verdicts[a, b, s] = cmp
        print(f"seed {s}: {cmp}")
for s in SEEDS:
    labkit.expect_detectable(verdicts[3, 1, s], "3x3", "a 1x1 kernel sees no shape")
for k in (5, 7):  # the convolutions' work grows with the kernel's area: (k/3)^2 times
    labkit.expect_between(
        f"MACs {k}x{k} / 3x3 over (k/3)^2", macs[k] / macs[3] / (k / 3) ** 2, 0.9, 1
    )

# %% [markdown]
# **Notice:** in 4 epochs, a 1x1 kernel cannot see shapes and fails detectably with both seeds,
# while the compute grows almost with the kernel's area. For the larger kernels, read the printed
# verdicts for each seed: a gain that is detectable with one seed and not with the other is not
# one to build on; to decide, a search (notebook 02) averages seeds.

# %% [markdown]
# ## Number of layers: deeper sees more, and costs more
#
# The number of layers is a hyperparameter too: `SmallCNN(depth=...)` stacks that many conv
# blocks (3 in the baseline). Each block sees a wider part of the image through the ones below
# it, and each adds parameters and compute.

# %%
depths = [1, 2, 3, 4]
depth_runs = {
    (d, s): trained(depth=d, seed=s)
    for d, s in tqdm([(d, s) for d in depths for s in SEEDS], desc="depths")
}
for d in depths:
    t = depth_runs[d, 0]
    errors = ", ".join(f"{depth_runs[d, s].val_error:.3f}" for s in SEEDS)
    print(
        f"depth {d}: {t.n_params:>6,} parameters, {labkit.count_macs(t.net, one_image):>9,} MACs, "
        f"validation error per seed {errors}"
    )
depth_cmp = {
    (a, b, s): labkit.compare_models(
        depth_runs[a, s].net, depth_runs[b, s].net, data.val, names=(f"depth {a}", f"depth {b}")
    )
    for a, b in [(2, 3), (3, 4)]
    for s in SEEDS
}
for cmp in depth_cmp.values():
    print(cmp)
for s in SEEDS:
    labkit.expect(depth_runs[1, s].val_error > 0.5, "one block should fail")
    labkit.expect_detectable(depth_cmp[2, 3, s], "depth 3", "three blocks should beat two")
params = [depth_runs[d, 0].n_params for d in depths]
labkit.expect(params == sorted(params), "each block adds parameters")

# %% [markdown]
# **Notice:** in 4 epochs, one block fails and three beat two detectably with both seeds, and
# every block adds parameters. What a fourth block buys is printed per seed above: read its
# intervals before paying for it. Depth, like kernel size, trades accuracy for size and compute.

# %% [markdown]
# ## Explore: all four at once
#
# Choose values and press **Train**. Each run trains a fresh model on 1,000 training images in
# a few seconds and adds its curves to the plot (the last four runs are kept). Try a learning
# rate of 0.1 with batch size 16, then with batch size 512. We press it once here, with the
# defaults.

# %%
app = explorer(data)
display(app)
app.train()

# %% [markdown]
# ## Exercises
#
# **Q1.** How many learned numbers (parameters) does the baseline `net` have? Count them
# yourself, from `net.parameters()`.

# %% tags=["exercise"]
n_params = ____
lab01.q1.check(n_params)

# %% [markdown]
# **Q2.** Which of the names in `lab01.Q2_ITEMS` are hyperparameters? Answer with a set.

# %%
print(lab01.Q2_ITEMS)

# %% tags=["exercise"]
hyperparameters = ____
lab01.q2.check(hyperparameters)

# %% [markdown]
# **Q3.** Write `conv_params(c_in, c_out, k, bias)`, the number of parameters of
# `nn.Conv2d(c_in, c_out, k, bias=bias)`. The check compares it with PyTorch on several shapes.


# %% tags=["exercise"]
def conv_params(c_in, c_out, k, bias):
    return ____


lab01.q3.check(conv_params)

# %% [markdown]
# **Q4.** In the learning-rate experiment above, which learning rate reached the lowest
# validation error (the objective)? Answer with the number; the check reads `lr_trials`.

# %% tags=["exercise"]
best_lr = ____
lab01.q4.check(best_lr, lr_trials)

# %% [markdown]
# **Q5.** How many times more multiply-accumulates per image does a `SmallCNN` with 5x5 kernels
# need than one with 3x3 kernels, on one 16x16 image? Measure, do not guess.

# %% tags=["exercise"]
ratio = ____
lab01.q5.check(ratio)

# %% [markdown]
# ## Summary
#
# - Parameters are learned; hyperparameters are chosen before training and steer it.
# - Learning rate: too small is slow, too large overshoots. Batch size: small is noisy and slow
#   per epoch in seconds, large needs memory and more epochs. Epochs: more of them lower the
#   training loss far faster than the validation loss once the model memorizes its training
#   images (overfitting). Kernel size and depth: wider patterns and more
#   capacity for more parameters and compute, with gains that stop paying.
# - One training run is one seed: check a claim on several seeds, and compare two models on the
#   same images as a paired question.
# - The hyperparameters interact, and each trial costs a training run.
# - Tuning minimizes an objective measured on validation data (here the validation error),
#   never on the test data.
#
# ## What's next
#
# Trying values one at a time does not scale: four hyperparameters with ten values each are
# 10,000 trainings. [02 · Hyperparameter search](02_hyperparameter_search.ipynb) compares grid,
# random, Bayesian and tensor-train search on one budget of trials.
#
# ## Resources and references
#
# - Y. Bengio, "Practical recommendations for gradient-based training of deep architectures",
#   2012, arXiv:1206.5533: what each hyperparameter does, and how to set it.
# - D. Masters and C. Luschi, "Revisiting small batch training for deep neural networks", 2018,
#   arXiv:1804.07612: the batch-size trade-off measured.
# - L. Prechelt, "Early stopping, but when?", in *Neural Networks: Tricks of the Trade*, 1998.
# - A. Zhang et al., *Dive into Deep Learning*, d2l.ai, sections 7.2 (convolutions) and 12
#   (optimization).
