"""What this machine can do that the lessons depend on: the CPU's vector, int8 and 16-bit
features, and a C++ compiler that really works (torch.compile needs one). Each feature comes
with a sentence on what it means, so that a learner can tell what to expect and why.

Introduced in notebooks/00_welcome.ipynb ("Your machine"); ``labkit.setup()`` and
``labkit doctor`` print it.

Used by: labkit.env (``setup()`` prints it), labkit.store, and `labkit doctor` (labkit/cli.py).
"""

from __future__ import annotations

import functools
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class CpuFeatures:
    """What this processor (and its toolchain) can do that later lessons depend on."""

    arch: str
    name: str
    capability: str  # the vector ISA PyTorch's CPU kernels use: AVX512, AVX2, ...
    vnni: bool  # int8 dot products in one instruction (AVX-512 VNNI or AVX-VNNI)
    amx: bool  # Intel AMX matrix tiles (int8 and bf16 matrix multiply)
    native_bf16: bool  # bfloat16 arithmetic in hardware (AVX512_BF16 or AMX-BF16)
    native_fp16: bool  # float16 arithmetic in hardware (AVX512_FP16 or AMX-FP16)
    compiler: str | None  # a C++ compiler that works, which torch.compile on the CPU needs
    compiler_problem: str = ""  # why no compiler is usable, when none is

    @property
    def x86(self) -> bool:
        """True on an x86 processor (the fast int8 kernels of notebook 04 are x86-only)."""
        return self.arch.lower() in ("x86_64", "amd64", "i386", "i686", "x86")

    @property
    def int8_speed_path(self) -> bool:
        """True where notebook 04's fast int8 path (x86 kernels, compiled) can run."""
        return self.x86 and self.compiler is not None

    @property
    def int8_fast_path(self) -> bool:
        """True where int8 kernels should beat compiled float32 on real-size layers: the int8
        path runs, and the CPU has int8 dot products (VNNI) or matrix tiles (AMX)."""
        return self.int8_speed_path and (self.vnni or self.amx)

    @property
    def notes(self) -> list[str]:
        """One sentence per feature on what it means for the lessons."""
        return [int8_expectation(self), bf16_expectation(self), compiler_note(self)]

    def summary(self) -> str:
        """The features in one line: architecture, vector ISA, and yes/no for each feature."""
        flags = [
            f"{k}={'yes' if v else 'no'}"
            for k, v in (
                ("VNNI", self.vnni),
                ("AMX", self.amx),
                ("native-bf16", self.native_bf16),
                ("native-fp16", self.native_fp16),
                ("compiler", self.compiler is not None),
            )
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


@functools.cache
def _compiler_works(path: str) -> str:
    """'' if ``path`` compiles a tiny shared library (what torch.compile asks of it), else
    why not."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "probe.cpp", Path(tmp) / "probe.so"
        src.write_text('extern "C" int probe(int x) { return 2 * x; }\n')
        try:
            done = subprocess.run(
                [path, "-shared", "-fPIC", "-O1", str(src), "-o", str(out)],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"{path} could not be run ({type(err).__name__})"
        if done.returncode != 0 or not out.exists():
            first = (done.stderr or done.stdout).strip().splitlines()
            return (
                f"{path} failed to compile a test file ({first[0][:120] if first else 'no output'})"
            )
    return ""


def find_compiler() -> tuple[str | None, str]:
    """The C++ compiler torch.compile would use on the CPU, *tried* on a tiny file: (path, '')
    if one works, else (None, why not). A compiler on the PATH that cannot build anything
    counts as none.
    """
    problems = []
    for name in dict.fromkeys((os.environ.get("CXX"), "g++", "c++", "clang++")):
        if name and (path := shutil.which(name)):
            problem = _compiler_works(path)
            if not problem:
                return path, ""
            problems.append(problem)
    return None, "; ".join(problems) or "no C++ compiler (g++, clang++) on the PATH"


def cpu_features() -> CpuFeatures:
    """Detect the CPU features that decide int8 and 16-bit speed, and a working compiler.

    Lesson: notebooks/00_welcome.ipynb, "Your machine".
    """
    arch = platform.machine()
    name, flags = _cpuinfo_flags()
    capability = torch.backends.cpu.get_cpu_capability()
    if flags:
        vnni = bool({"avx512_vnni", "avx_vnni"} & flags)
        amx = "amx_tile" in flags
        native_bf16 = bool({"avx512_bf16", "amx_bf16"} & flags)
        native_fp16 = bool({"avx512_fp16", "amx_fp16"} & flags)
    else:  # not Linux: ask PyTorch
        vnni = _torch_cpu_check("_is_vnni_supported")
        amx = _torch_cpu_check("_is_amx_tile_supported")
        apple = arch == "arm64" and sys.platform == "darwin"
        native_bf16 = _torch_cpu_check("_is_avx512_bf16_supported") or (apple and "M1" not in name)
        native_fp16 = _torch_cpu_check("_is_amx_fp16_supported") or apple
    compiler, problem = find_compiler()
    return CpuFeatures(
        arch, name, capability, vnni, amx, native_bf16, native_fp16, compiler, problem
    )


def int8_expectation(cpu: CpuFeatures | None = None) -> str:
    """What int8 inference speed to expect on this machine, and why, in a sentence or two.

    Lesson: notebooks/04_quantization.ipynb, "Real int8 inference on the CPU".
    """
    f = cpu or cpu_features()
    if not f.x86:
        return (
            f"int8: this is a {f.arch} CPU; the int8 model's accuracy and size still hold, but "
            "the fast int8 kernels of notebook 04 are x86-only, so expect no speed-up here."
        )
    if f.compiler is None:
        return (
            "int8: no working C++ compiler, so torch.compile cannot build int8 kernels; the "
            "int8 model runs as a slow reference graph (its accuracy and size still hold)."
        )
    if f.amx or f.vnni:
        unit = "AMX int8 tiles" if f.amx else "VNNI (int8 dot products in one instruction)"
        return (
            f"int8: {unit}; against compiled float32, expect int8 to pay on real-size layers "
            "(hundreds of channels) and little or nothing on the tiny course model, where fixed "
            "per-layer costs dominate."
        )
    return (
        "int8: x86 without VNNI or AMX; int8 models are nearly 4x smaller (scales, zero points "
        "and biases stay wider), but expect a modest speed-up at best over compiled float32."
    )


def bf16_expectation(cpu: CpuFeatures | None = None) -> str:
    """What 16-bit (bfloat16, float16) speed to expect on this CPU.

    Lesson: notebooks/05_mixed_precision.ipynb, "The hardware decides".
    """
    f = cpu or cpu_features()
    if f.amx and f.native_bf16:
        return (
            "bf16: AMX tiles with native bfloat16; bf16 autocast can beat float32 clearly on "
            "large matrix products and convolutions."
        )
    if f.native_bf16:
        return (
            "bf16: native bfloat16 (AVX512-BF16) without AMX; bf16 autocast can beat float32 "
            "somewhat on large layers."
        )
    return (
        "bf16: no native bfloat16; bf16 autocast on this CPU is emulated and slower than "
        "float32 (float16 even more so). Mixed precision pays off on GPUs."
    )


def compiler_note(cpu: CpuFeatures | None = None) -> str:
    """One sentence on torch.compile: the working compiler found, or what falls back and why."""
    f = cpu or cpu_features()
    if f.compiler:
        return f"compiler: {f.compiler} works; torch.compile can build CPU kernels here."
    problem = (
        "a C++ compiler is installed but could not build a test file"
        if "failed to compile" in f.compiler_problem or "could not be run" in f.compiler_problem
        else "no C++ compiler (g++, clang++) on the PATH"
    )
    return (
        f"compiler: none usable ({problem}); torch.compile cannot build CPU kernels, so "
        "compiled rows fall back to eager and say so (install g++ or clang, or Xcode's "
        "command-line tools on a Mac)."
    )
