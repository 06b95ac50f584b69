# %% [markdown]
# # 03 · Pruning
#
# ## Overview
#
# A trained network holds many weights that contribute little. **Pruning** removes them:
# the model gets smaller and can get cheaper to run, often while staying nearly as accurate,
# which is what phones and IoT devices need. In the matrix picture, some entries become "-".
#
# - **What** to remove: single weights (*unstructured*, or weight pruning), whole **neurons**
#   (a conv filter, or a unit of a fully connected layer: a row of its weight matrix), or whole
#   structures such as conv channels removed from the architecture (*structured*).
# - **How** to judge importance after training: by **magnitude** (small |w| matters little) or
#   by **sensitivity analysis** (prune a layer and measure what the accuracy does).
# - **Then fine-tune**: retrain the survivors a little to recover accuracy.
#
# Two things tutorials often skip. Batch normalization changes what "small" means, and what
# "removed" means: a zeroed filter followed by batch norm still sends a constant to the next
# layer. And zeros in a dense tensor save *nothing* by themselves: we measure what each kind
# of pruning really saves in bytes and in time.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [00 · Welcome](00_welcome.ipynb) | necessary | the baseline, `fit`, `evaluate`, paired tests |
# | [01 · Parameters vs hyperparameters](01_parameters_vs_hyperparameters.ipynb) | necessary | |
# | Conv filters and channels, batch normalization | helpful | what neuron pruning removes |
#
# **Time to learn:** about 50 minutes.

# %% [markdown]
# ## Imports

# %%
import labkit

labkit.setup()

import copy

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from torch import nn
from torch.nn.utils import prune as torch_prune
from torch.nn.utils.fusion import fuse_conv_bn_eval
from tqdm.auto import tqdm

from labkit.exercises import ____, lab03
from labkit.measure import (
    compare_latency,
    count_macs,
    count_parameters,
    file_bytes,
    tensor_bytes,
    weight_tensors,
)
from labkit.models import fold_batchnorm, fold_conv_bn, weight_layers
from labkit.plots import (
    mark_savings_ranges,
    plot_heatmap,
    plot_histogram,
    plot_over_seeds,
    plot_savings,
    plot_tradeoff,
    show_kernels,
)
from labkit.prune import (
    SparsityExplorer,
    apply_masks,
    global_magnitude_masks,
    iterative_prune,
    layer_sparsity,
    layerwise_magnitude_masks,
    magnitude_mask,
    neuron_masks,
    pack_sparse,
    prune_channels,
    remove_neurons,
    sensitivity_scan,
    sparse_state_bytes,
    zero_neurons,
)
from labkit.stats import compare_models, mcnemar_exact, seed_interval

data = labkit.load_digits()
net = labkit.load_pretrained("digits_baseline")
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
same_mask = torch.equal(ours, layer.weight_mask.bool())
print("identical masks:", same_mask)
print(
    "PyTorch now keeps:",
    [name for name, _ in layer.named_buffers()],
    "and",
    [name for name, _ in layer.named_parameters()],
)
torch_prune.remove(layer, "weight")  # make it permanent: plain weight, zeros baked in
print(f"after prune.remove: {100 * labkit.sparsity(layer.weight):.1f}% zeros in .weight")
labkit.expect(same_mask, "magnitude_mask should equal torch's l1_unstructured mask")

# %% [markdown]
# ## The matrix with "-" entries
#
# The classifier's weight is a matrix: one row per class (digit), one column per feature it
# reads (the channels of the last conv, averaged over the image). Pruned at 50%, here are its
# first rows, printed with "-" for pruned entries, and the whole mask as a picture:

# %%
weight = net.classifier.weight.detach()
mask = magnitude_mask(weight, 0.5)
n_classes, n_features = weight.shape
print(f"classifier weight: {n_classes} classes x {n_features} features; the first 4 x 12:")
for row_w, row_m in zip(weight[:4, :12], mask[:4, :12], strict=True):
    print(" ".join(f"{w:5.2f}" if m else "    -" for w, m in zip(row_w, row_m, strict=True)))
fig, axes = plt.subplots(1, 2, figsize=(11, 3))
labels = {"xlabel": f"feature (of {n_features})", "ylabel": "class (digit)"}
plot_heatmap(weight, ax=axes[0], title="classifier weights", **labels)
plot_heatmap(weight * mask, ax=axes[1], title="after pruning 50% (white = '-')", **labels)
plt.show()

# %% [markdown]
# And what pruning does to the distribution of one layer's weights: the middle of the
# histogram (the small weights) is cut out.

# %%
w = net.features[8].weight.detach()
survivors = w[magnitude_mask(w, 0.8)]
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharex=True)
plot_histogram(w, ax=axes[0], title="features.8 before", xlabel="weight")
plot_histogram(survivors, ax=axes[1], title="the 20% kept at 80% sparsity", xlabel="weight")
plt.show()

# %% [markdown]
# ## Layer-wise or global?
#
# *Layer-wise* pruning cuts every layer by the same fraction. *Global* pruning uses one
# threshold for the whole network, so layers whose weights are small lose more, and layers
# whose weights are large lose less. Same total sparsity, different spread, different accuracy
# (measured on the test images without fine-tuning, and compared paired, image by image):

# %%
sparsity = 0.5
variants = {
    "layer-wise": layerwise_magnitude_masks(net, sparsity),
    "global": global_magnitude_masks(net, sparsity),
}
pruned = {label: apply_masks(copy.deepcopy(net), masks) for label, masks in variants.items()}
spread = {label: layer_sparsity(model) for label, model in pruned.items()}
accuracy = {label: labkit.evaluate(model, data.test) for label, model in pruned.items()}
names = list(spread["global"])
fig, ax = plt.subplots(figsize=(8, 3.4))
for i, label in enumerate(pruned):
    ax.bar(
        np.arange(len(names)) + 0.38 * i,
        [100 * spread[label][n] for n in names],
        width=0.38,
        label=f"{label}: test accuracy {accuracy[label]}",
    )
