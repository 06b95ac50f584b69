# %% [markdown]
# # 04 · Quantization
#
# ## Overview
#
# **Quantization** stores and computes with fewer bits per number: float32 (32 bits, such as
# 3.14) becomes a 16-bit float, or int8 (8 bits, such as 42). Every weight stays, but an int8
# weight takes a quarter of the space, so a 100 MB model becomes about 25 MB. Whether it also
# runs faster depends on the processor and on the size of the layers: we time compiled int8
# against compiled float32 on our tiny model and on a block of two convolutions of real size,
# and see where int8 pays. Post-training quantization needs no retraining: its only pass over
# data is a few hundred calibration images, run forward once, plus a one-off rewrite of the
# model's graph. We time all of it against the techniques that retrain (pruning with
# fine-tuning, and quantization-aware training): calibration is a small fraction of one of
# their training epochs, and all of it together costs less than labkit's default
# quantization-aware training. That is why phones and embedded devices use it, where a small
# drop in accuracy is acceptable.
#
# We quantize **weights** (fixed, known in advance) and **activations** (the values flowing
# between layers, which depend on the input and must be *calibrated* on example images). We
# build the arithmetic from scratch, check it against PyTorch's own operations, then run a
# real int8 model through the current PyTorch path, and go below 8 bits: quantization-aware
# training and codebooks.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [00 · Welcome](00_welcome.ipynb) | necessary | the baseline model, `evaluate`, paired comparisons |
# | [03 · Pruning](03_pruning.ipynb) | helpful | masks, fine-tuning, and "what really saves bytes" |
# | Integers in binary | helpful | 8 bits hold 256 values |
#
# **Time to learn:** about 50 minutes.

# %% [markdown]
# ## Imports

# %%
import labkit

labkit.setup()

import copy
import inspect
import statistics

import matplotlib.pyplot as plt
import torch
import torchao.quantization.pt2e  # noqa: F401  (registers PyTorch's quantized_decomposed ops)
from IPython.display import display
from torchao.quantization.pt2e.observer import MinMaxObserver, PerChannelMinMaxObserver

from labkit import quantize as lq
from labkit.exercises import ____, lab04
from labkit.hardware import int8_expectation
from labkit.measure import count_macs, tensor_bytes
from labkit.models import fold_batchnorm, wide_block
from labkit.plots import plot_histogram, plot_savings, plot_tradeoff
from labkit.prune import apply_masks, global_magnitude_masks, keep_masks
from labkit.quantize import (
    BitsExplorer,
    dynamic_int8_linear,
    graph_bytes_by_dtype,
    graph_op_counts,
    last_linear_in_graph,
    plot_quantization_grid,
    ptq_int8,
    time_float32_and_int8,
)
from labkit.stats import mcnemar_exact

data = labkit.load_digits()
net = labkit.load_pretrained("digits_baseline").eval()
base_acc = labkit.evaluate(net, data.test)
print(f"baseline (float32): test accuracy {base_acc}")

# %% [markdown]
# ## The affine mapping: scale and zero point
#
# An integer grid with `bits` bits has 2^bits points, from `qmin` to `qmax` (int8: -128..127;
# uint8: 0..255). To put real numbers from a range [lo, hi] on it we need two numbers:
#
# - the **scale**, the real distance between neighbouring grid points: `(hi - lo) / (qmax - qmin)`;
# - the **zero point**, the integer that stands for the real 0: `qmin - round(lo / scale)`.
#
# Then `q = clamp(round(x / scale) + zero_point, qmin, qmax)` (**rounding** to the nearest
# point, **clipping** what lies outside), and back: `x ≈ (q - zero_point) * scale`.
# `labkit.quantize.qparams` computes the two numbers; its code is short:

# %%
labkit.show_source(lq.qparams)

# %% [markdown]
# The overview's example: 3.14, in a tensor whose values span [-3.2, 3.2].

# %%
qp = lq.qparams(-3.2, 3.2, bits=8, symmetric=True)
q = lq.quantize(torch.tensor([3.14]), qp)
print(f"scale {float(qp.scale):.5f}, zero point {int(qp.zero_point)}, grid [{qp.qmin}, {qp.qmax}]")
print(f"3.14 -> int8 {int(q)} -> back to {float(lq.dequantize(q, qp)):.5f}")

# %% [markdown]
# **Symmetric** mapping fixes the zero point at 0 and uses max(|lo|, |hi|); it suits weights,
# which sit around 0, and makes the integer arithmetic simpler. **Asymmetric** fits the grid
# to [lo, hi]; it suits activations after ReLU, which are never negative (a symmetric grid
# would waste its negative half). **Per-tensor** uses one scale for the whole tensor;
# **per-channel** one per output channel, which matters when channels differ in size.
#
# Here is one real layer, `features.4` (a 3x3 convolution, 16 to 32 channels), with the grid
# of a 4-bit per-tensor symmetric quantizer drawn over its histogram (8 bits would be too
# dense to see: 256 lines). The table then measures every quantizer on the same weights.

# %%
w = net.features[4].weight.detach()
qp4 = lq.qparams_for(w, bits=4, symmetric=True)
levels = lq.dequantize(torch.arange(qp4.qmin, qp4.qmax + 1), qp4)
ax = plot_quantization_grid(w, levels, title="features.4 weights and the 4-bit grid")
plt.show()

errors = lq.quantizer_errors(w, bits=(8, 4))
print(f"{'quantizer':<30} {'mean sq. error':>14} {'max |error|':>12}")
for name, err in errors.items():
    print(f"{name:<30} {err['mse']:>14.2e} {err['max_abs']:>12.5f}")
mse = {name: err["mse"] for name, err in errors.items()}
finer = mse["4-bit symmetric per-tensor"] / mse["8-bit symmetric per-tensor"]
print(f"4-bit / 8-bit mean squared error (symmetric per-tensor): {finer:.0f}x")
labkit.expect_between("4-bit / 8-bit squared error", finer, 200, 400)
for bits in (8, 4):
    for mapping in ("symmetric", "asymmetric"):
        labkit.expect(
            mse[f"{bits}-bit {mapping} per-channel"] < mse[f"{bits}-bit {mapping} per-tensor"],
            f"per-channel should beat per-tensor ({bits}-bit {mapping})",
        )
    reference = mse[f"{bits}-bit symmetric per-tensor"]
    gain_per_channel = reference / mse[f"{bits}-bit symmetric per-channel"]
    gain_asymmetric = reference / mse[f"{bits}-bit asymmetric per-tensor"]
    print(
        f"{bits}-bit: per-channel divides the error by {gain_per_channel:.2f}, "
        f"asymmetric by {gain_asymmetric:.2f}"
    )
    labkit.expect(gain_asymmetric < gain_per_channel, "asymmetric should gain less")

