# %% [markdown]
# # 03 · Pruning
#
# ## Overview
#
# A trained network holds many weights that contribute little. **Pruning** removes them:
# the model gets smaller and can get cheaper to run, often while staying nearly as accurate,
# which is what phones and IoT devices need. In the matrix picture, some entries become "-".
#
# - **What** to remove: single weights (*unstructured*, or weight pruning), whole neurons
#   (a row of a layer), or whole structures such as conv filters and channels (*structured*).
# - **How** to judge importance after training: by **magnitude** (small |w| matters little) or
#   by **sensitivity analysis** (prune a layer and measure what the accuracy does).
# - **Then fine-tune**: retrain the survivors a little to recover accuracy.
#
# And one thing tutorials often skip: zeros in a dense tensor save *nothing* by themselves.
# We measure what each kind of pruning really saves in bytes and milliseconds.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [00 · Welcome](00_welcome.ipynb) | necessary | the baseline model, `labkit.fit`, `evaluate` |
# | [01 · Parameters vs hyperparameters](01_parameters_vs_hyperparameters.ipynb) | necessary | what the weights are |
# | Convolution filters and channels | helpful | structured pruning removes them |
#
# **Time to learn:** about 40 minutes.

# %% [markdown]
# ## Imports

# %%
import labkit

labkit.setup()

import copy

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.nn.utils import prune as torch_prune

from labkit.exercises import ____, lab03
from labkit.measure import compare_latency, count_macs, count_parameters, file_bytes, tensor_bytes
from labkit.plots import plot_heatmap, plot_histogram, show_kernels
from labkit.prune import (
    apply_masks,
    global_magnitude_masks,
    iterative_prune,
    layer_sparsity,
    layerwise_magnitude_masks,
    magnitude_mask,
    prune_channels,
    prune_masks,
    sensitivity_scan,
    sparse_state_bytes,
)

data = labkit.load_digits()
net = labkit.load_pretrained("baseline")
base_acc = labkit.evaluate(net, data.test)
print(f"baseline: {count_parameters(net):,} parameters, test accuracy {base_acc}")

# %% [markdown]
# ## Magnitude pruning, from scratch
#
# The simplest importance score is the absolute value: to prune a fraction `sparsity` of a
# weight tensor, find the `round(sparsity * n)` entries with the smallest |w| and set them to
# zero. We keep a **mask** (True = keep) beside the weight, so that we know which entries are
# gone. `labkit.prune.magnitude_mask` is the whole idea in a few lines (the helper it calls
# marks the `round(sparsity * n)` smallest scores False):

# %%
labkit.show_source(magnitude_mask)

# %% [markdown]
# PyTorch has the same method built in, `torch.nn.utils.prune.l1_unstructured`. It stores the
# mask as a buffer `weight_mask` and recomputes `weight = weight_orig * weight_mask` before each
# forward pass. On the same layer both give the same mask:

# %%
layer = copy.deepcopy(net.features[4])  # the second conv: 32 filters of 16x3x3
ours = magnitude_mask(layer.weight, sparsity=0.7)
torch_prune.l1_unstructured(layer, "weight", amount=0.7)
print("identical masks:", torch.equal(ours, layer.weight_mask.bool()))
print(
    "PyTorch now keeps:",
    [name for name, _ in layer.named_buffers()],
    "and",
    [name for name, _ in layer.named_parameters()],
)
torch_prune.remove(layer, "weight")  # make it permanent: plain weight, zeros baked in
print(f"after prune.remove: {100 * (layer.weight == 0).float().mean():.1f}% zeros in .weight")

# %% [markdown]
# ## The matrix with "-" entries
#
# The classifier is a 10x32 matrix. Pruned at 50%, here are its first rows, printed with "-"
# for pruned entries, and the whole mask as a picture:

# %%
weight = net.classifier.weight.detach()
mask = magnitude_mask(weight, 0.5)
for row_w, row_m in zip(weight[:4, :12], mask[:4, :12], strict=True):
    print(" ".join(f"{w:5.2f}" if m else "    -" for w, m in zip(row_w, row_m, strict=True)))
fig, axes = plt.subplots(1, 2, figsize=(11, 2.8))
plot_heatmap(weight, ax=axes[0], title="classifier weights")
plot_heatmap(weight * mask, ax=axes[1], title="after pruning 50% (white = '-')")
plt.show()

# %% [markdown]
# And what pruning does to the distribution of one layer's weights: the middle of the
# histogram (the small weights) is cut out.

# %%
w = net.features[8].weight.detach()
kept = w[magnitude_mask(w, 0.8)]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharex=True)
plot_histogram(w, ax=axes[0], title="features.8 before", xlabel="weight")
plot_histogram(kept, ax=axes[1], title="the 20% kept at 80% sparsity", xlabel="weight")
plt.show()

# %% [markdown]
# ## Layer-wise or global?
#
# *Layer-wise* pruning cuts every layer by the same fraction. *Global* pruning uses one
# threshold for the whole network, so layers with many small weights lose more and small,
# crucial layers (the first conv, the classifier) lose less. Same total sparsity, different
# spread, different accuracy (measured without fine-tuning):

# %%
sparsity = 0.7
variants = {
    "layer-wise": layerwise_magnitude_masks(net, sparsity),
    "global": global_magnitude_masks(net, sparsity),
}
fig, ax = plt.subplots(figsize=(8, 3.4))
names = list(variants["global"])
for i, (label, masks) in enumerate(variants.items()):
    pruned = apply_masks(copy.deepcopy(net), masks)
    acc = labkit.evaluate(pruned, data.val)
    per_layer = layer_sparsity(pruned)
    ax.bar(
        np.arange(len(names)) + 0.38 * i,
        [100 * per_layer[n] for n in names],
        width=0.38,
        label=f"{label}: val accuracy {acc}",
    )
