"""Notebook 04, quantization: the affine mapping, calibration and an integer-only layer
(affine); below 8 bits (fewer_bits); 16-bit floats (float16); real int8 on the CPU (int8); the
grid picture and the app.

Each module's public names are importable from here: ``from labkit.quantize import ...``.
The benchmark (``bench.py``) and the timing probes (``probes.py``) are imported only when
`labkit bench quantize` or `labkit reference record` runs them.
"""

from labkit.quantize.affine import (
    CALIBRATION_METHODS,
    QParams,
    calibration_batches,
    calibration_range,
    collect_inputs,
    dequantize,
    fake_quantize,
    fixed_point_multiplier,
    integer_linear,
    qparams,
    qparams_for,
    qrange,
    quantization_error,
    quantize,
    quantizer_errors,
    requantize,
    simulate_quantized,
)
from labkit.quantize.fewer_bits import (
    FakeQuantWeight,
    add_fake_quant,
    bake_fake_quant,
    codebook_quantize,
    kmeans_1d,
    packed_bytes,
    qat,
    quantize_weights,
)
from labkit.quantize.float16 import (
    cast_model,
)
from labkit.quantize.int8 import (
    Int8Timing,
    LinearInGraph,
    dynamic_int8_linear,
    graph_bytes_by_dtype,
    graph_op_counts,
    last_linear_in_graph,
    ptq_int8,
    time_float32_and_int8,
)
from labkit.quantize.plots import (
    plot_quantization_grid,
)
from labkit.quantize.widget import (
    BitsExplorer,
)

NOTEBOOK = "04_quantization"

__all__ = [
    "BitsExplorer",
    "CALIBRATION_METHODS",
    "FakeQuantWeight",
    "Int8Timing",
    "LinearInGraph",
    "QParams",
    "add_fake_quant",
    "bake_fake_quant",
    "calibration_batches",
    "calibration_range",
    "cast_model",
    "codebook_quantize",
    "collect_inputs",
    "dequantize",
    "dynamic_int8_linear",
    "fake_quantize",
    "fixed_point_multiplier",
    "graph_bytes_by_dtype",
    "graph_op_counts",
    "integer_linear",
    "kmeans_1d",
    "last_linear_in_graph",
    "packed_bytes",
    "plot_quantization_grid",
    "ptq_int8",
    "qat",
    "qparams",
    "qparams_for",
    "qrange",
    "quantization_error",
    "quantize",
    "quantize_weights",
    "quantizer_errors",
    "requantize",
    "simulate_quantized",
    "time_float32_and_int8",
]
