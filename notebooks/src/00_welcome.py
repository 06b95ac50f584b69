# %% [markdown]
# # 00 · Welcome: small and fast vision models
#
# ## Overview
#
# Engineers rarely train a vision model from scratch. They take an open model
# (ResNet for face recognition, YOLO for traffic or sport analytics, VGG for
# style transfer or content moderation) and then have two jobs:
#
# 1. **adapt it** to their exact scenario (the model knows food, the app needs drinks), and
# 2. **make it fit the device**: a phone with 6 GB of memory shared with everything else,
#    a smart camera, an IoT board, each with limited compute, memory, energy and battery.
#
# Optimization makes models **smaller and faster**, for cheaper inference, faster
# training, and deployment on more platforms. This course teaches the techniques
# one notebook at a time, each on a real model that trains in seconds on a laptop
# CPU, with every number measured live.
#
# In this notebook you will:
#
# - learn how the course works: cells to run, exercises with automatic checks, hints and solutions;
# - check your machine, and learn what its processor means for later lessons;
# - meet the running example: real handwritten digits and a small CNN trained in seconds;
# - see the syllabus.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | Python and NumPy | necessary | loops, functions, arrays |
# | A neural network's training loop | helpful | we use `labkit.fit`, so you need not write one |
# | PyTorch tensors and `nn.Module` | helpful | the notebooks explain what they use |
#
# **Time to learn:** about 20 minutes.

# %% [markdown]
# ## Imports
#
# Every notebook starts the same way: `labkit.setup()` seeds every random number
# generator (so the same run prints the same numbers), fixes the number of threads,
# keeps the model hub offline unless you opt in, and prints what this machine is.

# %%
import labkit

env = labkit.setup()

import matplotlib.pyplot as plt
import torch

from labkit.exercises import ____, lab00
from labkit.models import footprint
from labkit.plots import plot_curves, show_images
from labkit.zoo import recipe

# %% [markdown]
# ## How the course works
#
# Each notebook is a sequence of short sections: an idea, the code that shows it,
# a picture, and one sentence on what to notice. Run the cells in order with
# **Shift+Enter**. Nothing is typed in by hand: every number you see was computed
# by the code you just ran, so it may differ slightly on your machine.
#
# Near the end of each notebook come **exercises**. Each one is an object with three methods:
#
# - `check(answer)` tells you whether your answer is right, and if not, what is off;
# - `hint()` gives a nudge;
# - `solution()` shows a complete answer.
#
# The blank `____` means "not answered yet". Here is a warm-up question: how many different
# digits are there? Run the cell as it is first, to see what a check says about a blank:

# %% tags=["exercise"]
n_classes = ____
lab00.q0.check(n_classes)

# %% [markdown]
# A blank is not an error: the notebook keeps running. Now replace `____` with your answer and
# run the cell again. Try a wrong answer too, and `lab00.q0.hint()` in a new cell.

# %% [markdown]
# ## Your machine
#
# `labkit.setup()` printed the versions and the processor's features above. Three of them
# decide how fast later techniques run on a CPU:
#
# - **VNNI** (AVX-512 VNNI or AVX-VNNI): int8 dot products in one instruction. With it, int8
#   inference (notebook 04) can beat compiled float32 on real-size layers; without it, int8
#   models are still about 4x smaller but barely faster.
# - **AMX**: matrix tiles on recent Intel Xeons, for int8 and bfloat16 matrix products.
# - **native bf16**: bfloat16 arithmetic in hardware. Without it, 16-bit training on a CPU
#   (notebook 05) is emulated and much *slower* than float32; mixed precision pays off on GPUs.
#
# `torch.compile` also needs a C++ compiler that works on the CPU: `labkit` tries it on a tiny
# file rather than trusting that one is installed. The course trains every model on the CPU, so
# that a run prints the same numbers each time on your machine (another CPU may round a little
# differently); a GPU, if you have one, will be measured in notebook 05 (coming).
# The same report is available in a terminal as `labkit doctor`.

# %%
cpu = labkit.cpu_features()
print(f"processor: {cpu.name}")
print(f"PyTorch kernels use: {cpu.capability}")
print(f"VNNI: {cpu.vnni}, AMX: {cpu.amx}, native bf16: {cpu.native_bf16}")
print(f"C++ compiler for torch.compile: {cpu.compiler or 'none found'}")
print(f"int8 speed path of notebook 04 available here: {cpu.int8_speed_path}")
print("training runs on: the CPU (models are built there; a run prints the same numbers each time)")
accelerator = labkit.get_device()
print(f"GPU for later measurements: {'none' if accelerator.type == 'cpu' else accelerator}")

