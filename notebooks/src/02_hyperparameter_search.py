# %% [markdown]
# # 02 · Hyperparameter search
#
# ## Overview
#
# Notebook 01 tuned one hyperparameter at a time by hand. Real tuning changes several at once,
# and every try is a whole training run. A **search** does it systematically:
#
# 1. define a range (here: a list of values) for each hyperparameter;
# 2. a search algorithm picks a combination;
# 3. train with it and measure the objective (validation error);
# 4. repeat until the result is good enough or the budget is spent.
#
# The algorithms differ only in step 2, and the goal of all of them is the same: **the best
# result in the fewest evaluations**, because an evaluation is a training run. In this
# notebook you will run four families on the same space with the same budget:
#
# - **grid search**: every combination of a few values per hyperparameter; guaranteed best on
#   its grid, but the grid multiplies with every hyperparameter;
# - **random search**: combinations drawn at random; no guarantee, cost chosen freely;
# - **Bayesian optimization**: a model of the objective, fitted to past trials, proposes the
#   next one (Optuna's TPE and Gaussian-process samplers);
# - **tensor-train optimization**: the grid seen as a tensor of low rank (TTOpt; TetraOpt is a
#   closed product of the same family).
#
# Measured errors are noisy, so "found the best" will mean "reached the **noise band**": the
# points that the measurements cannot tell apart from the best. And every search has a price
# in training runs and seconds, which this notebook counts. Tuning is costly, which is why it
# is done where accuracy is critical: medical imaging, autonomous driving.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [01 · Parameters vs hyperparameters](01_parameters_vs_hyperparameters.ipynb) | necessary | the objective, `train_small_cnn` |
# | [00 · Welcome](00_welcome.ipynb), "Accuracy with its uncertainty" | necessary | intervals, "no detectable difference" |
# | Probability: mean, standard deviation | helpful | for the Bayesian surrogate |
# | Matrix rank, SVD | helpful | for the tensor-train sections |
#
# **Time to learn:** about 50 minutes.

# %% [markdown]
# ## Imports

# %%
import labkit

labkit.setup()

import math
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import optuna
from IPython.display import display
from matplotlib.ticker import MaxNLocator
from optuna.visualization.matplotlib import plot_intermediate_values, plot_optimization_history
from scipy.interpolate import PchipInterpolator
from tqdm.auto import tqdm

from labkit.exercises import ____, lab02
from labkit.plots import plot_heatmap
from labkit.search import (
    COURSE_SPACE,
    STRATEGIES,
    SearchPicker,
    SearchSpace,
    SearchTable,
    expected_improvement,
    gp_posterior,
    grid_lattice,
    live_objective,
    noise_band,
    plot_regret,
    replay,
    search,
)

data = labkit.load_digits()
optuna.logging.set_verbosity(optuna.logging.WARNING)

# %% [markdown]
# ## The search space and the objective
#
# Four hyperparameters of the course's `SmallCNN`, each with a few values. The grid is every
# combination of them:

# %%
space = SearchSpace(COURSE_SPACE)
for name, values in space.params.items():
    print(f"{name:>12}: {list(values)}")
print(space)

# %% [markdown]
# The objective is the one from notebook 01: train a fresh model with a config and return its
# validation error. To keep one evaluation short, it trains 3 epochs on 1,000 images. One
# evaluation, live, timed on this machine:

# %%
objective = live_objective(data, epochs=3, train_subset=1000)
config = {"lr": 3e-3, "batch_size": 64, "width": 16, "kernel_size": 3}
start = time.perf_counter()
error = objective(config)
live_seconds = time.perf_counter() - start
print(f"{config} -> validation error {error:.3f}, trained and validated in {live_seconds:.1f} s")
print(labkit.reference_timing("02.live_evaluation_s", live_seconds))

# %% [markdown]
# ## Grid or random: the cost
#
# Training all 384 points here takes many minutes, so the course ships a **table**: every grid
# point trained in advance, twice (two seeds), by the command `labkit search build-table`, and
# stored in `data/search_table.json` with how it was made. From the time that build took we
# can price any search:

# %%
table = SearchTable.load()
runs_in_table = table.space.size * len(table.meta["seeds"])
per_point = table.meta["seconds"] / runs_in_table
print("table recipe:", {k: table.meta[k] for k in ("epochs", "train_subset", "seeds", "seconds")})
print(
    f"the table cost {runs_in_table} training runs, {table.meta['seconds'] / 60:.0f} min; "
    f"one evaluation costs {per_point:.1f} s on the machine that built it"
)
for n_points, name in [(1000, "grid of 1,000 combinations"), (100, "random, 100 of them")]:
    print(f"{name:>28}: {n_points * per_point / 60:6.1f} min")
labkit.expect(runs_in_table >= 100, "the table should have cost hundreds of training runs")

# %% [markdown]
# This is the classic example: of 1,000 combinations, testing 100 at random takes a tenth of
# the time. The question is what we lose. Bergstra and Bengio (2012) give the answer for the
# common case where **some hyperparameters matter much more than others**. Below, the error to
# minimize (bottom row) depends only on the horizontal axis x, with a narrow dip; the vertical
# axis y changes nothing. Nine grid points (top row) try only **3 distinct values** of x; nine
# random points try **9**:

# %%
rng = np.random.default_rng(0)
xs = np.linspace(0, 1, 300)


def error_along_x(x):  # the objective depends on x alone: a narrow dip near x = 0.68
    return 1 - 0.9 * np.exp(-((x - 0.68) ** 2) / 0.004)