ax.set_xticks(np.arange(len(names)) + 0.19, names)
ax.set_ylabel("sparsity of the layer (%)")
ax.set_ylim(0, 100)  # room above the bars for the legend
ax.set_title(f"the same total sparsity ({sparsity:.0%}), spread two ways")
ax.legend(fontsize=8, loc="upper left")
plt.show()
n_weights = {n: m.weight.numel() for n, m in weight_layers(net).items()}
print("weights per layer:", n_weights)
global_vs_layerwise = compare_models(
    pruned["layer-wise"], pruned["global"], data.test, names=("layer-wise", "global")
)
print(global_vs_layerwise)

# PyTorch's own global pruning, on a copy of the same layers, picks the same weights.
library = copy.deepcopy(net)
torch_prune.global_unstructured(
    [(m, "weight") for m in weight_layers(library).values()],
    pruning_method=torch_prune.L1Unstructured,
    amount=sparsity,
)
same_as_torch = all(
    torch.equal(variants["global"][n], m.weight_mask.bool())
    for n, m in weight_layers(library).items()
)
print("global masks identical to torch.nn.utils.prune.global_unstructured:", same_as_torch)

labkit.expect(same_as_torch, "global masks should equal torch's global_unstructured")
labkit.expect_detectable(global_vs_layerwise, "global")
for small_layer in ("features.0", "classifier"):
    labkit.expect(spread["global"][small_layer] < spread["layer-wise"][small_layer], small_layer)
labkit.expect(spread["global"]["features.8"] > sparsity, "global should cut features.8 most")
labkit.expect(min(n_weights, key=n_weights.get) == "features.0", "the first conv is smallest")
labkit.expect(max(n_weights, key=n_weights.get) == "features.8", "features.8 is the largest")
labkit.expect(accuracy["layer-wise"].value < 0.5, "layer-wise should lose most accuracy")

# %% [markdown]
# **Notice:** global pruning takes far less from the first convolution (the fewest weights of
# any layer, and everything downstream depends on it) and from the classifier, more from the
# largest layer, and at the same total it keeps detectably more accuracy than layer-wise
# pruning, which loses most of it already at 50% without fine-tuning. That spread follows each
# layer's *weight scale*, which is not the same thing as importance when batch norm follows
# the layer: the section "What batch norm does to importance" below shows it.

# %% [markdown]
# ## Explore: sparsity, mask and accuracy
#
# Move the slider: the mask of `features.4` (white kept, black pruned), the validation accuracy
# of the whole model pruned that way without fine-tuning (with its 95% interval), and its size
# in the sparse format. Switch between global and layer-wise pruning and watch where the cut
# falls.

# %%
sparsity_app = SparsityExplorer(net, data)
display(sparsity_app)

# %% [markdown]
# ## Sensitivity analysis: which layers can lose the most?
#
# Magnitude is a guess. Sensitivity analysis measures: prune one layer at a time to each
# sparsity and record the validation accuracy, all other layers untouched.