# %% [markdown]
# What to notice:
#
# - 8 bits have 255 steps where 4 bits have 15, so each step is 17x finer and the squared
#   error shrinks by about 17² ≈ 290 (the line under the table measures it);
# - per-channel beats per-tensor, for both mappings and both widths, because each channel
#   gets a grid fitted to its own range;
# - for weights centred on 0, asymmetric gains less than per-channel does.
#
# ### Checked against PyTorch
#
# PyTorch chooses scales and zero points with *observers*; the min-max ones
# (`MinMaxObserver`, and `PerChannelMinMaxObserver` for weights) use the same formulas as
# `qparams`. Exported int8 graphs are made of the operations
# `torch.ops.quantized_decomposed.quantize_per_tensor` and `quantize_per_channel`. On the same
# tensors, ours give the same scales and zero points, and then the same integers, bit for bit:

# %%
qp_pc = lq.qparams_for(w, 8, symmetric=True, per_channel=True, axis=0)
observer = PerChannelMinMaxObserver(
    ch_axis=0, dtype=torch.qint8, qscheme=torch.per_channel_symmetric
)
observer(w)
scale, zero = observer.calculate_qparams()
same_w_params = torch.equal(scale, qp_pc.scale) and torch.equal(zero.long(), qp_pc.zero_point)
print("per-channel weight scales and zero points identical to PyTorch's:", same_w_params)

x = data.test.X[:64]
qp_x = lq.qparams_for(x, 8, symmetric=False)
observer = MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine)
observer(x)
scale, zero = observer.calculate_qparams()
same_x_params = torch.equal(scale.squeeze(), qp_x.scale) and int(zero) == int(qp_x.zero_point)
print("per-tensor input scale and zero point identical to PyTorch's:", same_x_params)

ops = torch.ops.quantized_decomposed
theirs = ops.quantize_per_channel.default(
    w, qp_pc.scale, qp_pc.zero_point, 0, -128, 127, torch.int8
)
same_w_ints = torch.equal(lq.quantize(w, qp_pc), theirs.long())
print("per-channel int8 integers identical:", same_w_ints)
theirs = ops.quantize_per_tensor.default(
    x, float(qp_x.scale), int(qp_x.zero_point), 0, 255, torch.uint8
)
same_x_ints = torch.equal(lq.quantize(x, qp_x), theirs.long())
print("per-tensor uint8 integers identical:", same_x_ints)
labkit.expect(same_w_params and same_x_params, "qparams should match PyTorch's observers")
labkit.expect(same_w_ints and same_x_ints, "quantize should match PyTorch's ops bit for bit")

# %% [markdown]
# ## The size arithmetic
#
# A float32 number takes 4 bytes, an int8 number 1. The overview's example: a 100 MB float32
# model holds 25 million numbers, which take 25 MB as int8.
#
# To compare our model's sizes like with like, we first **fold batch norm** into the
# convolutions (`labkit.models.fold_batchnorm`): a batch norm after a conv only scales and
# shifts each output channel, so the conv's weights can absorb the scale and a new bias the
# shift. The same outputs, with fewer numbers. The int8 graph below does the same fold, so
# the float32 size we divide by is the folded model's. Counting the bytes of the tensors that
# inference reads:

# %%
mb = 100
n_numbers = mb * 1_000_000 // 4
print(f"{mb} MB of float32 = {n_numbers:,} numbers = {n_numbers * 1 / 1e6:.0f} MB as int8")

net_folded = fold_batchnorm(net)
with torch.no_grad():
    fold_gap = float((net_folded(data.test.X) - net(data.test.X)).abs().max())
print(f"folding batch norm changes the outputs by at most {fold_gap:.1e} (float rounding)")
labkit.expect(fold_gap < 1e-3, "folding batch norm should not change the outputs")
f32_bytes = tensor_bytes(net_folded)
int8_est = lq.packed_bytes(net_folded, 8)
print(f"float32, batch norm separate: {tensor_bytes(net):,} bytes; folded: {f32_bytes:,} bytes")
print(
    f"8-bit weights + a float32 scale per channel + float32 biases: {int8_est:,} bytes "
    f"({f32_bytes / int8_est:.2f}x smaller than folded float32)"
)
labkit.expect_between("float32 / int8 estimate", f32_bytes / int8_est, 3.0, 4.0)

# %% [markdown]
# Not quite 4x: the biases stay float32, and each output channel keeps a float32 scale. The
# real int8 model below shows its own count.
#
# ## 16 bits: float16 and bfloat16
#
# Between 32 and 8 bits sit two 16-bit floats. Both halve the bytes; they split their bits
# differently. **float16** keeps 10 bits of mantissa (fine steps) but only 5 of exponent: its
# largest number is 65,504. **bfloat16** keeps float32's 8 exponent bits (the same range) and
# only 7 mantissa bits: steps 2³ = 8 times coarser than float16's. Here is the folded model
# cast to each, its size, how far its weights moved, and its test accuracy paired against
# float32. (Mixed-precision *training*, which mixes 16 and 32 bits inside one model, will be
# the subject of notebook 05, coming.)

# %%
weights = torch.cat([p.detach().flatten() for p in net_folded.parameters()])
rounding = {}
for dtype in (torch.float16, torch.bfloat16):
    name = str(dtype).removeprefix("torch.")
    half = lq.cast_model(net_folded, dtype)
    half_bytes = tensor_bytes(half.net)
    rounding[name] = float((weights.to(dtype).float() - weights).norm() / weights.norm())
    comparison = labkit.compare_models(net, half, data.test, names=("float32", name))
    print(
        f"{name:<9} {half_bytes:,} bytes ({f32_bytes / half_bytes:.1f}x smaller); "
        f"relative rounding error of the weights {rounding[name]:.1e}"
    )
    print(f"          {comparison}")
    labkit.expect(f32_bytes == 2 * half_bytes, f"{name} should take exactly half the bytes")
    labkit.expect_no_detectable_difference(comparison)
