"""The machine the course runs on: setup, device, CPU features, compiler, offline mode.

Used by every notebook's first cell (``labkit.setup()``, introduced in
notebooks/00_welcome.ipynb) and by ``labkit doctor``.
"""

from __future__ import annotations

import logging
import os
import platform
import random
import shutil
import socket
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from labkit._validate import check_int

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
    """Raised when code tries to reach the network while the course runs offline-only."""


def _is_loopback(host: object) -> bool:
    text = host.decode() if isinstance(host, bytes) else str(host)
    return text in ("localhost", "::1", "") or text.startswith("127.")


def _install_network_guard() -> None:
    """Make any connection or DNS lookup beyond this machine raise NetworkBlockedError."""
    if getattr(socket.socket, "_labkit_guarded", False):
        return
    original_connect, original_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(self, address):  # type: ignore[no-untyped-def]
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise NetworkBlockedError(
                f"network access to {address[0]} is blocked ({_NO_NETWORK_VAR}=1)"
            )
        return original_connect(self, address)

    def guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host is not None and not _is_loopback(host):
            raise NetworkBlockedError(f"looking up {host} is blocked ({_NO_NETWORK_VAR}=1)")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket._labkit_guarded = True  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CpuFeatures:
    """What this processor can do that later lessons depend on."""

    arch: str
    name: str
    capability: str  # the vector ISA PyTorch's CPU kernels use: AVX512, AVX2, ...
    vnni: bool  # int8 dot products in one instruction (AVX-512 VNNI or AVX-VNNI)
    amx: bool  # Intel AMX matrix tiles (int8 and bf16 matrix multiply)
    native_bf16: bool  # bfloat16 arithmetic in hardware (AVX512_BF16 or AMX-BF16)
    compiler: str | None  # C++ compiler that torch.compile on the CPU needs
    notes: list[str] = field(default_factory=list)

    @property
    def x86(self) -> bool:
        return self.arch in ("x86_64", "amd64", "AMD64", "i386", "i686")

    @property
    def int8_speed_path(self) -> bool:
        """True where the int8 path of notebook 04 (x86 inductor + compiler) can run."""
        return self.x86 and self.compiler is not None

    def summary(self) -> str:
        flags = [
            f"{k}={'yes' if v else 'no'}"
            for k, v in (("VNNI", self.vnni), ("AMX", self.amx), ("native-bf16", self.native_bf16))
        ]
        return f"{self.arch} {self.capability} " + " ".join(flags)


def _cpuinfo_flags() -> tuple[str, set[str]]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return platform.processor() or "unknown", set()
    name, flags = "unknown", set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and name == "unknown":
            name = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return name, flags


def _torch_cpu_check(fn: str) -> bool:
    check = getattr(torch.cpu, fn, None)  # private helpers; absent on some builds
    try:
        return bool(check()) if check else False
    except Exception:
        return False


def find_compiler() -> str | None:
    """Path of the C++ compiler torch.compile would use on the CPU, or None."""
    for name in (os.environ.get("CXX"), "g++", "c++", "clang++", "cl"):
        if name and (path := shutil.which(name)):
            return path
    return None


def cpu_features() -> CpuFeatures:
    """Detect the CPU features that decide int8 and bf16 speed, and explain them."""
    arch = platform.machine()
    name, flags = _cpuinfo_flags()
    capability = torch.backends.cpu.get_cpu_capability()
    if flags:
        vnni = bool({"avx512_vnni", "avx_vnni"} & flags)
        amx = "amx_tile" in flags
        native_bf16 = bool({"avx512_bf16", "amx_bf16"} & flags)
    else:  # not Linux: ask PyTorch
        vnni = _torch_cpu_check("_is_vnni_supported")
        amx = _torch_cpu_check("_is_amx_tile_supported")
        native_bf16 = _torch_cpu_check("_is_avx512_bf16_supported") or (
            arch == "arm64" and sys.platform == "darwin" and "M1" not in name
        )
    compiler = find_compiler()
    x86 = arch in ("x86_64", "amd64", "AMD64")
    notes = []
    if x86 and vnni:
        notes.append(
            "int8: VNNI does int8 dot products in one instruction; expect int8 inference "
            "(notebook 04) to run several times faster than float32."
        )
    elif x86:
        notes.append(
            "int8: no VNNI on this CPU; int8 models are still 4x smaller, but expect a "
            "modest speed-up at best."
        )
    else:
        notes.append(
            f"int8: the x86 int8 speed path does not run on {arch}; notebook 04 shows "
            "accuracy and size, and latency of the float model only."
        )
    if amx:
        notes.append("AMX: matrix tiles for int8 and bf16; large matrix products get much faster.")
    if native_bf16:
        notes.append("bf16: native bfloat16; bf16 autocast (notebook 05) can beat float32 here.")
    else:
        notes.append(
            "bf16: no native bfloat16; bf16 autocast on this CPU is emulated and can be "
            "~10x slower than float32. Mixed precision pays off on GPUs."
        )
    if compiler:
        notes.append(f"compiler: {compiler}; torch.compile can build fast CPU kernels.")
    else:
        notes.append(
            "compiler: none found; torch.compile cannot run on the CPU, so notebooks fall "
            "back to eager mode (install g++/clang, or Xcode command-line tools on a Mac)."
        )
    return CpuFeatures(arch, name, capability, vnni, amx, native_bf16, compiler, notes)


def get_device() -> torch.device:
    """The device to train on: LABKIT_DEVICE if set, else CUDA when present, else the CPU."""
    wanted = os.environ.get("LABKIT_DEVICE")
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_threads() -> int:
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        available = os.cpu_count() or 1
    return max(1, min(available, 4))


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch so the same run prints the same numbers."""
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class Environment:
    seed: int
    threads: int
    online: bool
    device: torch.device
    cpu: CpuFeatures
    versions: dict[str, str]


def versions() -> dict[str, str]:
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
    or when LABKIT_KEEP_TRITON=1."""
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

    The first code cell of every notebook calls this (notebooks/00_welcome.ipynb).
    ``online=True`` lets timm and torchvision download (default: offline, or the
    LABKIT_ONLINE variable). ``threads`` defaults to the cores available, at most 4.
    """
    global _printed
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    threads = (
        default_threads()
        if threads is None
        else check_int("threads", threads, min_value=1, max_value=256)
    )
    if online is not None:
        if not isinstance(online, bool):
            raise TypeError(f"argument 'online' must be True, False or None, got {online!r}")
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
    from labkit import plots

    plots.use_style()
    env = Environment(seed, threads, online_allowed(), get_device(), cpu_features(), versions())
    if not quiet and not _printed:
        _printed = True
        print(describe(env))
    return env


def describe(env: Environment) -> str:
    v = env.versions
    lines = [
        f"labkit {v['labkit']} | Python {v['python']} | torch {v['torch']} | "
        f"torchvision {v['torchvision']} | timm {v['timm']}",
        f"device: {env.device} | threads: {env.threads} | seed: {env.seed} | "
        f"downloads: {'allowed' if env.online else 'off (offline mode)'}",
        f"CPU: {env.cpu.name} [{env.cpu.summary()}]",
    ]
    lines += [f"  - {note}" for note in env.cpu.notes]
    return "\n".join(lines)
