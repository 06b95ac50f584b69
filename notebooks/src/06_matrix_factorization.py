# %% [markdown]
# # 06 · Matrix factorization
#
# ## Overview
#
# A layer's weights form a matrix (a convolution's kernel can be read as one). **Matrix
# factorization** replaces that one large matrix by a product of smaller ones. A 3x3 matrix
# holds 9 numbers; if it is a column times a row, 3 + 3 = 6 numbers rebuild it exactly, a
# third fewer. Real weight matrices are rarely exact products, so the product is an
# approximation, and the question becomes how small it can be before the error hurts. The
# singular value decomposition (SVD) answers that, and the same idea splits convolutions: a
# 3x3 kernel into a 3x1 and a 1x3, or a wide convolution into thin ones on fewer channels
# (Tucker-2). Models can shrink several times this way.
#
# We build each factorization from scratch, check it against PyTorch's SVD and tensorly's
# Tucker decomposition, count parameters and multiply-accumulates (MACs) with formulas checked
# against the built layers, win the accuracy back by fine-tuning, and then ask the question
# that decides whether it is worth doing: **does the factorized model run faster on this
# CPU?** Fewer MACs are not less time: we measure where factorization starts to pay, and
# choose each layer's rank from measured times.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [00 · Welcome](00_welcome.ipynb) | necessary | the baseline, `fit`, paired comparisons, `compare_latency` |
# | [03 · Pruning](03_pruning.ipynb) | helpful | fine-tuning after compression; what really saves time |
# | [04 · Quantization](04_quantization.ipynb) | helpful | why a tiny model hides a technique's speed |
# | Matrix multiplication, rank of a matrix | helpful | an m x r times an r x n matrix |
#
# **Time to learn:** about 45 minutes.

# %% [markdown]
# ## Imports

# %%
import labkit

labkit.setup()

import itertools

import matplotlib.pyplot as plt
import tensorly as tl
import torch
from IPython.display import display
from tensorly.decomposition import partial_tucker
from torch import nn

from labkit import factorize as lf
from labkit.data import Split
from labkit.deploy import speed_words
from labkit.exercises import ____, lab06
from labkit.factorize import RankCalculator, plot_predicted_vs_measured, plot_spectra
from labkit.measure import compare_latency, count_macs, count_parameters
from labkit.plots import plot_savings

data = labkit.load_fashion_mnist(train_size=2000)
net = labkit.load_pretrained("baseline").eval()
base_predicted = labkit.predict(net, data.test)  # once: every paired comparison reuses it
base_acc = labkit.Accuracy(int((base_predicted == data.test.y).sum()), len(data.test))
one_image, batch = data.test.X[:1], data.test.X[:256]
print(f"{data}\nbaseline: test accuracy {base_acc}, {count_parameters(net):,} parameters")

# %% [markdown]
# ## From 9 numbers to 6
#
# A matrix of **rank 1** is a column times a row: every row is a multiple of the same row.
# Such a 3x3 matrix needs only the 3 numbers of the column and the 3 of the row. A matrix of
# rank r is a sum of r such products, an m x r matrix times an r x n one: r (m + n) numbers
# instead of m n. `labkit.factorize.low_rank` finds the best such product (how comes next);
# here it is on a rank-1 matrix and on a general one:

# %%
column = torch.tensor([[1.0], [2.0], [3.0]])
row = torch.tensor([[2.0, -1.0, 0.5]])
rank_one = column @ row
a, b = lf.low_rank(rank_one, 1)
n_full, n_split = rank_one.numel(), a.numel() + b.numel()
print(rank_one)
print(
    f"{n_full} numbers -> {tuple(a.shape)} @ {tuple(b.shape)}: {n_split} numbers, "
    f"{1 - n_split / n_full:.0%} fewer; "
    f"largest difference {float((a @ b - rank_one).abs().max()):.1e}"
)
labkit.expect(n_full == 9 and n_split == 6, "a 3x1 and a 1x3 hold 6 numbers")
labkit.expect(lf.approximation_error(rank_one, 1) < 1e-6, "rank 1 should come back exactly")

torch.manual_seed(0)
general = torch.randn(3, 3)
errors_3x3 = {r: lf.approximation_error(general, r) for r in (1, 2, 3)}
for r, error in errors_3x3.items():
    print(f"general 3x3 at rank {r}: {r * (3 + 3)} numbers, relative error {error:.3f}")
labkit.expect(errors_3x3[1] > errors_3x3[2] > 0.01, "a general 3x3 is no exact low-rank product")
labkit.expect(errors_3x3[3] < 1e-5, "at full rank the product is the matrix")

