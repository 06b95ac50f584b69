# %% [markdown]
# # 05 · Mixed precision
#
# ## Overview
#
# **Mixed precision** trains with 16-bit numbers where they are safe and keeps 32 bits where
# they are needed. Matrix products and convolutions, most of the work, run in a 16-bit format;
# the loss, the batch-norm running statistics and the master copy of the weights (which each
# update is added to) stay in float32. On hardware built for it
# (GPUs with tensor cores, TPUs, CPUs with native bfloat16) training gets faster, and the
# activations kept for the backward pass take about half the memory, which lets larger models
# and batches fit.
#
# Two 16-bit formats compete. **float16** has fine steps but a narrow range: small gradients
# underflow to zero, so training with it needs **loss scaling**. **bfloat16** keeps float32's
# range with coarser steps, and usually needs no scaling. We look at both bit by bit, read from
# running code which operations PyTorch's autocast runs in 16 bits, write a dynamic loss scaler
# and check it against PyTorch's, train the course model in all three precisions, and measure
# what this machine's hardware makes of it.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [00 · Welcome](00_welcome.ipynb) | necessary | the baseline model, `evaluate`, paired comparisons |
# | [04 · Quantization](04_quantization.ipynb) | helpful | "16 bits: float16 and bfloat16" casts a trained model |
# | Gradients and backpropagation | helpful | a training step: forward, loss, backward, optimizer step |
#
# **Time to learn:** about 40 minutes.

# %% [markdown]
# ## Imports

# %%
import labkit

labkit.setup()

import matplotlib.pyplot as plt
import torch
from IPython.display import display

from labkit import precision as lp
from labkit.deploy import speed_words
from labkit.exercises import ____, lab05
from labkit.hardware import bf16_expectation
from labkit.precision import ScaleExplorer

data = labkit.load_digits()
net = labkit.load_pretrained("digits_baseline").eval()
print(f"baseline (float32): test accuracy {labkit.evaluate(net, data.test)}")

# %% [markdown]
# ## Number formats, bit by bit
#
# A float stores a **sign**, an **exponent** (which power of two) and a **mantissa** (the
# digits after the leading 1): the number is (-1)^sign x 2^(exponent - bias) x 1.mantissa.
# More exponent bits give more range; more mantissa bits give finer steps. `torch.finfo`
# describes each format; `labkit.precision.format_info` reads it:

# %%
formats = {name: lp.format_info(name) for name in lp.FORMATS}
print(
    f"{'format':<9} {'exp':>3} {'mant':>4} {'largest':>10} {'smallest normal':>16} "
    f"{'smallest subnormal':>19} {'step at 1.0':>12}"
)
for f in formats.values():
    print(
        f"{f.name:<9} {f.exponent_bits:>3} {f.mantissa_bits:>4} {f.max:>10.3g} "
        f"{f.smallest_normal:>16.3g} {f.smallest_subnormal:>19.3g} {f.eps:>12.3g}"
    )
labkit.expect(
    formats["bfloat16"].exponent_bits == formats["float32"].exponent_bits,
    "bfloat16 keeps float32's exponent",
)
labkit.expect(formats["float16"].max < 1e5 < formats["bfloat16"].max, "float16's range is narrow")

# %% [markdown]
# Here are a few numbers bit by bit. `decode` applies the rule above to the bits, and gives
# back exactly what PyTorch stored, in every format:

# %%
agree = True
for x in (1.0, 0.1, -3.14, 65504.0, 1e-5):
    print(f"x = {x}")
    for name in lp.FORMATS:
        sign, exponent, mantissa = lp.bit_fields(x, name)
        value = lp.decode(sign, exponent, mantissa)
        stored = float(torch.tensor(x, dtype=torch.float64).to(lp.FORMATS[name]))
        agree &= value == stored
        print(f"  {name:<9} {sign} {exponent:<8} {mantissa:<23} -> {value!r}")