# %%
sparsities = [0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
scan = sensitivity_scan(net, lambda m: 100 * labkit.evaluate(m, data.val).value, sparsities)
fig, ax = plt.subplots(figsize=(7.5, 3.8))
for name, accs in scan.items():
    ax.plot(sparsities, accs, marker="o", label=name)
ax.set_xlabel("sparsity of that layer alone")
ax.set_ylabel("validation accuracy (%)")
ax.set_title("sensitivity: one layer pruned at a time, the others untouched")
ax.legend()
plt.show()

# %% [markdown]
# A **pruning plan** gives each layer the largest sparsity it tolerates. "Tolerates" needs a
# threshold, and the threshold must be one the validation images can see: a drop of 1 point
# is under 3 of the validation images, inside the noise. The smallest loss an exact paired
# test (McNemar's, from notebook 00) can tell from chance on these images, at best, is
# computed below; the plan allows each layer any sparsity whose loss stays under it.

# %%
n_val = len(data.val)
resolvable = next(k for k in range(1, n_val) if mcnemar_exact(k, 0) < 0.05)
print(
    f"1 point of {n_val} images is {n_val / 100:.1f} images; a paired test can detect a loss "
    f"of {resolvable} images ({100 * resolvable / n_val:.1f} points) at best, when the pruned "
    "model gets no other image right that the unpruned one missed"
)


def plan_for(max_lost):
    """For each layer, the largest sparsity scanned that loses fewer than max_lost images."""
    return {
        name: max(
            s
            for s, a in zip(sparsities, accs, strict=True)
            if round((accs[0] - a) / 100 * n_val) < max_lost
        )
        for name, accs in scan.items()
    }


plan = plan_for(resolvable)
print("largest sparsity per layer whose loss the validation images cannot see:", plan)
labkit.expect(plan["features.8"] > plan["features.0"], "features.8 should tolerate more")

# %% [markdown]
# **Notice:** the layers differ a lot: the largest conv layer, `features.8`, loses no
# resolvable accuracy at a far higher sparsity than the first conv, `features.0`.

# %% [markdown]
# ## Applying the plan: the same total, three spreads
#
# `layerwise_magnitude_masks(net, plan)` applies the plan. Is it better than the cheap
# alternatives? A fair comparison prunes the **same number of weights** in all: uniform
# (layer-wise) and global pruning at the plan's total sparsity. Accuracy is measured on the
# test images, which the plan never saw. The plan itself rests on the validation images
# alone, so we also make it with a threshold one image lower and one image higher, and compare
# again (differences in points, with their 95% interval; `*` marks a detectable one):


# %%
def three_spreads(plan):
    """The plan, and uniform and global pruning of the same total number of weights."""
    masks = {"plan": layerwise_magnitude_masks(net, plan)}
    n_weights = sum(m.numel() for m in masks["plan"].values())
    total = sum(int((~m).sum()) for m in masks["plan"].values()) / n_weights
    masks["uniform"] = layerwise_magnitude_masks(net, total)
    masks["global"] = global_magnitude_masks(net, total)
    counts = [sum(int((~m).sum()) for m in spread.values()) for spread in masks.values()]
    labkit.expect(max(counts) - min(counts) <= len(plan), "equal totals, up to rounding per layer")
    pruned = {label: apply_masks(copy.deepcopy(net), m) for label, m in masks.items()}
    return total, pruned


def brief(comparison):
    """A paired comparison in one short column: B - A in points, its 95% CI, * if detectable."""
    d, lo, hi = comparison.points()
    return f"{d:+6.2f} ({lo:+.2f}, {hi:+.2f}){'*' if comparison.detectable else ' '}"


verdicts = {}
for max_lost in (resolvable - 1, resolvable, resolvable + 1):
    plan_k = plan_for(max_lost)
    total, planned = three_spreads(plan_k)
    print(f"fewer than {max_lost} images lost per layer: plan {plan_k}, total sparsity {total:.1%}")
    print(
        "   test accuracy:",
        ", ".join(f"{k} {labkit.evaluate(m, data.test).percent:.1f}%" for k, m in planned.items()),
    )
    verdicts[max_lost] = {
        other: compare_models(planned[other], planned["plan"], data.test, (other, "plan"))
        for other in ("uniform", "global")
    }
    verdicts[max_lost]["baseline"] = compare_models(
        net, planned["plan"], data.test, ("baseline", "plan")
    )
    print("   " + " | ".join(f"plan - {k} {brief(c)}" for k, c in verdicts[max_lost].items()))
for max_lost, against in verdicts.items():
    labkit.expect_detectable(against["uniform"], "plan")
    if max_lost == resolvable:
        labkit.expect_no_detectable_difference(against["global"], "plan vs global, chosen")
    else:
        labkit.expect_detectable(against["global"], "plan", "plan vs global, one image off")
    labkit.expect_detectable(against["baseline"], "baseline")

# %% [markdown]
# **Notice:** at the same number of pruned weights, the plan keeps detectably more accuracy
# than uniform pruning at all three thresholds. Against global pruning it is never detectably
# worse: at the chosen threshold the test images show no detectable difference, and one image
# either side of it the plan is detectably better. And although no layer alone lost a
# resolvable amount, every plan is detectably below the baseline: the losses of the layers add
# up.

# %% [markdown]
# ## Neuron pruning: whole filters at once
#
# Instead of single weights, remove whole output units, **neurons**: a conv **filter** (the
# weights of one output channel: a 3x3 kernel for each input channel) or a row of a linear
# layer, ranked by their L2 norm. A removed neuron must output **zero**. In this network every
# conv is followed by batch norm, which computes `gamma * (x - mu) / sigma + beta` per
# channel. Zero a filter's weights, and batch norm still turns its zero into
# `beta - gamma * mu / sigma`: after the ReLU, a **constant map**, not nothing. Look at the
# first conv with half its filters zeroed:

# %%
masks = neuron_masks(net, 0.5)  # every conv; the classifier's outputs are the classes
removed = ~masks["features.0"].flatten(1).all(dim=1)
show_kernels(
    net.features[0].weight,
    crossed=removed,
    title=f"first-layer filters; crossed out: the {int(removed.sum())} with the smallest norm",
)
plt.show()
zeroed = apply_masks(copy.deepcopy(net), masks)  # zeroes the filters' weights, nothing else
bn = net.features[1]
with torch.no_grad():
    maps = zeroed.features[:3](data.val.X)[:, removed]  # conv, batch norm, ReLU
    expected = torch.relu(bn.bias - bn.weight * bn.running_mean / (bn.running_var + bn.eps).sqrt())
low, high = maps.amin(dim=(0, 2, 3)), maps.amax(dim=(0, 2, 3))
for c, lo, hi, e in zip(removed.nonzero().flatten(), low, high, expected[removed], strict=True):
    print(
        f"zeroed filter {c:2d}: outputs from {lo:.4f} to {hi:.4f}; "
        f"ReLU(beta - gamma*mu/sigma) = {e:.4f}"
    )
labkit.expect(bool(torch.equal(low, high)), "every zeroed filter should output a constant map")
labkit.expect(bool(torch.allclose(low, expected[removed], atol=1e-6)), "the constant is BN's")
labkit.expect(bool((high > 0).any()), "some zeroed filters should output a nonzero constant")

# %% [markdown]
# The fix is to **fold** batch norm into the conv before it, as deployment does anyway: in
# eval mode, batch norm is a per-channel scale `s = gamma / sigma` and shift, so the conv's
# weights can absorb the scale and a bias the shift. One layer instead of two, the same
# outputs:

# %%
labkit.show_source(fold_conv_bn)

# %%
folded = fold_batchnorm(net)  # every conv + batch norm pair, folded; batch norm -> Identity
ours = fold_conv_bn(net.features[0], net.features[1])
theirs = fuse_conv_bn_eval(net.features[0], net.features[1])
same_fold = torch.allclose(ours.weight, theirs.weight) and torch.allclose(ours.bias, theirs.bias)
with torch.no_grad():
    gap = float((folded(data.test.X) - net(data.test.X)).abs().max())
print("equal to torch.nn.utils.fusion.fuse_conv_bn_eval within rounding:", same_fold)
print(f"largest difference of the folded model's outputs from the original's: {gap:.1e}")
print(folded.features[:3])
labkit.expect(same_fold, "fold_conv_bn should equal torch's fuse_conv_bn_eval")
labkit.expect_between("output gap after folding", gap, 0, 1e-4)

# %% [markdown]
# Now neuron pruning removes a filter for real: `zero_neurons` zeroes the filter's weights
# **and** its bias (and refuses a network that still has batch norm). PyTorch's
# `prune.ln_structured(n=2, dim=0)` ranks the filters the same way; like `apply_masks`, it masks
# the weight only, so the bias would still be yours to zero.

# %%
folded_masks = neuron_masks(folded, 0.5)
neuron_net = zero_neurons(copy.deepcopy(folded), folded_masks)
gone = ~folded_masks["features.0"].flatten(1).all(dim=1)
with torch.no_grad():
    largest = float(neuron_net.features[:3](data.val.X)[:, gone].abs().max())
print(f"largest output of the {int(gone.sum())} removed first-layer filters: {largest}")

library = copy.deepcopy(folded)
same_as_ln = True
for name, m in list(weight_layers(library).items())[:-1]:
    torch_prune.ln_structured(m, "weight", amount=0.5, n=2, dim=0)
    same_as_ln &= torch.equal(m.weight_mask.bool(), folded_masks[name])
print("neuron masks identical to torch.nn.utils.prune.ln_structured(n=2, dim=0):", same_as_ln)
neuron_acc = labkit.evaluate(neuron_net, data.test)
print(f"test accuracy with half the filters of every conv removed: {neuron_acc}")
labkit.expect(largest == 0.0, "a removed filter should output exactly zero")
labkit.expect(neuron_acc.value < 0.5, "half of every conv is too much")
labkit.expect(same_as_ln, "neuron masks should equal torch's ln_structured masks")

# %% [markdown]
# **Notice:** after folding, the removed filters output exactly zero, and the filters chosen
# are the ones `ln_structured` chooses. Half the filters of every layer is far too many for
# this small network without fine-tuning; the next sections use smaller cuts.

# %% [markdown]
# ## What batch norm does to importance
#
# Batch norm divides each channel by its standard deviation, so the scale of the weights
# *before* it is largely arbitrary: multiply a filter by 10 and its output's standard
# deviation grows tenfold too, so after batch norm nothing changes. Training never had to keep
# the raw scales comparable (and they start out different: initial weights shrink with the
# number of inputs). A small raw filter norm therefore says little. After folding, the weight
# includes `gamma / sigma` and measures what the channel really sends on. The two rankings of
# the filters, side by side, and what each removes (1/8 of every conv's filters, zeroed in the
# folded model):

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3))
for ax, (name, raw), folded_layer in zip(
    axes,
    list(weight_layers(net).items())[:-1],
    list(weight_layers(folded).values())[:-1],
    strict=True,
):
    ax.scatter(
        raw.weight.detach().flatten(1).norm(dim=1),
        folded_layer.weight.detach().flatten(1).norm(dim=1),
    )
    ax.set_title(name)
    ax.set_xlabel("L2 norm of the raw filter")
