"""The course's models: a small CNN family, any timm model by name, and which layers hold
the weights that later lessons prune, quantize and factorize.

``SmallCNN`` is introduced in notebooks/00_welcome.ipynb (the baseline) and
taken apart in notebooks/01_parameters_vs_hyperparameters.ipynb.

Used by: every lesson, and labkit.measure, labkit.quantize.affine and labkit.factorize.ranks
(``run_with_hooks``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.nn.modules.conv import _ConvNd

from labkit._validate import check_int, check_module
from labkit.env import online_allowed

SMALL_CNN = "small_cnn"
WEIGHT_LAYERS = (_ConvNd, nn.Linear)  # every convolution (1-D to 3-D, transposed too) and Linear


def weight_layers(net: nn.Module) -> dict[str, nn.Module]:
    """The convolution and linear layers of ``net`` by name: the layers whose weight matrices
    and kernels pruning, quantization and factorization work on (norms and biases are left out).

    Lesson: notebooks/03_pruning.ipynb, "Layer-wise or global?".
    """
    check_module("net", net)
    return {name: m for name, m in net.named_modules() if isinstance(m, WEIGHT_LAYERS)}


class SmallCNN(nn.Module):
    """Conv blocks (conv, batch norm, ReLU), a max-pool after the first two, global average
    pool, linear classifier.

    ``width`` is the channel count of the first block (the others use twice that);
    ``kernel_size`` is the side of every convolution kernel (odd, so padding keeps the size);
    ``depth`` is the number of conv blocks (3 by default, the course's baseline).
    """

    def __init__(
        self,
        width: int = 16,
        kernel_size: int = 3,
        num_classes: int = 10,
        in_channels: int = 1,
        depth: int = 3,
    ) -> None:
        super().__init__()
        width = check_int("width", width, min_value=1, max_value=512)
        kernel_size = check_int("kernel_size", kernel_size, min_value=1, max_value=11)
        if kernel_size % 2 == 0:
            raise ValueError(
                f"argument 'kernel_size' must be odd (1, 3, 5, ...), got {kernel_size}"
            )
        num_classes = check_int("num_classes", num_classes, min_value=2, max_value=100_000)
        in_channels = check_int("in_channels", in_channels, min_value=1, max_value=64)
        depth = check_int("depth", depth, min_value=1, max_value=8)
        self.config = dict(
            width=width, kernel_size=kernel_size, num_classes=num_classes, in_channels=in_channels
        )
        if depth != 3:
            self.config["depth"] = depth
        pad = kernel_size // 2

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [
                nn.Conv2d(c_in, c_out, kernel_size, padding=pad, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]

        layers = [*block(in_channels, width), nn.MaxPool2d(2)]
        channels = width
        for i in range(1, depth):
            layers += block(channels, 2 * width)
            channels = 2 * width
            if i == 1:
                layers.append(nn.MaxPool2d(2))
        if depth == 1:
            layers.pop()  # no pooling after a lone block: it keeps what it sees
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The class scores (logits) of a batch of images."""
        return self.classifier(self.features(x))


def run_with_hooks(
    net: nn.Module, hooks: dict[nn.Module, Callable], batches: Iterable[torch.Tensor]
) -> None:
    """Run ``net`` in eval mode, without gradients, on each batch, with a forward hook on each
    module of ``hooks``; the hooks come off and the training flag is restored whatever happens.
    """
    handles = [module.register_forward_hook(hook) for module, hook in hooks.items()]
    was_training = net.training
    try:
        net.eval()
        with torch.no_grad():
            for batch in batches:
                net(batch)
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)


def create_model(
    name: str = SMALL_CNN, seed: int | None = 0, pretrained: bool = False, **kwargs
) -> nn.Module:
    """Build a model: ``"small_cnn"`` (kwargs go to SmallCNN) or any timm model name.

    ``seed`` fixes the random initial weights (None leaves the global generator alone).
    ``pretrained=True`` (timm only) downloads weights, so it needs ``labkit.setup(online=True)``.

    Lesson: notebooks/00_welcome.ipynb, "A model trained in seconds".
    """
    if not isinstance(name, str) or not name:
        raise TypeError(
            f"argument 'name' must be a model name such as 'small_cnn' or 'resnet18', got {name!r}"
        )
    if seed is not None:
        torch.manual_seed(check_int("seed", seed, min_value=0, max_value=2**32 - 1))
    if name == SMALL_CNN:
        if pretrained:
            raise ValueError(
                "argument 'pretrained' is for timm models; the course's trained "
                "SmallCNNs come from labkit.zoo.load_pretrained('baseline')"
            )
        return SmallCNN(**kwargs)
    import timm  # ~0.5 s and ~40 MB: only when a timm model is asked for

    if not timm.list_models(name):
        close = timm.list_models(f"*{name.split('_')[0]}*")[:5]
        raise ValueError(
            f"argument 'name': unknown model {name!r}; use 'small_cnn' or a timm "
            f"model name (similar: {', '.join(close) or 'none'})"
        )
    if pretrained and not online_allowed():
        raise RuntimeError(
            f"pretrained weights for {name!r} must be downloaded; call "
            "labkit.setup(online=True) first (needs a network connection)"
        )
    try:
        return timm.create_model(name, pretrained=pretrained, **kwargs)
    except OSError as err:  # the hub could not be reached
        raise RuntimeError(f"could not download weights for {name!r}: {err}") from err