labkit.expect(agree, "decoding the bits should give what PyTorch stores")
in_bf16 = float(torch.tensor(65504.0).to(torch.bfloat16))
labkit.expect(in_bf16 == 65536, "bfloat16 rounds 65504 to 65536")
labkit.expect(lp.bit_fields(1e-5, "float16")[1] == "00000", "1e-5 is subnormal in float16")
tenth = {
    name: abs(float(torch.tensor(0.1, dtype=torch.float64).to(t)) - 0.1)
    for name, t in lp.FORMATS.items()
}
print("error in storing 0.1: " + ", ".join(f"{n} {e:.1e}" for n, e in tenth.items()))
labkit.expect(
    0 < tenth["float32"] < tenth["float16"] < tenth["bfloat16"], "0.1: least exact in bfloat16"
)

# %% [markdown]
# What to notice: 0.1 is stored inexactly in every format, least exactly in bfloat16
# (7 mantissa bits); 65504 is float16's largest number and bfloat16 cannot even
# hold it (it rounds to 65536); 1e-5 is below float16's smallest *normal* number, so it is
# stored as a **subnormal** (exponent all zeros), with fewer significant bits.
#
# ### Rounding in a long sum
#
# Steps grow with the number: near 32, float16's step is 32 x 2^-10 = 0.03125. Add 0.01 to a
# running total 4,096 times, keeping the total in each format:

# %%
terms = torch.full((4096,), 0.01)
sums = {name: lp.running_sum(terms, name) for name in lp.FORMATS}
for name, total in sums.items():
    print(f"{name:<9} total {total:8.4f}   (exact: {4096 * 0.01:.2f})")
labkit.expect(abs(sums["float32"] - 40.96) < 0.01, "float32 gets close to 40.96")
labkit.expect(sums["float16"] == 32 and sums["bfloat16"] == 4, "16-bit totals stall")

# %% [markdown]
# What to notice: the float16 total stops at 32 and the bfloat16 total at 4: from there on,
# 0.01 is less than half a step, and each addition rounds back to the same total. That is why
# mixed precision keeps the long-running accumulations in float32: the loss, the batch-norm
# running statistics, and the weights that every small update is added to. (Not every sum
# inside the model: the autocast section below shows which ones a CPU runs in 16 bits.)
#
# ### Where a real model's numbers fall
#
# The weights, activations and gradients of the trained baseline on one batch, drawn on one
# number line with the three formats' ranges. The gradients are those of each layer's output
# (what the backward pass carries from layer to layer), on 256 training images:

# %%
X, y = data.train.X[:256], data.train.y[:256]
weights = torch.cat([p.detach().flatten() for p in net.parameters()])
with torch.no_grad():
    activations = torch.cat([net.features[:k](X).flatten() for k in (3, 7, 11)])
grads = lp.activation_gradients(net.train(), X, y)
net.eval()
all_grads = torch.cat([g.flatten() for g in grads.values()])
ranges = {f.name: (f.smallest_subnormal, f.smallest_normal, f.max) for f in formats.values()}
lp.plot_number_line(
    ranges,
    {"weights": weights, "activations": activations, "activation gradients": all_grads},
    title="magnitudes of the baseline's numbers, and each format's range",
)
plt.show()
fates = {
    "weights": lp.fate_in(weights, "float16"),
    "activations": lp.fate_in(activations, "float16"),
    "activation gradients": lp.fate_in(all_grads, "float16"),
}
for what, fate in fates.items():
    print(
        f"{what:<21} in float16: {100 * fate['underflow']:5.1f}% underflow to 0, "
        f"{100 * fate['subnormal']:5.1f}% subnormal, {100 * fate['overflow']:.1f}% overflow"
    )
labkit.expect(fates["weights"]["underflow"] == 0, "no weight underflows")
for what in ("weights", "activations"):
    labkit.expect_above(f"{what} in float16's normal range", fates[what]["normal"], 0.99)
labkit.expect_above(
    "gradients below float16's normal range", 1 - fates["activation gradients"]["normal"], 0.5
)
labkit.expect_above("gradients flushed to zero", fates["activation gradients"]["underflow"], 0.05)
labkit.expect(lp.fate_in(all_grads, "bfloat16")["normal"] == 1, "bfloat16 holds every gradient")

# %% [markdown]
# What to notice: more than 99% of the weights and activations sit inside float16's normal
# range, but
# most activation gradients of a trained model fall below it, and a good share (the line
# above) underflow to zero: their information is lost. bfloat16 holds every one of them as a
# normal number.