axes[0].set_ylabel("L2 norm after folding")
plt.show()

channel_ratio = 0.125
rankings = {
    "raw weight": neuron_masks(net, channel_ratio),
    "folded weight": neuron_masks(folded, channel_ratio),
}
by_ranking = {r: zero_neurons(copy.deepcopy(folded), m) for r, m in rankings.items()}
differ = {}
for name in rankings["raw weight"]:
    raw_cut, folded_cut = (~rankings[r][name].flatten(1).all(1) for r in rankings)
    differ[name] = int((raw_cut & ~folded_cut).sum())
    print(
        f"{name}: each ranking removes {int(raw_cut.sum())} of {len(raw_cut)} filters; "
        f"{differ[name]} of them differ"
    )
folded_vs_raw = compare_models(
    by_ranking["raw weight"],
    by_ranking["folded weight"],
    data.test,
    names=("raw weight", "folded weight"),
)
print(folded_vs_raw)
labkit.expect(sum(differ.values()) > 0, "the two rankings should pick different filters")
labkit.expect_detectable(folded_vs_raw, "folded weight")

# %% [markdown]
# The same goes across layers, for global magnitude pruning: `net` and `folded` compute the
# same function, but their weights have different scales, so one global threshold at 50%
# cuts them differently. Which cut is better? The typical |w| of each layer (its median),
# raw and folded, tells where the threshold falls:

# %%
same_function = {"net": net, "folded": folded}
cut = {
    k: apply_masks(copy.deepcopy(m), global_magnitude_masks(m, 0.5))
    for k, m in same_function.items()
}
typical = {
    k: {n: float(layer.weight.detach().abs().median()) for n, layer in weight_layers(m).items()}
    for k, m in same_function.items()
}
cut_sparsity = {k: layer_sparsity(m) for k, m in cut.items()}
print(f"{'layer':>11} | median |w|: raw  folded | sparsity after global 50%: net  folded")
for n in typical["net"]:
    print(
        f"{n:>11} | {typical['net'][n]:15.3f} {typical['folded'][n]:7.3f} | "
        f"{cut_sparsity['net'][n]:30.0%} {cut_sparsity['folded'][n]:7.0%}"
    )
two_scales = compare_models(
    cut["net"], cut["folded"], data.test, names=("global on net", "global on folded")
)
print(two_scales)


def scanned_accuracy(layer, s):
    """The sensitivity scan's accuracy for this layer at the scanned sparsity nearest to s."""
    nearest = min(range(len(sparsities)), key=lambda i: abs(sparsities[i] - s))
    return sparsities[nearest], scan[layer][nearest]


for k in cut:
    s, acc = scanned_accuracy("features.4", cut_sparsity[k]["features.4"])
    print(f"features.4 alone at {s:.0%} sparsity (the scan): validation accuracy {acc:.1f}%")
labkit.expect_detectable(two_scales, "global on net")
labkit.expect(typical["folded"]["features.4"] < typical["folded"]["features.8"], "folded scales")
labkit.expect(typical["net"]["features.4"] > typical["net"]["features.8"], "raw scales")
labkit.expect(
    cut_sparsity["folded"]["features.4"] > cut_sparsity["net"]["features.4"], "features.4 cut"
)
labkit.expect(
    cut_sparsity["folded"]["features.8"] < cut_sparsity["net"]["features.8"], "features.8 cut"
)
labkit.expect(
    scanned_accuracy("features.4", cut_sparsity["folded"]["features.4"])[1]
    < scanned_accuracy("features.4", cut_sparsity["net"]["features.4"])[1],
    "the deeper cut of features.4 should cost more in the scan",
)

