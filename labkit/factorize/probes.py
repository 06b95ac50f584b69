"""Notebook 06's timing probes (see labkit/reference.py)."""

from __future__ import annotations

import torch

from labkit.env import using_threads
from labkit.factorize.lowrank import factorize_model
from labkit.factorize.ranks import COURSE_RANKS, choose_ranks, time_layers, time_ranks, wide_convs
from labkit.fashion import load_fashion_mnist
from labkit.measure import compare_latency
from labkit.models import create_model
from labkit.reference import Probe
from labkit.zoo import load_pretrained


def _factorized_course_speedup() -> float:
    base, one_image = load_pretrained("baseline"), load_fashion_mnist(train_size=1000).test.X[:1]
    tucker = factorize_model(base, COURSE_RANKS["tucker"], "tucker").eval()
    timing = compare_latency({"base": base, "tucker": tucker}, one_image, rounds=3, runs=20)
    return timing.ratio("tucker", "base").median


def _resnet_layer_speedup(whole_model: bool) -> float:
    with using_threads(1):  # as notebook 06 times them, whatever the thread setting
        return _resnet_speedup_one_thread(whole_model)


def _resnet_speedup_one_thread(whole_model: bool) -> float:
    net, image = create_model("resnet18", seed=0).eval(), torch.randn(1, 3, 224, 224)
    convs = wide_convs(net)
    if not whole_model:  # layer4.0.conv2 at a quarter of its 512 channels
        x = torch.randn(1, 512, 7, 7)
        return time_ranks(convs["layer4.0.conv2"], x, [128], "tucker", 2, 3)[0].measured.median
    options = time_layers(net, image, list(convs), progress=False)
    params = {name: conv.weight.numel() for name, conv in convs.items()}
    chosen = factorize_model(net, choose_ranks(options, params, 0.25, 1.2), "tucker").eval()
    timing = compare_latency({"base": net, "chosen": chosen}, image, rounds=3, runs=3)
    return timing.ratio("chosen", "base").median


PROBES = {
    "06.course_tucker_speedup_one_image": Probe(
        "the course model with Tucker-2 ranks vs the baseline, one image, eager",
        "x",
        _factorized_course_speedup,
    ),
    "06.resnet_layer_speedup": Probe(
        "resnet18 layer4.0.conv2, Tucker-2 at rank 128 vs the original, 1 image, 1 thread",
        "x",
        lambda: _resnet_layer_speedup(whole_model=False),
    ),
    "06.resnet_measured_speedup": Probe(
        "resnet18, ranks chosen from measured times vs the original, 1 image, 1 thread",
        "x",
        lambda: _resnet_layer_speedup(whole_model=True),
    ),
}