# %% [markdown]
# ## The running example: real handwritten digits
#
# The course works offline, so its data ships with it: 1,797 real handwritten digits written by
# 13 people (the test set of the UCI digits, included in scikit-learn; each is a 32x32 scan
# reduced to 8x8 cells that count its inked pixels, 0 to 16). We upscale them to 16x16 and split
# them into three parts:
#
# - **train**: what the model learns from,
# - **validation**: what we tune choices on (notebooks 01 and 02),
# - **test**: touched only to report the final accuracy.
#
# To give the model more to learn from, each training scan also appears as three slightly
# rotated, scaled and shifted copies. The split is made on the *original scans first*, so
# no copy of a test digit ever appears in training: otherwise the test would measure memory,
# not skill.

# %%
data = labkit.load_digits()
print(data)
print(data.provenance)

# %%
show_images(data.unnormalize(data.train.X[:24]), data.train.y[:24].tolist(), n=24, cols=12)
plt.suptitle("training images (originals and distorted copies) with their labels")
plt.show()

# %% [markdown]
# The distorted copies of one scan look like this; notice that they are still clearly the same digit.

# %%
first_source = data.train.source[0].item()
copies = (data.train.source == first_source).nonzero().flatten()
show_images(data.unnormalize(data.train.X[copies]), data.train.y[copies].tolist(), n=len(copies))
plt.show()

train_sources = set(data.train.source.tolist())
test_sources = set(data.test.source.tolist())
shared = train_sources & test_sources
print(
    f"scans used in training: {len(train_sources)}, in testing: {len(test_sources)}, "
    f"in both: {len(shared)}"
)
labkit.expect(not shared, "a test scan leaked into training")

# %% [markdown]
# Every class is about equally common, so accuracy is a fair single number here:

# %%
counts = torch.bincount(data.train.y, minlength=10)
labkit.expect(bool(counts.min() > 0.9 * counts.max()), "every class should be about as common")
plt.bar(range(10), counts.tolist())
plt.xticks(range(10), data.classes)
plt.xlabel("digit")
plt.ylabel("training images")
plt.title("training images per class")
plt.show()

# %% [markdown]
# ## A model trained in seconds
#
# The course model is `SmallCNN`: three convolution blocks and a linear classifier. Its
# `width` (channels) and `kernel_size` are arguments, so later notebooks can make it bigger,
# smaller or differently shaped. We train it for a few passes over the data (**epochs**);
# the progress bar shows the loss and the validation accuracy.

