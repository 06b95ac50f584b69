"""Interactive apps for notebooks 02-07: move a control, see the picture and numbers change.

Each app is a small class with ``widget`` (the ipywidgets box; a notebook displays the app
itself), ``update()`` (what a control's change calls) and ``state`` (the numbers last shown, for
tests). Every update is computed from results the notebook already has, or in well under a
second on 2 cores, so the app answers at once. Notebook 01's explorer, which trains, is
``labkit.hparams.Explorer``.
"""

from __future__ import annotations

import copy
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from labkit.amp import plot_fractions, plot_number_line
from labkit.data import Dataset, check_dataset
from labkit.distill_table import DistillTable
from labkit.lowbit import packed_bytes, quantize_weights
from labkit.measure import file_bytes, tensor_bytes
from labkit.models import weight_layers
from labkit.plots import plot_heatmap, plot_quantization_grid, plot_regret
from labkit.precision import fate_in, format_info
from labkit.prune import apply_masks, global_magnitude_masks, magnitude_mask, sparse_state_bytes
from labkit.quantize import qparams_for, quantization_error
from labkit.search_table import NoiseBand, Replay, SearchTable, replay
from labkit.train import evaluate


class _App:
    """Controls above an output area; any control's change redraws the output."""

    def __init__(self, controls: list) -> None:
        import ipywidgets as w  # the widget library loads with the first app

        self.output = w.Output()
        self.widget = w.VBox([w.HBox(controls), self.output])
        self.state: dict = {}
        for control in controls:
            control.observe(lambda _change: self.update(), names="value")

    def update(self) -> None:
        """Redraw the output for the controls' current values."""
        from IPython.display import clear_output

        start = time.perf_counter()
        with self.output:
            clear_output(wait=True)
            self.draw()
            plt.show()
        self.state["seconds"] = time.perf_counter() - start

    def draw(self) -> None:  # each app draws its picture and prints its numbers
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        self.update()


class SearchPicker(_App):
    """Pick strategies and a budget: the regret curves up to that budget, the noise band, and
    how many repetitions reached it. Grid and TTOpt depend on the budget (the lattice that fits
    it, TTOpt's plan), so they are replayed for the chosen budget, in milliseconds; the other
    strategies' runs up to budget b are the first b evaluations of the notebook's replay.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Explore: budget and strategies".
    """

    def __init__(self, table: SearchTable, result: Replay, band: NoiseBand) -> None:
        import ipywidgets as w

        if not isinstance(result, Replay) or not isinstance(table, SearchTable):
            raise TypeError("arguments 'table' and 'result' must be a SearchTable and a Replay")
        self.table, self.result, self.band = table, result, band
        self._replays: dict[tuple[str, int], object] = {}
        self.strategies = w.SelectMultiple(
            options=list(result.curves),
            value=tuple(result.curves),
            description="strategies",
            rows=len(result.curves),
        )
        self.budget = w.IntSlider(
            value=result.budget,
            min=2,
            max=result.budget,
            description="budget",
            continuous_update=False,
        )
        super().__init__([self.strategies, self.budget])

    def _curves(self, strategy: str, budget: int):
        if strategy not in ("grid", "tt"):
            return self.result.curves[strategy][:, :budget]
        key = (strategy, budget)
        if key not in self._replays:
            repeats = len(self.result.curves[strategy])
            again = replay(self.table, [strategy], budget=budget, repeats=repeats, progress=False)
            self._replays[key] = again.curves[strategy]
        return self._replays[key]

    def draw(self) -> None:
        b, chosen = self.budget.value, list(self.strategies.value) or list(self.result.curves)
        shown = Replay(
            b,
            {s: self._curves(s, b) for s in chosen},
            self.result.best_error,
            self.result.grid_size,
        )
        ax = plot_regret(shown)
        ax.axhspan(0, 100 * self.band.width, color="grey", alpha=0.15, label="noise band")
        ax.legend(fontsize=8)
        ax.set_title(f"regret within {b} evaluations ({b / self.table.space.size:.1%} of the grid)")
        self.state = {"budget": b, "reached": {}}
        for s in chosen:
            summary = shown.summary(s, self.band.width)
            self.state["reached"][s] = summary.hits
            print(  # fallbacks are counted per whole run, so not shown for a shorter budget
                f"{s:>6}: reached the band in {summary.hits:2d}/{summary.repeats} runs "
                f"(95% CI {100 * summary.share_low:.0f}-{100 * summary.share_high:.0f}%)"
            )


