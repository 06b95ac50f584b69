"""The precision switch of the course's one training loop: the context a forward pass runs in
(autocast to bfloat16 or float16, or nothing for float32) and the loss scaler that goes with it,
on a device where autocast really runs.

Notebook 05 teaches what they do ("Mixed precision training").

Used by: labkit.train (``fit``'s ``precision``), labkit.precision.formats and
labkit.precision.training.
"""

from __future__ import annotations

import contextlib

import torch

from labkit._validate import check_choice

PRECISIONS = ("float32", "bfloat16", "float16_scaled")
AUTOCAST_DTYPE = {"bfloat16": torch.bfloat16, "float16_scaled": torch.float16}


def check_autocast_device(name: str, value: object) -> str:
    """The device type (``"cpu"``, ``"cuda"``) of ``value`` if autocast can run there."""
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"argument '{name}' must be a device such as 'cpu', got {value!r}"
        ) from None
    if not torch.amp.is_autocast_available(device.type):
        raise ValueError(
            f"argument '{name}': autocast does not support the device type {device.type!r}; "
            "use 'cpu' or 'cuda'"
        )
    if device.type != "cpu":
        # Autocast on an absent device only warns and switches itself off: every operation
        # would then run in float32, which is not what the caller asked for.
        backend = getattr(torch, device.type, None)
        present = backend is not None and backend.is_available()
        count = backend.device_count() if present and hasattr(backend, "device_count") else 1
        if not present or (device.index is not None and device.index >= count):
            raise ValueError(
                f"argument '{name}': there is no {str(device)!r} device on this machine "
                f"(autocast would be switched off); use 'cpu'"
                + (" or 'cuda'" if device.type != "cuda" and torch.cuda.is_available() else "")
            )
    return device.type


def autocast_for(precision: str, device: str | torch.device = "cpu"):
    """The context a forward pass runs in for ``precision``: autocast to bfloat16 or float16 on
    ``device``, or nothing for float32.
    """
    check_choice("precision", precision, PRECISIONS)
    device_type = check_autocast_device("device", device)
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=AUTOCAST_DTYPE[precision])


def make_scaler(precision: str, device: str | torch.device = "cpu") -> torch.amp.GradScaler:
    """PyTorch's loss scaler, switched on for float16 only (a disabled one passes through)."""
    check_choice("precision", precision, PRECISIONS)
    return torch.amp.GradScaler(
        check_autocast_device("device", device), enabled=precision == "float16_scaled"
    )