coarser = rounding["bfloat16"] / rounding["float16"]
print(f"bfloat16 rounds the weights {coarser:.1f}x more coarsely than float16")
labkit.expect_between("bfloat16 / float16 rounding error", coarser, 4, 16)

# %% [markdown]
# What to notice: both 16-bit formats take exactly half the bytes, bfloat16 rounds about 8x
# more coarsely than float16 (three fewer mantissa bits), and neither changes the test
# accuracy detectably. 16-bit floats halve the size by rounding alone; int8 comes close to a
# quarter, but needs a grid with a scale and a zero point.
#
# ## Weights vs activations, and calibration
#
# Weights are known, so their range is exact. Activations depend on the input: to pick their
# range we run a few hundred **calibration** images through the model and record what flows
# into each layer. How to turn those values into [lo, hi] is a choice:
#
# - **min-max**: the extremes seen; one rare large value stretches the grid for everyone;
# - **percentile**: ignore the rarest 0.01% on each side (they get clipped);
# - **MSE**: try many clipping points and keep the one with the least total error, rounding
#   plus clipping (what PyTorch's histogram observer aims at).
#
# All three, from scratch, in `labkit.quantize.calibration_range`:

# %%
labkit.show_source(lq.calibration_range)

# %%
calibration = data.train.X[:256]
inputs = lq.collect_inputs(net, calibration)
v = inputs["features.8"]
fig, ax = plt.subplots(figsize=(7, 3))
plot_histogram(v, ax=ax, log=True, title="inputs of features.8 on 256 calibration images")
activation_error = {}
for method, color in zip(lq.CALIBRATION_METHODS, ("C1", "C2", "C3"), strict=True):
    lo, hi = lq.calibration_range(v, method, bits=4)
    activation_error[method] = lq.quantization_error(v, lq.qparams(lo, hi, bits=4))["mse"]
    ax.axvline(hi, color=color, lw=2, label=f"{method}: hi = {hi:.2f}")
ax.legend()
plt.show()
for method, err in activation_error.items():
    print(f"{method:<10} 4-bit mean squared error on these inputs: {err:.2e}")
for method in ("percentile", "mse"):
    labkit.expect(activation_error[method] < activation_error["minmax"], f"{method} should clip")

# %% [markdown]
# The values pile up near 0 with a long thin tail: min-max stretches the grid over all of the
# tail, and clipping it (percentile, MSE) cuts the 4-bit error of these values. Does it matter
# for accuracy? We simulate quantized inference ("fake quantization": round to the grid,
# compute in float) with weights and activations quantized separately, and each calibration
# method, and compare each variant with float32 on the same test images. The simulation, from
# scratch:

# %%
labkit.show_source(lq.simulate_quantized)

# %%
settings = {  # name: (weight bits, activation bits); None stays float32
    "weights 8-bit": (8, None),
    "activations 8-bit": (None, 8),
    "both 8-bit": (8, 8),
    "activations 4-bit": (None, 4),
    "activations 3-bit": (None, 3),
}
base_predictions = labkit.predict(net, data.test)
predictions, paired = {}, {}
for setting, (weight_bits, activation_bits) in settings.items():
    for method in lq.CALIBRATION_METHODS:
        sim = lq.simulate_quantized(net, calibration, weight_bits, activation_bits, method)
        predictions[setting, method] = labkit.predict(sim, data.test)
        paired[setting, method] = labkit.paired_comparison(
            base_predictions, predictions[setting, method], data.test.y, ("float32", method)
        )
print(f"accuracy difference to float32, in points   {'minmax':>8} {'percentile':>11} {'mse':>8}")
for setting in settings:
    row = [f"{100 * paired[setting, m].difference:+8.2f}" for m in lq.CALIBRATION_METHODS]
    print(f"{setting:<43} {row[0]} {row[1]:>11} {row[2]}")
eight_bit = [c for (setting, _), c in paired.items() if "8-bit" in setting]
for comparison in eight_bit:
    labkit.expect_no_detectable_difference(comparison)
print("largest 8-bit change:", min(eight_bit, key=lambda c: c.difference))
four_bit = [paired["activations 4-bit", m] for m in lq.CALIBRATION_METHODS]
for comparison in four_bit:
    labkit.expect_no_detectable_difference(comparison)
print("largest 4-bit gain:", max(four_bit, key=lambda c: c.difference))

three_bit = {m: paired["activations 3-bit", m] for m in lq.CALIBRATION_METHODS}
minmax_vs_mse = labkit.paired_comparison(
    predictions["activations 3-bit", "minmax"],
    predictions["activations 3-bit", "mse"],
    data.test.y,
    ("3-bit min-max", "3-bit mse"),
)
print("3-bit activations, min-max:", three_bit["minmax"])
print("3-bit activations, the two calibrations:", minmax_vs_mse)
labkit.expect_detectable(three_bit["minmax"], "float32")
labkit.expect(three_bit["mse"].difference > three_bit["minmax"].difference, "mse should lose less")
labkit.expect_no_detectable_difference(minmax_vs_mse)

# How far ahead must one model be (in images) for McNemar's test to see it, when it also
# loses `other_way` images to the other model?
n_test = len(data.test)
net_needed = {
    other_way: next(k for k in range(1, n_test) if mcnemar_exact(other_way + k, other_way) < 0.05)
    for other_way in (0, 1, 5)
}
for other_way, k in net_needed.items():
    print(
        f"smallest resolvable difference on {n_test} test images, with {other_way} going the "
        f"other way: {k} images net ({100 * k / n_test:.2f} points)"
    )
labkit.expect(net_needed[0] < net_needed[1] < net_needed[5], "disagreement should hide more")