# %% [markdown]
# **Notice:** the raw and the folded ranking pick different filters, and within each layer,
# removing the filters that are small *after folding* keeps detectably more accuracy. Across
# layers it goes the other way here: global pruning on the folded weights is detectably
# *worse* than on the raw ones. Folding makes `features.8`'s weights larger than
# `features.4`'s (raw, it was the reverse), so one threshold cuts deeper into `features.4` and
# less deep into `features.8`; and `features.4`, in the sensitivity scan, loses far more
# accuracy at the deeper cut than at the shallower one. Folding makes the filters of *one*
# layer comparable; across layers, a weight's scale still depends on how large its inputs are
# and how many of them each output adds up, and that differs from layer to layer in either
# form. Which form global pruning favours depends on the network; that it spreads the cut by
# *importance* holds in neither. Sensitivity analysis measures instead of assuming.

# %% [markdown]
# ## Neurons of a fully connected layer
#
# The convolutional network has one linear layer, the classifier, whose outputs are the
# classes: nothing to prune there. So here is a small **multilayer perceptron** on the
# flattened images, with a hidden layer of 128 neurons. Removing hidden neuron `j`
# removes row `j` of the first weight matrix (and its bias) and column `j` of the next: both
# layers really get smaller. There is no batch norm, so no folding is needed.

# %%
labkit.show_source(remove_neurons)

# %%
n_pixels = int(np.prod(data.image_shape))
hidden = 128
mlp_seeds = [0, 1, 2]


def make_mlp(hidden, seed):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(n_pixels, hidden), nn.ReLU(), nn.Linear(hidden, 10)
    )


def without_neurons(mlp, channel_ratio):
    first, second = remove_neurons(mlp[1], mlp[3], channel_ratio)
    return nn.Sequential(nn.Flatten(), first, nn.ReLU(), second)


def percent(r):
    """0.875 -> '87.5%', 0.25 -> '25%'."""
    return f"{100 * r:g}%"


mlps = []
for seed in tqdm(mlp_seeds, desc="train 3 MLPs"):
    mlps.append(make_mlp(hidden, seed))
    labkit.fit(mlps[-1], data.train, epochs=10, lr=1e-3, seed=seed, progress=False)
channel_ratios = [0.0, 0.25, 0.5, 0.75, 0.875]
for r in channel_ratios:
    smaller = without_neurons(mlps[0], r)
    n = smaller[1].out_features
    print(
        f"{percent(r):>6} of the neurons removed: layers {tuple(smaller[1].weight.shape)} and "
        f"{tuple(smaller[3].weight.shape)}, {count_parameters(smaller):6,} parameters"
    )
    labkit.expect(count_parameters(smaller) == (n_pixels + 1) * n + (n + 1) * 10, "sizes")
# Without batch norm, removing a neuron computes exactly what zeroing its row and bias does.
zeroed_mlp = zero_neurons(copy.deepcopy(mlps[0]), neuron_masks(mlps[0], 0.5))
with torch.no_grad():
    gap = float((without_neurons(mlps[0], 0.5)(data.test.X) - zeroed_mlp(data.test.X)).abs().max())
print(f"largest difference between the smaller MLP and the MLP with neurons zeroed: {gap:.1e}")
labkit.expect_between("gap between removing and zeroing", gap, 0, 1e-4)

# %% [markdown]
# **Notice:** each removed neuron takes its row of the first layer (one weight per pixel, plus
# its bias) and its column of the second (one weight per class) with it, so the parameter
# count falls in proportion, and the smaller MLP computes what the MLP with those neurons
# zeroed computes (to float rounding).
#
# What does it cost in accuracy? Each of three MLPs (three seeds) loses a growing share of
# its hidden neurons; each smaller MLP is then fine-tuned for 2 epochs, and compared with the
# full MLP fine-tuned for the same 2 epochs, image by image (in points, with the 95% interval;
# `*` marks a detectable difference):

# %%
curves = {"removed": [], "removed, then fine-tuned": []}
losses = {r: [] for r in channel_ratios}  # per seed: smaller against full, both fine-tuned
untuned_half = []  # per seed: half the neurons removed against the full MLP, no fine-tuning
for seed, mlp in zip(mlp_seeds, tqdm(mlps, desc="remove neurons, fine-tune"), strict=True):
    curves["removed"].append([])
    curves["removed, then fine-tuned"].append([])
    predictions = {}
    for r in channel_ratios:
        smaller = without_neurons(mlp, r)
        curves["removed"][-1].append(labkit.evaluate(smaller, data.test).percent)
        labkit.fit(smaller, data.train, epochs=2, lr=1e-3, seed=seed, progress=False)
        curves["removed, then fine-tuned"][-1].append(labkit.evaluate(smaller, data.test).percent)
        predictions[r] = labkit.predict(smaller, data.test)
    full = labkit.predict(mlp, data.test)
    cut_half = labkit.predict(without_neurons(mlp, 0.5), data.test)
    untuned_half.append(labkit.paired_comparison(full, cut_half, data.test.y, ("full", "50%")))
    for r in channel_ratios:
        losses[r].append(
            labkit.paired_comparison(
                predictions[0.0], predictions[r], data.test.y, ("full", percent(r))
            )
        )
plot_over_seeds(
    channel_ratios,
    curves,
    xlabel="share of the hidden neurons removed",
    ylabel="test accuracy (%)",
    title="neurons removed from the hidden layer of an MLP",
)
plt.show()
print("mean test accuracy over seeds; fine-tuned smaller - fine-tuned full (points, 95% CI)")
print(
    f"{'removed':>7} | {'as cut':>6} {'tuned':>6} | "
    + " | ".join(f"{'seed ' + str(seed):<23}" for seed in mlp_seeds)
)
means = {label: np.mean(per_seed, axis=0) for label, per_seed in curves.items()}
for i, r in enumerate(channel_ratios):
    as_cut, tuned_mean = means["removed"][i], means["removed, then fine-tuned"][i]
    row = " | ".join(brief(c) for c in losses[r]) if r else ""
    print(f"{percent(r):>7} | {as_cut:5.1f}% {tuned_mean:5.1f}% | {row}")
print(
    "50% removed, not fine-tuned, - full:",
    " | ".join(brief(c) for c in untuned_half),
)
for comparison in untuned_half:
    labkit.expect_detectable(comparison, "full", "half the neurons, not fine-tuned")
