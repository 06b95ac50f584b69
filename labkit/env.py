"""Setting up a notebook: seeds, threads, offline mode, the accelerator, and what is printed
about the machine (its features are detected in ``labkit.hardware``). ``labkit.setup()`` is
introduced in notebooks/00_welcome.ipynb.

Used by: ``labkit.setup()`` in every notebook's first cell and ``labkit doctor``, and the modules
that need seeds, threads or offline mode (labkit.zoo, labkit.measure, labkit.models).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import platform
import random
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from labkit import plots
from labkit._validate import check_bool, check_int
from labkit.hardware import CpuFeatures, cpu_features

_ONLINE_VAR = "LABKIT_ONLINE"  # "1": the learner allows downloads (model hub, datasets)
_NO_NETWORK_VAR = "LABKIT_NO_NETWORK"  # "1": any non-loopback connection raises (the test suite)
_printed = False


def online_allowed() -> bool:
    """True when the learner opted in to downloads (``setup(online=True)`` or LABKIT_ONLINE=1)."""
    return os.environ.get(_ONLINE_VAR, "0") == "1"


def _apply_offline_mode() -> None:
    # timm asks the Hugging Face hub for weights; offline, it would wait ~46 s before failing.
    value = "0" if online_allowed() else "1"
    os.environ["HF_HUB_OFFLINE"] = value
    hub = sys.modules.get("huggingface_hub.constants")
    if hub is not None:  # the hub reads the variable once, at import
        hub.HF_HUB_OFFLINE = value == "1"


class NetworkBlockedError(RuntimeError):
    """Raised when code tries to reach the network while the course runs offline-only (the
    test suite sets LABKIT_NO_NETWORK=1).
    """


def _is_loopback(host: object) -> bool:
    """True for this machine only: 'localhost', or an address in 127.0.0.0/8 or ::1 (a host
    *name* that merely starts with '127.' is not an address)."""
    text = (host.decode() if isinstance(host, bytes) else str(host)).strip("[]")
    if text in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def _install_network_guard() -> None:
    """Make any connection or DNS lookup beyond this machine raise NetworkBlockedError."""
    if getattr(socket.socket, "_labkit_guarded", False):
        return
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def blocked(sock: socket.socket, address) -> bool:  # type: ignore[no-untyped-def]
        family = sock.family in (socket.AF_INET, socket.AF_INET6)
        return family and not _is_loopback(address[0])

    def guarded_connect(self, address):  # type: ignore[no-untyped-def]
        if blocked(self, address):
            raise NetworkBlockedError(
                f"network access to {address[0]} is blocked ({_NO_NETWORK_VAR}=1)"
            )
        return original_connect(self, address)

    def guarded_connect_ex(self, address):  # type: ignore[no-untyped-def]
        if blocked(self, address):
            raise NetworkBlockedError(
                f"network access to {address[0]} is blocked ({_NO_NETWORK_VAR}=1)"
            )
        return original_connect_ex(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host is not None and not _is_loopback(host):
            raise NetworkBlockedError(f"looking up {host} is blocked ({_NO_NETWORK_VAR}=1)")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket._labkit_guarded = True  # type: ignore[attr-defined]


def get_device() -> torch.device:
    """The accelerator for cells that measure one: LABKIT_DEVICE if set, else CUDA when
    present, else the CPU. The course *trains* on the CPU everywhere (models are built there
    and ``labkit.fit`` trains where the model is), so that every machine prints the same
    numbers; notebook 05 uses this device for its GPU measurements.

    Lesson: notebooks/00_welcome.ipynb, "Your machine".
    """
    wanted = os.environ.get("LABKIT_DEVICE")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_threads() -> int:
    """The threads ``setup()`` gives PyTorch: LABKIT_THREADS if set (the test suite's one-thread
    lane, as on Binder), else the cores this process may use, at most 4."""
    wanted = os.environ.get("LABKIT_THREADS")
    if wanted:
        return check_int("LABKIT_THREADS", int(wanted) if wanted.isdigit() else wanted, min_value=1)
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        available = os.cpu_count() or 1
    return max(1, min(available, 4))


@contextmanager
def using_threads(n: int | None) -> Iterator[int]:
    """Run a block with PyTorch on ``n`` threads (None: as it is), and put the setting back
    afterwards, whatever happens inside; yields the thread count in use.
    """
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(check_int("threads", n, min_value=1, max_value=256))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so the same run prints the same numbers."""
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class Environment:
    """What ``setup()`` set and found: seed, threads, downloads allowed, accelerator, CPU,
    package versions.
    """

    seed: int
    threads: int
    online: bool
    device: torch.device
    cpu: CpuFeatures
    versions: dict[str, str]