# %% [markdown]
# What to notice: the rank-1 matrix comes back exactly from 6 numbers, 33% fewer; the
# general one does not, and its error shrinks from rank 1 to rank 2. Rank 2 already needs 12
# numbers, more than the 9 it replaces: a factorization saves only when r (m + n) < m n, that
# is for ranks well below the matrix's size. Layers of real networks are large, so there is
# room.
#
# ## The singular value decomposition
#
# Every matrix W (m x n) is **U S V^T**: U and V have orthonormal columns, and S is diagonal
# with the **singular values** s1 >= s2 >= ... >= 0. Keeping the r largest gives the
# **truncated SVD** W_r = U_r S_r V_r^T, an m x r times an r x n matrix. The Eckart-Young
# theorem says no rank-r matrix is closer to W, and the error is exactly what was dropped:
# ||W - W_r||² = s_{r+1}² + s_{r+2}² + ... (Frobenius norm). Our version computes U_r as the
# leading eigenvectors of the small matrix W W^T (its eigenvalues are the squared singular
# values), then B = U_r^T W. Forming W W^T squares the matrix's condition number, so the
# smallest singular values lose precision (harmless for truncation, which drops them); for a
# tall matrix, where W W^T would be the large one, it falls back to `torch.linalg.svd`:

# %%
labkit.show_source(lf.low_rank)

# %% [markdown]
# How much can go depends on how fast the singular values fall. Here they are for the course
# model's layers (a convolution read as an out x (in·3·3) matrix) and for a random matrix of
# the same shape as `features.8`:

# %%
course_layers = lf.factorizable_layers(net)
spectra = {
    name: lf.singular_values(lf.method_matrix(layer.weight, "svd"))
    for name, layer in course_layers.items()
}
w8 = lf.method_matrix(net.features[8].weight, "svd")
torch.manual_seed(0)
random_w8 = torch.randn_like(w8) * w8.std()
spectra["random, shape of features.8"] = lf.singular_values(random_w8)
plot_spectra(spectra, title="Singular values of the course model's layers")
plt.show()
trained_rank, random_rank = lf.energy_rank(w8, 0.9), lf.energy_rank(random_w8, 0.9)
print(
    f"rank keeping 90% of the squared singular values: features.8 {trained_rank} of "
    f"{min(w8.shape)}, a random matrix of its shape {random_rank}"
)
labkit.expect(trained_rank < random_rank, "trained weights should have a faster-falling spectrum")

# %% [markdown]
# What to notice: the trained `features.8` keeps 90% of its squared singular values at a
# lower rank (printed above) than a random matrix of the same shape, whose spectrum falls
# more slowly: training leaves structure that a low-rank product can capture.
#
# ### Checked against PyTorch, and Eckart-Young numerically
#
# On the same matrix, our singular values should match `torch.linalg.svdvals`, and our
# rank-r product should be at least as good as `torch.svd_lowrank` (a randomized method,
# built for large matrices, that is allowed to be a little worse). Then Eckart-Young, checked
# rather than believed: 500 random rank-r products, each scaled as well as it can be, and 500
# small random changes of our own factors; none may beat the truncated SVD.

# %%
r = 4
ours_s, torch_s = lf.singular_values(w8), torch.linalg.svdvals(w8)
gap_s = float(((ours_s - torch_s).abs() / torch_s[0]).max())
a, b = lf.low_rank(w8, r)
u, s, v = torch.svd_lowrank(w8, q=r, niter=4)
ours_err = float((w8 - a @ b).norm() / w8.norm())
torch_err = float((w8 - u @ torch.diag(s) @ v.T).norm() / w8.norm())
print(f"singular values: largest gap to torch.linalg.svdvals {gap_s:.1e} (of the largest)")
dropped = float(torch_s[r:].square().sum().sqrt() / torch_s.square().sum().sqrt())
print(f"rank {r}: our relative error {ours_err:.4f}, torch.svd_lowrank {torch_err:.4f}")
print(f"Eckart-Young's formula, from torch's singular values: {dropped:.4f}")
labkit.expect(abs(ours_err - dropped) < 1e-4, "the error should be the dropped singular values")
labkit.expect(gap_s < 1e-4, "singular values should match torch.linalg.svdvals")
labkit.expect(ours_err <= torch_err + 1e-6, "truncated SVD should be at least as good")
labkit.expect(torch_err < 1.05 * ours_err, "svd_lowrank should come close")

g = torch.Generator().manual_seed(0)
best = float((w8 - a @ b).norm())
challengers = []
for _ in range(500):
    p = torch.randn(w8.shape[0], r, generator=g) @ torch.randn(r, w8.shape[1], generator=g)
    p = p * (p * w8).sum() / (p * p).sum()  # the best multiple of this product
    challengers.append(float((w8 - p).norm()))
nudged = [
    float((w8 - (a + 0.01 * torch.randn(a.shape, generator=g)) @ b).norm()) for _ in range(500)
]
print(
    f"error norm: truncated SVD {best:.4f}; best of 500 random rank-{r} products "
    f"{min(challengers):.4f}; best of 500 nudged SVD factors {min(nudged):.4f}"
)
labkit.expect(min(challengers) > best and min(nudged) > best, "no rank-r matrix should do better")

# %% [markdown]
# What to notice: the singular values agree with PyTorch's to float precision, our error is
# exactly what Eckart-Young's formula gives, our product is as good as `svd_lowrank`'s or
# better, and neither random products nor small changes of the
# SVD factors get closer to the layer: Eckart-Young, checked.
#
# ### A Linear layer as two Linear layers
#
# W_r = A B means `y = W x` becomes `y = A (B x)`: a Linear layer from n to r features, then
# one from r to m (the bias goes to the second). `lf.factorize_layer` builds it. The course
# model's classifier (32 to 10) is small, but shows the pattern: its error against the rank,
# and the accuracy of the whole model with only the classifier factorized.

