"""16-bit floats as a storage format: a copy of a model that stores and computes in float16 or
bfloat16 (notebook 04, "16 bits: float16 and bfloat16"). Mixed precision, where 16 and 32 bits
mix inside one training step, is notebook 05's ``labkit.precision``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from labkit._validate import check_choice, check_module


class _Cast(nn.Module):
    def __init__(self, net: nn.Module, dtype: torch.dtype) -> None:
        super().__init__()
        self.net, self.dtype = copy.deepcopy(net).to(dtype).eval(), dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.to(self.dtype)).float()


def cast_model(net: nn.Module, dtype: torch.dtype) -> nn.Module:
    """A copy of ``net`` that stores its floating-point weights and buffers in ``dtype``
    (torch.float16 or torch.bfloat16) and computes in it: inputs are cast on the way in,
    outputs back to float32 on the way out. ``tensor_bytes(result.net)`` is its size.

    Lesson: notebooks/04_quantization.ipynb, "16 bits: float16 and bfloat16".
    """
    check_module("net", net)
    check_choice("dtype", dtype, (torch.float16, torch.bfloat16))
    return _Cast(net, dtype)