grid_pts = np.array([(x, y) for x in (1 / 6, 3 / 6, 5 / 6) for y in (1 / 6, 3 / 6, 5 / 6)])
random_pts = rng.uniform(0, 1, size=(9, 2))
distinct, lowest = {}, {}
fig, axes = plt.subplots(2, 2, figsize=(10, 5.8), sharex=True, height_ratios=[2, 1])
for col, (name, pts) in enumerate([("grid", grid_pts), ("random", random_pts)]):
    top, bottom = axes[0, col], axes[1, col]
    distinct[name] = len(set(np.round(pts[:, 0], 6)))
    lowest[name] = float(error_along_x(pts[:, 0]).min())
    top.scatter(pts[:, 0], pts[:, 1], s=60, zorder=3)
    for x in pts[:, 0]:
        top.axvline(x, color="grey", lw=0.6, ls=":")
        bottom.axvline(x, color="grey", lw=0.6, ls=":")
    bottom.plot(xs, error_along_x(xs), color="C1", lw=2)
    bottom.plot(pts[:, 0], error_along_x(pts[:, 0]), "o", color="C0", zorder=3)
    top.set_title(f"{name}: 9 points, {distinct[name]} distinct values of x")
    bottom.set_title(f"lowest error found: {lowest[name]:.2f}", fontsize=10)
    bottom.set_xlabel("x: important hyperparameter")
axes[0, 0].set_ylabel("y: unimportant hyperparameter")
axes[1, 0].set_ylabel("error")
plt.show()
labkit.expect(
    distinct["grid"] == 3 and distinct["random"] == 9,
    "the grid should try 3 values of x, the random points 9",
)
labkit.expect(lowest["random"] < lowest["grid"], "here the random points should find a lower error")

# %% [markdown]
# **Notice:** the grid spends two thirds of its budget re-testing the same three values of the
# important hyperparameter, while random points project onto nine different values: more
# chances to land in the dip, and in this draw one did (the lowest error found is printed
# under each panel).

# %% [markdown]
# ## The table: every grid point, trained
#
# The objective over the whole grid, as two maps: learning rate × batch size (each cell the
# best error over width and kernel size), and width × kernel size (the best over learning rate
# and batch size). A map of bests shows where the good region is, but hides how the rest of
# the grid does, so the third panel counts every grid point by its error.

# %%
mean_errors = table.mean_errors  # shape (lr, batch_size, width, kernel_size)
names = table.space.names
fig, axes = plt.subplots(1, 3, figsize=(16, 3.9))
for ax, (i, j) in zip(axes[:2], [(0, 1), (2, 3)], strict=True):
    others = tuple(k for k in range(4) if k not in (i, j))
    plot_heatmap(
        100 * mean_errors.min(axis=others),
        ax=ax,
        cmap="viridis_r",
        symmetric=False,
        title=f"best error (%) over {names[others[0]]} and {names[others[1]]}",
        yticklabels=space.params[names[i]],
        xticklabels=space.params[names[j]],
        ylabel=names[i],
        xlabel=names[j],
    )
axes[2].hist(100 * mean_errors.ravel(), bins=40, color="grey")
axes[2].axvline(100 * table.best_error, color="C2", lw=2, label="the best")
axes[2].axvline(100 * np.median(mean_errors), color="k", ls="--", label="the median")
axes[2].set_xlabel("validation error (%)")
axes[2].set_ylabel("grid points")
axes[2].set_title("every grid point")
axes[2].legend()
plt.show()
share_bad = float((mean_errors > 0.10).mean())
print(f"best grid point: {table.best_config}, error {100 * table.best_error:.2f}%")
print(f"median error over the grid: {100 * np.median(mean_errors):.1f}%")
print(f"grid points with an error above 10%: {share_bad:.0%}")
median_by_value = {}
for a, name in enumerate(names):
    per_value = np.moveaxis(mean_errors, a, 0).reshape(table.space.shape[a], -1)
    median_by_value[name] = np.median(per_value, axis=1)
    cells = ", ".join(
        f"{v:g}: {100 * m:.0f}%"
        for v, m in zip(space.params[name], median_by_value[name], strict=True)
    )
    print(f"median error by {name:>11} = {cells}")
labkit.expect(
    bool(np.median(mean_errors) > 10 * table.best_error),
    "the median grid point should be more than ten times worse than the best",
)
labkit.expect(share_bad > 0.5, "more than half of the grid should have an error above 10%")
bad_ends = {"lr": 0, "batch_size": -1, "width": 0, "kernel_size": 0}
labkit.expect(
    all(median_by_value[n][i] > np.median(mean_errors) for n, i in bad_ends.items()),
    "at each bad end the median error should exceed the grid's median",
)

# %% [markdown]
# **Notice:** most of the grid is bad: the maps show only each cell's best, but the histogram
# counts every point, and more than half of them have an error above 10%, the median more than
# ten times the best. There is more than one cause. Trained for 3 epochs on 1,000 images, the
# median error is above the grid's median at the smallest learning rate (tiny steps), the
# largest batch (few steps), the narrowest width (few channels) and kernel size 1 (a 1×1
# filter sees no neighbouring pixels). So a search has to find a small good region.
#
# **Why a table makes the comparison fair.** Every strategy below looks up the *same* numbers,
# so differences between them come from how they search, not from the luck of a training run.
# And because a lookup takes microseconds, we can repeat each search many times with different
# seeds and see its spread, which one live run could never show.

# %% [markdown]
# ## The noise band: not detectably worse than the best
#
# Each table entry is the mean of two training runs (seeds) scored on the validation images,
# and the two seeds disagree. So is the table's best point really better than the runners-up?
# `noise_band(table)` measures how far apart two entries must be before the seeds can tell
# them apart: 1.96 standard deviations of the difference of two such means, with the
# seed-to-seed spread measured on the best 5% of the grid (the points drawn below). Every
# point within that distance of the best is **in the band**: not detectably worse than the
# best, as far as this table can say. A search succeeds when it reaches the band.