# %% [markdown]
# What to notice:
#
# - every 8-bit variant, paired against float32 on the same test images, shows no detectable
#   difference. That is a weak statement. The last three lines give the smallest difference
#   this test can resolve: even when every image the two models disagree on goes one way, a
#   smaller loss stays invisible, and the more images the models disagree on in *both*
#   directions, the larger the net difference must be. What decides is how many images the
#   models disagree on, not the accuracy itself. So "8 bits keep the accuracy" means "any loss
#   is smaller than this test can see";
# - 4-bit activations even gain a few images with some calibrations: chance, with no
#   detectable difference;
# - with 3-bit activations the grid is coarse enough for min-max calibration to lose
#   detectably; the MSE range, which clips the tail, loses fewer images, but these test images
#   cannot tell the two calibrations apart.
#
# ## An integer-only layer
#
# Int8 hardware never sees a float inside a layer: 8-bit inputs (uint8 here: activations after
# a ReLU are never negative) times int8 weights are summed in **int32** (a sum of many 8-bit
# products overflows 8 and 16 bits), the bias is added as an int32 too, and the result is
# **requantized** to the next layer's 8-bit grid (uint8 again here): multiplied by
# M = x_scale * w_scale / out_scale and rounded. M is a real number, and integer-only
# hardware (microcontrollers, many DSPs and NPUs) cannot multiply by one. So M is written
# once, ahead of time, as **M = M0 · 2^-n** with M0 an integer in [2^30, 2^31) (Jacob et al.
# 2018), and requantizing becomes one integer multiply and one **rounding right shift** (add
# 2^(n-1), then shift right by n):

# %%
labkit.show_source(lq.fixed_point_multiplier)
labkit.show_source(lq.requantize)

# %% [markdown]
# The whole layer in integers, from scratch:

# %%
labkit.show_source(lq.integer_linear)

# %% [markdown]
# Here is the classifier layer computed that way on the features of 450 test images, with
# each step's integers, the fixed-point multiplier of one output channel, and the result
# compared with a float64 multiply and with the float layer:

# %%
with torch.no_grad():
    feats = net.features(data.test.X)
    y_float = net.classifier(feats)
out_qp = lq.qparams_for(y_float, 8, symmetric=False)
r = lq.integer_linear(feats, net.classifier, lq.qparams_for(feats, 8, symmetric=False), out_qp)
print(
    f"x on the uint8 grid: {int(r['x_q'].min())}..{int(r['x_q'].max())}; "
    f"w on the int8 grid: {int(r['w_q'].min())}..{int(r['w_q'].max())}; "
    f"accumulator dtype {r['acc_int32'].dtype}"
)
largest = int(r["acc_int32"].abs().max())
print(f"largest accumulator {largest:,} (int16 stops at {2**15 - 1:,})")
labkit.expect(largest > 2**15 - 1, "the sums should overflow int16")
m, m0, n = float(r["multiplier"][0]), int(r["m0"][0]), int(r["shift"][0])
print(f"channel 0: M = {m:.9e} = {m0:,} x 2^-{n}  (M0 / 2^{n} = {m0 / 2**n:.9e})")
labkit.expect(2**30 <= m0 < 2**31, "M0 should lie in [2^30, 2^31)")
apart = (r["y_q"] - r["y_q_float"]).abs()
print(
    f"fixed point vs float64 multiply: at most {int(apart.max())} step apart; "
    f"{int((apart > 0).sum())} of {apart.numel()} outputs differ"
)
labkit.expect(int(apart.max()) <= 1, "fixed point should stay within one step of the float")
print(
    f"max |integer result - float layer| = {float((r['y'] - y_float).abs().max()):.4f} "
    f"(one output step is {float(out_qp.scale):.4f})"
)
agree = (r["y"].argmax(1) == y_float.argmax(1)).float().mean()
print(f"same predicted digit as float: {100 * agree:.1f}% of images")

# %% [markdown]
# What to notice: the largest sum is beyond what int16 can hold, which is why accumulators are
# int32; M0 is a 31-bit integer and the shift turns it back into the tiny M; and the
# integer-only result stays within one output step of the float64 multiply. The check against
# PyTorch's own int8 graph follows once we have one.
#
# ## Real int8 inference on the CPU
#
# Everything above simulated int8 in float, or did integer arithmetic by hand. To *run* int8
# kernels, current PyTorch goes:
#
# 1. `torch.export` captures the model as a graph;
# 2. torchao's `prepare_pt2e` with `X86InductorQuantizer` folds batch norm into the convs and
#    inserts observers (int8 weights per channel, uint8 activations per tensor, histogram
#    calibration);
# 3. we run the calibration images through it;
# 4. `convert_pt2e` turns observers into quantize/dequantize steps: a *reference* model, with
#    the right numbers, still computed in float;
# 5. `torch.compile` with **freezing** fuses each dequantize-conv-quantize into one int8
#    kernel (oneDNN) and packs the int8 weights once.
#
# `labkit.quantize.ptq_int8` does 1-4 (and times each step) and `compile_model` does 5, or says
# why it cannot. What speed to expect depends on the CPU:

# %%
cpu = labkit.cpu_features()
print(cpu.summary())
print(int8_expectation(cpu))
print("exporting, calibrating and converting the model (a few seconds) ...")
ptq_seconds = {}
int8_ref = ptq_int8(net, calibration, timings=ptq_seconds)
op_counts = graph_op_counts(int8_ref)
print("operations in the int8 graph:", op_counts)
labkit.expect(op_counts["conv2d"] == 3 and op_counts["linear"] == 1, "3 convs and 1 linear")
# What produces the input and the weight of each conv and linear node in the graph?
layer_ops = (torch.ops.aten.conv2d.default, torch.ops.aten.linear.default)
feeders = [
    [n.target.__name__.removesuffix(".default") for n in (node, *node.args[:2])]
    for node in int8_ref.graph.nodes
    if node.target in layer_ops
]
for layer, x_from, w_from in feeders:
    print(f"{layer:<16} input from {x_from:<30} weight from {w_from}")
labkit.expect(
    all(x.startswith("dequantize") and w.startswith("dequantize") for _, x, w in feeders),
    "every layer should read dequantized input and weights",
)
int8_vs_float = labkit.compare_models(net, int8_ref, data.test, names=("float32", "int8"))
print(int8_vs_float)
labkit.expect_no_detectable_difference(int8_vs_float)

# %% [markdown]
# The graph holds three convolutions and one linear layer, each reading its input and its
# weights through a dequantize step, and its accuracy shows no detectable difference from
# float32 (with the same caveat as above: this test cannot see a small drop).
#
# ### The same layer inside PyTorch's int8 graph
#
# Our integer-only classifier can now be checked against PyTorch's: we run the int8 graph on
# the test images and read out what its last layer received (the input integers and their
# scale, the int8 weights) and produced. Fed the same input and scale, our layer should pick
# the same integers, and its output, on an 8-bit grid fitted to PyTorch's output, should stay
# within one grid step of it:

# %%
lib = last_linear_in_graph(int8_ref, data.test.X)
lib_x_qp = lq.QParams(torch.tensor(lib.x_scale), torch.tensor(lib.x_zero_point), 0, 255)
lib_out_qp = lq.qparams_for(lib.y, 8, symmetric=False)
ours = lq.integer_linear(lib.x, net.classifier, lib_x_qp, lib_out_qp)
same_x = torch.equal(ours["x_q"].long(), lib.x_q)
same_w = torch.equal(ours["w_q"].long(), lib.w_q)
print(f"input integers identical: {same_x}; int8 weights identical: {same_w}")
steps = (ours["y"] - lib.y).abs() / lib_out_qp.scale
within = float((steps <= 1).float().mean())
print(
    f"our integer output vs PyTorch's: {100 * within:.2f}% of {steps.numel()} values within "
    f"one step, largest gap {float(steps.max()):.2f} steps"
)
labkit.expect(same_x and same_w, "the integers should match PyTorch's int8 graph")
labkit.expect(within >= 0.99, "the integer layer should agree with PyTorch's within one step")

# %% [markdown]
# What to notice: the integers going in are identical, and the integer-only output agrees with
# PyTorch's int8 graph within one step on nearly every value. (PyTorch leaves this last layer's
# output in float, so the 8-bit output grid is ours; the remaining gap is its rounding.)
#
# ### What the int8 model really stores
#
# The converted module still carries the original float weights as attributes, but its graph
# never reads them. Counting every attribute would overstate the size; we count only the
# tensors the graph reads:

# %%
stored = graph_bytes_by_dtype(int8_ref)
int8_bytes = tensor_bytes(int8_ref)
print("bytes the graph reads, by dtype:", {k: v for k, v in stored.items() if k != "unused"})
print(
    f"int8 model {int8_bytes:,} bytes vs float32 (batch norm folded) {f32_bytes:,} bytes: "
    f"{f32_bytes / int8_bytes:.2f}x smaller"
)
print(f"float weights still attached but never read (not counted): {stored['unused']:,} bytes")
labkit.expect_between("float32 / int8 bytes", f32_bytes / int8_bytes, 3.0, 4.0)
labkit.expect(
    int8_bytes - int8_est == stored["int64"], "the int64 zero points should be the difference"
)

# %% [markdown]
# What to notice: the real int8 model is a little larger than our estimate above, and the
# difference is exactly its int64 bytes: PyTorch stores each channel's zero point as an int64
# (8 bytes, though for symmetric weights every one is 0), next to the float32 scales and
# biases that the estimate counted.
#
# ### Latency, side by side
#
# `labkit.quantize.time_float32_and_int8` compiles both models and times them in interleaved
# rounds, together with the eager float32 model, on a batch of 256 test images. Each row is
# named by what really ran. Two ratios compare like with like: compiled float32 against eager
# float32 (what compilation alone buys), and int8 against float32, both compiled (what int8
# buys on top). Each row gives the median time of one call and, in brackets, the range from
# the 10th to the 90th percentile of all its runs (how much the runs scatter); each ratio is
# the median over interleaved rounds, with the range over rounds. The first compile takes a
# while (it writes and builds C++ kernels); a message says so. Where there is no working C++
# compiler, everything runs eagerly and the report says what that means.

# %%
batch = data.test.X[:256]
course_timing = time_float32_and_int8(net, int8_ref, batch)
print(course_timing.report())
if course_timing.int8_speedup:
    print(labkit.reference_timing("04.int8_course_speedup", course_timing.int8_speedup.median))
# Compiled kernels round a little differently from the reference graph; on the batch
# compiled above (another batch size would compile again), how often do they agree?
with torch.inference_mode():
    compiled_int8 = course_timing.int8.model
    agree = (compiled_int8(batch).argmax(1) == int8_ref(batch).argmax(1)).float().mean()
print(f"the int8 model as it ran and the int8 graph agree on {100 * agree:.1f}% of the batch")
if course_timing.compile_speedup is not None:
    labkit.expect_above(
        "compiled / eager float32, slowest round", course_timing.compile_speedup.low, 1
    )

# %% [markdown]
# What to notice: where the compiler works, compiling alone makes float32 faster (fused
# operations, no Python per layer), so "int8 vs eager float32", the number often quoted, would
# credit int8 with compilation's gain. Read the int8 line against *compiled* float32: this tiny
# model has 16-32 channels per layer, and there fixed per-layer costs weigh about as much as
# the arithmetic that int8 speeds up. The next cell times a block of real size.
#
# ### Where int8 pays: a block of real size
#
# A block like those in the middle of ResNet-18: two 3x3 convolutions with 256 channels on a
# 14x14 feature map, one image at a time (random weights: only the timing matters here). It
# does about twice as many multiply-accumulates per call as the course model does on 256
# images, but in layers 8 to 16 times wider:

# %%
block, image = wide_block(channels=256, size=14)  # two 3x3 convolutions and their ReLUs
block_int8 = ptq_int8(block, [torch.randn(8, 256, 14, 14).relu() for _ in range(2)])
block_macs, course_macs = count_macs(block, image), count_macs(net, batch)
print(f"multiply-accumulates per call: block {block_macs:,}, course model {course_macs:,}")
labkit.expect_between("block / course multiply-accumulates", block_macs / course_macs, 1.5, 2.5)
block_size_ratio = tensor_bytes(block) / tensor_bytes(block_int8)
print(f"the int8 block is {block_size_ratio:.3f}x smaller than the float32 block")
labkit.expect(
    f32_bytes / int8_bytes < block_size_ratio < 4, "wider layers should come closer to 4x"
)
block_timing = time_float32_and_int8(block, block_int8, image, runs=10)
print(block_timing.report())
if block_timing.int8_speedup:
    print(labkit.reference_timing("04.int8_block_speedup", block_timing.int8_speedup.median))
fast_int8 = cpu.int8_fast_path  # x86, a working compiler, and VNNI or AMX
if fast_int8 and block_timing.int8_speedup and course_timing.int8_speedup:
    labkit.expect_above("block int8 speed-up, slowest round", block_timing.int8_speedup.low, 1.0)
    labkit.expect(
        block_timing.int8_speedup.median > course_timing.int8_speedup.median,
        "int8 should gain more on the wide block than on the course model",
    )
