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
# - **grid search**: every combination; guaranteed best on the grid, often far too slow;
# - **random search**: combinations drawn at random; no guarantee, usually good, much cheaper;
# - **Bayesian optimization**: a model of the objective, fitted to past trials, proposes the
#   next one (Optuna's TPE and Gaussian-process samplers);
# - **tensor-train optimization**: the grid seen as a tensor of low rank (TTOpt; TetraOpt is a
#   closed product of the same family).
#
# Tuning is costly, but it pays where accuracy is critical: medical imaging, autonomous driving.
#
# ## Prerequisites
#
# | Concept | Importance | Notes |
# |---|---|---|
# | [01 · Parameters vs hyperparameters](01_parameters_vs_hyperparameters.ipynb) | necessary | the objective, `train_small_cnn` |
# | Probability: mean, standard deviation | helpful | for the Bayesian surrogate |
# | Matrix rank, SVD | helpful | for the tensor-train section |
#
# **Time to learn:** about 40 minutes.

# %% [markdown]
# ## Imports

# %%
import labkit

labkit.setup()

import math

import matplotlib.pyplot as plt
import numpy as np
import optuna
from tqdm.auto import tqdm

from labkit.exercises import ____, lab02
from labkit.plots import plot_heatmap, plot_regret
from labkit.search import (
    COURSE_SPACE,
    SearchSpace,
    expected_improvement,
    gp_posterior,
    live_objective,
    search,
)
from labkit.search_table import SearchTable, replay

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
# validation error. To keep one evaluation near a second, it trains 3 epochs on 1,000 images.
# One evaluation, live:

# %%
objective = live_objective(data, epochs=3, train_subset=1000)
config = {"lr": 3e-3, "batch_size": 64, "width": 16, "kernel_size": 3}
print(f"{config} -> validation error {objective(config):.3f}")

# %% [markdown]
# ## Grid or random: the cost
#
# Training all 384 points here takes many minutes, so the course ships a **table**: every grid
# point trained in advance, twice (two seeds), by the command `labkit search build-table`, and
# stored in `data/search_table.json` with how it was made. From the time that build took we
# can price any search:

# %%
table = SearchTable.load()
per_point = table.meta["seconds"] / (table.space.size * len(table.meta["seeds"]))
print("table recipe:", {k: table.meta[k] for k in ("epochs", "train_subset", "seeds", "seconds")})
print(f"one evaluation costs {per_point:.1f} s on the machine that built the table")
for n_points, name in [(1000, "grid of 1,000 combinations"), (100, "random, 100 of them")]:
    print(f"{name:>28}: {n_points * per_point / 60:6.1f} min")

# %% [markdown]
# This is the classic example: of 1,000 combinations, testing 100 at random takes a tenth of
# the time. The question is what we lose. Bergstra and Bengio (2012) give the answer for the
# common case where **some hyperparameters matter much more than others**. Below, the objective
# depends almost only on the horizontal axis. Nine grid points try only **3 distinct values**
# of it; nine random points try **9**:

# %%
rng = np.random.default_rng(0)
xs = np.linspace(0, 1, 300)


def important(x):  # the part of the objective that matters
    return np.exp(-((x - 0.68) ** 2) / 0.004)


grid_pts = np.array([(x, y) for x in (1 / 6, 3 / 6, 5 / 6) for y in (1 / 6, 3 / 6, 5 / 6)])
random_pts = rng.uniform(0, 1, size=(9, 2))
fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), sharey=True)
for ax, pts, title in [(axes[0], grid_pts, "grid: 9 points"), (axes[1], random_pts, "random: 9")]:
    ax.scatter(pts[:, 0], pts[:, 1], s=60, zorder=3)
    ax.plot(xs, 0.02 + 0.25 * important(xs), color="C1", lw=2, label="effect of x (important)")
    for x in pts[:, 0]:
        ax.axvline(x, color="grey", lw=0.6, ls=":")
    best = important(pts[:, 0]).max()
    ax.set_title(f"{title}; {len(set(np.round(pts[:, 0], 6)))} distinct x, best {best:.2f}")
    ax.set_xlabel("x: important hyperparameter")
axes[0].set_ylabel("y: unimportant hyperparameter")
axes[0].legend(loc="upper left")
plt.show()

# %% [markdown]
# **Notice:** the grid spends two thirds of its budget re-testing the same three values of the
# important hyperparameter. Random points project onto nine different values, so random search
# is more likely to land near the peak.

# %% [markdown]
# ## The table: every grid point, trained
#
# The objective over the whole grid, as pictures: one heatmap per (width, kernel size) pair is
# too many, so here is the best error over the other two hyperparameters, for each pair.

