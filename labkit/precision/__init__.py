"""Notebook 05, mixed precision: float formats bit by bit, autocast, loss scaling (formats);
three precisions trained side by side, step times, memory (training); the pictures and the app.
The precision switch itself (autocast_for, make_scaler: labkit.autocast; train_step:
labkit.train) is the one training loop's, and is importable from here too.

Each module's public names are importable from here: ``from labkit.precision import ...``.
The benchmark (``bench.py``) and the timing probes (``probes.py``) are imported only when
`labkit bench precision` or `labkit reference record` runs them.
"""

from labkit.autocast import (
    PRECISIONS,
    autocast_for,
    check_autocast_device,
    make_scaler,
)
from labkit.precision.formats import (
    FORMATS,
    DynamicScaler,
    FormatInfo,
    OpRecord,
    activation_gradients,
    autocast_ops,
    bit_fields,
    check_autocast_dtype,
    check_dtype,
    decode,
    dtype_name,
    fate_in,
    format_info,
    round_trip_error,
    running_sum,
)
from labkit.precision.plots import (
    plot_fractions,
    plot_number_line,
)
from labkit.precision.training import (
    ScalerLog,
    SideBySide,
    activation_bytes,
    compute_bound_mlp,
    recorded_gpu_figures,
    scaler_run,
    step_speedup,
    time_training_steps,
    train_side_by_side,
)
from labkit.precision.widget import (
    ScaleExplorer,
)
from labkit.train import train_step

NOTEBOOK = "05_mixed_precision"

__all__ = [
    "DynamicScaler",
    "FORMATS",
    "FormatInfo",
    "OpRecord",
    "PRECISIONS",
    "ScaleExplorer",
    "ScalerLog",
    "SideBySide",
    "activation_bytes",
    "activation_gradients",
    "autocast_for",
    "autocast_ops",
    "bit_fields",
    "check_autocast_device",
    "check_autocast_dtype",
    "check_dtype",
    "compute_bound_mlp",
    "decode",
    "dtype_name",
    "fate_in",
    "format_info",
    "make_scaler",
    "plot_fractions",
    "plot_number_line",
    "recorded_gpu_figures",
    "round_trip_error",
    "running_sum",
    "scaler_run",
    "step_speedup",
    "time_training_steps",
    "train_side_by_side",
    "train_step",
]
