"""Notebook 03's app: move the sparsity, see one layer's mask and the whole model's accuracy."""

from __future__ import annotations

import copy

import matplotlib.pyplot as plt
from torch import nn

from labkit.app import App
from labkit.data import Dataset, check_dataset
from labkit.measure import file_bytes
from labkit.models import weight_layers
from labkit.plots import plot_heatmap
from labkit.prune.masks import (
    apply_masks,
    global_magnitude_masks,
    magnitude_mask,
    sparse_state_bytes,
)
from labkit.train import evaluate


class SparsityExplorer(App):
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
        """One layer's mask; the accuracy and sparse size of the model pruned that much."""
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