for r in (0.25, 0.5):
    for comparison in losses[r]:
        labkit.expect_no_detectable_difference(comparison, f"{percent(r)} removed, fine-tuned")
for comparison in losses[0.875]:
    labkit.expect_detectable(comparison, "full", "87.5% removed, fine-tuned")

# %% [markdown]
# **Notice:** without fine-tuning, removing half the hidden neurons already costs a loss the
# test images detect, in every seed. After 2 epochs of fine-tuning, a quarter or half of the
# neurons go with no detectable difference from the full MLP in any seed, while with 7/8
# removed the loss is detectable in every seed.

# %% [markdown]
# ## Fine-tuning brings the accuracy back
#
# After pruning, the remaining weights can adapt: train a little more, re-applying the masks
# after every optimizer step (`labkit.prune.keep_masks`) so pruned weights stay zero. Two
# things can change here, and they must be changed one at a time: *whether* we fine-tune, and
# *how* we prune. `iterative_prune` covers three recipes, each at global sparsity 80% and 90%,
# with the same fine-tuning budget where there is one (2 epochs on 1,024 training images, to
# stay fast), over three seeds (the order of the training batches):
#
# - **one-shot**: prune once, no fine-tuning;
# - **one-shot + fine-tune**: prune once, then 2 epochs;
# - **2 steps + fine-tune**: prune half-way, 1 epoch, prune the rest, 1 epoch.

# %%
levels = [0.8, 0.9]
tune_seeds = [0, 1, 2]
recipes = {"one-shot": (1, 0), "one-shot + fine-tune": (1, 2), "2 steps + fine-tune": (2, 1)}
subset = data.with_train_subset(1024)
tuned, accs = {}, {r: [[] for _ in tune_seeds] for r in recipes}
with tqdm(total=len(levels) * len(tune_seeds) * 2, desc="prune and fine-tune") as bar:
    for s in levels:
        for i, seed in enumerate(tune_seeds):
            for recipe, (steps, epochs) in recipes.items():
                if epochs == 0 and seed != tune_seeds[0]:  # no training: the same for every seed
                    tuned[s, seed, recipe] = tuned[s, tune_seeds[0], recipe]
                else:
                    tuned[s, seed, recipe] = iterative_prune(
                        copy.deepcopy(net), subset, s, steps, epochs, seed=seed, progress=False
                    )
                    bar.update(epochs > 0)
                accs[recipe][i].append(labkit.evaluate(tuned[s, seed, recipe], data.test).percent)
trained = {r: a for r, a in accs.items() if recipes[r][1] > 0}
ax = plot_over_seeds(
    levels,
    trained,
    xlabel="global sparsity",
    ylabel="test accuracy (%)",
    title="pruned, and fine-tuned with the masks kept",
)
ax.plot(levels, accs["one-shot"][0], marker="o", label="one-shot (no training: one model)")
ax.axhline(base_acc.percent, color="grey", ls=":", label="baseline")
ax.legend(fontsize=8)
plt.show()
gains, over_seeds = {}, {}
for a, b in [("one-shot", "one-shot + fine-tune"), ("one-shot + fine-tune", "2 steps + fine-tune")]:
    print(f"{b} - {a}, in points (95% CI; * detectable):")
    print(
        f"{'sparsity':>8} | "
        + " | ".join(f"{'seed ' + str(seed):<23}" for seed in tune_seeds)
        + " | mean over seeds"
    )
    for s in levels:
        gains[s, b] = [
            compare_models(tuned[s, seed, a], tuned[s, seed, b], data.test, names=(a, b))
            for seed in tune_seeds
        ]
        over_seeds[s, b] = m = seed_interval([c.points()[0] for c in gains[s, b]])
        print(
            f"{s:>8.0%} | "
            + " | ".join(brief(c) for c in gains[s, b])
            + f" | {m.mean:+.2f} ({m.low:+.2f}, {m.high:+.2f}){'*' if m.excludes_zero else ''}"
        )
for s in levels:
    half = s / 2
    print(
        f"2 steps to {s:.0%}: each cut removes {half:.0%} of all weights; the second removes "
        f"{half / (1 - half):.0%} of the weights the first left"
    )
    labkit.expect(half / (1 - half) > 0.5, "the second cut removes most of what was left")
for s in levels:
    for comparison in gains[s, "one-shot + fine-tune"]:
        labkit.expect_detectable(comparison, "one-shot + fine-tune")
        labkit.expect_above("gain of fine-tuning (points)", comparison.points()[0], 10)
for comparison in gains[0.9, "2 steps + fine-tune"]:
    labkit.expect_detectable(comparison, "one-shot + fine-tune")
for comparison in gains[0.8, "2 steps + fine-tune"]:
    labkit.expect_no_detectable_difference(comparison, "2 steps at 80%, one seed")
close = over_seeds[0.8, "2 steps + fine-tune"]
labkit.expect(close.high < 0, "at 80%, 2 steps should be below one-shot over seeds")
labkit.expect_between("mean gain of 2 steps at 80% (points)", close.mean, -3, 0)

# %% [markdown]
# **Notice:** fine-tuning is what brings the accuracy back: at both sparsities, one-shot +
# fine-tune is detectably better than one-shot in every seed, by tens of points. Pruning in two
# steps, with the same 2 epochs in all, did not help. At 80%, no seed shows a detectable
# difference on the test images, but over seeds the mean is slightly but consistently below
# one-shot: its interval over the seeds excludes zero. At 90%, two steps are detectably worse
# in every seed. Both cuts remove the same share of all weights, but the second removes most
# of the weights the first left, and gets only one of the two epochs: a likely reason.
# Setting "one-shot, no fine-tuning" against "two steps, fine-tuned" would have credited the
# steps with what the fine-tuning did.