def versions() -> dict[str, str]:
    """Versions of Python and of the packages the course depends on ("missing" if absent)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("torch", "torchvision", "timm", "optuna", "numpy", "matplotlib", "labkit"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "missing"
    return out


def hide_triton_without_gpu() -> bool:
    """Keep torch from loading Triton on a machine without a GPU; True if it is now hidden.

    Triton compiles GPU kernels only. The CUDA build of torch installs it, and torch._dynamo
    (behind torch.compile and torch.export) imports it whenever it is installed: ~90 MB of
    resident memory that a CPU-only machine never uses, and what keeps notebook 04 within its
    memory budget. Hidden, the setup matches conda-forge's pytorch-cpu (Binder), which has no
    Triton at all. Nothing is hidden with a CUDA GPU, once torch._dynamo is loaded (too late),
    or when LABKIT_KEEP_TRITON=1.
    """
    if os.environ.get("LABKIT_KEEP_TRITON") == "1" or torch.cuda.is_available():
        return False
    if "triton" in sys.modules:
        return sys.modules["triton"] is None
    if "torch._dynamo" in sys.modules:
        return False
    sys.modules["triton"] = None  # `import triton` now raises ImportError, as if not installed
    return True


# Warnings torch prints that a learner can neither act on nor needs: torchao 0.18 registers
# an Enum the old way (torch warns at import), torch.compile says it found no CUDA runtime
# (true, and irrelevant: it builds CPU kernels), and with Triton hidden torch says FLOP
# counting cannot see Triton kernels (none run on a CPU). Matched by message, nothing else.
_KNOWN_NOISE = {
    "torch.utils._pytree": "is an Enum subclass and is now natively supported",
    "torch.utils.cpp_extension": "No CUDA runtime is found",
    "torch.utils.flop_counter": "triton not found; flop counting will not work",
}


class _DropMessage(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def _drop_known_noise() -> None:
    for name, text in _KNOWN_NOISE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessage) and f.text == text for f in logger.filters):
            logger.addFilter(_DropMessage(text))


def setup(
    seed: int = 0, threads: int | None = None, online: bool | None = None, quiet: bool = False
) -> Environment:
    """Prepare a notebook: seeds, threads, offline mode, plot style; print the machine once.
    Without a GPU, Triton (a GPU-only compiler) is kept from loading: see
    ``hide_triton_without_gpu``.

    ``online=True`` lets timm and torchvision download (default: offline, or the
    LABKIT_ONLINE variable). ``threads`` defaults to the cores available, at most 4.

    Lesson: notebooks/00_welcome.ipynb, "Imports" (the first code cell of every notebook).
    """
    global _printed
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    threads = (
        default_threads()
        if threads is None
        else check_int("threads", threads, min_value=1, max_value=256)
    )
    if online is not None:
        check_bool("online", online)
        os.environ[_ONLINE_VAR] = "1" if online else "0"
    _apply_offline_mode()
    if os.environ.get(_NO_NETWORK_VAR) == "1":
        _install_network_guard()
    torch.set_num_threads(threads)
    hide_triton_without_gpu()
    _drop_known_noise()
    seed_everything(seed)
    if os.environ.get("OMP_WAIT_POLICY", "").upper() != "PASSIVE" and not quiet and not _printed:
        print(
            "note: import labkit before torch, so that idle threads sleep instead of spinning "
            "(OMP_WAIT_POLICY=PASSIVE); otherwise two busy notebooks slow each other down a lot"
        )
    plots.use_style()
    env = Environment(seed, threads, online_allowed(), get_device(), cpu_features(), versions())
    if not quiet and not _printed:
        _printed = True
        print(describe(env))
    return env


def describe(env: Environment) -> str:
    """The lines ``setup()`` prints: versions, threads, seed, downloads, the machine's features."""
    v = env.versions
    accelerator = "none (CPU only)" if env.device.type == "cpu" else str(env.device)
    lines = [
        f"labkit {v['labkit']} | Python {v['python']} | torch {v['torch']} | "
        f"torchvision {v['torchvision']} | timm {v['timm']}",
        f"training runs on: cpu | accelerator: {accelerator} | threads: {env.threads} | "
        f"seed: {env.seed} | downloads: {'allowed' if env.online else 'off (offline mode)'}",
        f"CPU: {env.cpu.name} [{env.cpu.summary()}]",
    ]
    lines += [f"  - {note}" for note in env.cpu.notes]
    return "\n".join(lines)