# %% [markdown]
# ## Casting, and what autocast does
#
# Casting a tensor down to 16 bits and back measures what is lost. On the baseline's weights:

# %%
errors = {name: lp.round_trip_error(weights, name) for name in ("float16", "bfloat16")}
for name, err in errors.items():
    print(f"float32 -> {name} -> float32: relative error {err:.1e}")
coarser = errors["bfloat16"] / errors["float16"]
print(f"bfloat16 loses {coarser:.1f}x more than float16")
labkit.expect_between("bfloat16 / float16 round-trip error", coarser, 4, 16)

# %% [markdown]
# What to notice: bfloat16 rounds about 8x more coarsely (three fewer mantissa bits, 2^3 = 8).
#
# `torch.autocast` does this casting for us, operation by operation: in its region, some
# operations cast their inputs to 16 bits and run there, others run in float32. Rather than
# trusting a list, we record every operation of one forward pass and its loss as it really
# ran (`labkit.precision.autocast_ops` watches the dispatcher, below autocast):

# %%
records = lp.autocast_ops(lambda: torch.nn.functional.cross_entropy(net(X), y), torch.bfloat16)
ran_in = {}
for r in records:
    if r.op not in ("detach", "view", "t", "_to_copy"):
        ran_in.setdefault(r.op, r.output)
casts = sum(r.op == "_to_copy" for r in records)
for op, dtype in ran_in.items():
    print(f"{op:<26} -> {dtype}")
print(f"... and {casts} casts (_to_copy) that autocast inserted")
labkit.expect(
    ran_in["convolution"] == ran_in["addmm"] == "bfloat16", "convs and matmuls in 16 bits"
)
labkit.expect(
    ran_in["_log_softmax"] == ran_in["nll_loss_forward"] == "float32", "the loss in float32"
)
labkit.expect(ran_in["mean"] == "bfloat16", "the pooling mean stays bfloat16 on the CPU")
fp16_ops = lp.autocast_ops(lambda: net(X), torch.float16)
labkit.expect({r.output for r in fp16_ops if r.op == "convolution"} == {"float16"}, "float16 too")

# %% [markdown]
# What to notice: the convolutions and the linear layer (`addmm`) ran in bfloat16, and the
# layers after them (batch norm, ReLU, pooling, and the `mean` of the global pooling) simply
# kept that dtype; only the loss (`_log_softmax`, `nll_loss`) was cast back to float32.
# The weights themselves stay float32: autocast casts a 16-bit copy for each product.
#
# Sums, softmax and exponentials are not moved to float32 by autocast on a CPU. The list of
# operations that autocast runs in float32, often quoted (sum, softmax, exp, logsumexp, ...),
# is the one for CUDA GPUs (see the torch.amp documentation). On this CPU, after a matrix
# product in bfloat16:

# %%
h, w = torch.randn(64, 10), torch.randn(10, 10)


def after_a_product():
    z = h @ w  # a matrix product: bfloat16 under autocast
    return z.sum(), z.mean(), z.softmax(-1), z.logsumexp(-1), z.exp()


reductions = {
    r.op: r.output
    for r in lp.autocast_ops(after_a_product, torch.bfloat16)
    if r.op in ("mm", "sum", "mean", "_softmax", "logsumexp", "exp")
}
for op, dtype in reductions.items():
    print(f"{op:<10} -> {dtype}")
labkit.expect(
    set(reductions.values()) == {"bfloat16"} and len(reductions) == 6,
    "on the CPU, sum, mean, softmax, logsumexp and exp stay in bfloat16",
)

# %% [markdown]
# What to notice: under CPU autocast, `sum`, `mean`, `softmax`, `logsumexp` and `exp` all
# ran in bfloat16; on a CPU it is the loss operations that autocast keeps in float32.

# %% [markdown]
# ## Loss scaling, from scratch
#
# In float16 the activation gradients above are in danger. Here is the fraction of each
# layer's output gradients that underflows to zero when stored in float16, as is, and after
# multiplying the loss (and so every gradient) by a **static** scale of 1024:

# %%
static = 2.0**10
no_scaling = {name: lp.fate_in(g, "float16")["underflow"] for name, g in grads.items()}
with_static = {name: lp.fate_in(g, "float16", static)["underflow"] for name, g in grads.items()}
for name in grads:
    print(f"{name:<12} {100 * no_scaling[name]:5.1f}% -> {100 * with_static[name]:5.2f}%")
labkit.expect(
    all(with_static[n] < no_scaling[n] or no_scaling[n] == 0 for n in grads),
    "scaling saves gradients in every layer",
)

# %% [markdown]
# What to notice: scaling by 1024 shifts every gradient 10 binary places up and saves almost
# all of them. Too large a scale would overflow the largest ones to infinity, and the right
# scale changes during training. A **dynamic** scaler finds it as it goes: after backward,
# divide the gradients by the scale; if any is inf or NaN, skip the step and halve the scale;
# after N good steps in a row, double it. Here is ours:

# %%
labkit.show_source(lp.DynamicScaler)

# %% [markdown]
# ### Checked against PyTorch's GradScaler
#
# `labkit.precision.scaler_run` trains a fresh course model for 40 steps of SGD (with
# momentum, batches of 32) in float16 (`labkit.fit(precision="float16_scaled", scaler=...)`:
# autocast, so the activations and their gradients really are float16) with a scaler, starting from a scale of 2^24, so large
# that the first steps overflow, and growing after 5 good steps. The same seeded run, once
# with our scaler and once with `torch.amp.GradScaler("cpu")`:

# %%
settings = dict(init_scale=2.0**24, growth_interval=5)
ours = lp.scaler_run(lp.DynamicScaler(**settings), data.train, steps=40)
theirs = lp.scaler_run(torch.amp.GradScaler("cpu", **settings), data.train, steps=40)
print("skipped steps (ours):  ", ours.skipped)
print("skipped steps (torch): ", theirs.skipped)
same = ours.scales == theirs.scales and ours.skipped == theirs.skipped
print("same scale at every step and the same skipped steps:", same)
labkit.expect(same, "our scaler should match GradScaler step for step")
grew = any(b > a for a, b in zip(ours.scales, ours.scales[1:], strict=False))
labkit.expect(ours.skipped[:3] == [0, 1, 2] and grew, "overflows first, growth later")
fig, ax = plt.subplots(figsize=(8, 3))
ax.step(range(len(ours.scales)), ours.scales, where="post", label="scale (ours = GradScaler's)")
ax.plot(ours.skipped, [ours.scales[s] for s in ours.skipped], "x", color="#D55E00", label="skipped")
ax.set_yscale("log", base=2)
ax.set_xlabel("step")
ax.set_ylabel("loss scale")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# What to notice: both scalers used the same scale at every step and skipped the same steps:
# the first steps overflow and halve the scale until the gradients fit, then the scale
# climbs after 5 good steps and falls back at the next overflow.
#
# Now the fraction flushed to zero per layer with no scaling, the static scale, and the scale
# our dynamic scaler ended its run with:

# %%
dynamic = ours.scales[-1]
with_dynamic = {name: lp.fate_in(g, "float16", dynamic)["underflow"] for name, g in grads.items()}
overflow = max(lp.fate_in(g, "float16", dynamic)["overflow"] for g in grads.values())
static_overflow = max(lp.fate_in(g, "float16", static)["overflow"] for g in grads.values())
lp.plot_fractions(
    {
        "no scaling": no_scaling,
        f"static {static:g}": with_static,
        f"dynamic {dynamic:g}": with_dynamic,
    },
    title="activation gradients flushed to zero in float16, per layer",
    ylabel="fraction underflowing",
)
plt.show()
print(
    f"with the dynamic scale {dynamic:g}: at most {100 * max(with_dynamic.values()):.3f}% "
    f"underflow, at most {100 * overflow:.3f}% overflow in any layer"
)
labkit.expect(sum(v >= 0.2 for v in no_scaling.values()) >= 3, "a fifth or more, 3+ layers")
labkit.expect(
    max(with_static.values()) < 0.01 and static_overflow == 0, "the static scale saves almost all"
)
labkit.expect(max(with_dynamic.values()) < 0.01 and overflow == 0, "so does the dynamic one")