# %%
net = labkit.create_model("small_cnn", width=16, kernel_size=3)
history = labkit.fit(net, data.train, data.val, epochs=4, lr=3e-3, batch_size=64)
print(f"trained in {history.seconds:.1f} s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
plot_curves(history, "train_loss", ax=axes[0], title="training loss falls")
plot_curves(history, "val_acc", ax=axes[1], title="validation accuracy rises")
plt.show()

# %% [markdown]
# ## Accuracy with its uncertainty
#
# The test part has a few hundred images, so an accuracy measured on it is itself uncertain:
# a model that is right 98% of the time in general may score 97% or 99% on these particular
# images. `labkit.evaluate` reports a **95% confidence interval** (the Wilson interval) with
# every accuracy.

# %%
test_accuracy = labkit.evaluate(net, data.test)
print(f"test accuracy: {test_accuracy}")
labkit.expect_between("test accuracy of a 4-epoch SmallCNN", test_accuracy.value, 0.9, 1.0)

# %% [markdown]
# Comparing two models needs more care than comparing their intervals. Scored on the *same*
# images, most images are read right by both models (or wrong by both) and say nothing about
# which is better; only the images on which they **disagree** carry information. If the two
# models were equally good, each such image would be a coin flip between them. The exact
# **McNemar test** asks how surprising the observed split would be for a fair coin, and gives the
# difference in accuracy a 95% interval. When that interval holds zero, the honest verdict is
# "no detectable difference". Here is our 4-epoch model against the course's baseline, which the
# course trained longer and keeps in its model zoo (next section):

# %%
baseline = labkit.load_pretrained("baseline")
print(f"the baseline's training: {recipe('baseline')['train']}")
comparison = labkit.compare_models(net, baseline, data.test, names=("4 epochs", "baseline"))
print(comparison)
print(f"McNemar p-value: {comparison.p_value:.3f}")
disagree = comparison.only_a + comparison.only_b
labkit.expect(disagree < 0.1 * len(data.test), "the two models should agree on most images")

# %% [markdown]
# Both numbers are a few lines of arithmetic, written from scratch: the McNemar p-value sums
# the binomial probabilities of a split at least this uneven, and the interval of the
# difference comes from the exact (Clopper-Pearson) interval of that split:

# %%
labkit.show_source(labkit.stats.mcnemar_exact)
labkit.show_source(labkit.stats.clopper_pearson)

# %% [markdown]
# **Notice:** the two models disagree on fewer than one test image in ten; only those images
# decide which model is better, and the verdict above says whether they are enough to tell.

# %% [markdown]
# ## The model zoo
#
# Later notebooks start from the same trained checkpoint, so everyone compares against the
# same baseline. It lives in `data/zoo/`, was trained by `labkit zoo build`, and is checked
# against its SHA-256 fingerprint before loading (an altered file is refused).

# %%
baseline_accuracy = labkit.evaluate(baseline, data.test)
print(f"zoo baseline, test accuracy: {baseline_accuracy}")

one_image = data.test.X[:1]
print(f"learned parameters: {labkit.count_parameters(baseline):,}")
print(f"bytes of numbers it holds: {labkit.format_bytes(labkit.tensor_bytes(baseline))}")
print(f"size of its file on disk: {labkit.format_bytes(labkit.file_bytes(baseline))}")
print(f"multiply-accumulates per image: {labkit.count_macs(baseline, one_image):,}")
latency = labkit.measure_latency(baseline, one_image, runs=30)
print(f"latency for one image: {latency}")
print(labkit.reference_timing("00.latency_one_image_ms", latency.median_ms))

# %% [markdown]
# These four measurements (parameters, bytes, operations, milliseconds) are the quantities
# every later technique tries to shrink, while keeping the accuracy. Here are the test images
# the baseline misreads, in red as `label->prediction`, then a few it reads right:

# %%
predictions = labkit.predict(baseline, data.test)
wrong = (predictions != data.test.y).nonzero().flatten()
shown = torch.cat([wrong, (predictions == data.test.y).nonzero().flatten()[: 24 - len(wrong)]])
show_images(
    data.unnormalize(data.test.X[shown]),
    data.test.y[shown].tolist(),
    predictions[shown].tolist(),
    n=24,
    cols=12,
)
plt.show()
print(f"misread: {len(wrong)} of {len(data.test)} test images")

# %% [markdown]
# ## Why the course model is small
#
# The models that engineers start from are far bigger. `labkit.models.footprint` builds a model
# on PyTorch's `meta` device (shapes only, no memory, no download) and counts its parameters and
# float32 bytes: the ResNets used for face recognition, VGG-16 (style transfer, moderation) and
# CSPDarknet-53, the backbone of the YOLOv4 detector (traffic, sport analytics), beside ours and
# beside the memory of three devices.

# %%
models = {
    "course SmallCNN": "small_cnn",
    "ResNet-18": "resnet18",
    "ResNet-50": "resnet50",
    "CSPDarknet-53 (YOLOv4 backbone)": "cspdarknet53",
    "VGG-16": "vgg16",
}
sizes = {label: footprint(name) for label, name in models.items()}
# Device memory, from the makers' specifications (see Resources): the model must share it.
devices = {
    "a phone with 6 GB of RAM": 6 * 2**30,
    "Raspberry Pi Zero 2 W (512 MB)": 512 * 2**20,
    "ESP32-S3 microcontroller (512 KB SRAM)": 512 * 2**10,
}
for label, size in sizes.items():
    print(
        f"{label:>32}: {size['parameters']:>12,} parameters, "
        f"{labkit.format_bytes(size['bytes']):>9} in float32"
    )
fig, ax = plt.subplots(figsize=(8, 3.2))
ax.barh(list(sizes), [size["bytes"] for size in sizes.values()])
ax.set_xscale("log")
for (device, memory), colour in zip(devices.items(), ("C1", "C2", "C3"), strict=True):
    ax.axvline(memory, color=colour, ls="--", label=device)
ax.set_xlabel("bytes (log scale)")
ax.legend(fontsize=8, loc="lower right")
ax.set_title("float32 model sizes and device memory")
plt.show()
vgg, ours = sizes["VGG-16"]["bytes"], sizes["course SmallCNN"]["bytes"]
print(f"VGG-16 is {vgg / ours:,.0f}x our model")
labkit.expect(vgg > devices["Raspberry Pi Zero 2 W (512 MB)"], "VGG-16 should not fit a Pi Zero")
chip = devices["ESP32-S3 microcontroller (512 KB SRAM)"]
labkit.expect(ours < chip, "ours should fit the microcontroller")
labkit.expect(
    all(size["bytes"] > chip for label, size in sizes.items() if label != "course SmallCNN"),
    "no real model should fit the microcontroller",
)

# %% [markdown]
# **Notice:** VGG-16 alone is larger than all the memory of the small board, and none of the
# real models fits the microcontroller, while ours does; being this small is also why ours
# trains in seconds on a laptop. Every technique in this course applies to the big ones too,
# and the course's benchmarks (`labkit bench ...`) measure them on ResNet-18 as well.

# %% [markdown]
# ## The syllabus
#
# | # | Notebook | The question it answers |
# |---|---|---|
# | 00 | Welcome (this one) | How does the course work, and what will we optimize? |
# | 01 | [Parameters vs hyperparameters](01_parameters_vs_hyperparameters.ipynb) | What does a model learn, and what must we choose? |
# | 02 | [Hyperparameter search](02_hyperparameter_search.ipynb) | Grid, random, Bayesian or tensor-train: which finds good settings in fewest trials? |
# | 03 | [Pruning](03_pruning.ipynb) | Which weights, neurons or filters can go, and what does removing them really save? |
# | 04 | [Quantization](04_quantization.ipynb) | What changes when float32 becomes int8, and when is it faster? |
# | 05 | [Mixed precision](05_mixed_precision.ipynb) | Where can 16-bit numbers replace 32-bit ones, and why scale the loss? |
# | 06 | [Matrix factorization](06_matrix_factorization.ipynb) | How does a product of small matrices replace a big one? |
# | 07 | [Knowledge distillation](07_knowledge_distillation.ipynb) | How does a small student learn from a large teacher? |
# | 08 | Capstone *(coming)* | Adapt a model to a new task, then make it fit a device. |
#
# Which technique to choose depends on the hardware, its memory and compute limits, and the
# accuracy the application needs; in practice engineers combine several.

# %% [markdown]
# ## Exercises
#
# **Q1.** How many images are in the training part, and from how many distinct original scans
# were they made? (`data.train.source` holds each image's scan index.)

# %% tags=["exercise"]
n_train = ____
n_originals = ____
lab00.q1.check(n_train, n_originals)

# %% [markdown]
# **Q2.** What is the zoo baseline's accuracy on the test part, as a fraction between 0 and 1?

# %% tags=["exercise"]
baseline_test_accuracy = ____
lab00.q2.check(baseline_test_accuracy)

# %% [markdown]
# **Q3.** With 450 test images, what is the smallest number of correct answers for which the
# lower end of the 95% interval reaches 98%? Use `labkit.train.accuracy_interval(correct, total)`.

# %% tags=["exercise"]
smallest = ____
lab00.q3.check(smallest)

# %% [markdown]
# ## Summary
#
# - Optimization adapts a model to a task and makes it fit a device's compute, memory and energy.
# - `labkit.setup()` makes runs reproducible and reports the CPU features that later lessons
#   depend on (VNNI, AMX, native bf16, a compiler).
# - The running example is real handwritten digits, split by original scan so nothing leaks,
#   and a `SmallCNN` that trains in seconds.
# - Every accuracy comes with a 95% interval. Two models on the same images are compared paired
#   (McNemar): only the images they disagree on count, and "no detectable difference" is an
#   honest answer.
# - Real models (ResNet, YOLO, VGG) are hundreds to thousands of times larger than ours, and
#   some larger than a small board's memory, all larger than a microcontroller's: that is what the
#   techniques are for.
# - We measure models by parameters, bytes, multiply-accumulates and latency.
#
# ## What's next
#
# [01 · Parameters vs hyperparameters](01_parameters_vs_hyperparameters.ipynb) takes the model
# apart: which numbers it learned (parameters) and which we chose (hyperparameters), with a
# live experiment for each choice.
#
# ## Resources and references
#
# - E. Alpaydin and C. Kaynak, *Optical Recognition of Handwritten Digits*, UCI Machine
#   Learning Repository, 1998 (the digits; CC BY 4.0).
# - E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
#   *JASA* 22 (1927): the interval used for every accuracy.
# - Q. McNemar, "Note on the sampling error of the difference between correlated proportions or
#   percentages", *Psychometrika* 12 (1947); C. J. Clopper and E. S. Pearson, *Biometrika* 26
#   (1934): the paired test and the exact interval behind `labkit.compare_models`.
# - Device memory: Raspberry Pi Zero 2 W product brief (512 MB LPDDR2), Raspberry Pi Ltd, 2021;
#   ESP32-S3 datasheet (512 KB SRAM), Espressif Systems; A. Bochkovskiy, C.-Y. Wang,
#   H.-Y. M. Liao, *YOLOv4*, arXiv:2004.10934, 2020 (the CSPDarknet-53 backbone).
# - A. Zhang, Z. Lipton, M. Li, A. Smola, *Dive into Deep Learning*, d2l.ai, chapter 7 on
#   convolutional networks.
