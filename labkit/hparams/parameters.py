"""Parameters: the learned tensors of a model, listed with their shapes and counts (notebook 01,
"Parameters: what the model learned").

Used by: notebook 01 (the printed table) and tests/test_hparams.py.
"""

from __future__ import annotations

from torch import nn

from labkit._validate import check_module


def parameter_table(net: nn.Module) -> list[tuple[str, tuple[int, ...], int]]:
    """(name, shape, count) for every learned tensor of ``net``, in order."""
    check_module("net", net)
    return [(name, tuple(p.shape), p.numel()) for name, p in net.named_parameters()]


def print_parameter_table(net: nn.Module) -> None:
    """Print :func:`parameter_table` with a total.

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Parameters: what the model learned".
    """
    rows = parameter_table(net)
    width = max(len(r[0]) for r in rows)
    print(f"{'tensor':<{width}}  {'shape':<16} {'count':>8}")
    for name, shape, count in rows:
        print(f"{name:<{width}}  {str(shape):<16} {count:>8,}")
    print(f"{'total':<{width}}  {'':<16} {sum(r[2] for r in rows):>8,}")