else:
    print("no int8 speed claim on this machine:", int8_expectation(cpu))

# %% [markdown]
# What to notice: with 256 x 3 x 3 weights per output channel, the scales, zero points and
# biases hardly count, and the int8 block comes closer to 4x smaller than the course model
# does. Where the fast int8 path exists (an x86 CPU with int8 dot-product instructions, VNNI
# or AMX, and a working compiler; the claim is checked only there), int8 runs the wide block
# faster than compiled float32 in every round, and gains more there than on the course model.
# Elsewhere the cell prints what to expect instead. `labkit bench quantize` also times a whole
# ResNet-18 at 224x224 this way.
#
# ### Dynamic int8 for Linear layers
#
# For models made mostly of Linear layers (transformers, MLPs), torchao's `quantize_` with
# `Int8DynamicActivationInt8WeightConfig` stores int8 weights and quantizes activations on the
# fly, batch by batch: no calibration at all. It does not touch Conv2d layers:

# %%
dyn, counts = dynamic_int8_linear(net)
print(counts)
labkit.expect(counts["conv_float"] == 3 and counts["linear_int8"] == 1, "only Linear converts")
dynamic_vs_float = labkit.compare_models(net, dyn, data.test, names=("float32", "dynamic int8"))
print(dynamic_vs_float)
labkit.expect_no_detectable_difference(dynamic_vs_float)
one_image = data.test.X[:1]
linear_macs = count_macs(net.classifier, torch.zeros(1, net.classifier.in_features))
linear_share = linear_macs / count_macs(net, one_image)
print(f"share of the model's multiply-accumulates in its Linear layer: {100 * linear_share:.3f}%")
labkit.expect(linear_share < 0.01, "the convolutions should do nearly all the work")

# %% [markdown]
# What to notice: only the Linear layer is converted, and the paired comparison finds no
# detectable difference from float32 on the test images. On this model, though, that layer
# does a tiny share of the work (the last line), so dynamic int8 leaves nearly all the
# arithmetic in float32: it is the tool for Linear-heavy models, not for a small CNN.
#
# ## Below 8 bits: quantization-aware training
#
# Round the weights to fewer bits after training (post-training quantization, PTQ) and at some
# point accuracy collapses. **Quantization-aware training** (QAT) fine-tunes with the rounding
# in the forward pass, so the weights move to values that round well. The rounding has no
# useful gradient, so the backward pass lets the gradient through it unchanged (the
# *straight-through estimator*); `labkit.quantize.FakeQuantWeight` is that trick, in a few lines:
# `w + (wq - w).detach()` equals `wq` going forward, and its gradient is the gradient of `w`.

# %%
labkit.show_source(lq.FakeQuantWeight)

# %% [markdown]
# PTQ at 8, 4, 3 and 2 bits per weight, each paired against float32; then one epoch of QAT at
# 2 bits, three times with different batch orders (seeds), each paired against 2-bit PTQ
# (a few seconds per run):

# %%
ptq = {b: lq.quantize_weights(net, b) for b in (8, 4, 3, 2)}
ptq_vs_float = {
    b: labkit.compare_models(net, m, data.test, names=("float32", f"PTQ {b}-bit"))
    for b, m in ptq.items()
}
for comparison in ptq_vs_float.values():
    print(comparison)
labkit.expect_no_detectable_difference(ptq_vs_float[4])
labkit.expect_detectable(ptq_vs_float[3], "float32")
labkit.expect_detectable(ptq_vs_float[2], "float32")

qat_runs = [lq.qat(net, data, bits=2, epochs=1, seed=seed) for seed in range(3)]
qat_vs_ptq = [
    labkit.compare_models(ptq[2], m, data.test, names=("PTQ 2-bit", f"QAT 2-bit, seed {seed}"))
    for seed, (m, _) in enumerate(qat_runs)
]
for comparison in qat_vs_ptq:
    print(comparison)
    labkit.expect_detectable(comparison, comparison.names[1])
gain = labkit.seed_interval([100 * c.difference for c in qat_vs_ptq])
print(f"QAT's gain over PTQ at 2 bits, in points: {gain}")
labkit.expect(gain.low > 0, "QAT's gain should hold over seeds")
loss_2bit = -ptq_vs_float[2].difference
recovered = [c.difference / loss_2bit for c in qat_vs_ptq]
print("share of the 2-bit PTQ loss that QAT wins back, per seed:", [f"{r:.0%}" for r in recovered])
labkit.expect(min(recovered) > 0.5, "every seed should win back more than half of the loss")

fig, ax = plt.subplots(figsize=(6, 3.5))
ptq_acc = [100 * labkit.evaluate(m, data.test).value for m in ptq.values()]
ax.plot(list(ptq), ptq_acc, "o-", label="PTQ")
for seed, ((m, _), marker) in enumerate(zip(qat_runs, "s^v", strict=True)):
    acc = 100 * labkit.evaluate(m, data.test).value
    ax.plot(2 + 0.1 * (seed - 1), acc, marker, color="C1", ms=7, label=f"QAT 1 epoch, seed {seed}")
ax.axhline(100 * base_acc.value, color="0.5", ls="--", label="float32")
ax.set_xticks(list(ptq))
ax.set_xlabel("bits per weight")
ax.set_ylabel("test accuracy (%)")
ax.set_title("Rounded after training (PTQ) or trained with rounding (QAT)")
ax.invert_xaxis()
ax.legend()
plt.show()

# %% [markdown]
# What to notice: per-channel 4-bit weights show no detectable loss without any training; at
# 3 and 2 bits PTQ loses detectably; and one epoch of QAT wins back more than half of the
# 2-bit loss, in every seed (the line above the figure). The 2-bit model stores 16x fewer
# bits per weight than float32.

# %% [markdown]
# ## Explore: how many bits?
#
# Move the slider: the weights of `features.4` with the grid drawn over them, the rounding error,
# and the validation accuracy of the whole model with every weight rounded to that many bits
# (after training, no fine-tuning). Switch "one grid per channel" off to see why per-channel
# grids matter below 8 bits.

# %%
bits_app = BitsExplorer(net, data)
display(bits_app)