# %%
band = noise_band(table)
top = np.argsort(mean_errors, axis=None)[: band.pooled]  # the points pooled, best first
seed_gap = 100 * np.abs(table.errors[..., 0] - table.errors[..., 1]).ravel()[top]
print(
    f"seed-to-seed difference among the {band.pooled} best points (those the band pools): "
    f"median {np.median(seed_gap):.2f} points"
)
print(f"noise band: {100 * band.width:.2f} points above the best ({band.definition})")
print(
    f"grid points in the band: {band.points} of {table.space.size} "
    f"({100 * band.points / table.space.size:.1f}%)"
)
rank = np.arange(1, len(top) + 1)
fig, ax = plt.subplots(figsize=(9, 3.6))
ax.axhspan(100 * table.best_error, 100 * (table.best_error + band.width), color="C2", alpha=0.2)
ax.plot([], [], color="C2", alpha=0.4, lw=8, label="noise band")
for s, seed in enumerate(table.meta["seeds"]):
    per_seed = 100 * table.errors[..., s].ravel()[top]
    ax.plot(rank, per_seed, "_", ms=12, mew=2, color=f"C{s}", label=f"seed {seed}")
ax.plot(rank, 100 * mean_errors.ravel()[top], "ko", ms=4, label="mean of the seeds")
ax.set_xlabel("grid point, ranked by mean error (1 = the table's best)")
ax.set_ylabel("validation error (%)")
ax.legend(ncols=2)
plt.show()
labkit.expect(band.points >= 2, "other grid points should be not detectably worse than the best")
labkit.expect(
    band.points < 0.05 * table.space.size, "the band should hold fewer than 1 in 20 grid points"
)

# %% [markdown]
# **Notice:** the table's best point is not alone: other points sit within the noise band, not
# detectably worse than the best as far as two seeds can tell. Yet the band holds fewer than
# one grid point in twenty, so reaching it is still a real search task.

# %% [markdown]
# ## Bayesian optimization, one step at a time
#
# Bayesian optimization keeps a **surrogate**: a probabilistic model of the objective, fitted to
# the trials so far, that gives for every untried point a mean guess and an uncertainty. An
# **acquisition function** turns the two into one score; the next trial is where it is highest.
# Expected improvement (EI) is the amount by which a point is expected to beat the best error
# so far, a point that does not beat it counting as zero: E[max(best - f, 0)], with f drawn
# from the surrogate at that point. It is large where the mean is low (exploit) *or* the
# uncertainty is high (explore).
#
# One dimension makes this visible: the error along the learning-rate axis, with the other
# three hyperparameters at the table's best. The table has only six learning rates, too few to
# show a search that skips most of them, so we draw a smooth curve through the six measured
# values (a monotone cubic interpolation, PCHIP) and read it at 50 learning rates, evenly
# spaced on a log scale. The curve is a stand-in for an objective we could evaluate at any
# learning rate; the six dots are the only measured values on it. We use a Gaussian process
# written from scratch in `labkit.search` (checked against scikit-learn below). Here is all of
# it: the posterior mean and standard deviation, then expected improvement.

# %%
labkit.show_source(gp_posterior)
labkit.show_source(expected_improvement)

# %% [markdown]
# The kernel's three settings are in the units of the picture. `length_scale=0.5` is in
# log10 of the learning rate: points half a decade apart are strongly tied. `signal=30` is
# the prior standard deviation, in points of error: before any trial, the surrogate allows
# errors tens of points away from its mean, as wide as this curve's range. `noise=1` is the
# variance, in squared points, allowed between the surrogate and a measurement: a measured
# error is trusted to about one point, the size of the seed-to-seed differences above. A
# Gaussian surrogate does not know that an error cannot be negative; where its ±2 std band
# would go below 0, we draw it cut at 0.

# %%
lr_values = np.array(space.params["lr"])
bi = table.space.index(table.best_config)
measured = 100 * mean_errors[:, bi[1], bi[2], bi[3]]  # error (%) at the six learning rates
x_measured = np.log10(lr_values)
x_axis = np.linspace(x_measured[0], x_measured[-1], 50)  # 50 learning rates, log-spaced
curve = PchipInterpolator(x_measured, measured)(x_axis)  # the interpolated error (%)
x_fine = np.linspace(x_axis[0] - 0.2, x_axis[-1] + 0.2, 200)
tolerance = 0.1  # points of error: "close enough to the curve's minimum"
kernel_args = dict(length_scale=0.5, signal=30.0, noise=1.0)


def next_trial(seen):
    """The axis point with the highest expected improvement, among those not tried yet."""
    mean, std = gp_posterior(x_axis[seen], curve[seen], x_axis, **kernel_args)
    ei = expected_improvement(mean, std, best=curve[seen].min())
    ei[seen] = -np.inf  # never re-propose a point already tried
    return int(np.argmax(ei))


seen = [0, len(x_axis) - 1]  # two trials so far: the smallest and the largest learning rate
fig, axes = plt.subplots(2, 3, figsize=(13, 5.6), sharex=True, height_ratios=[2, 1])
for step in range(3):
    mean, std = gp_posterior(x_axis[seen], curve[seen], x_fine, **kernel_args)
    nxt = next_trial(seen)
    ax, ax_ei = axes[0, step], axes[1, step]
    ax.plot(x_axis, curve, "k:", lw=1, label="interpolated error")
    ax.plot(x_measured, measured, "k.", ms=8, label="measured (table)")
    ax.plot(x_fine, mean, color="C0", label="surrogate mean")
    low = np.maximum(mean - 2 * std, 0)  # drawn cut at 0: an error is never negative
    ax.fill_between(x_fine, low, mean + 2 * std, color="C0", alpha=0.2, label="±2 std")
    ax.scatter(x_axis[seen], curve[seen], color="C3", zorder=3, label="trials so far")
    ax.axvline(x_axis[nxt], color="C3", ls="--", lw=1)
    ax.set_title(f"step {step + 1}: {len(seen)} trials, next lr = {10 ** x_axis[nxt]:.2g}")
    ax_ei.plot(x_fine, expected_improvement(mean, std, best=curve[seen].min()), color="C3")
    ax_ei.axvline(x_axis[nxt], color="C3", ls="--", lw=1)
    ax_ei.set_xlabel("log10(learning rate)")
    seen.append(nxt)