# %%
classifier = net.classifier
print(lf.factorize_layer(classifier, 3))
# Only the classifier changes, so the features of the test images are the same at every
# rank: compute them once, and score each factorized classifier on them.
with torch.no_grad():
    test_features = torch.cat([net.features(X) for X in data.test.X.split(1000)])
features = Split(test_features, data.test.y, data.test.source)
linear_rows = []
for rank in range(1, 11):
    swapped = lf.factorize_layer(classifier, rank)
    linear_rows.append(
        (rank, lf.kernel_error(classifier.weight, rank), labkit.evaluate(swapped, features))
    )
for rank, error, acc in linear_rows:
    params = lf.factorized_cost(classifier, rank)["params"]
    print(f"rank {rank:2d}: {params:4d} parameters, weight error {error:.3f}, test {acc}")
full = lf.factorize_model(net, {"classifier": 10})
with torch.no_grad():
    full_gap = float((full(batch) - net(batch)).abs().max())
print(f"rank 10 (full) against the original: outputs differ by at most {full_gap:.1e}")
kernel_errors = [e for _, e, _ in linear_rows]
original_linear = count_parameters(classifier)
larger_from = min(
    r for r, _, _ in linear_rows if lf.factorized_cost(classifier, r)["params"] > original_linear
)
print(f"original: {original_linear} parameters; the two layers hold more from rank {larger_from}")
labkit.expect(all(x > y for x, y in itertools.pairwise(kernel_errors)), "error falls with rank")
labkit.expect(full_gap < 1e-4, "at full rank the two layers compute the original")

# %% [markdown]
# What to notice: the weight error falls with every rank added and the full-rank pair
# computes what the original did; the test accuracy need not rise at every step (read the
# lines above): the weight error weighs every direction of the matrix alike, while accuracy
# depends only on those that move images across a class boundary. The count r (32 + 10) + 10
# passes the original's parameters from the rank printed above on, so this tiny layer has
# little to give. The convolutions hold almost all the weights.
#
# ## Convolutions: the spatial split
#
# A k x k convolution can be split in space: a k x 1 convolution (down the columns) into r
# channels, then a 1 x k one (along the rows) into the outputs (Jaderberg et al. 2014). For
# one input and one output channel this is the 9 -> 6 of the overview: a 3x3 kernel that is a
# column times a row, like the Sobel edge filter, is exactly a 3x1 followed by a 1x3. For many
# channels, reorder the kernel (out, in, kh, kw) as an (in·kh) x (out·kw) matrix: its rank-r
# SVD gives the two thin kernels.

# %%
sobel = nn.Conv2d(1, 1, 3, padding=1, bias=False)
with torch.no_grad():
    sobel.weight.copy_(
        (torch.tensor([[1.0], [2.0], [1.0]]) @ torch.tensor([[1.0, 0, -1.0]]))[None, None]
    )
split = lf.factorize_layer(sobel, 1, "spatial")
print(split)
with torch.no_grad():
    sobel_gap = float((split(batch) - sobel(batch)).abs().max())
sobel_params = (count_parameters(sobel), count_parameters(split))
print(f"Sobel: {sobel_params[0]} weights -> {sobel_params[1]}; outputs differ by {sobel_gap:.1e}")
labkit.expect(sobel_params == (9, 6) and sobel_gap < 1e-5, "a rank-1 kernel splits exactly")

# %% [markdown]
# Each method gives a layer with its own parameter and MAC formula (k = kh = kw, an H x W
# output, stride 1, "same" padding; the code handles stride, padding and dilation):
#
# | method | layers | parameters | MACs per image |
# |---|---|---|---|
# | original | k x k, in -> out | out·in·k² | H·W·out·in·k² |
# | `svd` | k x k, in -> r; 1 x 1, r -> out | r·in·k² + out·r | H·W·(r·in·k² + out·r) |
# | `spatial` | k x 1, in -> r; 1 x k, r -> out | in·r·k + r·out·k | H·W·(in·r·k + r·out·k) |
# | `tucker` | 1 x 1, in -> r_in; k x k, r_in -> r_out; 1 x 1, r_out -> out | in·r_in + r_in·r_out·k² + r_out·out | H·W·(in·r_in + r_in·r_out·k² + r_out·out) |
#
# `lf.factorized_cost` computes them; here they are against the layers really built from
# `features.8` (32 to 32 channels, on the pixels printed first), counted with
# `count_parameters` and `count_macs`:

# %%
conv8 = net.features[8]
x8 = lf.layer_inputs(net, one_image, ["features.8"])["features.8"]
in_hw = tuple(x8.shape[-2:])
print(f"features.8 sees {x8.shape[1]} channels of {in_hw[0]}x{in_hw[1]} pixels")
print(f"{'method':<8} {'rank':>8} {'params':>12} {'built':>7} {'MACs':>9} {'built':>9}")
checked = []
for method, rank in [("svd", 8), ("spatial", 8), ("tucker", (8, 8)), ("tucker", (12, 6))]:
    cost = lf.factorized_cost(conv8, rank, method, in_hw)
    built = lf.factorize_layer(conv8, rank, method)
    counted = (count_parameters(built), count_macs(built, x8))
    checked.append((cost["params"], cost["macs"]) == counted)
    print(
        f"{method:<8} {rank!s:>8} {cost['params']:>12,} {counted[0]:>7,} "
        f"{cost['macs']:>9,} {counted[1]:>9,}"
    )