# %% [markdown]
# What to notice: without scaling, a fifth or more of the gradients of at least three layers
# vanish; with either scale, less than 1% in any layer, and none overflows. (The dynamic
# scale was found on a fresh model's weight gradients; a scaler in real training adapts to the
# model it trains.)

# %% [markdown]
# ## Mixed precision training
#
# Now the real thing: `torch.autocast` around the forward pass and the loss, and for float16,
# `torch.amp.GradScaler` around backward and the optimizer step. This is the step of the
# course's one training loop, `labkit.fit`, whose `precision` argument switches it (our scaler
# has GradScaler's methods, so the loop runs with either):

# %%
labkit.show_source(lp.train_step)

# %% [markdown]
# `labkit.precision.train_side_by_side` trains three copies of one freshly initialized course model,
# float32, bfloat16 and float16 with the scaler, for one epoch: each batch goes through all
# three in turn, so they see the same data in the same order and share the machine's slow
# moments. We repeat it for 3 seeds, compare the test accuracy of each pair on the same
# images, and time the steps. A 16-bit format that this CPU cannot compute in hardware is
# emulated, and its steps are several times slower: the cell first says which formats are
# native here, and times one step of each precision to estimate how long the run takes.

# %%
cpu = labkit.cpu_features()
print(cpu.summary())
for fmt, native in (("bfloat16", cpu.native_bf16), ("float16", cpu.native_fp16)):
    if not native:
        print(f"SLOW: no native {fmt} on this CPU; its steps are emulated, several times slower.")