# %% [markdown]
# ## What the zeros really save
#
# The model at 90% sparsity (one-shot + fine-tune, first seed) has nine zeros in every ten
# weights. Is it smaller? Faster? Measured, side by side with the baseline. Every timing in
# this notebook is **eager**: PyTorch runs the model layer by layer as the Python code calls
# it, the way every model so far has run. Notebook 04 adds **compiled** models
# (`torch.compile` first turns the whole model into fused machine code); a speed-up always
# compares two models run the same way. `compare_latency` times the models in alternating
# rounds; the ratio is taken inside each round, and its range over rounds shows how much the
# machine's speed moved.

# %%
sparse90 = tuned[0.9, tune_seeds[0], "one-shot + fine-tune"]
batch = data.test.X[:256]  # a throughput batch: arithmetic, not per-call overhead, dominates
x1 = data.test.X[:1]
lat = compare_latency({"baseline": net, "90% zeros": sparse90}, batch)
zeros_ratio = lat.ratio("90% zeros", "baseline")
file_ratio = file_bytes(net) / file_bytes(sparse90)
macs = {"baseline": count_macs(net, x1), "90% zeros": count_macs(sparse90, x1)}
print(f"dense file: baseline {file_bytes(net):,} B, 90% zeros {file_bytes(sparse90):,} B")
print(f"multiply-adds per image: baseline {macs['baseline']:,}, 90% zeros {macs['90% zeros']:,}")
print(f"baseline time / 90% zeros time (eager, batch of 256): {zeros_ratio!s}")
print(labkit.reference_timing("03.zeros_speedup", zeros_ratio.median))

packed = pack_sparse(sparse90)  # each pruned weight: {"shape", "bitmap", "values"}
as_bitmaps = [v for v in packed.values() if isinstance(v, dict)]
packed_bytes = tensor_bytes([t for v in as_bitmaps for t in (v["bitmap"], v["values"])])
other_bytes = tensor_bytes([v for v in packed.values() if not isinstance(v, dict)])
weight_ratio = tensor_bytes(weight_tensors(sparse90)) / packed_bytes
sparse_file = sparse_state_bytes(sparse90)
bookkeeping = sparse_file - packed_bytes - other_bytes
sparse_ratio = file_bytes(net) / sparse_file
print(
    f"sparse format: the pruned weights, {tensor_bytes(weight_tensors(sparse90)):,} B dense, "
    f"pack into {packed_bytes:,} B of bitmaps and kept values ({weight_ratio:.1f}x smaller)"
)
print(
    f"its file: {sparse_file:,} B = {packed_bytes:,} B packed weights + {other_bytes:,} B of "
    f"other tensors (biases, batch norm) + {bookkeeping:,} B of torch.save bookkeeping; "
    f"{sparse_ratio:.1f}x smaller than the dense file"
)
labkit.expect_between("dense file ratio", file_ratio, 0.99, 1.01)
labkit.expect(macs["baseline"] == macs["90% zeros"], "dense kernels do the same work")
labkit.expect_between("speed-up of 90% zeros", zeros_ratio.median, 0, 2)
labkit.expect_between("packed weights ratio", weight_ratio, 7, 8.5)
labkit.expect_above("sparse format ratio", sparse_ratio, 3)
labkit.expect(sparse_ratio < weight_ratio, "the file gains less than the weights")
labkit.expect_between("bookkeeping / packed weights", bookkeeping / packed_bytes, 0.5, 2)

# %% [markdown]
# **Notice:** the dense file is the same size (a zero is still 4 bytes), and so is the number
# of multiply-adds: dense kernels multiply by zero as fast as by anything else, so the
# baseline's time over the 90%-zeros model's stays nowhere near the 10x that skipping the
# zeros would give (asserted: below 2x). Only a **sparse format** that stores which entries
# survive, plus their values, saves space: here a bitmap (1 bit per weight) and the kept
# values, `n/8 + 4(1 - s)n` bytes for `n` weights at sparsity `s`, which packs the pruned
# weights several times smaller. The file gains less: in a model this small, torch.save's
# bookkeeping (a record for each tensor) weighs about as much as the packed weights
# themselves, and the other tensors stay dense; with millions of weights, both would be
# negligible. Speed from unstructured sparsity needs sparse kernels or hardware support, such
# as **2:4 sparsity** (at most 2 nonzero weights in every group of 4), which recent NVIDIA GPUs
# multiply faster; on a CPU, at this size, it does not come.

# %% [markdown]
# ## Structured pruning that really removes channels
#
# Structured pruning removes whole conv filters from the architecture, and with them the
# matching input channels of the next layer and the batch-norm entries in between (so nothing
# is left to send a constant). Keeping those shapes consistent by hand is error-prone;
# `torch-pruning` (Fang et al. 2023) builds a dependency graph of the network and removes every
# coupled piece at once. The result is an ordinary, smaller dense model. The picture then sets
# the three ways of saving side by side (the sparse format has to be unpacked to run, so its
# multiply-adds and speed are those of the dense model with zeros):

# %%
slim = prune_channels(net, 0.5, example=x1)
slim_before = labkit.evaluate(slim, data.test)
labkit.fit(slim, data.train, epochs=3, lr=1e-3, desc="fine-tune the slim model")
print("first conv:", net.features[0], "->", slim.features[0])
for label, m in [("baseline", net), ("50% channels removed", slim)]:
    print(
        f"{label:>21}: {count_parameters(m):6,} parameters, {tensor_bytes(m):6,} B, "
        f"{count_macs(m, x1):8,} MACs per image"
    )
