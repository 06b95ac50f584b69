# %% [markdown]
# # 04 · Quantization
#
# ## Overview
#
# **Quantization** stores and computes with fewer bits per number: float32 (32 bits, such as
# 3.14) becomes int8 (8 bits, such as 42). Every weight stays, but each takes a quarter of the
# space, so a 100 MB model becomes 25 MB; and CPUs with int8 instructions compute several
# times faster. It is the cheapest technique in extra work (no retraining needed), which is
# why phones and embedded devices use it, where a small drop in accuracy is acceptable.
#
# We quantize **weights** (fixed, known in advance) and **activations** (the values flowing
# between layers, which depend on the input and must be *calibrated* on example images). We
# build the arithmetic from scratch, check it against PyTorch's own operations, then run a
# real int8 model through the current PyTorch path, and go beyond 8 bits: quantization-aware
# training and codebooks.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [00 · Welcome](00_welcome.ipynb) | necessary | the baseline model, `evaluate` |
# | [03 · Pruning](03_pruning.ipynb) | helpful | masks, fine-tuning, and "what really saves bytes" |
# | Integers in binary | helpful | 8 bits hold 256 values |
#
# **Time to learn:** about 45 minutes.

# %% [markdown]
# ## Imports

# %%
import labkit

labkit.setup()

import matplotlib.pyplot as plt
import torch
import torchao.quantization.pt2e  # noqa: F401  (registers PyTorch's quantized_decomposed ops)

from labkit import lowbit
from labkit import quantize as lq
from labkit.deploy import compile_model, dynamic_int8_linear, ptq_int8
from labkit.exercises import ____, lab04
from labkit.hardware import int8_expectation
from labkit.measure import compare_latency, graph_tensors, tensor_bytes
from labkit.plots import plot_histogram, plot_quantization_grid

data = labkit.load_digits()
net = labkit.load_pretrained("baseline").eval()
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
# dense to see: 256 lines).

# %%
w = net.features[4].weight.detach()
qp4 = lq.qparams_for(w, bits=4, symmetric=True)
levels = lq.dequantize(torch.arange(qp4.qmin, qp4.qmax + 1), qp4)
ax = plot_quantization_grid(w, levels, title="features.4 weights and the 4-bit grid")
plt.show()

rows = []
for bits in (8, 4):
    for symmetric in (True, False):
        for per_channel in (False, True):
            qp_ = lq.qparams_for(w, bits, symmetric=symmetric, per_channel=per_channel, axis=0)
            err = lq.quantization_error(w, qp_)
            name = f"{bits}-bit {'symmetric' if symmetric else 'asymmetric'} " + (
                "per-channel" if per_channel else "per-tensor"
            )
            rows.append((name, err["mse"], err["max_abs"]))
print(f"{'quantizer':<36} {'mean sq. error':>14} {'max |error|':>12}")
for name, mse, mx in rows:
    print(f"{name:<36} {mse:>14.2e} {mx:>12.5f}")
print(f"4-bit / 8-bit mean squared error (symmetric per-tensor): {rows[4][1] / rows[0][1]:.0f}x")

# %% [markdown]
# What to notice: 8 bits have 16x finer steps than 4 bits, so the squared error shrinks by
# roughly 16² = 256 (the last line measures it); per-channel beats per-tensor because each channel gets a grid fitted to its own
# range; and for weights centred on 0, asymmetric gains little over symmetric.
#
# ### Checked against PyTorch
#
# Exported int8 graphs in PyTorch are made of the operations
# `torch.ops.quantized_decomposed.quantize_per_tensor` and `quantize_per_channel`. Given the
# same scale and zero point, ours give the same integers, bit for bit:

# %%
ops = torch.ops.quantized_decomposed
qp_pc = lq.qparams_for(w, 8, symmetric=True, per_channel=True, axis=0)
theirs = ops.quantize_per_channel.default(
    w, qp_pc.scale, qp_pc.zero_point, 0, -128, 127, torch.int8
)
print("per-channel int8 identical:", torch.equal(lq.quantize(w, qp_pc), theirs.long()))
x = data.test.X[:64]
qp_x = lq.qparams_for(x, 8, symmetric=False)
theirs = ops.quantize_per_tensor.default(
    x, float(qp_x.scale), int(qp_x.zero_point), 0, 255, torch.uint8
)
print("per-tensor uint8 identical:", torch.equal(lq.quantize(x, qp_x), theirs.long()))

# %% [markdown]
# ## The size arithmetic
#
# A float32 number takes 4 bytes, an int8 number 1. The overview's example: a 100 MB float32
# model holds 25 million numbers, which take 25 MB as int8. On our model, counting the bytes of
# the tensors that inference reads:

# %%
mb = 100
n_numbers = mb * 1_000_000 // 4
print(f"{mb} MB of float32 = {n_numbers:,} numbers = {n_numbers * 1 / 1e6:.0f} MB as int8")
f32_bytes = tensor_bytes(net)
int8_est = lq.packed_bytes(net, 8)
print(
    f"course model: float32 {f32_bytes:,} bytes; 8-bit weights + a scale per channel "
    f"{int8_est:,} bytes ({f32_bytes / int8_est:.2f}x smaller)"
)

# %% [markdown]
# Not quite 4x: biases and batch-norm numbers stay float32, and each channel keeps a scale.
# The real int8 model below shows its own count.
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
calib = data.train.X[:256]
inputs = lq.collect_inputs(net, calib)
v = inputs["features.8"]
fig, ax = plt.subplots(figsize=(7, 3))
plot_histogram(v, ax=ax, log=True, title="inputs of features.8 on 256 calibration images")
for method, color in zip(("minmax", "percentile", "mse"), ("C1", "C2", "C3"), strict=True):
    lo, hi = lq.calibration_range(v, method, bits=4)
    ax.axvline(hi, color=color, lw=2, label=f"{method}: hi = {hi:.2f}")
ax.legend()
plt.show()

# %% [markdown]
# The values pile up near 0 with a long thin tail: min-max spends most of the grid on the tail.
# Does it matter for accuracy? We simulate quantized inference ("fake quantization": round to
# the grid, compute in float) with weights and activations quantized separately, and each
# calibration method:

# %%
print(f"{'what is quantized':<32} {'minmax':>9} {'percentile':>11} {'mse':>9}")
for wb, ab in ((8, None), (None, 8), (8, 8), (None, 4), (None, 3)):
    label = f"weights {wb or 32}-bit, activations {ab or 32}-bit"
    accs = [
        labkit.evaluate(lq.simulate_quantized(net, calib, wb, ab, method), data.test).value
        for method in ("minmax", "percentile", "mse")
    ]
    print(f"{label:<32} " + " ".join(f"{100 * a:>9.1f}%" for a in accs))
print(f"(float32 baseline {base_acc}; 450 test images: a difference below ~1.5 points is noise)")

# %% [markdown]
# At 8 bits every choice keeps the baseline accuracy; the calibration method starts to matter
# when the grid is coarse (3-4-bit activations), where clipping the tail pays off.
#
# ## An integer-only layer
#
# Int8 hardware never sees a float inside a layer: int8 inputs times int8 weights are summed
# in **int32** (a sum of many int8 x int8 products overflows 8 and 16 bits), the bias is added
# as an int32 too, and the result is **requantized** to the next layer's int8 grid with one
# multiplication by M = x_scale * w_scale / out_scale. Here is the classifier layer computed
# that way on the features of 450 test images:

# %%
with torch.no_grad():
    feats = net.features(data.test.X)
    y_float = net.classifier(feats)