original_cost = lf.factorized_cost(conv8, None, "svd", in_hw)
print(f"original: {original_cost['params']:,} parameters, {original_cost['macs']:,} MACs")
labkit.expect(all(checked), "every formula should match the built layers")
rank8 = [lf.factorized_cost(conv8, r, m, in_hw) for m, r in [("svd", 8), ("spatial", 8)]]
rank8.append(lf.factorized_cost(conv8, (8, 8), "tucker", in_hw))
labkit.expect(
    all(original_cost[k] >= 3 * c[k] for c in rank8 for k in ("params", "macs")),
    "at rank 8 every method should have at least 3x fewer parameters and MACs",
)

# %% [markdown]
# What to notice: every formula gives exactly the parameters and MACs of the layers built,
# and at rank 8 every method has at least 3x fewer of both than the original.
#
# ## Convolutions: Tucker-2 on the channels
#
# The kernel is a 4-way tensor (out, in, kh, kw). **Tucker-2** compresses only the two
# channel modes: W ≈ core ×₀ U_out ×₁ U_in, with U_in (in x r_in) and U_out (out x r_out)
# having orthonormal columns and a small core (r_out, r_in, kh, kw). As layers: a 1x1
# convolution from in to r_in channels (U_in^T), the k x k core on the thin channels, and a
# 1x1 convolution to the outputs (U_out) (Kim et al. 2016). The **higher-order SVD** finds
# the factors: U_out from the SVD of the kernel unfolded along the output channels, U_in along
# the inputs. Optional rounds of **HOOI** (higher-order orthogonal iteration) refine them,
# each refitted with the other fixed:

# %%
labkit.show_source(lf.tucker2)

# %% [markdown]
# tensorly's `partial_tucker` is a maintained implementation of the same decomposition (HOSVD
# start, then HOOI until it converges). On the same kernel, `features.8` at ranks (8, 8):

# %%
kernel = conv8.weight.detach()
(their_core, their_factors), _ = partial_tucker(kernel.numpy(), rank=[8, 8], modes=[0, 1])
theirs = torch.from_numpy(tl.tenalg.multi_mode_dot(their_core, their_factors, modes=[0, 1]))
their_error = float((theirs - kernel).norm() / kernel.norm())
tucker_errors = {}
for n_iter in (0, 10):
    core, u_out, u_in = lf.tucker2(kernel, (8, 8), n_iter=n_iter)
    rebuilt = lf.tucker2_reconstruct(core, u_out, u_in)
    tucker_errors[n_iter] = float((rebuilt - kernel).norm() / kernel.norm())
same_shapes = (
    tuple(core.shape) == their_core.shape
    and tuple(u_out.shape) == their_factors[0].shape
    and tuple(u_in.shape) == their_factors[1].shape
)
print(f"shapes: core {tuple(core.shape)}, U_out {tuple(u_out.shape)}, U_in {tuple(u_in.shape)}")
print(
    f"relative error: ours (HOSVD) {tucker_errors[0]:.4f}, ours + 10 HOOI rounds "
    f"{tucker_errors[10]:.4f}, tensorly {their_error:.4f}"
)
labkit.expect(same_shapes, "the same shapes as tensorly's")
labkit.expect(tucker_errors[0] <= 1.03 * their_error, "HOSVD within 3% of tensorly")
labkit.expect(abs(tucker_errors[10] - their_error) <= 0.005 * their_error, "HOOI matches")
tucker8 = lf.factorize_layer(conv8, (8, 8), "tucker")
with torch.no_grad():
    as_layers = tucker8(x8)
    as_kernel = nn.functional.conv2d(
        x8, lf.tucker2_reconstruct(*lf.tucker2(kernel, (8, 8))), padding=1
    )
layer_gap = float((as_layers - as_kernel).abs().max() / as_kernel.abs().max())
print(f"three layers against one conv with the rebuilt kernel: largest gap {layer_gap:.1e}")
labkit.expect(layer_gap < 1e-4, "the three layers compute the rebuilt kernel")

# %% [markdown]
# What to notice: the same shapes as tensorly's; our one-pass HOSVD is within 3% of
# tensorly's error, and with 10 rounds of HOOI matches it to 0.5%; and the three thin layers
# compute the convolution with the rebuilt kernel.

# %% [markdown]
# ## Explore: a layer's shape and rank
#
# Pick a layer (its shape is in the title), a method and a rank: the parameters and MACs of
# the factorized layer against the original, from the formulas, and the error of its kernel,
# measured. The curve shows the error at every rank, and the orange line the parameters
# relative to the original (above the dashed line the factorized layer is *larger*).

# %%
course_hw = {
    name: tuple(x.shape[-2:]) if x.ndim == 4 else (1, 1)
    for name, x in lf.layer_inputs(net, one_image, list(course_layers)).items()
}
calculator = RankCalculator(net, course_hw)
display(calculator)

