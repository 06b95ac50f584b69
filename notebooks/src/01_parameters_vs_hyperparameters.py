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
# - run one live experiment for each of four hyperparameters and see its trade-off;
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

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display

from labkit.exercises import ____, lab01
from labkit.hparams import explorer, print_parameter_table
from labkit.measure import activation_memory
from labkit.plots import plot_curves, plot_histogram, plot_tradeoff, show_kernels
from labkit.zoo import recipe

data = labkit.load_digits()
net = labkit.load_pretrained("baseline")

# %% [markdown]
# ## Parameters: what the model learned
#
# Every tensor that an optimizer step changes is a parameter. `net.named_parameters()` lists
# them; here they are with their shapes. A convolution weight has the shape
# (output channels, input channels, kernel height, kernel width).

# %%
print_parameter_table(net)

# %% [markdown]
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
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharex=True)
plot_histogram(
    untrained.features[4].weight,
    ax=axes[0],
    title="before training (random init)",
    xlabel="weight value",
)
plot_histogram(net.features[4].weight, ax=axes[1], title="after training", xlabel="weight value")
plt.show()
change = (net.features[4].weight - untrained.features[4].weight).abs().mean().item()
print(f"mean absolute change per weight: {change:.4f}")

# %% [markdown]
# **Notice:** the trained distribution is wider with longer tails; a few weights grew large.
# Pruning (notebook 03) and quantization (04) will exploit exactly this shape.

# %% [markdown]
# ## Hyperparameters: what we chose
#
# None of the following was learned. We picked them, and the model's quality depends on them:

# %%
print("architecture:", net.config)
print("training:", recipe("baseline")["train"])
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
# a second or two, the experiments below train on the first 2,000 training images.

# %%
small = data.with_train_subset(2000)
trial = labkit.train_small_cnn(small, lr=3e-3, batch_size=64, epochs=4, kernel_size=3)
print(
    f"validation accuracy {trial.val_accuracy}; the objective, validation error = "
    f"{trial.val_error:.3f}"
)

# %% [markdown]
# ## Learning rate: fast but may overshoot, or slow but precise
#
# The learning rate scales every step down the loss. Too small, and in the same number of
# epochs the model barely moves; too large, and steps jump over the valley, so the loss jumps
# around. We train the same model with four learning rates for four epochs each.

# %%
lr_trials = {lr: labkit.train_small_cnn(small, lr=lr, epochs=4) for lr in [1e-4, 1e-3, 1e-2, 1e-1]}


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
    title="validation accuracy",
)
plt.show()
for lr, t in lr_trials.items():
    print(f"lr={lr:<7g} validation {t.val_accuracy}")

# %% [markdown]
# **Notice:** the smallest rate is still far from done after four epochs, while the largest
# one's loss is jumpy. The best choice sits in between, and only an experiment finds it.

# %% [markdown]
# ## Batch size: stable but memory-hungry, or fast but noisy
#
# The batch size is how many images each step averages over. Small batches give many cheap
# but noisy steps; large batches give few smooth steps that need more memory at once. We train
# for the same four epochs at three batch sizes, and measure the memory that one training step
# keeps for its backward pass: the activations of every layer, which grow with the batch.

# %%
batch_trials, activations = {}, {}
for batch_size in [8, 64, 512]:
    batch_trials[batch_size] = labkit.train_small_cnn(small, batch_size=batch_size, epochs=4)
    X, y = small.train.X[:batch_size], small.train.y[:batch_size]
    activations[batch_size] = activation_memory(labkit.create_model("small_cnn"), X, y)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for batch_size, t in batch_trials.items():
    steps = np.linspace(0, 4, len(t.history.batch_loss))
    axes[0].plot(steps, t.history.batch_loss, label=f"batch {batch_size}", alpha=0.7, lw=1)
axes[0].set(xlabel="epoch", ylabel="loss of each step", title="noisy small batches, few big ones")
axes[0].legend()
sizes = list(batch_trials)
axes[1].bar([str(b) for b in sizes], [activations[b] / 2**20 for b in sizes])
axes[1].set(
    xlabel="batch size",
    ylabel="MB (log scale)",
    yscale="log",
    title="activations kept for the backward pass",
)
plt.show()
for batch_size, t in batch_trials.items():
    print(
        f"batch {batch_size:>3}: {len(t.history.batch_loss):>4} steps, {t.seconds:4.1f} s, "
        f"activations {labkit.format_bytes(activations[batch_size]):>8}, "
        f"validation {t.val_accuracy}"
    )

