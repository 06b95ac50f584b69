"""labkit: the helper package of the course "Small and Fast Vision Models".

Every notebook starts with ``import labkit; labkit.setup()``. The modules:

- ``labkit.env``       setup, device, CPU features (notebook 00)
- ``labkit.data``      the offline digits dataset, optional torchvision datasets (00)
- ``labkit.models``    the SmallCNN family and timm models by name (00, 01)
- ``labkit.zoo``       verified trained checkpoints (00)
- ``labkit.train``     one training loop, accuracy with a 95% interval (00, 01)
- ``labkit.measure``   parameters, size, latency, memory, sparsity, MACs (00, 01)
- ``labkit.plots``     the course's pictures (00, 01)
- ``labkit.check``     checked exercises; ``labkit.exercises.labNN`` per notebook
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

from labkit.check import ____, expect, expect_between  # noqa: E402
from labkit.data import load_digits, load_torchvision  # noqa: E402
from labkit.env import cpu_features, get_device, seed_everything, setup  # noqa: E402
from labkit.measure import (  # noqa: E402
    count_macs,
    count_parameters,
    format_bytes,
    measure_latency,
    peak_memory,
    serialized_size,
    sparsity,
)
from labkit.models import SmallCNN, create_model  # noqa: E402
from labkit.train import Accuracy, evaluate, fit, train_small_cnn  # noqa: E402
from labkit.zoo import load_pretrained  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "____",
    "Accuracy",
    "SmallCNN",
    "count_macs",
    "count_parameters",
    "cpu_features",
    "create_model",
    "evaluate",
    "expect",
    "expect_between",
    "fit",
    "format_bytes",
    "get_device",
    "load_digits",
    "load_pretrained",
    "load_torchvision",
    "measure_latency",
    "peak_memory",
    "seed_everything",
    "serialized_size",
    "setup",
    "sparsity",
    "train_small_cnn",
]