axes[0, 0].set_ylabel("validation error (%)")
axes[1, 0].set_ylabel("expected improvement")
fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside upper center", ncols=5)
plt.show()
print("trials in order (lr):", [f"{10 ** x_axis[i]:.2g}" for i in seen])


def evals_to_near_minimum(start):
    """BO from the trials `start`: evaluations (the starting ones included) until one lies
    within `tolerance` of the curve's minimum."""
    tried = list(start)
    while curve[tried].min() > curve.min() + tolerance:
        tried.append(next_trial(tried))
    return len(tried)


from_the_ends = evals_to_near_minimum(seen[:2])
n_axis = len(x_axis)
starts = [(i, j) for i in range(n_axis) for j in range(i + 1, n_axis)]
bo_evals = np.array([evals_to_near_minimum(pair) for pair in tqdm(starts, desc="BO, every start")])
near = int((curve <= curve.min() + tolerance).sum())
random_order = (n_axis + 1) / (near + 1)  # mean position of the first of `near` in a shuffle
print(
    f"{near} of the {n_axis} learning rates lie within {tolerance} points of the curve's minimum; "
    f"from the two ends, BO reached one after {from_the_ends} evaluations"
)
print(
    f"BO from each of the {len(starts)} pairs of starting learning rates: "
    f"{bo_evals.mean():.1f} evaluations on average (the 2 starts included), at most "
    f"{bo_evals.max()}; a random order needs {random_order:.1f} on average"
)
labkit.expect(
    bool(curve[seen[2]] <= curve.min() + tolerance),
    "from the two ends, BO's first proposal should land within the tolerance of the minimum",
)
labkit.expect(
    bool(bo_evals.mean() < random_order), "BO should beat a random order on average over starts"
)

# %% [markdown]
# **Notice:** the uncertainty band pinches at each trial and bulges between them, and EI peaks
# where a low mean and a wide band meet. From the two ends, step 1 is partly luck: with only
# the ends seen, the surrogate's mean is nearly flat, so EI favours the middle, where the band
# is widest, and its first proposal happens to land next to the minimum; steps 2 and 3 then
# explore the widest gaps that remain. One start proves little, so the last line runs BO from
# every pair of starting learning rates: on average it comes within the tolerance of the
# minimum in fewer evaluations than a random order needs.
#
# The same posterior from scikit-learn's `GaussianProcessRegressor`, with the same fixed kernel,
# on the same input:

# %%
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel

x_seen, y_seen = x_axis[seen[:3]], curve[seen[:3]]
ours_mean, ours_std = gp_posterior(x_seen, y_seen, x_fine, **kernel_args)
kernel = ConstantKernel(30.0**2, "fixed") * RBF(0.5, "fixed")
gpr = GaussianProcessRegressor(kernel, alpha=1.0, optimizer=None).fit(
    x_seen[:, None], y_seen - y_seen.mean()
)
sk_mean, sk_std = gpr.predict(x_fine[:, None], return_std=True)
gap_mean = np.abs(ours_mean - sk_mean - y_seen.mean()).max()
gap_std = np.abs(ours_std - sk_std).max()
print(f"largest difference: mean {gap_mean:.1e}, std {gap_std:.1e} (the errors are in %)")
labkit.expect(bool(gap_mean < 1e-6 and gap_std < 1e-6), "the two GPs should agree")

# %% [markdown]
# **Notice:** the from-scratch version agrees with scikit-learn to rounding error.
#
# Optuna's `GPSampler` does this in all four dimensions (and fits the kernel's length scales to
# the data). Its `TPESampler` (Tree-structured Parzen Estimator, Bergstra et al. 2011) models it
# differently: it splits past trials into good and bad and proposes points that are likely under
# the good ones and unlikely under the bad. The comparison below times both.

# %% [markdown]
# ## The grid as a tensor: what tensor-train methods exploit
#
# Our table has four axes, one per hyperparameter: a 6×4×4×4 **tensor**. Two words first.
# A **fibre** is a line through the grid: every value of one hyperparameter, the others fixed
# (the six learning rates at batch size 64, width 32, kernel size 7, say). An **unfolding**
# lays the tensor out as a matrix: the first k axes index the rows, the rest the columns
# (k = 1: 6 rows, one per learning rate, and 64 columns).
#
# A tensor-train (TT) model stores one small three-way array, a **core**, per hyperparameter;
# the value at a config is a product of small matrices, one taken from each core by that
# hyperparameter's value. The size of those matrices is the **TT rank**, and it is small
# exactly when every unfolding is close to a low-rank matrix. Then a few well-chosen fibres
# reveal the whole tensor. TTOpt (Sozykin et al. 2022) asks for such fibres, choosing the next
# ones from the best values seen so far.
#
# How low-rank is our table? We subtract its mean first: an uncentred table's large mean alone
# looks like a rank-1 pattern and flatters every approximation. For each unfolding, the
# relative error of its best rank-r approximation, from the singular values:

# %%
centred = mean_errors - mean_errors.mean()
fig, ax = plt.subplots(figsize=(7.5, 3.8))
rank2, rank2_uncentred = [], []
for k in range(1, 4):
    rows = math.prod(mean_errors.shape[:k])
    label = f"({' x '.join(names[:k])}) vs rest"
    for tensor, style, store in [(centred, "-o", rank2), (mean_errors, ":", rank2_uncentred)]:
        sv = np.linalg.svd(tensor.reshape(rows, -1), compute_uv=False)
        rel_error = np.sqrt(np.clip(1 - np.cumsum(sv**2) / np.sum(sv**2), 0, None))
        store.append(rel_error[1])
        ax.semilogy(
            range(1, len(sv) + 1),
            np.maximum(rel_error, 1e-4),
            style,
            color=f"C{k - 1}",
            label=label if tensor is centred else None,
        )
    print(
        f"unfolding {k}: rank 2 leaves a relative error of {rank2[-1]:.2f} "
        f"(uncentred: {rank2_uncentred[-1]:.2f})"
    )