r = lq.integer_linear(
    feats,
    net.classifier,
    lq.qparams_for(feats, 8, symmetric=False),
    lq.qparams_for(y_float, 8, symmetric=False),
)
print(
    f"x on the uint8 grid: {int(r['x_q'].min())}..{int(r['x_q'].max())}; "
    f"w on the int8 grid: {int(r['w_q'].min())}..{int(r['w_q'].max())}; "
    f"accumulator dtype {r['acc_int32'].dtype}"
)
print(f"largest accumulator {int(r['acc_int32'].abs().max()):,} (int16 stops at 32,767)")
print(f"requantization multipliers M: {r['multiplier'].min():.2e} .. {r['multiplier'].max():.2e}")
print(
    f"max |integer result - float result| = {float((r['y'] - y_float).abs().max()):.4f} "
    f"(one output step is {float(lq.qparams_for(y_float, 8).scale):.4f})"
)
agree = (r["y"].argmax(1) == y_float.argmax(1)).float().mean()
print(f"same predicted digit as float: {100 * agree:.1f}% of images")

# %% [markdown]
# ## Real int8 inference on the CPU
#
# Everything above simulated int8 in float. To *run* int8 kernels, current PyTorch goes:
#
# 1. `torch.export` captures the model as a graph;
# 2. torchao's `prepare_pt2e` with `X86InductorQuantizer` inserts observers (int8 weights per
#    channel, uint8 activations per tensor, histogram calibration);
# 3. we run the calibration images; 4. `convert_pt2e` turns observers into quantize/dequantize
#    steps (a *reference* model: correct numbers, computed slowly);
# 5. `torch.compile` with **freezing** fuses each dequantize-conv-quantize into one int8
#    kernel (oneDNN) and packs the int8 weights once. Without freezing there is no speed-up.
#
# `labkit.quantize.ptq_int8` does 1-4 and `compile_model` does 5 (or says why it cannot).
# What speed to expect depends on the CPU:

# %%
print(labkit.cpu_features().summary())
print(int8_expectation())
int8_ref = ptq_int8(net, calib)
kinds = {}
for node in int8_ref.graph.nodes:
    if node.op == "call_function":
        name = str(node.target).split(".")[-2]
        kinds[name] = kinds.get(name, 0) + 1
print("operations in the int8 graph:", kinds)
int8_acc = labkit.evaluate(int8_ref, data.test)
print(f"int8 accuracy {int8_acc}   (float32 {base_acc})")

# %% [markdown]
# ### What the int8 model really stores
#
# The converted module still carries the original float weights as attributes, but its graph
# never reads them. Counting every attribute would overstate the size; we count only the
# tensors the graph reads:

# %%
kept = graph_tensors(int8_ref)
by_dtype = {}
for t in kept.values():
    by_dtype[str(t.dtype)] = by_dtype.get(str(t.dtype), 0) + t.numel() * t.element_size()
leftover = sum(p.numel() * p.element_size() for p in int8_ref.parameters())
print("bytes the graph reads, by dtype:", by_dtype)
print(
    f"int8 model {tensor_bytes(int8_ref):,} bytes vs float32 {f32_bytes:,} "
    f"({f32_bytes / tensor_bytes(int8_ref):.2f}x smaller); "
    f"unused float leftovers not counted: {leftover:,} bytes"
)

# %% [markdown]
# ### Latency, side by side
#
# We compile the float32 model too, so that we can tell what int8 buys beyond compilation
# itself. The first compile takes a while (it writes and builds C++ kernels); a message says so.

# %%
batch = data.test.X[:256]
f32_compiled = compile_model(labkit.load_pretrained("baseline").eval(), batch, name="float32")
int8_compiled = compile_model(int8_ref, batch, name="int8")
lat = compare_latency(
    {
        "float32 eager": net,
        f"float32 {f32_compiled.mode}": f32_compiled.model,
        f"int8 {int8_compiled.mode}": int8_compiled.model,
    },
    batch,
    rounds=5,
)
for name, timing in lat.items():
    print(f"{name:<17} {timing}")
if f32_compiled.compiled and int8_compiled.compiled:
    print(f"compiling float32 alone: {lat.ratio('float32 compiled', 'float32 eager')} faster")
    print(f"int8 vs float32, both compiled: {lat.ratio('int8 compiled', 'float32 compiled')}")