# %%
mean_errors = table.mean_errors  # shape (lr, batch_size, width, kernel_size)
names = table.space.names
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
pairs = [(0, 1), (2, 3)]
for ax, (i, j) in zip(axes, pairs, strict=True):
    others = tuple(k for k in range(4) if k not in (i, j))
    plot_heatmap(
        100 * mean_errors.min(axis=others),
        ax=ax,
        cmap="viridis_r",
        symmetric=False,
        title="best error (%)",
        yticklabels=space.params[names[i]],
        xticklabels=space.params[names[j]],
        ylabel=names[i],
        xlabel=names[j],
    )
plt.show()
seed_gap = 100 * np.abs(table.errors[..., 0] - table.errors[..., 1])
print(f"best grid point: {table.best_config}, error {100 * table.best_error:.2f}%")
print(f"median error over the grid: {100 * np.median(mean_errors):.1f}%")
print(f"seed-to-seed difference at the same point: median {np.median(seed_gap):.2f} points")
near = (mean_errors <= table.best_error + 0.005).sum()
print(f"grid points within 0.5 points of the best: {near} of {table.space.size}")

# %% [markdown]
# **Notice:** most of the grid is bad (3 epochs at a small learning rate barely moves the
# model), and the good region is small: a search has to find it. The seed-to-seed difference
# is the noise of one measurement; the table's objective averages two seeds to tame it.
#
# **Why a table makes the comparison fair.** Every strategy below looks up the *same* numbers,
# so differences between them come from how they search, not from the luck of a training run.
# And because a lookup takes microseconds, we can repeat each search 20 times with different
# seeds and see its spread, which one live run could never show.

# %% [markdown]
# ## Bayesian optimization, one step at a time
#
# Bayesian optimization keeps a **surrogate**: a probabilistic model of the objective, fitted to
# the trials so far, that gives for every untried point a mean guess and an uncertainty. An
# **acquisition function** turns the two into one score; the next trial is where it is highest.
# Expected improvement (EI) asks: how far below the best error so far do we expect this point
# to land? It is large where the mean is low (exploit) *or* the uncertainty is high (explore).
#
# One dimension makes this visible: the error along the learning-rate axis (log scale), with
# the other three hyperparameters at the table's best. We use a Gaussian process written from
# scratch in `labkit.search` (checked against scikit-learn below). Here is all of it: the
# posterior mean and standard deviation, then expected improvement.

# %%
labkit.show_source(gp_posterior)
labkit.show_source(expected_improvement)

# %%
lr_values = np.array(space.params["lr"])
bi = table.space.index(table.best_config)
curve = 100 * mean_errors[:, bi[1], bi[2], bi[3]]  # error (%) along lr
x_all = np.log10(lr_values)
x_fine = np.linspace(x_all.min() - 0.2, x_all.max() + 0.2, 200)
seen = [0, 5]  # two trials so far: the smallest and the largest learning rate
fig, axes = plt.subplots(2, 3, figsize=(13, 5.6), sharex=True, height_ratios=[2, 1])
for step in range(3):
    x_seen, y_seen = x_all[seen], curve[seen]
    mean, std = gp_posterior(x_seen, y_seen, x_fine, length_scale=0.5, signal=30.0, noise=1.0)
    ei = expected_improvement(mean, std, best=y_seen.min())
    ei_at = expected_improvement(*gp_posterior(x_seen, y_seen, x_all, 0.5, 30.0, 1.0), y_seen.min())
    ei_at[seen] = 0  # never re-propose a point already tried
    nxt = int(np.argmax(ei_at))
    ax, ax_ei = axes[0, step], axes[1, step]
    ax.plot(x_all, curve, "k:", lw=1, label="true error (table)")
    ax.plot(x_fine, mean, color="C0", label="surrogate mean")
    ax.fill_between(x_fine, mean - 2 * std, mean + 2 * std, color="C0", alpha=0.2, label="±2 std")
    ax.scatter(x_seen, y_seen, color="k", zorder=3, label="trials so far")
    ax.axvline(x_all[nxt], color="C3", ls="--", lw=1)
    ax.set_title(f"step {step + 1}: {len(seen)} trials, next lr = {lr_values[nxt]:g}")
    ax_ei.plot(x_fine, ei, color="C3")
    ax_ei.axvline(x_all[nxt], color="C3", ls="--", lw=1)
    ax_ei.set_xlabel("log10(learning rate)")
    seen.append(nxt)
axes[0, 0].set_ylabel("validation error (%)")
axes[1, 0].set_ylabel("expected improvement")
axes[0, 0].legend(fontsize=8)
plt.show()
print("trials in order:", [f"{lr_values[i]:g}" for i in seen])

# %% [markdown]
# **Notice:** the uncertainty band pinches to nothing at each trial and bulges between them;
# EI peaks where a low mean and a wide band meet. Three proposals home in on the valley
# instead of sweeping every value.
#
# The same posterior from scikit-learn's `GaussianProcessRegressor`, with the same fixed kernel,
# on the same input: the from-scratch version agrees to rounding error.