ax.plot([], [], "k:", label="same, without centring")
ax.set_xlabel("rank kept")
ax.set_ylabel("relative error ‖A - A_r‖ / ‖A‖")
ax.legend(fontsize=8)
plt.show()
labkit.expect(
    all(0.1 <= e <= 0.3 for e in rank2), "centred rank-2 errors should lie between 0.1 and 0.3"
)
labkit.expect(
    all(u < c for u, c in zip(rank2_uncentred, rank2, strict=True)),
    "without centring, rank 2 should look better than it is",
)

# %% [markdown]
# **Notice:** once the mean is removed, a rank-2 approximation of each unfolding leaves a
# relative error between 0.1 and 0.3: the table is fairly low-rank, not exactly. The
# uncentred tensor makes the same rank look better, because its mean does much of the work.
# And what low rank summarizes well is the *bulk* of the table, while the minimum we want sits
# in one small corner of it.

# %% [markdown]
# ## Where tensor trains shine: a grid too large to list
#
# Four short axes are not what TT methods were made for. Their home is many dimensions, where
# a grid cannot even be sampled densely. Here is a standard test function of optimizers,
# Rastrigin's, in 12 dimensions with 16 values each. It is a sum of one-dimensional terms,
# which makes its tensor of TT rank 2: the most favourable case for TT, and also why we can
# compute the grid's exact minimum without a search (the best value of each term, added up).
# Real objectives have more interactions. TTOpt and random search get the same budget, over 5
# seeds, through the same `search` function:

# %%
dims = 12
axis_values = np.linspace(-5.12, 5.12, 16)
wide = SearchSpace({f"x{i}": list(axis_values) for i in range(dims)})


def rastrigin(config):  # many valleys; the lowest is the origin, which this grid lacks
    x = np.array(list(config.values()))
    return float(10 * len(x) + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))


term = axis_values**2 - 10 * np.cos(2 * np.pi * axis_values) + 10  # one coordinate's share
grid_min = dims * float(term.min())
best_values = axis_values[np.isclose(term, term.min())]
print(
    f"{wide.size:.1e} grid points: at a million evaluations per second, listing them all "
    f"would take {wide.size / 1e6 / (3600 * 24 * 365):,.0f} years"
)
print(
    f"the grid's minimum, {grid_min:.1f}, lies at x = {np.round(best_values, 2)} in every "
    f"coordinate: {len(best_values) ** dims:,} points, one in {wide.size / len(best_values) ** dims:.0e}"
)
wide_budget = 1000
wide_runs = {
    s: [search(s, wide, rastrigin, wide_budget, seed=r) for r in tqdm(range(5), desc=s)]
    for s in ("random", "tt")
}
fig, ax = plt.subplots(figsize=(8, 3.8))
for colour, (s, traces) in zip(("C0", "C3"), wide_runs.items(), strict=True):
    for r, trace in enumerate(traces):
        ax.plot(trace.best_so_far(), color=colour, lw=1, label=s if r == 0 else None)
ax.axhline(grid_min, color="k", ls=":", label="the grid's minimum")
ax.set_xlabel("evaluations")
ax.set_ylabel("best value so far")
ax.set_yscale("log")
ax.legend()
plt.show()
wide_best = {s: np.array([t.best_error for t in traces]) for s, traces in wide_runs.items()}
for s, traces in wide_runs.items():
    print(
        f"{s:>6}: best value per seed {np.round(wide_best[s], 1)} (grid minimum {grid_min:.1f}); "
        f"random fallbacks per run {[t.fallbacks for t in traces]}"
    )
labkit.expect(
    bool(np.all(np.abs(wide_best["tt"] - grid_min) < 1e-6)),
    "TTOpt should reach the grid's exact minimum in every run",
)
labkit.expect(
    bool(wide_best["tt"].max() < wide_best["random"].min()),
    "TTOpt's worst run should beat random search's best",
)
labkit.expect(
    bool(wide_best["random"].min() > 2 * grid_min),
    "random search's best run should stay more than twice the grid's minimum",
)
tt_reached = [t.evals_to_reach(grid_min, tolerance=1e-6) for t in wide_runs["tt"]]
print(f"TTOpt reached the minimum at evaluation {tt_reached} (one entry per seed)")
labkit.expect(
    max(tt_reached) - min(tt_reached) <= 0.05 * wide_budget,
    "the TTOpt runs should reach the minimum at nearly the same evaluation",
)

# %% [markdown]
# **Notice:** with a budget that is a vanishing share of the grid, TTOpt reached the grid's
# exact minimum in every run, while even the best random run stayed above twice that value.
# Read the five TTOpt runs as one result more than five: they reached the minimum at nearly
# the same evaluation, so the seed barely changes TTOpt's path here, while the random runs
# are independent. The tensor-train model turns a few fibres into a map of the whole grid,
# provided the grid has that low-rank structure.

# %% [markdown]
# ## The comparison: every strategy, same space, same budget, repeated
#
# Back to our table. `labkit.search.search(strategy, space, objective, budget, seed)` is one
# interface for every strategy, with a budget here of 5% of the grid. The grid strategy is
# what people use with a fixed budget: a coarser lattice, evenly spaced values per
# hyperparameter, as many as fit the budget (`grid_lattice` shares them out across the axes),
# visited in a seeded random order.
#
# labkit changes two of the strategies, and says so. When Optuna's TPE or GP sampler proposes
# a point it has already evaluated, the sampler is told the known value at no cost, and the
# next trial is an unseen point drawn at random; when TTOpt stops before the budget is spent,
# the rest goes to random unseen points. Each trace counts those evaluations in `fallbacks`.
# One run of each, timed:

# %%
lookup = table.objective()
budget = round(0.05 * table.space.size)
lattice = grid_lattice(table.space.shape, budget)
print(
    f"budget: {budget} evaluations, {budget * per_point / 60:.1f} min of training at "
    f"{per_point:.1f} s per run (the timing of the machine that built the table)"
)
print(
    "grid lattice:",
    {n: [space.params[n][i] for i in idx] for n, idx in zip(names, lattice, strict=True)},
)
seconds_per_trial = {}
for strategy in STRATEGIES:
    trace = search(strategy, table.space, lookup, budget=budget, seed=0)
    reached = trace.evals_to_reach(table.best_error, tolerance=band.width)
    seconds_per_trial[strategy] = trace.seconds / len(trace)
    print(
        f"{strategy:>6}: best error {100 * trace.best_error:5.2f}% after {len(trace)} "
        f"evaluations ({trace.fallbacks} by fallback); "
        f"{f'reached the band at evaluation {reached}' if reached <= len(trace) else 'never reached the band'}"
        f"  ({trace.seconds:.2f} s)"
    )
gp_cost = seconds_per_trial["gp"]
next_slowest = max(v for k, v in seconds_per_trial.items() if k != "gp")
print(
    f"the GP sampler's own cost per trial: {gp_cost:.3f} s, {gp_cost / next_slowest:.0f} times "
    f"the next slowest strategy's, and {gp_cost / live_seconds:.1%} of the live training run "
    "timed at the top of this notebook"
)
labkit.expect(gp_cost > 3 * next_slowest, "the GP sampler should be by far the slowest to run")
labkit.expect(gp_cost < 0.25 * live_seconds, "a GP trial should cost far less than a training run")

# %% [markdown]
# **Notice:** on the table, where an evaluation costs nothing, the GP sampler is by far the
# slowest strategy to run (at every trial it fits a Gaussian process and searches for the
# highest expected improvement), yet its cost per trial is still a small fraction of one real
# training run. When every evaluation is a training run, the sampler's own cost hardly matters.

# %% [markdown]
# One run is an anecdote. Now many runs of each strategy (different seeds): 20 each, but only
# 6 of the GP sampler, the slowest to run (`labkit bench search` runs 20 of every strategy).
# They are drawn as **regret**: the best error found so far minus the grid's best, against
# the number of evaluations. The line is the median, the band around it holds the middle half
# of the runs, and the grey stripe is the noise band: a line inside it has found a point not
# detectably worse than the best. The vertical axis is linear from 0 to 1 point and
# logarithmic above (a "symlog" scale), so that both the large regrets of the first
# evaluations and the small ones near the band can be read.
#
# For each strategy: how many runs reached the noise band within the budget, with a 95%
# interval for that share (Wilson, as in notebook 00), the median evaluations to get there
# with a bootstrap interval, and its fallbacks. Then grid, TPE and TTOpt against random
# search: the difference in the share of runs that reached the band, with its 95% interval.
# Where the interval holds zero, 20 repetitions cannot tell the two apart. The GP's 6 runs are
# too few for that test: its line is drawn, not compared.

# %%
result = replay(
    table, budget=budget, repeats={"grid": 20, "random": 20, "tpe": 20, "gp": 6, "tt": 20}
)
ax = plot_regret(result)
ax.axhspan(0, 100 * band.width, color="grey", alpha=0.15, label="noise band")
ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # evaluations are whole numbers
ax.legend(fontsize=8)
ax.set_title(f"regret over {budget} evaluations (5% of the {table.space.size}-point grid)")
plt.show()
summaries = {s: result.summary(s, band.width) for s in result.curves}
for s in summaries.values():
    print(s)
against_random = {s: result.compare("random", s, band.width) for s in ["grid", "tpe", "tt"]}
for comparison in against_random.values():
    print(comparison)
lattice_best = mean_errors[np.ix_(*lattice)].min()
labkit.expect(
    all(idx == [0, n - 1] for idx, n in zip(lattice, table.space.shape, strict=True)),
    "the 5% lattice should keep the two ends of every axis",
)
labkit.expect(
    bool(mean_errors[[0, -1]].min() > table.best_error + band.width),
    "neither end of the learning-rate range should hold a point in the band",
)
labkit.expect(
    bool(lattice_best > table.best_error + band.width) and summaries["grid"].hits == 0,
    "the 5% lattice should have no point in the band",
)
labkit.expect_detectable(against_random["grid"], better="random")
labkit.expect_no_detectable_difference(against_random["tt"], "TTOpt against random search")
labkit.expect_no_detectable_difference(against_random["tpe"], "TPE against random, 20 runs")
labkit.expect(
    summaries["grid"].mean_fallbacks == 0 == summaries["random"].mean_fallbacks,
    "grid and random search never fall back",
)
labkit.expect(
    summaries["gp"].share_high - summaries["gp"].share_low > 0.3,
    "6 repetitions should leave the GP's interval wide",
)

# %% [markdown]
# **Notice:** at this budget the lattice affords two values per hyperparameter, the ends of
# each range, and neither end of the learning-rate range holds a point in the band: the grid
# never reaches it, and random search, which tries many learning rates, reaches it detectably
# more often. This is Bergstra and Bengio's point on real data. TTOpt shows no detectable
# difference from random search here, unlike on the 12-dimensional grid above, and neither
# does TPE, with 20 runs each. The GP sampler's 6 runs leave its interval wider than a third
# of the scale, so read its line with care. Grid and random search never need a fallback; for
# TPE, GP and TTOpt the last column says how many of the evaluations labkit picked at random,
# so the numbers describe these strategies as labkit runs them.
#
# Every search here chooses by validation error, so the validation error of the winner
# flatters it a little; its honest score comes from the test images, used once, after the
# search is over.