def fold_conv_bn(conv: nn.Module, bn: nn.Module) -> nn.Module:
    """A copy of ``conv`` that computes conv followed by batch norm (in eval mode) in one
    layer: with s = gamma / sqrt(running_var + eps), the weight of output channel c is scaled
    by s[c] and the bias becomes (bias - running_mean) * s + beta. From scratch; PyTorch's
    ``torch.nn.utils.fusion.fuse_conv_bn_eval`` gives the same layer (a test compares them).

    Lesson: notebooks/03_pruning.ipynb, "Neuron pruning: whole filters at once".
    """
    if not isinstance(conv, _ConvNd) or conv.transposed:
        raise TypeError(f"argument 'conv' must be a convolution, got {type(conv).__name__}")
    if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or bn.num_features != conv.out_channels:
        raise TypeError(
            f"argument 'bn' must be a batch norm over the conv's {conv.out_channels} channels"
        )
    fused = copy.deepcopy(conv).eval()
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shape = [-1] + [1] * (conv.weight.dim() - 1)
        fused.weight.copy_(conv.weight * scale.view(shape))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias)
    return fused


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """A copy of ``net`` in eval mode with every batch norm that directly follows a convolution
    folded into it (:func:`fold_conv_bn`) and replaced by ``nn.Identity``: the same outputs,
    fewer tensors. The pairs are found by tracing the model with ``torch.fx``.

    Lesson: notebooks/03_pruning.ipynb, "Neuron pruning: whole filters at once".
    """
    check_module("net", net)
    out = copy.deepcopy(net).eval()
    try:
        graph = torch.fx.symbolic_trace(out).graph
    except Exception as err:  # control flow on values, unsupported calls
        raise ValueError(
            f"argument 'net' cannot be traced with torch.fx to find conv-batch-norm pairs: {err}"
        ) from None
    modules = dict(out.named_modules())
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), _ConvNd):
            continue
        users = list(node.users)
        bn = (
            modules.get(users[0].target)
            if len(users) == 1 and users[0].op == "call_module"
            else None
        )
        if isinstance(bn, nn.modules.batchnorm._BatchNorm):
            _set_module(out, node.target, fold_conv_bn(modules[node.target], bn))
            _set_module(out, users[0].target, nn.Identity())
    return out


def _set_module(net: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, leaf, module)


def footprint(name: str) -> dict[str, int]:
    """Parameters and float32 bytes (parameters and buffers) of a model, by name: "small_cnn" or
    any timm model. Built on PyTorch's ``meta`` device, which records shapes and allocates no
    memory, so even a 500 MB model costs nothing to measure; offline, no weights downloaded.

    Lesson: notebooks/00_welcome.ipynb, "Why the course model is small".
    """
    with torch.device("meta"):
        net = create_model(name, seed=None)
    return {
        "parameters": sum(p.numel() for p in net.parameters()),
        "bytes": sum(t.numel() * t.element_size() for t in net.state_dict().values()),
    }


def wide_block(
    channels: int = 256, size: int = 14, seed: int = 0
) -> tuple[nn.Module, torch.Tensor]:
    """A block like those in the middle of ResNet-18: two 3x3 convolutions of ``channels``
    channels with ReLUs (random weights), and one input image of ``size`` x ``size``: layers of
    real width, where int8 arithmetic, not per-layer overhead, decides the time.

    Lesson: notebooks/04_quantization.ipynb, "Where int8 pays: a block of real size".
    """
    torch.manual_seed(seed)
    block = nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(channels, channels, 3, padding=1),
        nn.ReLU(),
    ).eval()
    return block, torch.randn(1, channels, size, size).relu()