else:
    print(f"no like-for-like int8 timing here: {int8_compiled.reason or f32_compiled.reason}")
# Compiled kernels round a little differently from the reference graph; on the batch
# compiled above (another batch size would compile again), how often do they agree?
with torch.inference_mode():
    agree = (int8_compiled.model(batch).argmax(1) == int8_ref(batch).argmax(1)).float().mean()
print(
    f"compiled int8 and the int8 graph predict the same class for {100 * agree:.1f}% of the batch"
)

# %% [markdown]
# Read the three lines together. int8 vs float32 *eager* is the number usually quoted; int8 vs
# *compiled* float32 separates what int8 buys from what compilation alone buys (fused
# operations, no Python per layer). On this tiny model, with 16-32 channels per layer, fixed
# per-layer costs weigh about as much as the arithmetic, so the int8 advantage over compiled
# float32 is small or absent; on a real-size network it grows. `labkit bench quantize`
# measures resnet18 at 224x224 too, side by side.
#
# ### Dynamic int8 for Linear layers
#
# For models made mostly of Linear layers (transformers, MLPs), torchao's `quantize_` with
# `Int8DynamicActivationInt8WeightConfig` stores int8 weights and quantizes activations on the
# fly, batch by batch: no calibration at all. It does not touch Conv2d layers:

# %%
dyn, counts = dynamic_int8_linear(net)
print(counts)
with torch.no_grad():
    same = (dyn(data.test.X).argmax(1) == net(data.test.X).argmax(1)).float().mean()
print(f"same predictions as float32 on {100 * same:.1f}% of test images")

# %% [markdown]
# ## Below 8 bits: quantization-aware training
#
# Round the weights to fewer bits after training (post-training quantization, PTQ) and at some
# point accuracy collapses. **Quantization-aware training** (QAT) fine-tunes with the rounding
# in the forward pass, so the weights move to values that round well. The rounding has no
# useful gradient, so the backward pass lets the gradient through it unchanged (the
# *straight-through estimator*); `labkit.lowbit.FakeQuantWeight` is that trick, in a few lines:
# `w + (wq - w).detach()` equals `wq` going forward, and its gradient is the gradient of `w`.

# %%
labkit.show_source(lowbit.FakeQuantWeight)

# %%
ptq_accs = {b: labkit.evaluate(lowbit.quantize_weights(net, b), data.test) for b in (8, 4, 3, 2)}
for b, acc in ptq_accs.items():
    print(f"PTQ {b}-bit weights (per channel): {acc}")
