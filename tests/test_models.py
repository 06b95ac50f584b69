import pytest
import torch

from labkit.models import SmallCNN, create_model


@pytest.mark.parametrize("width, kernel_size", [(4, 1), (16, 3), (8, 5), (2, 7)])
def test_small_cnn_outputs_one_score_per_class(width, kernel_size):
    net = SmallCNN(width=width, kernel_size=kernel_size)
    assert net(torch.zeros(3, 1, 16, 16)).shape == (3, 10)
    assert net.features[0].kernel_size == (kernel_size, kernel_size)
    assert net.features[0].out_channels == width


def test_create_model_is_seeded():
    a, b = create_model(seed=3), create_model(seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    c = create_model(seed=4)
    assert not torch.equal(a.classifier.weight, c.classifier.weight)


def test_any_timm_model_by_name_offline():
    net = create_model("resnet18", num_classes=10)
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 10)


@pytest.mark.parametrize(
    "kwargs, error, word",
    [
        (dict(kernel_size=4), ValueError, "odd"),
        (dict(width=0), ValueError, "width"),
        (dict(num_classes=1), ValueError, "num_classes"),
        (dict(width="16"), TypeError, "width"),
    ],
)
def test_small_cnn_rejects_bad_arguments(kwargs, error, word):
    with pytest.raises(error, match=word):
        SmallCNN(**kwargs)


def test_create_model_explains_unknown_names_and_offline_weights():
    with pytest.raises(ValueError, match="unknown model 'resnet_9000'"):
        create_model("resnet_9000")
    with pytest.raises(RuntimeError, match="online=True"):
        create_model("resnet18", pretrained=True)
    with pytest.raises(ValueError, match="load_pretrained"):
        create_model("small_cnn", pretrained=True)
    with pytest.raises(TypeError, match="'name'"):
        create_model(None)


def test_folding_batch_norm_matches_pytorchs_fusion_and_keeps_the_outputs():
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    from labkit.models import fold_batchnorm, fold_conv_bn
    from labkit.zoo import load_pretrained

    net = load_pretrained("baseline")
    conv, bn = net.features[0], net.features[1]
    ours, theirs = fold_conv_bn(conv, bn), fuse_conv_bn_eval(conv, bn)
    assert torch.allclose(ours.weight, theirs.weight, atol=1e-6)
    assert torch.allclose(ours.bias, theirs.bias, atol=1e-6)
    folded = fold_batchnorm(net)
    x = torch.randn(16, 1, 16, 16)
    assert torch.allclose(folded(x), net(x), atol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # a copy
    resnet = create_model("resnet18").eval()
    x = torch.randn(1, 3, 64, 64)
    assert torch.allclose(fold_batchnorm(resnet)(x), resnet(x), atol=1e-4)


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6])
def test_depth_stacks_conv_blocks_and_three_is_the_baseline(depth):
    net = SmallCNN(depth=depth)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == depth and net(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
    if depth == 3:
        assert list(net.state_dict()) == list(SmallCNN().state_dict())
    with pytest.raises(ValueError, match="depth"):
        SmallCNN(depth=0)


def test_footprint_counts_a_large_model_without_allocating_it():
    import psutil

    from labkit.models import footprint

    before = psutil.Process().memory_info().rss
    size = footprint("vgg16")
    assert size["parameters"] == 138_357_544 and size["bytes"] > 4 * size["parameters"] - 1
    assert psutil.Process().memory_info().rss - before < 200 * 2**20  # not the 553 MB of VGG-16
    assert footprint("small_cnn")["parameters"] == sum(p.numel() for p in SmallCNN().parameters())
