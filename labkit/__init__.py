"""labkit: the helper package of the course "Small and Fast Vision Models".

Every notebook starts with ``import labkit; labkit.setup()``, which loads only the shared core
below; a lesson's package loads when its notebook imports it.

The shared core (one module each; none of them imports a lesson)
- ``labkit.env``        setup: seeds, threads, offline mode, the accelerator
- ``labkit.hardware``   what this CPU and its compiler can do, and what that means
- ``labkit.data``, ``labkit.fashion``  the running data, Fashion-MNIST (offline after set-up);
  the small digits; optional torchvision datasets
- ``labkit.models``     the SmallCNN family, timm models by name, ``weight_layers``
- ``labkit.zoo``        verified trained checkpoints
- ``labkit.train``      the one training loop (``fit``), accuracy with a 95% interval
- ``labkit.trial``      the course model's one experiment (``train_small_cnn``)
- ``labkit.autocast``   the loop's precision switch: autocast and the loss scaler
- ``labkit.measure``    parameters, bytes, latency side by side, memory, MACs
- ``labkit.stats``      paired comparisons and intervals over seeds
- ``labkit.claims``     ``expect...``: results a notebook states, asserted where stated
- ``labkit.plots``      the pictures every lesson shares, in one style
- ``labkit.app``        the base of every interactive app
- ``labkit.source``     ``show_source``: the code of a function, shown where it is taught
- ``labkit.deploy``     torch.export and torch.compile, with the fallbacks a machine needs
- ``labkit.reference``  ``labkit.reference_timing(key, value)``: what a timing should be
- ``labkit.store``      stored tables: written atomically, with how and where they were made
- ``labkit.check``, ``labkit.numeric``  the exercise framework; numeric questions

One package per lesson: its code, pictures, app, stored table, benchmark and timing probes
- ``labkit.hparams``    notebook 01: the parameter table and the explorer
- ``labkit.search``     notebook 02: search strategies, the table of every grid point
- ``labkit.prune``      notebook 03: masks, neurons, channels, sensitivity, sparse storage
- ``labkit.quantize``   notebook 04: the affine mapping, fewer bits, 16-bit floats, real int8
- ``labkit.precision``  notebook 05: float formats, autocast, loss scaling, training side by side
- ``labkit.factorize``  notebook 06: low-rank layers, ranks from measured times
- ``labkit.distill``    notebook 07: the loss from scratch, students, the stored sweeps
- ``labkit.compress``   prune, quantization-aware training and factorization as chainable
  steps (notebooks 07 and 08 compose them)

Exercises and tooling
- ``labkit.exercises.labNN``  checked exercises, one module per notebook
- ``labkit.bench``      the benchmark harness: fixture, schema, report
- ``labkit.lessons``, ``labkit.nbrun``, ``labkit.cli``  finding each lesson's parts, running
  notebooks, the ``labkit`` command
"""

import os as _os

# Before torch loads OpenMP: idle threads sleep instead of spinning. Measured on 2 cores,
# two trainings at once took 26 s each with spinning and 3.8 s with PASSIVE (one alone:
# 4.2 s vs 3.4 s). A learner with two notebooks open would otherwise see a 6x slow-down.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Before anything imports the Hugging Face hub (through timm): stay offline unless
# the learner opted in, so a missing network fails at once instead of after ~46 s.
if _os.environ.get("LABKIT_ONLINE", "0") != "1":
    _os.environ.setdefault("HF_HUB_OFFLINE", "1")

from labkit.check import ____  # noqa: E402
from labkit.claims import (  # noqa: E402
    expect,
    expect_above,
    expect_between,
    expect_detectable,
    expect_no_detectable_difference,
)
from labkit.data import load_digits, load_torchvision  # noqa: E402
from labkit.env import get_device, seed_everything, setup  # noqa: E402
from labkit.fashion import load_fashion_mnist  # noqa: E402
from labkit.hardware import cpu_features  # noqa: E402
from labkit.measure import (  # noqa: E402
    compare_latency,
    count_macs,
    count_parameters,
    file_bytes,
    format_bytes,
    measure_latency,
    peak_memory,
    sparsity,
    tensor_bytes,
)
from labkit.models import SmallCNN, create_model, weight_layers  # noqa: E402
from labkit.reference import reference_timing  # noqa: E402
from labkit.source import show_source  # noqa: E402
from labkit.stats import compare_models, paired_comparison, seed_interval  # noqa: E402
from labkit.train import Accuracy, evaluate, fit, predict  # noqa: E402
from labkit.trial import train_small_cnn  # noqa: E402
from labkit.zoo import load_pretrained  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "____",
    "Accuracy",
    "SmallCNN",
    "compare_latency",
    "compare_models",
    "count_macs",
    "count_parameters",
    "cpu_features",
    "create_model",
    "evaluate",
    "expect",
    "expect_above",
    "expect_between",
    "expect_detectable",
    "expect_no_detectable_difference",
    "file_bytes",
    "fit",
    "format_bytes",
    "get_device",
    "load_digits",
    "load_fashion_mnist",
    "load_pretrained",
    "load_torchvision",
    "measure_latency",
    "paired_comparison",
    "peak_memory",
    "predict",
    "reference_timing",
    "seed_everything",
    "seed_interval",
    "setup",
    "show_source",
    "sparsity",
    "tensor_bytes",
    "train_small_cnn",
    "weight_layers",
]