# %% [markdown]
# ## Explore: budget and strategies
#
# Pick strategies and a budget: the regret curves up to that budget, the noise band shaded, and
# how many of the repetitions reached it. Try a budget of 5 evaluations, then the largest: which
# strategies need the whole budget to get there?

# %%
picker = SearchPicker(table, result, band)
display(picker)

# %% [markdown]
# ## More repetitions, sharper answers
#
# Is TPE better than random search here? With 20 repetitions each, the interval above held
# zero: no detectable difference. Repetitions on a table are cheap, so run 100 of each.
#
# Random search also has an exact answer that needs no repetitions at all. With N grid points
# of which m are in the band, the chance that n points drawn without replacement all miss it
# is C(N-m, n) / C(N, n), so the chance of reaching the band is one minus that. It checks the
# replay, and it tells how many evaluations random search needs for a 95% chance.

# %%
many = replay(table, ["random", "tpe"], budget=budget, repeats=100)
print(many.summary("random", band.width))
print(many.summary("tpe", band.width))
tpe_vs_random = many.compare("random", "tpe", band.width)
print(tpe_vs_random)
labkit.expect_detectable(tpe_vs_random, better="tpe")
few = against_random["tpe"]
labkit.expect_no_detectable_difference(few, "TPE against random search, 20 runs each")
labkit.expect(
    tpe_vs_random.high - tpe_vs_random.low < few.high - few.low,
    "100 repetitions should give a narrower interval than 20",
)


def chance_random_reaches(n, grid=table.space.size, good=band.points):
    return 1 - math.comb(grid - good, n) / math.comb(grid, n)


exact = chance_random_reaches(budget)
random_many = many.summary("random", band.width)
labkit.expect_between(
    "exact chance of random search", exact, random_many.share_low, random_many.share_high
)
n_95 = next(n for n in range(1, table.space.size + 1) if chance_random_reaches(n) >= 0.95)
print(f"exact chance that random search reaches the band in {budget} evaluations: {exact:.1%}")
print(
    f"random search needs {n_95} evaluations ({100 * n_95 / table.space.size:.0f}% of the grid, "
    f"{n_95 * per_point / 60:.1f} min of training at {per_point:.1f} s per run) for a 95% chance"
)

# %% [markdown]
# **Notice:** 100 repetitions give a narrower interval than 20, and with it TPE reaches the
# noise band detectably more often than random search at this budget, where 20 repetitions
# showed no detectable difference. "No detectable difference" is a statement about the
# evidence, not about the strategies. The exact formula for random search lies inside the
# interval of its 100 replays.

# %% [markdown]
# ## A live study with Optuna: real training, and a pruner
#
# In practice you would not have a table. Here is Optuna's own API on the live objective, the
# way you would use it on your model: `suggest_*` draws the hyperparameters, `trial.report`
# sends the validation error (in %) after every epoch, and a **pruner** decides whether to
# stop the trial there. Optuna's `MedianPruner` compares the trial's best error so far with
# the median of the errors that the completed trials had at the same epoch, and stops the
# trial if it is worse, saving its remaining epochs; it waits until 3 trials have completed
# (`n_startup_trials=3`). A pruner judges early, so a trial that starts slowly (a large batch
# takes fewer steps per epoch) can be stopped although it might have caught up;
# `n_warmup_steps=k` holds pruning off until epoch k when that matters. The sampler is TPE,
# whose first 4 trials are drawn at random before its model takes over. Optuna used this way
# is unchanged: no fallbacks.

# %%
small = data.with_train_subset(1000)
epochs = 3
n_startup = 4  # TPE's random trials before its model takes over


def train_trial(trial: optuna.Trial) -> float:
    hp = {
        "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
        "width": trial.suggest_categorical("width", [8, 16, 32]),
        "kernel_size": trial.suggest_categorical("kernel_size", [3, 5]),
    }

    def report(epoch, history):  # after every epoch: tell Optuna, and stop if pruned
        trial.report(100 * (1 - history.val_acc[-1]), step=epoch)  # validation error in %
        return trial.should_prune()

    result = labkit.train_small_cnn(small, epochs=epochs, progress=False, on_epoch=report, **hp)
    trial.set_user_attr("epochs", result.history.epochs)
    trial.set_user_attr("seconds", result.seconds)
    if result.history.epochs < epochs:
        raise optuna.TrialPruned()
    return 100 * result.val_error


study = optuna.create_study(
    direction="minimize",
    sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=n_startup),
    pruner=optuna.pruners.MedianPruner(n_startup_trials=3),
)
n_trials = 10
with tqdm(total=n_trials, desc="Optuna study") as bar:
    study.optimize(train_trial, n_trials=n_trials, callbacks=[lambda s, t: bar.update(1)])
pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
for t in study.trials:
    chosen_by = "random start" if t.number < n_startup else "TPE"
    last_epoch = t.user_attrs["epochs"]
    outcome = f"pruned after epoch {last_epoch}" if t in pruned else "completed"
    print(
        f"trial {t.number} ({chosen_by:>12}): lr {t.params['lr']:.1e}, batch "
        f"{t.params['batch_size']:3d}, width {t.params['width']:2d}, kernel "
        f"{t.params['kernel_size']}: {outcome}, error {t.intermediate_values[last_epoch]:.1f}%"
    )
best = study.best_trial
print(
    f"best: trial {best.number} "
    f"({'a random start' if best.number < n_startup else 'chosen by TPE'}), "
    f"validation error {best.value:.1f}% at lr {best.params['lr']:.1e}"
)
epochs_saved = sum(epochs - t.user_attrs["epochs"] for t in pruned)
seconds_saved = sum(  # each pruned trial's own seconds per epoch, times the epochs it skipped
    t.user_attrs["seconds"] / t.user_attrs["epochs"] * (epochs - t.user_attrs["epochs"])
    for t in pruned
)
seconds_spent = sum(t.user_attrs["seconds"] for t in study.trials)
print(
    f"{n_trials - len(pruned)} trials completed, {len(pruned)} pruned; the pruner saved "
    f"{epochs_saved} of {n_trials * epochs} epochs: about {seconds_saved:.1f} s of training, "
    f"on top of the {seconds_spent:.1f} s the study spent"
)
labkit.expect_between("best learning rate of the study", best.params["lr"], 3e-4, 1e-2)
labkit.expect(
    len(pruned) >= 1 and all(t.user_attrs["epochs"] < epochs for t in pruned),
    "at least one trial should be pruned, each before its last epoch",
)

