"""The benchmark harness: one benchmark per technique, each measuring its claims side by side in
one run.

A benchmark lives in its lesson's folder, ``labkit/<lesson>/bench.py``, with ``run(...) ->
dict`` and, for its command-line options, ``OPTIONS``; `labkit bench --list` names every one
(found by ``labkit.lessons``). ``labkit bench <technique> [--json]`` prints a table, and with
``--json`` one JSON object as its last line. Every benchmark shares the fixture in
``labkit.bench.common``: seeded data, the zoo baseline, example batches, a real-size timm model.

The JSON schema (version 1), the same for every technique
----------------------------------------------------------
Top level:
- ``technique``: "search", "prune", "quantize", ...
- ``schema``: 1
- ``machine``: {"cpu": feature summary, "threads": int, "torch": version, "compiler": bool}
- ``units``: the unit of every measured key, e.g. {"acc": "percent", "size_ratio": "x", ...}
- ``baseline``: what ratios divide by; ``{"model": "course", "acc": ..., "size_bytes": ...}``
- ``rows``: one object per (model, method) measured, each with
  - ``method``: what was done ("unstructured", "structured", "int8_ptq", ...)
  - ``model``: "course" (the zoo baseline) or the timm model's name (random weights: size and
    latency only, no accuracy)
  - ``acc``: test accuracy in percent (course rows; ``None`` for timm rows)
  - ``acc_drop_ci``: paired 95% interval of (baseline accuracy - this accuracy), in points,
    on the same test images
  - ``size_ratio``: baseline bytes / method bytes (``labkit.measure.tensor_bytes`` unless
    the row's ``size_format`` says otherwise); above 1: smaller
  - ``latency_ratio``: baseline time / method time, median over interleaved rounds, at the
    row's ``batch``; ``latency_ratio_range``: the lowest and highest round; above 1: faster
  - ``mode``: the execution mode of *both* sides of ``latency_ratio``: "eager" (eager
    method vs eager baseline) or "compiled" (compiled vs compiled). A ratio never compares
    two modes. When compilation falls back, the row says "eager" and ``note`` says why.
  - ``batch``: images per timed call for ``latency_ratio``; course rows add
    ``latency_ratio_batch1`` (and its range) for one image.
  Technique-specific keys are named in each module's ``run`` docstring (for instance
  ``sparsity`` for unstructured pruning, ``channel_ratio`` for structured pruning, ``bits``).

Search rows are strategies rather than models; see labkit/search/bench.py.
"""

from labkit.bench.common import SCHEMA_VERSION, report

__all__ = ["SCHEMA_VERSION", "report"]