lat = compare_latency({"baseline": net, "90% zeros": sparse90, "slim": slim}, batch)
speedup = lat.ratio("slim", "baseline")
print(f"baseline time / slim time (eager, batch of 256): {speedup!s}")
print(labkit.reference_timing("03.slim_speedup", speedup.median))
print(f"test accuracy right after pruning: {slim_before}")
print(f"after 3 epochs of fine-tuning: {labkit.evaluate(slim, data.test)}")
print(compare_models(net, slim, data.test, names=("baseline", "slim, fine-tuned")))
rows = [
    ("90% zeros, dense", "90% zeros", sparse90, file_bytes(sparse90)),
    ("90% zeros, sparse format", "90% zeros", sparse90, sparse_file),
    ("50% channels removed", "slim", slim, file_bytes(slim)),
]
savings = {
    label: {
        "file bytes": file_bytes(net) / size,
        "MACs": count_macs(net, x1) / count_macs(m, x1),
        "speed": lat.ratio(timed, "baseline").median,
    }
    for label, timed, m, size in rows
}
ax = plot_savings(savings, title="what each saves against the baseline (eager, batch of 256)")
speed_ranges = {label: lat.ratio(timed, "baseline") for label, timed, _, _ in rows}
mark_savings_ranges(ax, "speed", {k: (r.low, r.high) for k, r in speed_ranges.items()})
plt.show()
param_ratio = count_parameters(net) / count_parameters(slim)
mac_ratio = count_macs(net, x1) / count_macs(slim, x1)
labkit.expect_between("parameter ratio", param_ratio, 3, 4.5)
labkit.expect_between("MAC ratio", mac_ratio, 3, 4.5)
labkit.expect_above("tensor bytes ratio", tensor_bytes(net) / tensor_bytes(slim), 3)
labkit.expect_above("slim speed-up, eager vs eager", speedup.median, 1)
labkit.expect_above(
    "slim speed-up over the zeros'", speedup.median, lat.ratio("90% zeros", "baseline").median
)

# %% [markdown]
# **Notice:** halving the channels of every conv cuts the parameters and MACs by about 4x
# (a conv's cost is input channels x output channels), and this time the bytes shrink and the
# model runs faster (eager against eager; the black lines span the slowest to the fastest
# round), with nothing but standard dense kernels: the sparse format saves bytes only, the
# zeros nothing. That is why structured pruning is what deployments use. `labkit bench prune`
# measures all of this at several sparsities, compiled against compiled too.

# %% [markdown]
# ## Accuracy against size, drawn
#
# The models of this notebook that were fine-tuned after pruning, each stored the way that saves
# the most (the sparse format for zeros, an ordinary file for the slim model), against the
# baseline's file: test accuracy with its 95% interval against the bytes on disk.

# %%
drawn = {
    "baseline": (net, file_bytes(net)),
    "80% zeros, fine-tuned": (
        tuned[0.8, tune_seeds[0], "one-shot + fine-tune"],
        sparse_state_bytes(tuned[0.8, tune_seeds[0], "one-shot + fine-tune"]),
    ),
    "90% zeros, fine-tuned": (sparse90, sparse_state_bytes(sparse90)),
    "half the channels, fine-tuned": (slim, file_bytes(slim)),
}
accuracy = {label: labkit.evaluate(model, data.test) for label, (model, _) in drawn.items()}
plot_tradeoff(
    [size for _, size in drawn.values()],
    [a.value for a in accuracy.values()],
    labels=list(drawn),
    yerr=[a.interval for a in accuracy.values()],
    xlabel="bytes on disk (log scale)",
    ylabel="test accuracy",
    title="accuracy against size, with 95% intervals",
    logx=True,
)
plt.show()
for label, (model, _) in list(drawn.items())[1:]:
    print(compare_models(net, model, data.test, names=("baseline", label)))
labkit.expect(
    all(size < file_bytes(net) for _, size in list(drawn.values())[1:]),
    "every pruned model should take fewer bytes than the baseline's file",
)

# %% [markdown]
# **Notice:** every pruned model takes fewer bytes than the baseline; the paired comparisons
# printed under the picture say which of them also lose accuracy detectably.

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
# sets of layers; where several weights share one |w| (a tie), any of them may go, so there it
# checks the count and that no pruned |w| is larger than a kept one.


# %% tags=["exercise"]
def my_global_masks(weights, sparsity):
    return ____


lab03.q2.check(my_global_masks)

# %% [markdown]
# **Q3.** From the sensitivity scan, which layer is the most sensitive to pruning? Use this
# criterion: add up, over all the sparsities scanned, how far the layer's curve lies below its
# first point (its unpruned accuracy); the layer with the largest total is the most sensitive.
# Answer with its name; the check reads `scan`.

# %% tags=["exercise"]
most_sensitive = ____
lab03.q3.check(most_sensitive, scan)

# %% [markdown]
# ## Summary
#
# - Pruning removes weights that contribute little: single weights, whole neurons (conv
#   filters, units of a fully connected layer), or whole channels. Importance by magnitude,
#   or measured by sensitivity analysis.
# - Global pruning puts one threshold on every layer's weights. That spreads the cut by
#   *magnitude*, which is importance only where the layers' scales are comparable: batch norm
#   makes a conv's weight scale arbitrary, and folding it changes the cut (here, for the
#   worse).
# - A sensitivity plan needs a threshold the validation images can resolve. At equal total
#   sparsity it beat uniform pruning at every threshold tried, and it was never detectably
#   worse than global pruning: no detectable difference at the chosen threshold, detectably
#   better one image either side.
# - A removed neuron must output zero: fold batch norm first, then zero weights and bias. In a
#   fully connected layer, removing a neuron removes a row and the next layer's column.
# - Fine-tuning with the masks kept is what recovers the accuracy; compare recipes with the
#   same fine-tuning budget (here, two pruning steps did not beat one).
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
# - Z. Liu, J. Li, Z. Shen, G. Huang, S. Yan, C. Zhang. *Learning Efficient Convolutional
#   Networks through Network Slimming.* ICCV 2017 (batch norm's gamma as the importance of a
#   channel).
# - M. Zhu, S. Gupta. *To prune, or not to prune: exploring the efficacy of pruning for model
#   compression.* 2017 (gradual pruning during training).
# - G. Fang, X. Ma, M. Song, M. Bi Mi, X. Wang. *DepGraph: Towards Any Structural Pruning.*
#   CVPR 2023 (the `torch-pruning` package).
# - D. Blalock, J. J. G. Ortiz, J. Frankle, J. Guttag. *What is the State of Neural Network
#   Pruning?* MLSys 2020.
# - PyTorch. [Pruning tutorial](https://pytorch.org/tutorials/intermediate/pruning_tutorial.html)
#   (`torch.nn.utils.prune`).
