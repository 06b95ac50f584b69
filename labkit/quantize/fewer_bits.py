"""Fewer bits than the int8 grid of ``labkit.quantize``: 16-bit floats; below 8 bits,
quantization-aware training (QAT) with a straight-through estimator and codebook (k-means)
quantization; and the bytes of weights packed at any number of bits.

Serves notebooks/04_quantization.ipynb ("The size arithmetic", "16 bits: float16 and
bfloat16", "Below 8 bits: quantization-aware training" and "Codebook (k-means)
quantization"); the grid arithmetic it builds on is ``labkit.quantize``.

Used by: labkit.compress (quantization-aware training as a step) and labkit.quantize.widget.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from labkit._validate import (
    check_bits,
    check_bool,
    check_float,
    check_int,
    check_module,
    check_tensor,
)
from labkit.data import check_dataset
from labkit.models import weight_layers as _layers
from labkit.quantize.affine import fake_quantize, qparams_for
from labkit.train import fit


class FakeQuantWeight(nn.Module):
    """A parametrization: the layer sees its weight rounded to a symmetric per-channel grid.
    The backward pass lets the gradient through the rounding unchanged (straight-through
    estimator), so training moves the float weights to where they round well.

    Lesson: notebooks/04_quantization.ipynb, "Below 8 bits: quantization-aware training".
    """

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = check_bits(bits)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """The weight as the grid holds it; its gradient passes through the rounding unchanged."""
        wq = fake_quantize(w.detach(), qparams_for(w, self.bits, True, True, 0))
        return w + (wq - w).detach()


def add_fake_quant(net: nn.Module, bits: int) -> nn.Module:
    """Attach :class:`FakeQuantWeight` to every conv/linear weight of ``net`` (in place)."""
    check_module("net", net)
    bits = check_bits(bits)
    for layer in _layers(net).values():
        if not parametrize.is_parametrized(layer, "weight"):
            parametrize.register_parametrization(layer, "weight", FakeQuantWeight(bits))
    return net


def bake_fake_quant(net: nn.Module) -> nn.Module:
    """Replace each parametrized weight by its quantized value (in place)."""
    for layer in _layers(net).values():
        if parametrize.is_parametrized(layer, "weight"):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    return net


def quantize_weights(net: nn.Module, bits: int, per_channel: bool = True) -> nn.Module:
    """Post-training weight quantization: a copy of ``net`` whose conv/linear weights are
    rounded to a symmetric ``bits``-bit grid, one grid per output channel (or, with
    ``per_channel=False``, one per layer); activations stay float.

    Lesson: notebooks/04_quantization.ipynb, "Below 8 bits: quantization-aware training".
    """
    check_module("net", net)
    bits = check_bits(bits)
    check_bool("per_channel", per_channel)
    if per_channel:
        return bake_fake_quant(add_fake_quant(copy.deepcopy(net), bits)).eval()
    out = copy.deepcopy(net).eval()
    with torch.no_grad():
        for layer in _layers(out).values():
            layer.weight.copy_(fake_quantize(layer.weight, qparams_for(layer.weight, bits)))
    return out


def qat(
    net: nn.Module,
    data,
    bits: int = 4,
    epochs: int = 3,
    lr: float = 1e-3,
    progress: bool = True,
    seed: int = 0,
):
    """Quantization-aware training: fine-tune a copy of ``net`` while its conv/linear
    weights are fake-quantized to ``bits`` bits, then bake the quantized weights in.
    ``seed`` fixes the order of the training batches. Returns (model, history); the
    history's ``seconds`` is the wall time of the training.

    Lesson: notebooks/04_quantization.ipynb, "Below 8 bits: quantization-aware training".
    """
    check_module("net", net)
    check_dataset("data", data)
    bits = check_bits(bits)
    epochs = check_int("epochs", epochs, min_value=1, max_value=100)
    lr = check_float("lr", lr, low=0, high=10, low_inclusive=False)
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    student = add_fake_quant(copy.deepcopy(net), bits)
    history = fit(
        student,
        data.train,
        data.val,
        epochs=epochs,
        lr=lr,
        progress=progress,
        seed=seed,
        desc=f"QAT {bits}-bit, seed {seed}",
    )
    return bake_fake_quant(student).eval(), history


def kmeans_1d(
    values: torch.Tensor, k: int, iterations: int = 100
) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means on numbers (Lloyd's algorithm), started from evenly spaced quantiles so it is
    deterministic. From scratch. Returns (centroids sorted, index of each value's centroid).

    Lesson: notebooks/04_quantization.ipynb, "Codebook (k-means) quantization".
    """
    values = check_tensor("values", values, finite=True).detach().flatten().float()
    k = check_int("k", k, min_value=1, max_value=65_536)
    iterations = check_int("iterations", iterations, min_value=1, max_value=10_000)
    k = min(k, values.numel())
    centroids = torch.quantile(values, torch.linspace(0, 1, k)).contiguous()
    for _ in range(iterations):
        idx = torch.bucketize(values, (centroids[1:] + centroids[:-1]) / 2)
        sums = torch.zeros(k).index_add_(0, idx, values)
        counts = torch.bincount(idx, minlength=k).float()
        new = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
        new = new.sort().values
        converged = torch.allclose(new, centroids)
        centroids = new
        if converged:
            break
    idx = torch.bucketize(values, (centroids[1:] + centroids[:-1]) / 2)
    return centroids, idx


def codebook_quantize(net: nn.Module, bits: int = 4) -> nn.Module:
    """Codebook quantization: each conv/linear weight tensor is replaced by its nearest of
    2^bits shared values found by k-means; stored as ``bits``-bit indices plus the codebook
    (see :func:`packed_bytes` with ``codebook=True``).

    Lesson: notebooks/04_quantization.ipynb, "Codebook (k-means) quantization".
    """
    check_module("net", net)
    bits = check_bits(bits)
    out = copy.deepcopy(net).eval()
    with torch.no_grad():
        for layer in _layers(out).values():
            centroids, idx = kmeans_1d(layer.weight.flatten(), 2**bits)
            layer.weight.copy_(centroids[idx].view_as(layer.weight))
    return out


def packed_bytes(
    net: nn.Module, bits: int, codebook: bool = False, per_channel: bool = True
) -> int:
    """Bytes of ``net`` if every conv/linear weight were stored with ``bits`` bits per number
    (packed: two 4-bit numbers per byte) plus one float32 scale per output channel (with
    ``per_channel=False``, one per layer; with ``codebook=True``, one float32 codebook of
    2^bits entries per layer instead); every other tensor (biases, batch norm) stays float32.

    Lesson: notebooks/04_quantization.ipynb, "The size arithmetic".
    """
    check_module("net", net)
    bits = check_bits(bits)
    check_bool("codebook", codebook)
    check_bool("per_channel", per_channel)
    total = 0
    weights = {id(m.weight) for m in _layers(net).values()}
    for m in _layers(net).values():
        w = m.weight
        total += math.ceil(w.numel() * bits / 8)
        n_scales = w.shape[0] if per_channel else 1  # float32 values stored beside the weights
        total += 4 * (2**bits if codebook else n_scales)
    for t in net.state_dict(keep_vars=True).values():
        if id(t) not in weights:
            total += t.numel() * t.element_size()
    return total