# %% [markdown]
# ## Codebook (k-means) quantization
#
# A uniform grid spaces its values evenly; a **codebook** puts 2^bits values where the weights
# are, found by k-means, and stores each weight as an index into it (Han et al., Deep
# Compression). Our k-means is a few lines of Lloyd's algorithm; scikit-learn's, on the same
# layer, is the reference (the closer the two sums of squared errors, the better ours did):

# %%
labkit.show_source(lq.kmeans_1d)

# %%
from sklearn.cluster import KMeans  # imported where it is used: memory stays lower until here

flat = w.flatten()
centroids, idx = lq.kmeans_1d(flat, 16)
ours_sse = float(((flat - centroids[idx]) ** 2).sum())
km = KMeans(16, n_init=4, random_state=0).fit(flat.numpy().reshape(-1, 1))
print(f"sum of squared errors: ours {ours_sse:.4f}, scikit-learn {km.inertia_:.4f}")
labkit.expect(ours_sse <= 1.03 * km.inertia_, "our k-means should be as good as scikit-learn's")
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
plot_quantization_grid(flat, levels, ax=axes[0], title="uniform 4-bit grid (per tensor)")
plot_quantization_grid(flat, centroids, ax=axes[1], title="k-means codebook, 16 values")
plt.show()
uniform_error = lq.fake_quantize(flat, qp4) - flat
codebook_error = centroids[idx] - flat
print(
    f"on this layer: squared error uniform 4-bit {float((uniform_error**2).sum()):.4f}, "
    f"codebook {ours_sse:.4f}; largest |error| uniform {float(uniform_error.abs().max()):.4f}, "
    f"codebook {float(codebook_error.abs().max()):.4f}"
)
labkit.expect(ours_sse < float((uniform_error**2).sum()), "the codebook should fit better")
labkit.expect(
    codebook_error.abs().max() > uniform_error.abs().max(), "the codebook should miss the tails"
)

# The whole model: one codebook per layer, against one uniform grid per layer (like for like)
# and against one uniform grid per output channel.
codebook = lq.codebook_quantize(net, bits=4)
per_tensor = lq.quantize_weights(net, 4, per_channel=False)
codebook_vs_tensor = labkit.compare_models(
    per_tensor, codebook, data.test, names=("uniform 4-bit per layer", "codebook 4-bit per layer")
)
codebook_vs_channel = labkit.compare_models(
    ptq[4], codebook, data.test, names=("uniform 4-bit per channel", "codebook 4-bit per layer")
)
print(codebook_vs_tensor)
print(codebook_vs_channel)
labkit.expect_no_detectable_difference(codebook_vs_tensor)
labkit.expect_detectable(codebook_vs_channel, "uniform 4-bit per channel")
print(
    f"stored sizes: codebook {lq.packed_bytes(codebook, 4, codebook=True):,} bytes, "
    f"uniform 4-bit per layer {lq.packed_bytes(per_tensor, 4, per_channel=False):,}, "
    f"per channel {lq.packed_bytes(ptq[4], 4):,}"
)

# %% [markdown]
# What to notice: on one layer the codebook has the smaller total squared error, but the
# larger worst error: k-means spends its values where the weights are dense, near 0, and
# leaves the few large weights far from any value. A smaller squared error does not buy
# accuracy here: across the whole model, one codebook per layer shows no detectable difference
# from one uniform grid per layer, and is detectably less accurate than a uniform grid per
# output channel. Deep Compression fine-tunes the shared values after clustering to win the
# accuracy back. Codebooks save storage, not time: inference looks each weight up again.
#
# ## What each technique costs to apply
#
# Post-training quantization's only pass over data is the calibration: 256 images, forward
# only. On top of it comes a fixed cost, capturing and rewriting the graph (export, prepare,
# convert), which does not grow with the number of images. Quantization-aware training and
# pruning with fine-tuning both train: every training image, forward and backward, for every
# epoch. Here are the wall-clock seconds of each step on this machine, one epoch for the two
# that train (the QAT runs above; pruning half the weights by magnitude, then fine-tuning with
# the masks kept), and each as a share of one QAT epoch:

# %%
pruned = copy.deepcopy(net)
masks = global_magnitude_masks(pruned, 0.5)
apply_masks(pruned, masks)
prune_history = labkit.fit(
    pruned, data.train, data.val, epochs=1, lr=1e-3, after_step=keep_masks(pruned, masks)
)
qat_epoch = statistics.median(h.seconds for _, h in qat_runs)
ptq_total = sum(ptq_seconds.values())
costs = {
    "PTQ: calibrate (256 images, forward)": ptq_seconds["calibrate"],
    "PTQ: export + prepare + convert": ptq_total - ptq_seconds["calibrate"],
    "PTQ total": ptq_total,
    "QAT 2-bit: 1 epoch (median of 3 seeds)": qat_epoch,
    "prune 50% + fine-tune: 1 epoch": prune_history.seconds,
}
print(f"{'step':<40} {'seconds':>8}  {'QAT epochs':>10}")
for step, seconds in costs.items():
    print(f"{step:<40} {seconds:8.3f}  {seconds / qat_epoch:10.2f}")
for epoch in (qat_epoch, prune_history.seconds):
    labkit.expect_above("one training epoch / calibration", epoch / ptq_seconds["calibrate"], 5.0)
qat_recipe = inspect.signature(lq.qat).parameters["epochs"].default
print(f"labkit's QAT recipe (lq.qat) trains {qat_recipe} epochs by default")
labkit.expect(ptq_total < qat_recipe * qat_epoch, "all of PTQ should cost less than QAT's recipe")
labkit.expect(costs["PTQ: export + prepare + convert"] > ptq_seconds["calibrate"], "fixed cost")

# %% [markdown]
# What to notice: calibration, PTQ's only pass over data, costs a small fraction of one epoch
# of either kind of training. The fixed cost of capturing and rewriting the graph is larger
# here, so the honest comparison is the "PTQ total" row: all of post-training quantization
# still costs less than the default quantization-aware training recipe (its epochs times the
# epoch above), and real recipes for larger models train for many more epochs.