qat_accs = {}
for b in (3, 2):
    qat_net, _ = lowbit.qat(net, data, bits=b, epochs=2)
    qat_accs[b] = labkit.evaluate(qat_net, data.test)
    print(f"QAT {b}-bit weights, 2 epochs:     {qat_accs[b]}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(list(ptq_accs), [100 * a.value for a in ptq_accs.values()], "o-", label="PTQ")
ax.plot(list(qat_accs), [100 * a.value for a in qat_accs.values()], "s-", label="QAT")
ax.axhline(100 * base_acc.value, color="0.5", ls="--", label="float32")
ax.set_xlabel("bits per weight")
ax.set_ylabel("test accuracy (%)")
ax.invert_xaxis()
ax.legend()
plt.show()

# %% [markdown]
# Per-channel 4-bit weights already keep this small model's accuracy without any training;
# at 3 and 2 bits PTQ breaks down, and two epochs of QAT bring it back. The 2-bit model stores
# 16x fewer bits per weight than float32.
#
# ## Codebook (k-means) quantization
#
# A uniform grid spaces its values evenly; a **codebook** puts 2^bits values where the weights
# are, found by k-means, and stores each weight as an index into it (Han et al., Deep
# Compression). Our k-means is a few lines of Lloyd's algorithm; scikit-learn's, on the same
# layer, is the reference (the closer the two sums of squared errors, the better ours did):

# %%
labkit.show_source(lowbit.kmeans_1d)

# %%
from sklearn.cluster import KMeans  # imported where it is used: memory stays lower until here

flat = w.flatten()
centroids, idx = lowbit.kmeans_1d(flat, 16)
ours = float(((flat - centroids[idx]) ** 2).sum())
km = KMeans(16, n_init=4, random_state=0).fit(flat.numpy().reshape(-1, 1))
print(f"sum of squared errors: ours {ours:.4f}, scikit-learn {km.inertia_:.4f}")
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
plot_quantization_grid(flat, levels, ax=axes[0], title="uniform 4-bit grid (per tensor)")
plot_quantization_grid(flat, centroids, ax=axes[1], title="k-means codebook, 16 values")
plt.show()
uniform_err = float(((lq.fake_quantize(flat, qp4) - flat) ** 2).sum())
print(f"squared error: uniform 4-bit {uniform_err:.4f}, codebook {ours:.4f}")
cb = lowbit.codebook_quantize(net, bits=4)
print(
    f"whole model, one 16-value codebook per layer: {labkit.evaluate(cb, data.test)}, "
    f"{lq.packed_bytes(cb, 4, codebook=True):,} bytes"
)

# %% [markdown]
# Per layer, the codebook fits the weights better than a uniform per-tensor grid. For the
# whole model, one codebook per layer loses to per-channel uniform 4-bit here, because channel
# sizes differ a lot; Deep Compression fine-tunes the shared values after clustering to win
# the accuracy back. Codebooks save storage, not time: inference looks each weight up again.

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
# `x` on the grid. The check compares it with PyTorch's `quantize_per_tensor`.


# %% tags=["exercise"]
def my_quantize(x, scale, zero_point, qmin, qmax):
    return ____


lab04.q2.check(my_quantize)

# %% [markdown]
# **Q3.** By what factor is the real int8 model (`int8_ref`) smaller than the float32 model
# (`net`)? Compute it with labkit's size functions; the check explains why it is not 4.

# %% tags=["exercise"]
ratio = ____
lab04.q3.check(ratio)

# %% [markdown]
# ## Summary
#
# - Quantization maps real numbers to a small integer grid with a scale and a zero point:
#   symmetric for weights, asymmetric for activations, per channel where channels differ.
# - int8 makes a model about 4x smaller (biases and scales keep it a little under); the
#   activations' range comes from calibration, and at 8 bits min-max is usually enough.
# - Real int8 inference in PyTorch: torch.export, `prepare_pt2e` with `X86InductorQuantizer`,
#   calibrate, `convert_pt2e`, `torch.compile` with freezing. The speed-up depends on the CPU
#   (VNNI, AMX) and on the layer sizes; measure it, side by side.
# - Below 8 bits, quantization-aware training recovers what rounding loses; codebooks fit the
#   grid to the weights.
#
# ## What's next
#
# Notebook 05, mixed precision (coming next): 16-bit floats where they are safe, 32-bit where
# they are needed, and loss scaling for training.
#
# ## Resources and references
#
# - B. Jacob et al. *Quantization and Training of Neural Networks for Efficient
#   Integer-Arithmetic-Only Inference.* CVPR 2018 (the affine scheme and integer-only layers).
# - R. Krishnamoorthi. *Quantizing deep convolutional networks for efficient inference: A
#   whitepaper.* arXiv:1806.08342, 2018.
# - M. Nagel et al. *A White Paper on Neural Network Quantization.* arXiv:2106.08295, 2021.
# - S. Han, H. Mao, W. J. Dally. *Deep Compression.* ICLR 2016 (k-means codebooks).
# - Y. Bengio, N. Léonard, A. Courville. *Estimating or Propagating Gradients Through
#   Stochastic Neurons.* arXiv:1308.3432, 2013 (the straight-through estimator).
# - PyTorch / torchao: "PyTorch 2 Export Quantization with X86 Backend through Inductor"
#   tutorial; torchao `quantize_` documentation.