ax.set_xticks(np.arange(len(names)) + 0.19, names)
ax.set_ylabel("sparsity of the layer (%)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **Notice:** global pruning takes far less from the first convolution (only 144 weights, and
# everything downstream depends on it) and from the classifier, and more from the big middle
# layers. Without fine-tuning, both lose most of the accuracy at 70%: read on.

# %% [markdown]
# ## Sensitivity analysis: which layers can lose the most?
#
# Magnitude is a guess. Sensitivity analysis measures: prune one layer at a time to each
# sparsity and record the validation accuracy, all other layers untouched.

# %%
sparsities = [0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95]
scan = sensitivity_scan(net, lambda m: 100 * labkit.evaluate(m, data.val).value, sparsities)
fig, ax = plt.subplots(figsize=(7.5, 3.8))
for name, accs in scan.items():
    ax.plot(sparsities, accs, marker="o", label=name)
ax.set_xlabel("sparsity of that layer alone")
ax.set_ylabel("validation accuracy (%)")
ax.legend()
plt.show()
suggested = {
    name: max(s for s, a in zip(sparsities, accs, strict=True) if a >= accs[0] - 1.0)
    for name, accs in scan.items()
}
print("largest sparsity per layer that costs at most 1 point:", suggested)

# %% [markdown]
# **Notice:** the curves differ a lot. The suggested per-layer sparsities are a pruning plan:
# `layerwise_magnitude_masks(net, suggested)` applies it.

# %% [markdown]
# ## Neuron pruning: whole filters at once
#
# Instead of single weights, remove whole output units: a conv **filter** (all its 1x3x3
# numbers) or a linear row, ranked by their L2 norm. The first conv's filters, with the half
# that neuron pruning removes crossed out:

# %%
neuron_masks = prune_masks(net, "neuron", 0.5)
removed = ~neuron_masks["features.0"].flatten(1).all(dim=1)
show_kernels(
    net.features[0].weight,
    crossed=removed,
    title="first-layer filters; crossed out: the 8 with the smallest norm",
)
plt.show()
neuron_net = apply_masks(copy.deepcopy(net), neuron_masks)
print(
    f"val accuracy with half the filters of every conv zeroed: "
    f"{labkit.evaluate(neuron_net, data.val)}"
)

# %% [markdown]
# ## Fine-tuning brings the accuracy back
#
# After pruning, the remaining weights can adapt: train a little more, re-applying the masks
# after every optimizer step (`labkit.prune.keep_masks`) so pruned weights stay zero.
# `iterative_prune` does it in steps (prune some, fine-tune, prune more), which is gentler than
# one big cut. One epoch per step here, to stay fast:

# %%
levels = [0.5, 0.8, 0.9]
one_shot, tuned, tuned_nets = [], [], {}
for s in levels:
    cut = apply_masks(copy.deepcopy(net), global_magnitude_masks(net, s))
    one_shot.append(100 * labkit.evaluate(cut, data.test).value)
    tuned_nets[s] = iterative_prune(copy.deepcopy(net), data, s, steps=2, epochs_per_step=1)
    tuned.append(100 * labkit.evaluate(tuned_nets[s], data.test).value)
fig, ax = plt.subplots(figsize=(7, 3.6))
ax.plot(levels, one_shot, marker="o", label="pruned, no fine-tuning")
ax.plot(levels, tuned, marker="o", label="pruned in 2 steps, fine-tuned")
ax.axhline(100 * base_acc.value, color="grey", ls=":", label="baseline")
ax.set_xlabel("global sparsity")
ax.set_ylabel("test accuracy (%)")
ax.legend()
plt.show()
for s, a, b in zip(levels, one_shot, tuned, strict=True):
    print(f"sparsity {s:.0%}: {a:5.1f}% before fine-tuning, {b:5.1f}% after")

# %% [markdown]
# ## What the zeros really save
#
# The model at 90% sparsity has nine zeros in every ten weights. Is it smaller? Faster?
# Measured, side by side with the baseline:

# %%
sparse90 = tuned_nets[0.9]
batch = data.test.X[:256]  # a throughput batch: arithmetic, not per-call overhead, dominates
lat = compare_latency({"baseline": net.eval(), "90% zeros": sparse90}, batch)
print(f"dense file: baseline {file_bytes(net):,} B, 90% zeros {file_bytes(sparse90):,} B")
print(f"latency (batch of 256): baseline {lat['baseline']}, 90% zeros {lat['90% zeros']}")
print(f"speed-up of the 90% zeros model: {lat.ratio('90% zeros', 'baseline')}")
print(
    f"sparse format (bitmap + kept values): {sparse_state_bytes(sparse90):,} B, "
    f"{file_bytes(net) / sparse_state_bytes(sparse90):.1f}x smaller than the dense file"
)

# %% [markdown]
# **Notice:** the dense file is the same size (a zero is still 4 bytes) and the latency is the
# same (dense kernels multiply by zero just as fast as by anything else). Only a **sparse
# format** that stores which entries survive, plus their values, saves space: here a bitmap
# (1 bit per weight) and the kept values. Speed from unstructured sparsity needs sparse kernels
# or hardware (such as 2:4 sparsity on recent NVIDIA GPUs); on a CPU, at this size, it does not
# come.

# %% [markdown]
# ## Structured pruning that really removes channels
#
# Structured pruning removes whole conv filters, and with them the matching input channels of
# the next layer and the batch-norm entries in between. Keeping those shapes consistent by hand
# is error-prone; `torch-pruning` (Fang et al. 2023) builds a dependency graph of the network
# and removes every coupled piece at once. The result is an ordinary, smaller dense model:

# %%
slim = prune_channels(net, 0.5, example=data.val.X[:1])
slim_before = labkit.evaluate(slim, data.test)
labkit.fit(slim, data.train, epochs=3, lr=1e-3, desc="fine-tune the slim model")
slim.eval()
print("first conv:", net.features[0], "->", slim.features[0])
x1 = data.val.X[:1]
for label, m in [("baseline", net), ("50% channels removed", slim)]:
    print(
        f"{label:>21}: {count_parameters(m):6,} parameters, {tensor_bytes(m):6,} B, "
        f"{count_macs(m, x1):8,} MACs per image"
    )
lat = compare_latency({"baseline": net, "slim": slim}, batch)
print(
    f"latency (batch of 256): {lat['baseline'].median_ms:.2f} ms -> {lat['slim'].median_ms:.2f} ms; "
    f"speed-up {lat.ratio('slim', 'baseline')}"
)
print(
    f"test accuracy: {slim_before} right after pruning, {labkit.evaluate(slim, data.test)} "
    "after 3 epochs of fine-tuning"
)

# %% [markdown]
# **Notice:** halving the channels of every conv cuts the parameters and MACs by about 4x
# (a conv's cost is input channels x output channels), and this time the file and the latency
# shrink for real, with nothing but standard dense kernels. That is why structured pruning is
# what deployments use. `labkit bench prune` measures all of this at several sparsities.

# %% [markdown]
# ## Exercises
#
# **Q1.** At 90% sparsity, how many weights of `net.features[4].weight` does a magnitude mask
# keep? Compute it.

# %% tags=["exercise"]
kept = ____
lab03.q1.check(kept)

# %% [markdown]
# **Q2.** Write `my_global_masks(weights, sparsity)`: given a dict `{layer name: weight
# tensor}`, return a dict `{layer name: bool mask}` that prunes, over all layers together, the
# `round(sparsity * n)` weights with the smallest absolute value (`n`: all weights of all
# layers). The check compares it with `torch.nn.utils.prune.global_unstructured` on several
# sets of layers.


# %% tags=["exercise"]
def my_global_masks(weights, sparsity):
    return ____


lab03.q2.check(my_global_masks)

# %% [markdown]
# **Q3.** From the sensitivity scan, which layer is the most sensitive to pruning: the one
# whose accuracy drops the most, added up over all the sparsities scanned (how far its curve
# lies below its first point)? Answer with its name; the check reads `scan`.

# %% tags=["exercise"]
most_sensitive = ____
lab03.q3.check(most_sensitive, scan)

# %% [markdown]
# ## Summary
#
# - Pruning removes weights that contribute little: single weights, whole neurons, or whole
#   filters and channels. Importance by magnitude, or measured by sensitivity analysis.
# - Global pruning spreads the cut by importance across layers; layer-wise cuts each alike.
# - Fine-tuning with the masks kept recovers most of the accuracy; pruning in steps helps.
# - Zeros in a dense tensor save neither bytes nor time. A sparse format saves bytes;
#   structured pruning that removes channels saves bytes *and* time on ordinary hardware.
#
# ## What's next
#
# [04 · Quantization](04_quantization.ipynb): keep every weight, but store each in 8 bits
# instead of 32.
#
# ## Resources and references
#
# - S. Han, J. Pool, J. Tran, W. Dally. *Learning both Weights and Connections for Efficient
#   Neural Networks.* NeurIPS 2015.
# - H. Li, A. Kadav, I. Durdanovic, H. Samet, H. P. Graf. *Pruning Filters for Efficient
#   ConvNets.* ICLR 2017.
# - G. Fang, X. Ma, M. Song, M. Bi Mi, X. Wang. *DepGraph: Towards Any Structural Pruning.*
#   CVPR 2023 (the `torch-pruning` package).
# - D. Blalock, J. J. G. Ortiz, J. Frankle, J. Guttag. *What is the State of Neural Network
#   Pruning?* MLSys 2020.
# - PyTorch: `torch.nn.utils.prune` tutorial, pytorch.org/tutorials/intermediate/pruning_tutorial.