# %% [markdown]
# ## Fine-tuning wins back most of the accuracy
#
# Factorize the two larger convolutions of the course model, with each method at ranks that
# leave at least 3x fewer parameters in the whole model, then fine-tune: 2 epochs on the first
# 2,000 of Fashion-MNIST's 55,000 training images (the baseline trained on all of them; a
# subset keeps this cell within seconds), with a one-cycle schedule. Each model is paired
# with the baseline on the same 10,000 test images, before and after fine-tuning, and the
# fine-tuned model with its own state before:

# %%
plans = {
    "svd": {"features.4": 8, "features.8": 8},
    "spatial": {"features.4": 8, "features.8": 8},
    "tucker": {"features.4": (12, 8), "features.8": (12, 12)},
}
labkit.expect(plans == lf.COURSE_RANKS, "the ranks labkit's benchmark uses too")
base_params = count_parameters(net)
factorized, before, after, gained = {}, {}, {}, {}
for method, ranks in plans.items():
    model = lf.factorize_model(net, ranks, method)
    untuned = labkit.predict(model, data.test)
    before[method] = labkit.paired_comparison(
        base_predicted, untuned, data.test.y, ("baseline", method)
    )
    labkit.fit(
        model, data.train, epochs=2, lr=3e-3, schedule="onecycle", desc=f"fine-tune {method}"
    )
    factorized[method] = model
    tuned = labkit.predict(model, data.test)
    after[method] = labkit.paired_comparison(
        base_predicted, tuned, data.test.y, ("baseline", f"{method} tuned")
    )
    gained[method] = labkit.paired_comparison(
        untuned, tuned, data.test.y, (f"{method} untuned", f"{method} tuned")
    )
for method in plans:
    ratio = base_params / count_parameters(factorized[method])
    drop, left = -before[method].difference, -after[method].difference
    print(f"{method}: {ratio:.2f}x fewer parameters")
    print(f"  before fine-tuning: {before[method]}")
    print(f"  after:              {after[method]}")
    print(f"  before vs after:    {gained[method]}")
    print(f"  fine-tuning won back {1 - left / drop:.0%} of the {100 * drop:.1f}-point drop")
    labkit.expect(ratio >= 3, f"{method} should have at least 3x fewer parameters")
    labkit.expect_detectable(before[method], "baseline")
    labkit.expect(drop > 0.1, f"{method}: {100 * drop:.1f} points lost, expected more than 10")
    labkit.expect_detectable(gained[method], f"{method} tuned")
    labkit.expect_detectable(after[method], "baseline")
    labkit.expect(
        after[method].high < 0 and left < drop / 4,
        f"{method}: {100 * left:.1f} points left of {100 * drop:.1f}, "
        "expected under a quarter of the drop",
    )

# %% [markdown]
# What to notice: right after factorizing, every model is detectably worse than the baseline,
# by more than 10 points (the lines above say how many): the ranks are low, and the errors of
# two layers compound. Fine-tuning wins most of it back, a detectable gain on the same
# images, but not all: after 2 epochs on 2,000 images, each model is still detectably worse
# than the baseline, by less than a quarter of its drop (the points are printed above); on
# 10,000 test images the intervals are narrow enough to resolve such a gap. These are paired
# comparisons of the three models shown, each fine-tuned once (one seed): another seed gives
# other models, so read them as what this run found, not as a law. Longer fine-tuning, on
# more of the 55,000 training images, may close more of the gap; this notebook does not
# measure how much.
#
# What did that buy? Parameters and MACs from the counts, and speed measured against the
# baseline, eager against eager, on 256 images and on one:

# %%
lat_batch = compare_latency({"baseline": net, **factorized}, batch, rounds=3, runs=4)
lat_one = compare_latency({"baseline": net, **factorized}, one_image, rounds=7, runs=20)
savings = {}
for method, model in factorized.items():
    savings[method] = {
        "parameters": base_params / count_parameters(model),
        "MACs": count_macs(net, one_image) / count_macs(model, one_image),
        "speed, 256 images": lat_batch.ratio(method, "baseline").median,
        "speed, 1 image": lat_one.ratio(method, "baseline").median,
    }
    print(
        f"{method}: 256 images {lat_batch.ratio(method, 'baseline')}; "
        f"1 image {lat_one.ratio(method, 'baseline')}"
    )
print(
    labkit.reference_timing(
        "06.course_tucker_speedup_one_image", savings["tucker"]["speed, 1 image"]
    )
)
plot_savings(savings, title="Course model, factorized: what it saves against the baseline")
plt.show()
for method, saved in savings.items():
    one = lat_one.ratio(method, "baseline")
    print(f"on this machine, on one image, {method} against the baseline: {speed_words(one)}")
    labkit.expect(saved["MACs"] > 1.5, f"{method} should do fewer MACs")
    labkit.expect(
        one.median < saved["MACs"] / 2,
        f"{method}: {one.median:.2f}x on one image, expected under half of {saved['MACs']:.2f}x",
    )