seeds, batch_size = (0, 1, 2), 64
one_step = lp.time_training_steps(
    {p: (net, p) for p in lp.PRECISIONS}, X[:batch_size], y[:batch_size], rounds=1, runs=2
)
steps = -(-len(data.train) // batch_size)
estimate = len(seeds) * steps * sum(one_step[p].median_ms for p in lp.PRECISIONS) / 1000
print(", ".join(f"one {p} step {one_step[p].median_ms:.0f} ms" for p in lp.PRECISIONS))
print(f"estimated training time: about {estimate:.0f} s ({len(seeds)} seeds x {steps} steps x 3)")

# %%
runs, paired = {}, {}
for seed in seeds:
    fresh = labkit.create_model("small_cnn", seed=seed)
    runs[seed] = lp.train_side_by_side(
        fresh, data.train, epochs=1, batch_size=batch_size, seed=seed
    )
    for p in ("bfloat16", "float16_scaled"):
        paired[seed, p] = labkit.compare_models(
            runs[seed].nets["float32"], runs[seed].nets[p], data.test, names=("float32", p)
        )
for seed in seeds:
    accs = {p: labkit.evaluate(m, data.test).percent for p, m in runs[seed].nets.items()}
    print(f"seed {seed}: " + ", ".join(f"{p} {a:.2f}%" for p, a in accs.items()))
    for p in ("bfloat16", "float16_scaled"):
        print(f"    {paired[seed, p]}")
for p in ("bfloat16", "float16_scaled"):
    gap = labkit.seed_interval([100 * paired[s, p].difference for s in seeds])
    print(f"{p} - float32 over {len(seeds)} seeds, points: {gap}")
    labkit.expect_above(f"mean {p} - float32 over seeds, points", gap.mean, -2)
print("skipped steps (float16 scaler):", [runs[s].skipped["float16_scaled"] for s in seeds])

# %% [markdown]
# What to notice: each line of a seed is a paired comparison of a 16-bit model with the
# float32 model trained from the same start on the same batches; "no detectable difference"
# there means the 95% interval holds 0. A single seed can also come out detectably different,
# in either direction: two nearly equal models reach the end by different paths. The cell
# asserts the average over the seeds: neither 16-bit precision costs 2 points or more.
#
# ### Step time and activation memory
#
# The step times come from the same run (steps grouped into rounds of 8, warm-up dropped);
# the activation memory is what autograd saves for backward in one training step on 256
# images (`torch.autograd.graph.saved_tensors_hooks`, summing bytes), under each precision:

# %%
bf16_speed = runs[0].ratio("bfloat16")
fp16_speed = runs[0].ratio("float16_scaled")
print(f"course model, step speed-up over float32: bfloat16 {bf16_speed}")
print(f"                                          float16 + scaler {fp16_speed}")
memory = {p: lp.activation_bytes(net, X, y, p) for p in lp.PRECISIONS}
for p, b in memory.items():
    print(
        f"activation memory, {p:<15} {labkit.format_bytes(b):>9} "
        f"({b / memory['float32']:.2f}x float32)"
    )
for p in ("bfloat16", "float16_scaled"):
    labkit.expect_between(
        f"{p} / float32 activation memory", memory[p] / memory["float32"], 0.4, 0.6
    )
if cpu.x86 and not cpu.native_fp16:
    labkit.expect(fp16_speed.high < 1, f"emulated float16 should be slower: {fp16_speed}")

# %% [markdown]
# What to notice: both 16-bit precisions keep between 0.4x and 0.6x of float32's activation
# memory (not exactly half: the batch-norm statistics and the loss stay float32, and the
# 16-bit copies of the weights are saved too). On an x86 CPU without native float16 (the feature
# line above) float16 steps are slower than float32 in every round. On this tiny model the
# bfloat16 speed is not asserted: fixed costs per layer dominate it; the next section measures
# a model where arithmetic dominates.

# %% [markdown]
# ## The hardware decides
#
# 16-bit arithmetic is only faster where the hardware computes in 16 bits: GPU tensor cores,
# TPUs, and CPUs with native bfloat16 (AVX-512 BF16, or AMX tiles on recent Intel Xeons).
# Elsewhere PyTorch emulates it, converting to float32 and back, which is slower than float32
# (PyTorch's issue tracker reports it, e.g. pytorch/pytorch#118499); float16 on a CPU without
# AVX512-FP16 or AMX-FP16 is far slower. What this CPU has, and what that predicts:

# %%
print(cpu.summary())
print(
    f"native bfloat16: {'yes' if cpu.native_bf16 else 'no'}; AMX: {'yes' if cpu.amx else 'no'}; "
    f"native float16: {'yes' if cpu.native_fp16 else 'no'}"
)
print(bf16_expectation(cpu))

# %% [markdown]
# A model where arithmetic dominates: three Linear layers of 512 units on 256 inputs. We time
# its training steps in interleaved rounds on one thread (so that the ratio reflects the
# arithmetic, not how the two cores are shared). One step of each first, for an estimate of
# the time it takes:

# %%
for fmt, native in (("bfloat16", cpu.native_bf16), ("float16", cpu.native_fp16)):
    if not native:
        print(f"SLOW: no native {fmt} on this CPU; its steps are emulated, several times slower.")
mlp, mlp_X, mlp_y = lp.compute_bound_mlp()
mlp_nets = {p: (mlp, p) for p in lp.PRECISIONS}
mlp_step = lp.time_training_steps(mlp_nets, mlp_X, mlp_y, rounds=1, runs=1, threads=1)
rounds, runs_per_round = 3, 3
estimate = rounds * (runs_per_round + 1) * sum(mlp_step[p].median_ms for p in lp.PRECISIONS)
print(", ".join(f"one {p} step {mlp_step[p].median_ms:.0f} ms" for p in lp.PRECISIONS))
print(f"estimated time of the rounds below: about {estimate / 1000:.1f} s")
step_lat = lp.time_training_steps(
    mlp_nets, mlp_X, mlp_y, rounds=rounds, runs=runs_per_round, threads=1
)
speed = {p: step_lat.ratio(p, "float32") for p in ("bfloat16", "float16_scaled")}
for p in lp.PRECISIONS:
    lat = step_lat[p]
    print(
        f"{p:<15} {lat.median_ms:6.1f} ms per step (median round; its {lat.runs} runs: "
        f"{lat.p10_ms:.1f} to {lat.p90_ms:.1f} ms, min to max)"
    )
print(f"bfloat16 speed-up over float32: {speed['bfloat16']}")
print(labkit.reference_timing("05.bf16_step_speedup", speed["bfloat16"].median))
print(f"float16 + scaler speed-up over float32: {speed['float16_scaled']}")
print(labkit.reference_timing("05.fp16_step_speedup", speed["float16_scaled"].median))
bf16 = speed["bfloat16"]
held = bf16.low > 1 if cpu.native_bf16 else bf16.high < 1
print(
    f"on this machine, a bfloat16 step against float32: {speed_words(bf16)}; the CPU's "
    f"features predict {'a faster' if cpu.native_bf16 else 'a slower'} step: "
    f"{'it held' if held else 'it did not hold in every round'}"
)
if cpu.native_bf16 and not held:
    print(
        "  the CPU reports native bfloat16, but not every round gained: the kernels PyTorch and "
        "oneDNN ran may be limited to older instructions (ATEN_CPU_CAPABILITY and "
        "ONEDNN_MAX_CPU_ISA set such limits; PyTorch's own kernels here: "
        f"{torch.backends.cpu.get_cpu_capability()}), or another program was busy"
    )
if cpu.x86 and not cpu.native_bf16:  # Arm's bfloat16 is not read from /proc/cpuinfo
    labkit.expect(bf16.median < 1, f"emulated bfloat16 should be slower, measured {bf16}")
if cpu.x86 and not cpu.native_fp16:
    labkit.expect(
        speed["float16_scaled"].high < 1,
        f"emulated float16 should be slower in every round, measured {speed['float16_scaled']}",
    )

# %% [markdown]
# What to notice: the line that begins "on this machine" says whether the prediction held
# here. On an x86 CPU without native bfloat16, PyTorch emulates it: the float32 arithmetic plus
# conversions to and from 16 bits, so more work, and a bfloat16 step is slower (asserted, by the
# median of the rounds); without native float16, float16 is slower in every round (asserted
# too). With native bfloat16 the prediction is a faster step (more so with AMX tiles), but
# whether it comes true depends on the kernels PyTorch and oneDNN choose, not only on what the
# CPU reports, so the cell says what it measured instead of asserting it.
#
# ### On a GPU
#
# Where a CUDA GPU is present, the cell below measures it: the model of the previous cell,
# widened to 4096 units on a batch of 4096, is moved to `labkit.get_device()` and its steps
# are timed in interleaved rounds as above. Without one, the cell shows figures recorded for
# this course on an H100, with where and how they were measured. They are **recorded, not
# measured here**:

# %%
device = labkit.get_device()
if device.type == "cuda":
    gpu_mlp, gpu_X, gpu_y = lp.compute_bound_mlp(width=4096, batch=4096)
    gpu_lat = lp.time_training_steps(
        {p: (gpu_mlp.to(device), p) for p in lp.PRECISIONS},
        gpu_X.to(device),
        gpu_y.to(device),
    )
    for p in ("bfloat16", "float16_scaled"):
        print(
            f"measured on {torch.cuda.get_device_name(device)}: {p} {gpu_lat.ratio(p, 'float32')}"
        )
else:
    recorded = lp.recorded_gpu_figures()
    print(f"RECORDED, NOT MEASURED HERE: {recorded['what']}")
    print(f"  where: {recorded['where']}, when: {recorded['when']}, {recorded['software']}")
    print(f"  how: {recorded['how']}")
    speedup = {}
    for row in recorded["rows"]:
        print(f"  {row['model']}, batch {row['batch']}, input {row['input']}:")
        for p in ("float16_scaled", "bfloat16"):
            if p in row:
                speedup[row["model"], p] = (row[p], row[p])
                print(f"    {p:<15} step speed-up over float32 {row[p]:.2f}x")
            elif f"{p}_low" in row:
                speedup[row["model"], p] = (row[f"{p}_low"], row[f"{p}_high"])
                print(
                    f"    {p:<15} step speed-up over float32 {row[f'{p}_low']:.2f}x to "
                    f"{row[f'{p}_high']:.2f}x (a range as recorded; the record does not say what it spans)"
                )
            else:
                print(f"    {p:<15} not recorded")
        for key in ("memory", "note"):
            if key in row:
                print(f"    {key}: {row[key]}")
    labkit.expect(
        min(speedup["resnet50", p][0] for p in ("float16_scaled", "bfloat16")) > 1,
        "recorded: ResNet-50 steps faster in both 16-bit formats",
    )
    labkit.expect(
        speedup["a course-size CNN", "float16_scaled"][1] < 1,
        "recorded: the course-size CNN slower in float16",
    )

# %% [markdown]
# What to notice: in the recorded figures (printed where no GPU is present), ResNet-50 at
# batch 128, where large convolutions dominate, takes its training steps faster in both
# float16 and bfloat16 than in float32, thanks to the tensor cores; on a model of our course's
# size, float16 steps were slower than float32 (bfloat16 was not recorded there), because
# launching each small kernel costs more than its arithmetic.

# %% [markdown]
# ## Explore: the loss scale
#
# Move the slider: the baseline's activation gradients times the loss scale, on float16's
# number line, and the fraction of each layer's gradients that underflow to zero or overflow
# to infinity. Find the range of scales where neither happens.

# %%
scale_app = ScaleExplorer(grads)
display(scale_app)

# %% [markdown]
# ## Exercises
#
# **Q1.** What is the largest finite float16 number? Compute it from the format (5 exponent
# bits, 10 mantissa bits) or read it from PyTorch.

# %% tags=["exercise"]
largest = ____
lab05.q1.check(largest)

# %% [markdown]
# **Q2.** A gradient of 1e-9 underflows to zero in float16. What is the smallest loss scale,
# a power of two, that makes it survive (stored as a non-zero float16 number)?

# %% tags=["exercise"]
scale = ____
lab05.q2.check(scale)

# %% [markdown]
# **Q3.** Write the update rule of a dynamic scaler: `next_scale(scale, good_steps,
# found_inf, growth_interval)` returns the new `(scale, good_steps)`: on inf/NaN halve the
# scale and reset the count; otherwise count the good step, and when the count reaches
# `growth_interval` double the scale and reset the count. The check runs it against
# `torch.amp.GradScaler` on a sequence of overflows and good steps.


# %% tags=["exercise"]
def next_scale(scale, good_steps, found_inf, growth_interval):
    return ____


lab05.q3.check(next_scale)

# %% [markdown]
# ## Summary
#
# - float16 has 10 mantissa bits and a range up to 65,504; bfloat16 has 7 mantissa bits and
#   float32's range. Long sums in 16 bits stall; mixed precision keeps the loss, the
#   batch-norm statistics and the weight update (on float32 master weights) in float32.
# - Autocast runs convolutions and matrix products in 16 bits and the loss in float32; on a
#   CPU, sums, means and softmax stay in 16 bits too. Read it from the running code, not from
#   a list.
# - Many activation gradients of a trained model underflow in float16. Loss scaling shifts
#   them up; a dynamic scaler halves on overflow and grows after good steps, exactly as
#   `torch.amp.GradScaler` does.
# - Trained in bfloat16 or float16 with a scaler, the course model loses less than 2 points
#   of accuracy against float32 on average over 3 seeds (each seed's paired comparison is
#   printed), with about half the activation memory.
# - Speed is the hardware's: native bfloat16, AMX or tensor cores make 16 bits faster on
#   large layers; without them 16-bit arithmetic is emulated and slower.
#
# ## What's next
#
# [06 · Matrix factorization](06_matrix_factorization.ipynb): fewer numbers per layer rather
# than fewer bits per number.
#
# ## Resources and references
#
# - P. Micikevicius et al. *Mixed Precision Training.* ICLR 2018, arXiv:1710.03740 (float32
#   master weights, loss scaling, float16 activation gradients that underflow).
# - D. Kalamkar et al. *A Study of BFLOAT16 for Deep Learning Training.* arXiv:1905.12322, 2019.
# - IEEE 754-2019, *Standard for Floating-Point Arithmetic* (formats, subnormal numbers).
# - PyTorch documentation: [Automatic Mixed Precision package - torch.amp](https://pytorch.org/docs/stable/amp.html)
#   (autocast op lists, `GradScaler`); [torch.finfo](https://pytorch.org/docs/stable/type_info.html).
# - PyTorch issue [#118499](https://github.com/pytorch/pytorch/issues/118499) (bfloat16 on
#   CPUs without native support).
# - NVIDIA, [Train With Mixed Precision](https://docs.nvidia.com/deeplearning/performance/mixed-precision-training/index.html)
#   (user guide).