# %%
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel

x_seen, y_seen = x_all[seen[:3]], curve[seen[:3]]
ours_mean, ours_std = gp_posterior(x_seen, y_seen, x_fine, length_scale=0.5, signal=30.0, noise=1.0)
kernel = ConstantKernel(30.0**2, "fixed") * RBF(0.5, "fixed")
gpr = GaussianProcessRegressor(kernel, alpha=1.0, optimizer=None).fit(
    x_seen[:, None], y_seen - y_seen.mean()
)
sk_mean, sk_std = gpr.predict(x_fine[:, None], return_std=True)
print(
    f"largest difference: mean {np.abs(ours_mean - sk_mean - y_seen.mean()).max():.1e}, "
    f"std {np.abs(ours_std - sk_std).max():.1e}"
)

# %% [markdown]
# Optuna's `GPSampler` does this in all four dimensions (and fits the kernel's length scales to
# the data). Its `TPESampler` (Tree-structured Parzen Estimator, Bergstra et al. 2011) models it
# differently: it splits past trials into good and bad and proposes points that are likely under
# the good ones and unlikely under the bad. TPE is cheap per trial; the GP costs more per trial
# but often needs fewer.

# %% [markdown]
# ## The grid as a tensor: what tensor-train methods exploit
#
# Our table has four axes, one per hyperparameter: a 6x4x4x4 **tensor**. A tensor-train (TT)
# method assumes this tensor is close to one of **low TT rank**: unfold it into a matrix
# (first k axes as rows, the rest as columns); if each unfolding is nearly low-rank, the whole
# tensor is described by a few small cores, and a few well-chosen *fibres* (lines through the
# grid) reveal it. TTOpt (Sozykin et al. 2022) asks for exactly such lines, guided by the
# largest entries it has seen (the cross approximation, here of 1/(error)-like scores).
#
# How low-rank is our table? The singular values of each unfolding tell:

# %%
fig, ax = plt.subplots(figsize=(7, 3.6))
for k in range(1, 4):
    rows = math.prod(mean_errors.shape[:k])
    sv = np.linalg.svd(mean_errors.reshape(rows, -1), compute_uv=False)
    energy = 1 - np.cumsum(sv**2) / np.sum(sv**2)
    ax.semilogy(
        range(1, len(sv) + 1),
        np.maximum(energy, 1e-6),
        marker="o",
        label=f"({' x '.join(names[:k])}) vs rest",
    )
    print(f"unfolding {k}: rank-2 keeps {100 * (1 - energy[1]):.1f}% of the squared norm")