# %% [markdown]
# What to notice: every factorized model does more than 1.5x fewer MACs, yet on one image none
# gets even half the speed-up its MACs promise (by the median of 7 rounds); the last lines say
# whether, on this machine, each was faster or slower than the baseline in every round, or
# showed no clear difference. This model's layers are so small that the fixed cost of each
# extra layer offsets much of the arithmetic saved. The ratios on 256 images vary from run to run; read them above
# before calling any of them faster. The next section measures where the balance tips.
#
# ## Does it pay on this CPU?
#
# The fasterai library's own table shows Tucker and CP versions of ResNet-18 at 0.8x the
# speed on a CPU. A product of two or three thin layers reads the input and writes intermediate
# results more times than one layer, and each layer has a fixed cost. So we time each layer
# alone, on the input it really receives, at several ranks against the original (eager
# against eager, interleaved rounds): the course model's two larger convolutions on one
# image, and every 3x3 convolution of a real-size model, ResNet-18 at 224x224 (random
# weights: only sizes and times matter here). The course layers are timed with the threads
# `labkit.setup()` chose, like the whole model above; ResNet-18 on **one thread**, here and
# in the next section, so that its ratios compare the layers' arithmetic rather than how
# well two threads share a job, and other work on the machine disturbs them less. Each point
# is one layer at one rank: the speed-up the MACs predict, and the one measured.

# %%
course_inputs = lf.layer_inputs(net, one_image, ["features.4", "features.8"])
options, points = {}, {"course model, 1 image": []}
for name in ["features.4", "features.8"]:
    opts = lf.time_ranks(course_layers[name], course_inputs[name], [2, 4, 8], "tucker")
    points["course model, 1 image"] += [(o.predicted, o.measured.median) for o in opts]
    options[name] = opts

threads = torch.get_num_threads()
torch.set_num_threads(1)  # until the end of the next section
resnet = labkit.create_model("resnet18", seed=0).eval()
image = torch.randn(1, 3, 224, 224)
resnet_layers = lf.wide_convs(resnet)  # its 3x3 convolutions, 64 channels and more
# every layer at 1/8, 1/4 and 1/2 of its channels, 3 rounds of 3 calls; one layer per stage
# also at 3/4 and at full rank, 5 rounds (several seconds in all)
sampled = ["layer1.0.conv1", "layer2.1.conv2", "layer3.1.conv2", "layer4.0.conv2"]
resnet_options = lf.time_layers(
    resnet, image, [n for n in resnet_layers if n not in sampled], rounds=3
)
resnet_options.update(
    lf.time_layers(resnet, image, sampled, fractions=(1 / 8, 1 / 4, 1 / 2, 3 / 4, 1), rounds=5)
)
resnet_options = {name: resnet_options[name] for name in resnet_layers}
for name, opts in resnet_options.items():
    stage = f"resnet18 {name.split('.')[0]}, 1 thread"
    points.setdefault(stage, []).extend((o.predicted, o.measured.median) for o in opts)
options.update(resnet_options)
plot_predicted_vs_measured(points, title="Tucker-2, layer by layer: predicted vs measured")
plt.show()
print("against the original layer, by the median of the rounds:")
for name in ["features.8", *sampled]:
    paying = [o.rank for o in options[name] if o.measured.median > 1]
    losing = [o.rank for o in options[name] if o.measured.median < 1]
    full_rank = min(resnet_layers[name].weight.shape[:2]) if name in sampled else 32
    print(
        f"{name:<15} (full rank {full_rank:>3}) faster at ranks {paying or 'none'}, "
        f"slower at {losing or 'none'}"
    )
wide = options["layer4.0.conv2"][1]  # 512 channels at 7x7, rank 128 of 512
print(
    f"layer4.0.conv2 at rank {wide.rank}: predicted {wide.predicted:.1f}x, measured {wide.measured}"
)
print(labkit.reference_timing("06.resnet_layer_speedup", wide.measured.median))
course_points = points["course model, 1 image"]
course_speed = sorted(m for _, m in course_points)
print(f"course model's layers: measured speed-ups {', '.join(f'{m:.2f}x' for m in course_speed)}")
labkit.expect(
    all(m < p / 3 for p, m in course_points),
    f"course layers: {[round(m, 2) for m in course_speed]}, expected under a third of MACs'",
)
slower = sum(m < 1 for m in course_speed)
print(
    f"on this machine, {slower} of the course model's {len(course_speed)} layer-rank pairs ran "
    "slower than the original layer (median of the rounds)"
)
labkit.expect(wide.measured.low > 1, "the wide layer at a quarter rank should be faster")
for name in sampled:  # 1/8 and 1/4 of the channels: 8x fewer MACs or more; full rank: more
    medians = [round(o.measured.median, 2) for o in options[name]]
    labkit.expect(
        min(medians[:2]) > 1 and medians[-1] < 1,
        f"{name}: {medians}, expected faster at 1/8 and 1/4 of its channels, slower at full rank",
    )
resnet_points = [p for name, series in points.items() if "resnet" in name for p in series]
faster = sum(m > 1 for _, m in resnet_points) / len(resnet_points)
print(f"{faster:.0%} of ResNet-18's layer-rank pairs run faster than the original layer")
labkit.expect(faster > 0.5, "most of ResNet-18's factorized layers should be faster")
below = sum(m < p for p, m in resnet_points) / len(resnet_points)
print(
    f"on this machine, {below:.0%} of ResNet-18's {len(resnet_points)} layer-rank pairs ran "
    "slower than their MACs predict"
)

