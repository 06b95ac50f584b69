"""labkit: the helper package of the course "Small and Fast Vision Models".

Every notebook starts with ``import labkit; labkit.setup()``. The modules, by role:

Shared by every lesson
- ``labkit.env``        setup: seeds, threads, offline mode, the accelerator (notebook 00)
- ``labkit.hardware``   what this CPU and its compiler can do, and what that means (00)
- ``labkit.data``       the offline digits dataset, optional torchvision datasets (00)
- ``labkit.models``     the SmallCNN family, timm models by name, ``weight_layers`` (00, 01)
- ``labkit.zoo``        verified trained checkpoints (00)
- ``labkit.train``      one training loop, accuracy with a 95% interval (00, 01)
- ``labkit.measure``    parameters, bytes, latency side by side, memory, MACs (00, 03)
- ``labkit.stats``      paired comparisons and intervals over seeds (00)
- ``labkit.claims``     ``expect...``: results a notebook states, asserted where stated (00)
- ``labkit.plots``      the course's pictures (00)
- ``labkit.source``     ``show_source``: the code of a function, shown where it is taught (02)

One per topic
- ``labkit.hparams``       notebook 01: parameter tables and the hyperparameter explorer
- ``labkit.search``        notebook 02: grid, random, Bayesian and tensor-train search
- ``labkit.search_table``  notebook 02: the table of every grid point, and replays
- ``labkit.prune``         notebook 03: masks, neurons, sensitivity, fine-tuning, sparse storage
- ``labkit.quantize``      notebook 04: scale and zero point, calibration, integer-only layers
- ``labkit.lowbit``        notebook 04: 16-bit floats, QAT, codebooks, packed sizes
- ``labkit.deploy``        notebook 04 on: torch.export, int8 (PT2E), torch.compile, fallbacks
- ``labkit.precision``     notebook 05: float formats bit by bit, casting, autocast, loss scaling
- ``labkit.amp``           notebook 05: three precisions trained side by side, step time, memory
- ``labkit.factorize``     notebook 06: low-rank products, SVD, spatial and Tucker-2 convolutions
- ``labkit.rank_explorer`` notebook 06: the rank explorer (RankCalculator), real-size shapes
- ``labkit.distill``       notebook 07: the loss from scratch, teacher logits once, students
- ``labkit.distill_table`` notebook 07: the stored seed sweeps, and replays
- ``labkit.rank_choice``   notebook 06: layers timed at candidate ranks; ranks from measured times

Exercises and tooling
- ``labkit.check``, ``labkit.exercises.labNN``  checked exercises, one module per notebook
- ``labkit.bench``      ``labkit bench <technique>``: benchmarks, one schema
- ``labkit.expectations``  ``labkit.expected(key, value)``: what a timing should be, from
  reference measurements in data/expectations.json (``labkit expect record``)
- ``labkit.nbrun``, ``labkit.cli``  running notebooks, the ``labkit`` command
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
from labkit.expectations import expected  # noqa: E402
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
from labkit.source import show_source  # noqa: E402
from labkit.stats import compare_models, paired_comparison, seed_interval  # noqa: E402
from labkit.train import Accuracy, evaluate, fit, predict, train_small_cnn  # noqa: E402
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
    "expected",
    "file_bytes",
    "fit",
    "format_bytes",
    "get_device",
    "load_digits",
    "load_pretrained",
    "load_torchvision",
    "measure_latency",
    "paired_comparison",
    "peak_memory",
    "predict",
    "seed_everything",
    "seed_interval",
    "setup",
    "show_source",
    "sparsity",
    "tensor_bytes",
    "train_small_cnn",
    "weight_layers",
]
