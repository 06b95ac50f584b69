import platform
import random
import socket

import numpy as np
import pytest
import torch

from labkit import env, hardware


def test_setup_seeds_python_numpy_and_torch_the_same_way_each_time():
    env.setup(seed=7, quiet=True)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    env.setup(seed=7, quiet=True)
    second = (random.random(), np.random.rand(), torch.rand(1).item())
    assert first == second
    env.setup(seed=8, quiet=True)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) != first


def test_setup_prints_the_machine_once(capsys, monkeypatch):
    monkeypatch.setattr(env, "_printed", False)
    env.setup(quiet=False)
    out = capsys.readouterr().out
    assert "torch" in out and "VNNI=" in out and "downloads: off" in out
    env.setup(quiet=False)
    assert capsys.readouterr().out == ""


def test_setup_keeps_the_hub_offline_unless_the_learner_opts_in(monkeypatch):
    monkeypatch.setenv("LABKIT_ONLINE", "0")
    result = env.setup(quiet=True)
    assert not result.online and env.os.environ["HF_HUB_OFFLINE"] == "1"
    try:
        result = env.setup(online=True, quiet=True)
        assert result.online and env.os.environ["HF_HUB_OFFLINE"] == "0"
    finally:
        env.setup(online=False, quiet=True)
    assert env.os.environ["HF_HUB_OFFLINE"] == "1"


def test_setup_caps_threads():
    before = torch.get_num_threads()
    try:
        assert env.setup(threads=1, quiet=True).threads == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"threads": 0}, "threads"),
        ({"online": "yes"}, "online"),
    ],
)
def test_setup_rejects_bad_arguments_by_name(kwargs, word):
    with pytest.raises((ValueError, TypeError), match=word):
        env.setup(quiet=True, **kwargs)


def test_the_network_guard_blocks_connections_and_lookups_beyond_this_machine():
    with pytest.raises(env.NetworkBlockedError):
        socket.create_connection(("example.com", 80), timeout=1)
    with pytest.raises(env.NetworkBlockedError):
        socket.socket().connect(("10.1.2.3", 80))
    with socket.socket() as sock, pytest.raises(env.NetworkBlockedError):
        sock.connect_ex(("10.1.2.3", 80))
    with pytest.raises(env.NetworkBlockedError):
        socket.getaddrinfo("127.example.com", 80)  # a name, not a loopback address
    assert socket.getaddrinfo("localhost", 80)  # loopback (kernels) still works
    assert env._is_loopback("127.0.0.1") and env._is_loopback("::1")


def test_cpu_features_on_this_machine_are_explained():
    cpu = hardware.cpu_features()
    assert cpu.arch == platform.machine()
    assert cpu.capability == torch.backends.cpu.get_cpu_capability()
    assert any(n.startswith("int8") for n in cpu.notes)
    assert any(n.startswith("bf16") for n in cpu.notes)
    assert any(n.startswith("compiler") for n in cpu.notes)


def test_a_mac_without_compiler_is_told_what_to_expect(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    monkeypatch.setattr(hardware, "_cpuinfo_flags", lambda: ("Apple M2", set()))
    monkeypatch.setattr(hardware, "_torch_cpu_check", lambda name: False)  # what torch says
    monkeypatch.setattr(hardware, "find_compiler", lambda: (None, "no C++ compiler on the PATH"))
    cpu = hardware.cpu_features()
    assert not cpu.vnni and not cpu.int8_speed_path and not cpu.x86
    text = " ".join(cpu.notes)
    assert "x86-only" in text
    assert "fall back to eager" in text


def test_a_compiler_on_the_path_that_cannot_compile_counts_as_none(monkeypatch, tmp_path):
    broken = tmp_path / "g++"
    broken.write_text("#!/bin/sh\necho 'fatal error: no such file' >&2\nexit 1\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CXX", raising=False)
    hardware._compiler_works.cache_clear()
    try:
        path, problem = hardware.find_compiler()
    finally:
        hardware._compiler_works.cache_clear()
    assert path is None and "failed to compile" in problem and "fatal error" in problem


def test_a_cpu_without_native_bf16_is_warned(monkeypatch):
    monkeypatch.setattr(hardware, "_cpuinfo_flags", lambda: ("old x86", {"avx2"}))
    cpu = hardware.cpu_features()
    assert not cpu.native_bf16 and not cpu.vnni and not cpu.amx and not cpu.native_fp16
    assert "slower than float32" in " ".join(cpu.notes)


def test_a_cpu_with_amx_and_bf16_is_recognized(monkeypatch):
    flags = {"avx512f", "avx512_vnni", "amx_tile", "amx_int8", "amx_bf16", "avx512_bf16"}
    monkeypatch.setattr(hardware, "_cpuinfo_flags", lambda: ("Sapphire Rapids", flags))
    cpu = hardware.cpu_features()
    assert cpu.vnni and cpu.amx and cpu.native_bf16 and cpu.x86


def test_device_can_be_forced(monkeypatch):
    monkeypatch.setenv("LABKIT_DEVICE", "cpu")
    assert env.get_device() == torch.device("cpu")


def test_importing_labkit_first_makes_idle_threads_sleep():
    import subprocess
    import sys

    code = "import os, labkit, torch; print(os.environ['OMP_WAIT_POLICY'])"
    env_vars = {k: v for k, v in env.os.environ.items() if k != "OMP_WAIT_POLICY"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env_vars
    )
    assert done.stdout.strip() == "PASSIVE", done.stderr


TRITON_PROBE = (
    "import sys, labkit, torch; labkit.setup(quiet=True); import torch._dynamo; "
    "f = torch.compile(lambda x: x * 2 + 1); assert f(torch.ones(3)).tolist() == [3.0] * 3; "
    "print('loaded' if sys.modules.get('triton') is not None else 'hidden')"
)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU keeps Triton")
@pytest.mark.parametrize("keep, expected", [("0", "hidden"), ("1", "loaded")])
def test_without_a_gpu_setup_keeps_triton_from_loading_and_compile_still_works(keep, expected):
    import importlib.metadata
    import subprocess
    import sys

    try:
        importlib.metadata.version("triton")
    except importlib.metadata.PackageNotFoundError:
        if expected == "loaded":
            pytest.skip("Triton is not installed here")
    env_vars = {**env.os.environ, "LABKIT_KEEP_TRITON": keep}
    done = subprocess.run(
        [sys.executable, "-c", TRITON_PROBE], capture_output=True, text=True, env=env_vars
    )
    assert done.stdout.strip().splitlines()[-1:] == [expected], done.stderr[-2000:]
    assert "triton not found" not in done.stderr


def test_triton_stays_with_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("LABKIT_KEEP_TRITON", raising=False)
    assert env.hide_triton_without_gpu() is False


def test_setup_drops_only_the_known_noise_from_torchs_logs(caplog):
    import logging

    env.setup(quiet=True)
    env.setup(quiet=True)  # twice: still one filter per logger
    pytree = logging.getLogger("torch.utils._pytree")
    assert sum(isinstance(f, env._DropMessage) for f in pytree.filters) == 1
    with caplog.at_level(logging.WARNING):
        pytree.warning("<enum 'X'> is an Enum subclass and is now natively supported by ...")
        pytree.warning("something else worth seeing")
    assert [r.getMessage() for r in caplog.records] == ["something else worth seeing"]