# %% [markdown]
# ## The results, drawn
#
# Every variant of the course model in this notebook, side by side: how much smaller it is than
# float32 (batch norm folded on both sides), how many fewer multiply-accumulates it does (none:
# quantization narrows the numbers, not the arithmetic's count), and how much faster it runs
# where this machine can run it that way (int8 compiled against float32 compiled; the others
# have no kernels of their own here: n/a); then test accuracy against size, each with its 95%
# interval.

# %%
bf16 = lq.cast_model(net_folded, torch.bfloat16)
drawn = {
    "float32": (net_folded, f32_bytes),
    "bfloat16": (bf16, tensor_bytes(bf16.net)),
    "int8 (PT2E)": (int8_ref, int8_bytes),
    "4-bit weights": (ptq[4], lq.packed_bytes(ptq[4], 4)),
    "2-bit QAT": (qat_runs[0][0], lq.packed_bytes(qat_runs[0][0], 2)),
    "4-bit codebook": (codebook, lq.packed_bytes(codebook, 4, codebook=True)),
}
int8_speed = course_timing.int8_speedup
plot_savings(
    {
        label: {
            "bytes": f32_bytes / size,
            "MACs": 1.0,  # the same layers, the same count of multiply-accumulates
            "speed": int8_speed.median if int8_speed and label.startswith("int8") else None,
        }
        for label, (_, size) in drawn.items()
    },
    title="against float32: what each variant saves",
)
plt.show()
accuracy = {label: labkit.evaluate(model, data.test) for label, (model, _) in drawn.items()}
plot_tradeoff(
    [size for _, size in drawn.values()],
    [a.value for a in accuracy.values()],
    labels=list(drawn),
    yerr=[a.interval for a in accuracy.values()],
    xlabel="bytes the model keeps (log scale)",
    ylabel="test accuracy",
    title="accuracy against size, with 95% intervals",
    logx=True,
)
plt.show()
sizes = [size for _, size in drawn.values()]
labkit.expect(sizes[0] == max(sizes), "every variant should be smaller than float32")
labkit.expect(drawn["2-bit QAT"][1] == min(sizes), "the 2-bit model should be the smallest")
labkit.expect(
    all(count_macs(m, one_image) == count_macs(net_folded, one_image) for m in (ptq[4], codebook)),
    "rounding the weights leaves the count of multiply-accumulates as it was",
)

# %% [markdown]
# **Notice:** every variant is smaller than float32 and the 2-bit model is the smallest, while
# the count of multiply-accumulates stays the same; where the accuracy intervals overlap, read
# the paired comparisons above before calling one variant more accurate.

# %% [markdown]
# ## Exercises
#
# **Q1.** Values from -1.0 to 3.0 go onto the uint8 grid 0..255 with an asymmetric mapping.
# Compute the scale and the zero point.

# %% tags=["exercise"]
scale, zero_point = ____, ____
lab04.q1.check(scale, zero_point)

# %% [markdown]
# **Q2.** Write `my_quantize(x, scale, zero_point, qmin, qmax)` that returns the integers of
# `x` on the grid. The check compares it with PyTorch's `quantize_per_tensor`, bit for bit,
# including values that lie exactly halfway between two grid points: PyTorch, like
# `torch.round`, rounds those to the even neighbour (2.5 becomes 2, 3.5 becomes 4).


# %% tags=["exercise"]
def my_quantize(x, scale, zero_point, qmin, qmax):
    return ____


lab04.q2.check(my_quantize)

# %% [markdown]
# **Q3.** The int8 graph stores each weight zero point as an int64 (8 bytes), though an int32
# (4 bytes) would hold it. If the int8 model (`int8_ref`) stored its zero points as int32, by
# what factor would it be smaller than the float32 model with batch norm folded in
# (`net_folded`)? Compute it from the byte counts of "What the int8 model really stores" or
# with labkit's size functions; the check explains the rest of the gap to 4.

# %% tags=["exercise"]
ratio = ____
lab04.q3.check(ratio)

# %% [markdown]
# ## Summary
#
# - Quantization maps real numbers to a small integer grid with a scale and a zero point:
#   symmetric for weights, asymmetric for activations, per channel where channels differ.
# - 16-bit floats halve a model's bytes: float16 with finer steps, bfloat16 with float32's
#   range. int8 makes it almost 4x smaller than float32 with batch norm folded (scales, zero
#   points and biases keep it under 4x); the activations' range comes from calibration.
# - An int8 layer needs no float at all: int32 accumulation and a fixed-point multiplier with
#   a rounding shift, which agrees with PyTorch's int8 graph within one step.
# - Real int8 inference in PyTorch: torch.export, `prepare_pt2e` with `X86InductorQuantizer`,
#   calibrate, `convert_pt2e`, `torch.compile` with freezing. Compare compiled with compiled:
#   where the CPU has a fast int8 path, int8 pays on wide layers, more than on tiny ones.
# - Below 8 bits, quantization-aware training wins back much of what rounding loses; codebooks
#   fit the values to the weights, which lowers the squared error but, without fine-tuning,
#   does not beat a uniform grid per channel. PTQ's calibration costs a small fraction of a
#   training epoch, and all of PTQ less than the default quantization-aware training.
#
# ## What's next
#
# [05 · Mixed precision](05_mixed_precision.ipynb): 16-bit floats where they are safe, 32-bit
# where they are needed, and loss scaling for training.
#
# ## Resources and references
#
# - B. Jacob et al. *Quantization and Training of Neural Networks for Efficient
#   Integer-Arithmetic-Only Inference.* CVPR 2018 (the affine scheme, integer-only layers and
#   the fixed-point multiplier).
# - R. Krishnamoorthi. *Quantizing deep convolutional networks for efficient inference: A
#   whitepaper.* arXiv:1806.08342, 2018.
# - M. Nagel et al. *A White Paper on Neural Network Quantization.* arXiv:2106.08295, 2021.
# - S. Han, H. Mao, W. J. Dally. *Deep Compression.* ICLR 2016 (k-means codebooks).
# - Y. Bengio, N. Léonard, A. Courville. *Estimating or Propagating Gradients Through
#   Stochastic Neurons.* arXiv:1308.3432, 2013 (the straight-through estimator).
# - D. Kalamkar et al. *A Study of BFLOAT16 for Deep Learning Training.* arXiv:1905.12322, 2019.
# - PyTorch / torchao: "PyTorch 2 Export Quantization with X86 Backend through Inductor"
#   tutorial; torchao `quantize_` documentation.