# %% [markdown]
# What to notice: a point below the diagonal falls short of the speed-up its MACs predict.
# The course model's layers all do: they get less than a third of it at every rank; their
# speed-ups are listed under the figure, with how many of them were even slower than the
# original on this machine (below the dashed line). Most of ResNet-18's layer-rank pairs run
# faster, `layer4.0.conv2` at a quarter of its channels in every round, and the last line
# under the figure says how many of them fell short of their MACs here (a busy machine moves
# that share). Each sampled ResNet-18 layer is faster at a quarter of its channels or fewer
# (8x fewer MACs or more) and slower at full rank, where the factorized layer does more MACs
# than the original (medians of 5 rounds); between the two, the lines under the figure show
# where each layer stopped paying here. Where the balance tips depends on the layer's size
# and on the CPU: this is why ranks should come from measured times.
#
# ## Choosing ranks from measured times
#
# Three ways to choose a rank for every 3x3 convolution of ResNet-18:
#
# - **measured**: `lf.choose_ranks` keeps, per layer, only the ranks measured above
#   (one thread) at least 1.2x faster than the original in their slowest round, and spends a
#   parameter budget (a quarter of these layers' parameters) where it removes the most squared
#   kernel error per parameter; a layer with no such rank stays as it was;
# - **uniform**: the same share of every layer's channels, the share chosen so that the model
#   has as many parameters as with the measured choice;
# - **energy threshold**: per layer, the smallest ranks keeping a share of the squared
#   singular values of each channel unfolding, the share again chosen to match the
#   parameters; it knows nothing about time.
#
# At equal size, what differs is where the parameters go: each choice's kernel error (all
# these layers' kernels together, ||W - W_r|| / ||W||) and measured speed, eager against
# eager, in interleaved rounds on one image, one thread:

# %%
labkit.show_source(lf.choose_ranks)

# %%
names = list(resnet_layers)
original_params = {name: layer.weight.numel() for name, layer in resnet_layers.items()}


def conv_params(ranks):  # these layers' parameters with the given ranks
    return sum(
        lf.factorized_cost(resnet_layers[n], ranks[n], "tucker")["params"]
        if n in ranks
        else original_params[n]
        for n in names
    )


def total_error(ranks):  # ||W - W_r|| / ||W|| over all these kernels together
    dropped = kept = 0.0
    for n in names:
        w = resnet_layers[n].weight.detach()
        e = lf.kernel_error(w, ranks[n], "tucker") if n in ranks else 0.0
        dropped, kept = dropped + float(e * w.norm()) ** 2, kept + float(w.norm()) ** 2
    return (dropped / kept) ** 0.5


measured = lf.choose_ranks(resnet_options, original_params, 0.25, min_speedup=1.2)
target = conv_params(measured)
share, uniform = lf.match_parameters(
    lambda f: lf.uniform_ranks(resnet, f, "tucker", names), conv_params, target
)
curves = lf.energy_curves(resnet, names)
energy, by_energy = lf.match_parameters(
    lambda e: lf.energy_threshold_ranks(curves, e), conv_params, target
)
choices = {
    "measured": measured,
    f"uniform {share:.2f}": uniform,
    f"energy {energy:.0%}": by_energy,
}
variants = {label: lf.factorize_model(resnet, ranks, "tucker") for label, ranks in choices.items()}
lat_resnet = compare_latency({"original": resnet, **variants}, image, rounds=5, runs=5)
resnet_params, resnet_macs = count_parameters(resnet), count_macs(resnet, image)
summary, errors = {}, {}
for label, model in variants.items():
    errors[label] = total_error(choices[label])
    summary[label] = {
        "parameters": resnet_params / count_parameters(model),
        "MACs": resnet_macs / count_macs(model, image),
        "speed": lat_resnet.ratio(label, "original").median,
    }
    print(
        f"{label:<12} {summary[label]['parameters']:.2f}x fewer parameters, "
        f"{summary[label]['MACs']:.2f}x fewer MACs, kernel error {errors[label]:.3f}\n"
        f"{'':<12} speed {lat_resnet.ratio(label, 'original')}"
    )
print(f"measured choice: {len(measured)} of {len(names)} layers factorized")
print(labkit.reference_timing("06.resnet_measured_speedup", summary["measured"]["speed"]))
ax = plot_savings(summary, title="ResNet-18 (224x224, 1 image): three ways to choose ranks")
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))  # clear of the bars' labels
plt.show()
sizes = [count_parameters(m) for m in variants.values()]
labkit.expect(max(sizes) <= 1.02 * min(sizes), "the three choices should have equal sizes")
labkit.expect(summary["measured"]["parameters"] >= 2, "the measured choice: at least 2x smaller")
# which ranks pass the 1.2x bar depends on this machine's rounds, so the orders below are
# reported, not asserted
least_error = min(errors, key=errors.get)
most_macs = min(summary, key=lambda label: summary[label]["MACs"])
print(f"on this machine: least kernel error {least_error}; most MACs left {most_macs}")
for label in variants:
    labkit.expect_above(f"{label} speed-up, median", lat_resnet.ratio(label, "original").median, 1)
torch.set_num_threads(threads)  # back to the setting of labkit.setup()

