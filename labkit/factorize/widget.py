"""Notebook 06's explorer: pick a layer shape, a method and a rank, and see the parameters,
multiply-accumulates and kernel error at once.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import nn

from labkit.app import App
from labkit.factorize.lowrank import (
    METHODS,
    factorizable_layers,
    factorized_cost,
    max_rank,
    method_matrix,
)


class RankCalculator(App):
    """Pick a layer shape, a method and a rank: parameters and multiply-accumulates of the
    original and the factorized layer (from the formulas), and the measured error of the
    factorized kernel, on a real layer of the model or on one of ResNet-18's 3x3 convolution
    shapes with random weights (labelled so: their sizes are real, their spectra are not).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Explore: a layer's shape and rank".
    """

    # (in, out, input pixels) of ResNet-18's 3x3 convolutions at 224x224, one per stage
    REAL_SIZE = {
        "random 3x3, 64->64 at 56x56 (resnet18 layer1)": (64, 64, 56),
        "random 3x3, 128->128 at 28x28 (resnet18 layer2)": (128, 128, 28),
        "random 3x3, 256->256 at 14x14 (resnet18 layer3)": (256, 256, 14),
        "random 3x3, 512->512 at 7x7 (resnet18 layer4)": (512, 512, 7),
    }

    def __init__(self, net: nn.Module, in_hw: dict[str, tuple[int, int]]) -> None:
        import ipywidgets as w

        self.layers = {n: m for n, m in factorizable_layers(net).items() if n in in_hw}
        if not self.layers:
            raise ValueError("argument 'in_hw' must give the input size of a layer of 'net'")
        self.in_hw = dict(in_hw)
        largest = max(self.layers, key=lambda n: self.layers[n].weight.numel())
        names = [*self.layers, *self.REAL_SIZE]
        self.layer = w.Dropdown(options=names, value=largest, description="layer")
        self.method = w.Dropdown(options=list(METHODS), value="svd", description="method")
        self.rank = w.IntSlider(value=4, min=1, max=32, description="rank", continuous_update=False)
        self._busy = False
        self._curves: dict[tuple[str, str], list[float]] = {}
        super().__init__([self.layer, self.method, self.rank])

    def _layer(self) -> nn.Module:
        name = self.layer.value
        if name not in self.layers:  # built on first use, with seeded random weights
            c_in, c_out, hw = self.REAL_SIZE[name]
            torch.manual_seed(0)
            self.layers[name] = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
            self.in_hw[name] = (hw, hw)
        return self.layers[name]

    def _largest(self) -> tuple[nn.Module, str, int | tuple[int, int]]:
        layer = self._layer()
        method = self.method.value if isinstance(layer, nn.Conv2d) else "svd"
        return layer, method, max_rank(layer.weight, method)

    def _errors(self, layer: nn.Module, method: str, top: int) -> list[float]:
        """The kernel error at ranks 1..top, from one decomposition per layer and method."""
        key = (self.layer.value, method)
        if key not in self._curves:
            w = layer.weight.detach().double()
            if method == "tucker" and w.ndim == 4:  # HOSVD: the factors of rank r are the
                # leading r eigenvectors, so ||W - W_r||² = ||W||² - ||core_r||²
                o, i = w.shape[:2]
                by_out, by_in = w.reshape(o, -1), w.transpose(0, 1).reshape(i, -1)
                u_out = torch.linalg.eigh(by_out @ by_out.T)[1].flip(-1)
                u_in = torch.linalg.eigh(by_in @ by_in.T)[1].flip(-1)
                core = torch.einsum("oikl,oa,ib->abkl", w, u_out, u_in)
                kept = (core**2).sum((2, 3)).cumsum(0).cumsum(1)
                total = float((w**2).sum())
                errors = [
                    max(0.0, 1 - float(kept[min(r, o) - 1, min(r, i) - 1]) / total) ** 0.5
                    for r in range(1, top + 1)
                ]
            else:  # one SVD gives every rank's error (Eckart-Young)
                s2 = torch.linalg.svdvals(method_matrix(w, method)) ** 2
                errors = [float((s2[r:].sum() / s2.sum()).sqrt()) for r in range(1, top + 1)]
            self._curves[key] = errors
        return self._curves[key]

    def update(self) -> None:
        """Set the slider's end to this layer's full rank, then redraw."""
        if self._busy:  # moving the slider's end may move its value: one redraw is enough
            return
        self._busy = True
        try:
            _, _, largest = self._largest()
            self.rank.max = max(largest) if isinstance(largest, tuple) else largest
        finally:
            self._busy = False
        super().update()

    def draw(self) -> None:
        """Parameters, MACs and kernel error of the chosen layer, method and rank."""
        layer, method, largest = self._largest()
        top = max(largest) if isinstance(largest, tuple) else largest
        chosen = min(self.rank.value, top)

        def as_rank(r: int) -> int | tuple[int, int]:  # Tucker-2: r on each mode, up to its size
            return (min(r, largest[0]), min(r, largest[1])) if isinstance(largest, tuple) else r

        rank = as_rank(chosen)
        hw = self.in_hw[self.layer.value]
        before = factorized_cost(layer, None, method, hw)
        after = factorized_cost(layer, rank, method, hw)
        errors = self._errors(layer, method, top)
        error = errors[chosen - 1]
        ranks = list(range(1, top + 1))
        params = [factorized_cost(layer, as_rank(r), method, hw)["params"] for r in ranks]
        label = (
            f"r_out {rank[0]} of {largest[0]}, r_in {rank[1]} of {largest[1]}"
            if isinstance(rank, tuple)
            else f"rank {rank} of {top}"
        )
        fig, ax = plt.subplots(figsize=(6.4, 3.2))
        ax.plot(ranks, errors, "o-", ms=3, label="kernel error")
        ax.plot(chosen, error, "o", ms=10, color="C3", label=label)
        ax.set_xlabel("rank")
        ax.set_ylabel("relative error of the kernel")
        twin = ax.twinx()
        twin.plot(ranks, [p / before["params"] for p in params], color="C1", lw=1)
        twin.axhline(1, color="C1", ls="--", lw=1)
        twin.set_ylabel("parameters / original", color="C1")
        ax.set_title(f"{self.layer.value} {tuple(layer.weight.shape)}, {method}", fontsize=9)
        ax.legend(fontsize=8, loc="upper center")
        self.state = {
            "rank": rank,
            "params": after["params"],
            "macs": after["macs"],
            "error": error,
            "param_ratio": before["params"] / after["params"],
        }

        def fewer(original: int, now: int) -> str:
            ratio = original / now
            return f"{ratio:.2f}x fewer" if ratio >= 1 else f"{1 / ratio:.2f}x more"

        print(
            f"{method} at {label}: {after['params']:,} parameters (original "
            f"{before['params']:,}, {fewer(before['params'], after['params'])}); "
            f"{after['macs']:,} MACs per image (original {before['macs']:,}, "
            f"{fewer(before['macs'], after['macs'])}); kernel error {error:.3f}"
        )