ax.set_xlabel("rank kept")
ax.set_ylabel("squared error left (fraction)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# **Notice:** rank 2 already holds nearly all of each unfolding, so the 384 numbers are well
# described by far fewer. That is the structure TT methods bank on. What the energy picture
# hides: the *minimum* we want is one small corner of the tensor, and a low-rank summary can
# smooth it away. The benchmark below shows whether TTOpt finds it.

# %% [markdown]
# ## The comparison: every strategy, same space, same budget, 20 repetitions
#
# `labkit.search.search(strategy, space, objective, budget, seed)` is one interface for all of
# them. One run of each with a budget of 10% of the grid:

# %%
lookup = table.objective()
budget = round(0.10 * table.space.size)
for strategy in ["grid", "random", "tpe", "gp", "tt"]:
    trace = search(strategy, table.space, lookup, budget=budget, seed=0)
    reached = trace.evals_to_reach(table.best_error, tolerance=0.005)
    print(
        f"{strategy:>6}: best error {100 * trace.best_error:5.2f}% after {len(trace)} "
        f"evaluations; reached the grid's best at {reached or 'never'}  ({trace.seconds:.2f} s)"
    )

# %% [markdown]
# One run is an anecdote. Now 20 repetitions of each (different seeds), drawn as **regret**:
# the best error found so far minus the grid's best, against the number of evaluations. The
# line is the median, the band holds the middle half of the runs. The GP sampler is the
# slowest to run (about 0.1 s of its own per trial, growing with the trials), so it gets 6
# repetitions here to keep the notebook fast; the benchmark `labkit bench search` runs 20 of
# every strategy, with a larger budget.

# %%
result = replay(
    table, budget=budget, repeats={"grid": 1, "random": 20, "tpe": 20, "gp": 6, "tt": 20}
)
plot_regret(result)
plt.title(f"regret over {budget} evaluations (10% of the {table.space.size}-point grid)")
plt.show()
for strategy in result.curves:
    evals = result.evals_to_reach(strategy)
    print(
        f"{strategy:>6}: median evaluations to the grid's best {np.median(evals):5.1f}; "
        f"found it within the budget in {100 * result.reached(strategy):.0f}% of runs"
    )

# %% [markdown]
# **Notice:** the grid walks the space in order and spends its budget on the first learning
# rates, which are the worst. Random search improves steadily but rarely hits the single best
# point. The Bayesian samplers learn where the good region is and concentrate there. Read the
# numbers above rather than trusting this sentence: they are measured in this run.
#
# TTOpt's low-rank model is built for *large* tensors (dozens of dimensions); here, with four
# short axes and one narrow minimum, its fibre-by-fibre sweeps spend much of a small budget on
# whole lines through bad regions, so it rarely reaches the single best point here. That is a
# finding, not a failure of the code: the family shines where the grid is too big even to
# sample densely, and the rank picture above shows its model fits our table well on average.

# %% [markdown]
# ## A live study with Optuna: real training, and a pruner
#
# In practice you would not have a table. Here is Optuna's own API on the live objective, the
# way you would use it on your model: `suggest_*` draws the hyperparameters, `trial.report`
# sends the validation error after every epoch, and a **pruner** stops a trial whose error is
# worse than the median of earlier trials at the same epoch, saving its remaining epochs.

# %%
small = data.with_train_subset(1000)


def train_trial(trial: optuna.Trial) -> float:
    hp = {
        "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [32, 64, 128]),
        "width": trial.suggest_categorical("width", [8, 16, 32]),
        "kernel_size": trial.suggest_categorical("kernel_size", [3, 5]),
    }

    def report(epoch, history):  # after every epoch: tell Optuna, and stop if pruned
        trial.report(1 - history.val_acc[-1], step=epoch)
        return trial.should_prune()

    result = labkit.train_small_cnn(small, epochs=3, progress=False, on_epoch=report, **hp)
    if result.history.epochs < 3:
        raise optuna.TrialPruned()
    return result.val_error


study = optuna.create_study(
    direction="minimize",
    sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=4),
    pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
)
n_trials = 10
with tqdm(total=n_trials, desc="Optuna study") as bar:
    study.optimize(train_trial, n_trials=n_trials, callbacks=[lambda s, t: bar.update(1)])
states = [t.state.name for t in study.trials]
print(f"best validation error {study.best_value:.3f} with {study.best_params}")
print(f"{states.count('COMPLETE')} trials completed, {states.count('PRUNED')} pruned early")

# %% [markdown]
# Optuna draws its own diagnostics; `optuna.visualization.matplotlib` gives them as matplotlib
# figures (they work offline, in any notebook viewer):

# %%
from optuna.visualization.matplotlib import plot_optimization_history, plot_slice

plot_optimization_history(study)
plt.show()
plot_slice(study, params=["lr", "width"])
plt.show()

# %% [markdown]
# **Notice:** pruned trials stopped after one or two epochs; on a real model the time saved is
# most of an hour per pruned trial. The slice plot shows each trial's learning rate against its
# error: the valley you found in notebook 01, found here by the sampler.

# %% [markdown]
# ## Exercises
#
# **Q1.** How many points does the grid over `COURSE_SPACE` have? Compute it from the dict.

# %% tags=["exercise"]
n_points = ____
lab02.q1.check(n_points)

# %% [markdown]
# **Q2.** Write `random_search(space, objective, budget, seed)`: evaluate `budget` distinct
# points of the `SearchSpace`, in a random order that depends only on `seed`, and return a list
# of `(config, error)` pairs. `space.all_configs()` lists every point. The check runs it on a
# small space of its own.


# %% tags=["exercise"]
def random_search(space, objective, budget, seed):
    return ____


lab02.q2.check(random_search)

# %% [markdown]
# **Q3.** Read the regret plot: which strategy has the lowest median regret at 10% of the grid
# (the last evaluation drawn)? Answer with its name; the check reads `result`.

# %% tags=["exercise"]
best_at_10pct = ____
lab02.q3.check(best_at_10pct, result)

# %% [markdown]
# ## Summary
#
# - A search repeats: pick a config, train, measure the objective. Strategies differ in how
#   they pick, and should be judged by evaluations (training runs) to a good result.
# - Grid search is exhaustive and guaranteed on its grid, but its cost multiplies with every
#   hyperparameter, and it tests few distinct values of the ones that matter.
# - Random search costs what you decide (100 of 1,000 points is a tenth of the time) and
#   covers important hyperparameters better than a grid of the same size.
# - Bayesian optimization fits a surrogate to past trials and trades exploring against
#   exploiting through an acquisition function; it needs fewer trials on a small space.
# - Tensor-train methods exploit low rank in the grid-as-tensor; they pay off on large grids.
# - Compare strategies on a table over many repetitions; one run is an anecdote.
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
