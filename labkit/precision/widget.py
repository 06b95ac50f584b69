"""Notebook 05's app: move the loss scale, see the gradients on float16's number line."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch

from labkit.app import App
from labkit.precision.formats import fate_in, format_info
from labkit.precision.plots import plot_fractions, plot_number_line


class ScaleExplorer(App):
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
        """The gradients times the chosen scale on float16's line; what underflows, overflows."""
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