class SparsityExplorer(_App):
    """Move the sparsity: one layer's mask, the validation accuracy of the whole model pruned
    that way (no fine-tuning), and its size in the sparse format.

    Lesson: notebooks/03_pruning.ipynb, "Explore: sparsity, mask and accuracy".
    """

    def __init__(self, net: nn.Module, data: Dataset, layer: str = "features.4") -> None:
        import ipywidgets as w

        check_dataset("data", data)
        if layer not in weight_layers(net):
            raise ValueError(f"argument 'layer' must be one of {sorted(weight_layers(net))}")
        self.net, self.data, self.layer = net.eval(), data, layer
        self.sparsity = w.FloatSlider(
            value=0.5,
            min=0.0,
            max=0.95,
            step=0.05,
            description="sparsity",
            continuous_update=False,
        )
        self.method = w.ToggleButtons(options=["global", "layer-wise"], description="spread")
        super().__init__([self.sparsity, self.method])

    def draw(self) -> None:
        s = self.sparsity.value
        pruned = copy.deepcopy(self.net)
        if self.method.value == "global":
            masks = global_magnitude_masks(pruned, s)
        else:
            masks = {n: magnitude_mask(m.weight, s) for n, m in weight_layers(pruned).items()}
        apply_masks(pruned, masks)
        accuracy = evaluate(pruned, self.data.val)
        mask = masks[self.layer]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3), width_ratios=[3, 1])
        plot_heatmap(
            mask.flatten(1).float(),
            ax=axes[0],
            cmap="Greys_r",
            symmetric=False,
            colorbar=False,
            title=f"{self.layer}: kept (white) and pruned (black)",
            xlabel="input weights of a filter",
            ylabel="filter",
        )
        low, high = accuracy.interval
        axes[1].bar(
            [0],
            [accuracy.percent],
            yerr=[[accuracy.percent - 100 * low], [100 * high - accuracy.percent]],
            capsize=6,
        )
        axes[1].set(
            ylim=(0, 100), xticks=[], ylabel="validation accuracy (%)", title="without fine-tuning"
        )
        size = sparse_state_bytes(pruned)
        self.state = {
            "sparsity": s,
            "accuracy": accuracy.value,
            "bytes": size,
            "layer_sparsity": 1 - float(mask.float().mean()),
        }
        print(
            f"{self.method.value} pruning at {s:.0%}: {self.layer} keeps "
            f"{float(mask.float().mean()):.0%} of its weights; validation {accuracy}"
        )
        print(f"sparse format {size:,} B against the dense file's {file_bytes(self.net):,} B")


class BitsExplorer(_App):
    """Move the bits: one layer's weights with the grid drawn over them, the rounding error, and
    the validation accuracy of the whole model with its weights on that grid.

    Lesson: notebooks/04_quantization.ipynb, "Explore: how many bits?".
    """

    def __init__(self, net: nn.Module, data: Dataset, layer: str = "features.4") -> None:
        import ipywidgets as w

        check_dataset("data", data)
        if layer not in weight_layers(net):
            raise ValueError(f"argument 'layer' must be one of {sorted(weight_layers(net))}")
        self.net, self.data, self.layer = net.eval(), data, layer
        self.bits = w.IntSlider(value=4, min=2, max=8, description="bits", continuous_update=False)
        self.per_channel = w.Checkbox(value=True, description="one grid per channel")
        super().__init__([self.bits, self.per_channel])

    def draw(self) -> None:
        bits, per_channel = self.bits.value, self.per_channel.value
        w = weight_layers(self.net)[self.layer].weight.detach()
        qp = qparams_for(w, bits, symmetric=True, per_channel=per_channel, axis=0)
        error = quantization_error(w, qp)
        widest = int(qp.scale.argmax()) if per_channel else 0  # the channel with the widest grid
        grid = torch.arange(qp.qmin, qp.qmax + 1) * qp.scale.flatten()[widest]  # zero point 0
        rounded = quantize_weights(self.net, bits, per_channel=per_channel)
        accuracy = evaluate(rounded, self.data.val)
        title = (
            f"{self.layer}, {bits} bits: the grid of its widest channel"
            if per_channel
            else f"{self.layer}, {bits} bits: one grid for the layer"
        )
        plot_quantization_grid(w, grid, title=title)
        ratio = tensor_bytes(self.net) / packed_bytes(self.net, bits, per_channel=per_channel)
        self.state = {"bits": bits, "mse": error["mse"], "accuracy": accuracy.value}
        print(
            f"{self.layer}: mean squared rounding error {error['mse']:.2e}, "
            f"largest {error['max_abs']:.4f}"
        )
        print(
            f"whole model, weights on {bits}-bit grids: validation {accuracy}; "
            f"about {ratio:.1f}x smaller than float32"
        )