# %% [markdown]
# What to notice: at the same size (printed above), all three are faster than the original
# (the median of 5 rounds; a busy machine can disturb a round). The measured choice spends
# its parameters where they remove the most error per parameter, but only among the ranks
# that passed the 1.2x bar in every round here, so whether it ends with the least kernel
# error, and with the most MACs left, depends on this machine's rounds: the last line under
# the figure says which did. We assert no order among their speeds either: read their
# ranges before ranking them. The line above the figure also
# counts the layers with a rank measured to pay; on a CPU or a model where some layer never
# pays, the measured choice leaves it whole, which a uniform share or an energy threshold
# cannot know to do.
# `labkit bench factorize` does this for the whole model with every method, and fine-tunes
# the course model's rows.

# %% [markdown]
# ## Exercises
#
# **Q1.** `features.4` is a 3x3 convolution from 16 to 32 channels. How many parameters does
# its Tucker-2 form with ranks r_out = 8 and r_in = 4 have (no bias)? Compute it from the
# formula, or build the layers and count.

# %% tags=["exercise"]
n_params = ____
lab06.q1.check(n_params)

# %% [markdown]
# **Q2.** A Linear layer from 512 to 256 features (with a bias of 256) is split by SVD into
# two Linear layers. What is the largest rank whose two layers together have at most a
# quarter of the original layer's parameters?

# %% tags=["exercise"]
rank = ____
lab06.q2.check(rank)

# %% [markdown]
# **Q3.** What is the relative error ||W - W_r|| / ||W|| (Frobenius norm) of the best rank-3
# approximation of `W = lab06.matrix()`, a 6x5 matrix? Use the singular values (Eckart-Young)
# or build the approximation.

# %%
W = lab06.matrix()
print(W)

# %% tags=["exercise"]
error = ____
lab06.q3.check(error)

# %% [markdown]
# ## Summary
#
# - A rank-r product of an m x r and an r x n matrix holds r (m + n) numbers instead of m n;
#   a rank-1 3x3 matrix is exactly 6 numbers, a general one is not.
# - The truncated SVD is the best rank-r approximation (Eckart-Young: checked), and its error
#   is the share of squared singular values dropped; trained layers' spectra fall faster than
#   random ones'.
# - Convolutions split by SVD (k x k then 1 x 1), in space (k x 1 then 1 x k) or by Tucker-2
#   on the channels (1 x 1, k x k, 1 x 1); the formulas for parameters and MACs match the
#   built layers, and our Tucker-2 matches tensorly's.
# - Right after factorizing, accuracy drops by more than 10 points; a short fine-tune (2
#   epochs on 2,000 images) wins most of it back, with at least 3x fewer parameters, but each
#   model stays detectably worse than the baseline on the 10,000 test images (one
#   fine-tuning run each).
# - Fewer MACs are not less time: the course model's small layers get less than a third of
#   the speed-up their MACs promise, and the whole factorized models on one image not even
#   half; real-size layers get faster from some rank down (and slower at full rank), often by
#   less than the MACs predict. Choose ranks from measured times under a parameter budget.
#
# ## What's next
#
# [07 · Knowledge distillation](07_knowledge_distillation.ipynb): a small student learns from a
# large teacher, another way to a smaller model that keeps the accuracy.
#
# ## Resources and references
#
# - C. Eckart, G. Young. *The approximation of one matrix by another of lower rank.*
#   Psychometrika 1, 1936.
# - M. Jaderberg, A. Vedaldi, A. Zisserman. *Speeding up Convolutional Neural Networks with
#   Low Rank Expansions.* BMVC 2014, [arXiv:1405.3866](https://arxiv.org/abs/1405.3866).
# - E. Denton et al. *Exploiting Linear Structure Within Convolutional Networks for
#   Efficient Evaluation.* NeurIPS 2014, [arXiv:1404.0736](https://arxiv.org/abs/1404.0736).
# - Y.-D. Kim et al. *Compression of Deep Convolutional Neural Networks for Fast and Low
#   Power Mobile Applications.* ICLR 2016, [arXiv:1511.06530](https://arxiv.org/abs/1511.06530)
#   (Tucker-2).
# - V. Lebedev et al. *Speeding-up Convolutional Neural Networks Using Fine-tuned
#   CP-Decomposition.* ICLR 2015, [arXiv:1412.6553](https://arxiv.org/abs/1412.6553) (CP, a
#   sum of rank-1 tensors: not built in this notebook).
# - L. De Lathauwer, B. De Moor, J. Vandewalle. *A Multilinear Singular Value
#   Decomposition.* SIAM J. Matrix Anal. Appl. 21(4), 2000 (HOSVD).
# - [tensorly documentation](https://tensorly.org/stable/), `partial_tucker` (used here; its
#   `parafac` is CP);
#   [TensorLy-Torch](https://tensorly.org/torch/) (factorized layers).
# - [fasterai](https://nathanhubens.github.io/fasterai/): its low-rank tutorials report SVD
#   of VGG16 with 1.47x fewer parameters, and Tucker/CP ResNet-18 2.5-6.2x smaller at 0.8x
#   the speed on a CPU.
# - PyTorch: [`torch.linalg.svd`](https://pytorch.org/docs/stable/generated/torch.linalg.svd.html),
#   [`torch.svd_lowrank`](https://pytorch.org/docs/stable/generated/torch.svd_lowrank.html).
