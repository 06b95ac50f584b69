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
# - meet the running example: Fashion-MNIST, 70,000 small pictures of clothes, and a small
#   CNN trained in seconds;
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
# The blank `____` means "not answered yet". Here is a warm-up question: how many kinds of
# clothing does the course's data set name (its classes are listed below)? Run the cell as it
# is first, to see what a check says about a blank:

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
# differently); a GPU, if you have one, is measured in notebook 05.
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
# ## The running example: Fashion-MNIST
#
# The course works offline, so its data live on this machine: **Fashion-MNIST** (Xiao, Rasul
# and Vollgraf, 2017), 70,000 grey 28x28 pictures of clothes, shoes and bags from Zalando's
# catalogue in ten classes, 60,000 for training and 10,000 for testing. `make setup` unpacked
# it from the `dataset-fashion-mnist` package (or fetched it once) and checked every file
# against its SHA-256. We use it in three parts:
#
# - **train**: what a model learns from, 55,000 images. This notebook takes 5,000 of them, so
#   that a model trains in seconds; the course's baseline model saw all of them;
# - **validation**: 5,000 images held out of the 60,000, 500 per class, for tuning choices
#   (notebooks 01 and 02) and deciding when to stop training;
# - **test**: the 10,000 test images, touched only to report final results.
#
# The test images are many on purpose: with 10,000 of them an accuracy is known to within
# about half a point, so we can see what each technique costs, even when it costs little.

# %%
data = labkit.load_fashion_mnist(train_size=5000)
print(data)
print(data.provenance)
print("classes:", ", ".join(f"{i} {name}" for i, name in enumerate(data.classes)))

# %%
names = [data.classes[i] for i in data.train.y[:24].tolist()]
show_images(data.unnormalize(data.train.X[:24]), names, n=24, cols=12)
plt.suptitle("training images with their labels")
plt.show()

# %% [markdown]
# The validation images are held out of the training images: no image is in both, so a choice
# tuned on the validation images is judged on images the model never learned from.

# %%
shared = set(data.train.source.tolist()) & set(data.val.source.tolist())
print(f"training images: {len(data.train)}, validation: {len(data.val)}, test: {len(data.test)}")
print(f"images both in training and in validation: {len(shared)}")
labkit.expect(not shared, "a validation image is in the training part")

# %% [markdown]
# Every class is equally common in the validation and test parts, so accuracy is a fair single
# number here:

# %%
val_counts = torch.bincount(data.val.y, minlength=10)
test_counts = torch.bincount(data.test.y, minlength=10)
labkit.expect(
    bool((val_counts == 500).all() and (test_counts == 1000).all()),
    "every class should have 500 validation and 1,000 test images",
)
plt.bar(range(10), test_counts.tolist())
plt.xticks(range(10), data.classes, rotation=30, ha="right")
plt.ylabel("test images")
plt.title("test images per class")
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
print(f"trained on {len(data.train):,} images in {history.seconds:.1f} s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
plot_curves(history, "train_loss", ax=axes[0], title="training loss falls")
plot_curves(history, "val_acc", ax=axes[1], title="validation accuracy rises")
plt.show()

# %% [markdown]
# ## Accuracy with its uncertainty
#
# An accuracy measured on test images is itself uncertain: a model that is right 85% of the
# time in general scores a little more or a little less on any particular 10,000 images.
# `labkit.evaluate` reports a **95% confidence interval** (the Wilson interval) with every
# accuracy.

# %%
test_accuracy = labkit.evaluate(net, data.test)
print(f"test accuracy: {test_accuracy}")
labkit.expect_between("test accuracy of a 4-epoch SmallCNN", test_accuracy.value, 0.7, 0.95)
low, high = test_accuracy.interval
labkit.expect(high - low < 0.02, "10,000 test images pin the accuracy to within a point")

# %% [markdown]
# Comparing two models needs more care than comparing their intervals. Scored on the *same*
# images, most images are read right by both models (or wrong by both) and say nothing about
# which is better; only the images on which they **disagree** carry information. If the two
# models were equally good, each such image would be a coin flip between them. The exact
# **McNemar test** asks how surprising the observed split would be for a fair coin, and gives the
# difference in accuracy a 95% interval. When that interval holds zero, the honest verdict is
# "no detectable difference". Here is our 4-epoch model against the course's baseline, which the
# course trained on all 55,000 training images, for longer, and keeps in its model zoo (next
# section):

# %%
baseline = labkit.load_pretrained("baseline")
print(f"the baseline's training: {recipe('baseline')['train']}")
comparison = labkit.compare_models(net, baseline, data.test, names=("4 epochs", "baseline"))
print(comparison)
print(f"McNemar p-value: {comparison.p_value:.3f}")
disagree = comparison.only_a + comparison.only_b
labkit.expect(disagree < 0.3 * len(data.test), "the two models should agree on most images")
labkit.expect_detectable(comparison, "baseline", "the baseline should be detectably better")

# %% [markdown]
# Both numbers are a few lines of arithmetic, written from scratch: the McNemar p-value sums
# the binomial probabilities of a split at least this uneven, and the interval of the
# difference comes from the exact (Clopper-Pearson) interval of that split:

# %%
labkit.show_source(labkit.stats.mcnemar_exact)
labkit.show_source(labkit.stats.clopper_pearson)

# %% [markdown]
# **Notice:** the two models agree on most test images; only the images they disagree on
# decide which is better, and here they are enough to tell: the baseline, trained on eleven
# times the images, is detectably better.

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
# the baseline misreads, in red as `label->prediction` (class numbers, as listed above):

# %%
predictions = labkit.predict(baseline, data.test)
wrong = (predictions != data.test.y).nonzero().flatten()
show_images(
    data.unnormalize(data.test.X[wrong[:24]]),
    data.test.y[wrong[:24]].tolist(),
    predictions[wrong[:24]].tolist(),
    n=24,
    cols=12,
)
plt.show()
print(f"misread: {len(wrong):,} of {len(data.test):,} test images")
confused = torch.bincount(data.test.y[wrong], minlength=10)
print(
    "misread per class:", ", ".join(f"{data.classes[c]} {int(n)}" for c, n in enumerate(confused))
)
tops = [data.classes.index(c) for c in ("T-shirt/top", "Pullover", "Coat", "Shirt")]
labkit.expect(
    int(confused[tops].sum()) > len(wrong) / 2,
    "shirts, T-shirts, pullovers and coats should make up most of the misread pictures",
)

# %% [markdown]
# The misread pictures are mostly shirts, T-shirts, pullovers and coats taken for one another:
# even for a person, a grey 28x28 shirt and a T-shirt can look alike. The count per class above
# is this model's; the exercises below ask you about it.

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
# **Q1.** How many images are in the training part of `data`, and how many validation images
# does each class have?

# %% tags=["exercise"]
n_train = ____
val_per_class = ____
lab00.q1.check(n_train, val_per_class)

# %% [markdown]
# **Q2.** What is the zoo baseline's accuracy on the test part, as a fraction between 0 and 1?

# %% tags=["exercise"]
baseline_test_accuracy = ____
lab00.q2.check(baseline_test_accuracy)

# %% [markdown]
# **Q3.** With 10,000 test images, what is the smallest number of correct answers for which the
# lower end of the 95% interval reaches 90%? Use `labkit.train.accuracy_interval(correct,
# total)`.

# %% tags=["exercise"]
smallest = ____
lab00.q3.check(smallest)

# %% [markdown]
# ## Summary
#
# - Optimization adapts a model to a task and makes it fit a device's compute, memory and energy.
# - `labkit.setup()` makes runs reproducible and reports the CPU features that later lessons
#   depend on (VNNI, AMX, native bf16, a compiler).
# - The running example is Fashion-MNIST: 55,000 training images, 5,000 validation images held
#   out of them, and 10,000 test images that pin an accuracy to within about half a point; and a
#   `SmallCNN` that trains in seconds.
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
# - H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking
#   Machine Learning Algorithms", arXiv:1708.07747, 2017 (the data; MIT licence).
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