# %% [markdown]
# Optuna draws its own diagnostics; `optuna.visualization.matplotlib` gives them as matplotlib
# figures (they work offline, in any notebook viewer): every trial's error epoch by epoch, then
# the history of the study. Optuna marks these plotting functions as experimental and warns
# each time; we silence exactly that warning.

# %%
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    ax = plot_intermediate_values(study)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation error (%)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    plt.show()
    ax = plot_optimization_history(study)
    ax.set_ylabel("validation error (%)")
    plt.show()

# %% [markdown]
# **Notice:** in the first plot, each pruned trial's points stop before the last epoch: the
# pruner stopped it there, and the saving printed above is counted in epochs and seconds of
# this study (on a model whose epochs take hours, the same count is in hours). The second plot
# leaves the pruned trials out, since they have no final value. The best trial's learning rate
# lies between 3e-4 and 1e-2, away from both ends of the range: the in-between learning rate
# that notebook 01 looked for by hand. Which trial found it is printed above. With 10 trials,
# the first 4 of them random, TPE chose only 6, so a study this short shows how the tools
# work, not that the sampler beats random search: that question took the table's many
# repetitions.

# %% [markdown]
# ## Exercises
#
# **Q1.** Suppose you also tuned the number of epochs, with the values `[1, 3, 5, 10]`, on top
# of the four hyperparameters of `COURSE_SPACE`. How many points would the grid have? Compute
# it from the dict and the new list.

# %% tags=["exercise"]
n_points = ____
lab02.q1.check(n_points)

# %% [markdown]
# **Q2.** Write `random_search(space, objective, budget, seed)`: evaluate `budget` distinct
# points of the `SearchSpace`, in a random order that depends only on `seed`, and return the
# `(config, error)` pairs in the order you evaluated them. `space.all_configs()` lists every
# point. The check runs it on a small space of its own and watches the order of the calls to
# `objective`.


# %% tags=["exercise"]
def random_search(space, objective, budget, seed):
    return ____


lab02.q2.check(random_search)

# %% [markdown]
# **Q3.** Read the regret plot at the budget, its right edge: which strategy's median line
# (the solid line) is lowest there? Lines within a quarter of a point of the lowest count as
# tied. Answer with its name; the check reads `result`.

# %% tags=["exercise"]
best_at_budget = ____
lab02.q3.check(best_at_budget, result)

# %% [markdown]
# ## Summary
#
# - A search repeats: pick a config, train, measure the objective. Strategies differ in how
#   they pick, and should be judged by evaluations (training runs) to a good result. Here a
#   good result means reaching the noise band: the points the table's seeds cannot tell apart
#   from its best.
# - Grid search is exhaustive on its grid, but the grid multiplies with every hyperparameter.
#   With a fixed budget it becomes a coarser lattice, which tries few values of the
#   hyperparameters that matter: at 5% of our grid it missed the good learning rates entirely.
# - Random search costs what you decide (100 of 1,000 points is a tenth of the time), covers
#   important hyperparameters better than a lattice of the same size, and its chance of
#   reaching the band has an exact formula.
# - Bayesian optimization fits a surrogate to past trials and trades exploring against
#   exploiting through an acquisition function. On one axis, from any pair of starting
#   points, it came close to the minimum sooner than a random order on average; on our table,
#   at 5% of the grid, TPE reached the noise band more often than random search, a difference
#   that 20 repetitions could not detect and 100 resolved. The GP sampler's 6 repetitions
#   leave its interval wide; its cost per trial is the highest, yet small next to a training
#   run.
# - Tensor-train methods exploit low rank in the grid-as-tensor: on a 12-dimensional grid too
#   large to list they found the exact minimum; on our small table they showed no detectable
#   difference from random search.
# - labkit's version of TPE, GP and TTOpt fills some evaluations at random, and counts them.
# - Every evaluation is a training run, and the table alone cost hundreds of them: tuning is
#   costly, which is why it is spent where accuracy is critical.
# - Compare strategies on a table over many repetitions, with intervals; one run is an
#   anecdote. A search chooses by validation error; the chosen config's honest score comes
#   from the test images, once, after the search.
#
# ## What's next
#
# [03 · Pruning](03_pruning.ipynb): with good hyperparameters found, make the trained model
# smaller by removing the weights that matter least.
#
# ## Resources and references
#
# - J. Bergstra, Y. Bengio. *Random Search for Hyper-Parameter Optimization.* JMLR 13, 2012.
# - J. Bergstra, R. Bardenet, Y. Bengio, B. Kégl. *Algorithms for Hyper-Parameter
#   Optimization* (TPE). NeurIPS 2011.
# - J. Snoek, H. Larochelle, R. P. Adams. *Practical Bayesian Optimization of Machine Learning
#   Algorithms.* NeurIPS 2012.
# - T. Akiba et al. *Optuna: A Next-generation Hyperparameter Optimization Framework.* KDD 2019.
# - K. Sozykin et al. *TTOpt: A Maximum Volume Quantized Tensor Train-based Optimization and
#   its Application to Reinforcement Learning.* NeurIPS 2022. Package `ttopt`.
# - I. Oseledets. *Tensor-Train Decomposition.* SIAM J. Sci. Comput. 33(5), 2011.
# - R. G. Newcombe. *Interval estimation for the difference between independent proportions.*
#   Statistics in Medicine 17, 1998 (the interval `Replay.compare` uses).
