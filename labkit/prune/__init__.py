"""Notebook 03, pruning: magnitude masks, neurons and channels, sensitivity, fine-tuning with
masks kept, sparse storage, and the app.

Each module's public names are importable from here: ``from labkit.prune import ...``.
The benchmark (``bench.py``) and the timing probes (``probes.py``) are imported only when
`labkit bench prune` or `labkit reference record` runs them.
"""

from labkit.prune.masks import (
    apply_masks,
    global_magnitude_masks,
    iterative_prune,
    keep_masks,
    layer_sparsity,
    layerwise_magnitude_masks,
    magnitude_mask,
    neuron_mask,
    neuron_masks,
    pack_sparse,
    prune_channels,
    remove_neurons,
    sensitivity_scan,
    sparse_state_bytes,
    unpack_sparse,
    zero_neurons,
)
from labkit.prune.widget import (
    SparsityExplorer,
)

NOTEBOOK = "03_pruning"

__all__ = [
    "SparsityExplorer",
    "apply_masks",
    "global_magnitude_masks",
    "iterative_prune",
    "keep_masks",
    "layer_sparsity",
    "layerwise_magnitude_masks",
    "magnitude_mask",
    "neuron_mask",
    "neuron_masks",
    "pack_sparse",
    "prune_channels",
    "remove_neurons",
    "sensitivity_scan",
    "sparse_state_bytes",
    "unpack_sparse",
    "zero_neurons",
]
