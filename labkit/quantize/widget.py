"""Notebook 04's app: move the bits, see one layer's weights on the grid and the model's
accuracy."""

from __future__ import annotations

import torch
from torch import nn

from labkit.app import App
from labkit.data import Dataset, check_dataset
from labkit.measure import tensor_bytes
from labkit.models import weight_layers
from labkit.quantize.affine import qparams_for, quantization_error
from labkit.quantize.fewer_bits import packed_bytes, quantize_weights
from labkit.quantize.plots import plot_quantization_grid
from labkit.train import evaluate


class BitsExplorer(App):
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
        """One layer's weights on the chosen grid, the rounding error and the model's accuracy."""
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