class ScaleExplorer(_App):
    """Move the loss scale: the gradients of each layer, multiplied by the scale, on float16's
    number line, and the fraction of each layer's gradients that underflows to zero or
    overflows to infinity when stored in float16.

    Lesson: notebooks/05_mixed_precision.ipynb, "Explore: the loss scale".
    """

    def __init__(self, grads: dict[str, torch.Tensor]) -> None:
        import ipywidgets as w

        if not isinstance(grads, dict) or not grads:
            raise TypeError("argument 'grads' must be a non-empty {layer: gradient tensor} dict")
        for name, g in grads.items():
            if not isinstance(g, torch.Tensor) or not bool((g != 0).any()):
                raise ValueError(
                    f"argument 'grads': {name!r} must be a tensor with non-zero values"
                )
        self.grads = {name: g.detach().float() for name, g in grads.items()}
        every = torch.cat([g.flatten().abs() for g in self.grads.values()]).double()
        every = every[every > 0]
        info = format_info("float16")
        # x-limits fixed for every position of the slider: the smallest gradient at scale 1 to
        # the largest at the largest scale, and float16's whole range
        lows = torch.tensor(
            [float(every.min()), info.smallest_subnormal], dtype=torch.float64
        ).log10()
        highs = torch.tensor([float(every.max()) * 2.0**30, info.max], dtype=torch.float64).log10()
        self.xlim = (float(lows.min()) - 1, float(highs.max()) + 1)
        self.log2_scale = w.IntSlider(
            value=0,
            min=0,
            max=30,
            description="log2 of the loss scale",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        super().__init__([self.log2_scale])

    def draw(self) -> None:
        scale = 2.0**self.log2_scale.value
        fates = {name: fate_in(g, "float16", scale) for name, g in self.grads.items()}
        info = format_info("float16")
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5))
        every = torch.cat([g.flatten() for g in self.grads.values()]) * scale
        plot_number_line(
            {"float16": (info.smallest_subnormal, info.smallest_normal, info.max)},
            {f"gradients x {scale:g}": every.double()},
            ax=top,
            title=f"every activation gradient, times the loss scale {scale:g}",
        )
        top.set_xlim(*self.xlim)
        plot_fractions(
            {
                "underflow to 0": {n: f["underflow"] for n, f in fates.items()},
                "overflow to inf": {n: f["overflow"] for n, f in fates.items()},
            },
            ax=bottom,
            ylabel="fraction of the layer's gradients",
        )
        bottom.set_ylim(0, 1)  # a fixed scale: a tiny fraction shows as a tiny bar
        for bars in bottom.containers:
            labels = [f"{100 * b.get_height():.2g}%" if b.get_height() > 0 else "" for b in bars]
            bottom.bar_label(bars, labels=labels, fontsize=7)
        if fig.get_layout_engine() is None:  # labkit.setup() turns constrained layout on
            fig.tight_layout()
        under = sum(f["underflow"] * self.grads[n].count_nonzero() for n, f in fates.items())
        over = sum(f["overflow"] * self.grads[n].count_nonzero() for n, f in fates.items())
        total = sum(int(g.count_nonzero()) for g in self.grads.values())
        self.state = {
            "scale": scale,
            "underflow": float(under / total),
            "overflow": float(over / total),
            "xlim": top.get_xlim(),
            "ylim": bottom.get_ylim(),
        }
        print(
            f"loss scale {scale:g}: {100 * self.state['underflow']:.2f}% of the gradients "
            f"underflow to 0 and {100 * self.state['overflow']:.2f}% overflow to inf in float16"
        )


class DistillExplorer(_App):
    """Pick a temperature and a weight of the stored grid: each seed's solo and distilled
    accuracy (a line joins the pair: the same initial weights and batch order), and the paired
    gain with its 95% interval over seeds. Every number is looked up in the stored table.

    Lesson: notebooks/07_knowledge_distillation.ipynb, "Temperature and weight".
    """

    def __init__(self, table: DistillTable) -> None:
        import ipywidgets as w

        if not isinstance(table, DistillTable):
            raise TypeError("argument 'table' must be a labkit.distill_table.DistillTable")
        self.table = table
        grid = table.record["grid"]
        self.temperature = w.SelectionSlider(
            options=grid["temperatures"],
            value=grid["temperatures"][len(grid["temperatures"]) // 2 - 1],
            description="temperature",
            continuous_update=False,
        )
        self.weight = w.SelectionSlider(
            options=grid["weights"],
            value=grid["weights"][1],
            description="weight",
            continuous_update=False,
        )
        super().__init__([self.temperature, self.weight])

    def draw(self) -> None:
        t, wt = self.temperature.value, self.weight.value
        result = self.table.grid_cell(t, wt)
        fig, ax = plt.subplots(figsize=(6.4, 3.2))
        for s, d in zip(result.solo, result.distilled, strict=True):
            ax.plot([0, 1], [s, d], color="grey", lw=1, marker="o")
        ax.axhline(self.table.teacher["acc"], color="black", ls="--", lw=1, label="teacher")
        ax.set_xticks([0, 1], ["solo", f"distilled (T={t:g}, weight={wt:g})"])
        ax.set_xlim(-0.3, 1.3)
        ax.set_ylabel("test accuracy (%)")
        ax.legend(fontsize=8)
        gain = result.gain
        ax.set_title(f"gain {gain.mean:+.2f} points (95% CI {gain.low:+.2f} to {gain.high:+.2f})")
        self.state = {"temperature": t, "weight": wt, "gain": gain.mean, "verdict": result.verdict}
        print(result)