# %% [markdown]
# **Notice:** with the same number of epochs, batch 512 takes only a handful of steps and is
# far from trained, while batch 8 takes many steps and is slowest per epoch. Activation memory
# grows in proportion to the batch (mind the log scale). A larger batch usually wants a larger learning rate or more epochs: the
# hyperparameters interact.

# %% [markdown]
# ## Epochs: more accuracy, until the model starts memorizing
#
# One epoch is one pass over the training images. More epochs keep lowering the training loss,
# but what matters is the validation loss. To make the effect visible in seconds we train on
# only 100 original scans (no distorted copies) for 60 epochs.

# %%
few = labkit.load_digits(augment_copies=0).with_train_subset(100)
long_run = labkit.train_small_cnn(few, epochs=60, batch_size=32)
h = long_run.history
best_epoch = int(np.argmin(h.val_loss)) + 1
epochs = range(1, h.epochs + 1)
plt.plot(epochs, h.train_loss, label="training")
plt.plot(epochs, h.val_loss, label="validation")
plt.axvline(best_epoch, color="gray", ls="--")
plt.annotate(
    f"lowest validation loss (epoch {best_epoch})",
    (best_epoch, h.val_loss[best_epoch - 1]),
    textcoords="offset points",
    xytext=(-60, 40),
)
plt.xlabel("epoch")
plt.ylabel("loss")
plt.title("loss per epoch on 100 training images")
plt.legend()
plt.show()
print(
    f"at epoch {best_epoch}: training loss {h.train_loss[best_epoch - 1]:.3f}, "
    f"validation loss {h.val_loss[best_epoch - 1]:.3f}"
)
print(
    f"at epoch {h.epochs}: training loss {h.train_loss[-1]:.3f}, "
    f"validation loss {h.val_loss[-1]:.3f}"
)

# %% [markdown]
# **Notice:** the training loss heads to zero, while the validation loss levels off far above
# it. That gap is memorization: the model fits these 100 images better than it understands
# digits. Epochs past the lowest validation loss cost time and buy nothing (or, with bigger
# models and less data, make things worse: overfitting). Stopping there is called *early stopping*.

# %% [markdown]
# ## Kernel size: wider patterns, or finer detail and less compute
#
# A bigger kernel sees a wider patch of the image at once, but it has more weights and each
# output costs more multiply-accumulates (MACs). Here are four kernel sizes, with accuracy and its
# 95% interval against the compute per image:

# %%
one_image = data.test.X[:1]
kernel_trials = {k: labkit.train_small_cnn(small, kernel_size=k, epochs=4) for k in [1, 3, 5, 7]}
macs = [labkit.count_macs(t.net, one_image) for t in kernel_trials.values()]
plot_tradeoff(
    macs,
    [t.val_accuracy.value for t in kernel_trials.values()],
    labels=[f"{k}x{k}" for k in kernel_trials],
    yerr=[t.val_accuracy.interval for t in kernel_trials.values()],
    xlabel="multiply-accumulates per image",
    ylabel="validation accuracy",
    title="kernel size: accuracy vs compute",
    logx=True,
)
plt.show()
for k, t in kernel_trials.items():
    print(f"{k}x{k}: {t.n_params:>6,} parameters, validation {t.val_accuracy}")

# %% [markdown]
# **Notice:** a 1x1 kernel cannot see shapes at all and fails; 3x3 is far better; beyond that
# the gains shrink while compute grows almost with the kernel's area. Where intervals overlap,
# the difference may be noise.

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
# need than one with 3x3 kernels? Measure, do not guess.

# %% tags=["exercise"]
ratio = ____
lab01.q5.check(ratio)

# %% [markdown]
# ## Summary
#
# - Parameters are learned; hyperparameters are chosen before training and steer it.
# - Learning rate: too small is slow, too large overshoots. Batch size: small is noisy,
#   large needs memory and more epochs. Epochs: more helps until the model memorizes.
#   Kernel size: wider patterns for more parameters and compute.
# - The hyperparameters interact, and each trial costs a training run.
# - Tuning minimizes an objective measured on validation data (here the validation error),
#   never on the test data.
#
# ## What's next
#
# Trying values one at a time does not scale: four hyperparameters with ten values each are
# 10,000 trainings. Notebook 02 compares grid, random, Bayesian and tensor-train search, which
# find good settings in far fewer trials.
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
