import subprocess
import sys

import numpy as np
import pytest
import torch

from labkit.data import DatasetUnavailableError, digits_arrays, load_digits, load_torchvision


def test_digits_shapes_and_sizes(digits):
    data = digits
    assert data.image_shape == (1, 16, 16)
    assert data.num_classes == 10
    originals = len(set(data.train.source.tolist()))
    assert len(data.train) == 4 * originals  # 3 distorted copies + the original
    assert originals + len(data.val) + len(data.test) == 1797
    assert data.train.X.dtype == torch.float32 and data.train.y.dtype == torch.int64


def test_no_scan_is_shared_between_train_val_and_test(digits):
    data = digits
    parts = [set(s.source.tolist()) for s in (data.train, data.val, data.test)]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]


def test_every_class_is_in_every_part(digits):
    data = digits
    for split in (data.train, data.val, data.test):
        counts = torch.bincount(split.y, minlength=10)
        assert counts.min() > 0.5 * counts.float().mean()


def test_training_images_are_standardized(digits):
    data = digits
    assert abs(data.train.X.mean().item()) < 1e-4
    assert abs(data.train.X.std().item() - 1) < 1e-4
    assert data.unnormalize(data.train.X).min() >= 0


def test_the_same_arguments_give_the_same_tensors(digits):
    data = digits
    again = load_digits()
    assert torch.equal(again.train.X, data.train.X) and torch.equal(again.test.y, data.test.y)
    other = load_digits(seed=1)
    assert not torch.equal(other.test.source, data.test.source)


def test_distorted_copies_differ_from_their_original():
    d = load_digits(augment_copies=1, image_size=8)
    src = d.train.source[0]
    pair = d.train.X[d.train.source == src]
    assert len(pair) == 2 and not torch.equal(pair[0], pair[1])


def test_subsets(digits):
    data = digits
    small = data.with_train_subset(100)
    assert len(small.train) == 100 and len(small.test) == len(data.test)
    with pytest.raises(ValueError, match="'n'"):
        data.train.subset(0)


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"image_size": 4}, "image_size"),
        ({"augment_copies": -1}, "augment_copies"),
        ({"val_fraction": 0.9}, "val_fraction"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_load_digits_rejects_bad_arguments(kwargs, word):
    with pytest.raises((ValueError, TypeError), match=word):
        load_digits(**kwargs)


def test_a_missing_torchvision_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match="download=True"):
        load_torchvision("fashion_mnist")


def test_a_download_without_network_fails_at_once_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match="no network"):
        load_torchvision("cifar10", download=True)


def test_load_torchvision_rejects_unknown_names():
    with pytest.raises(ValueError, match="'name'"):
        load_torchvision("imagenet")


def test_digits_arrays_equal_scikit_learns_own():
    from sklearn.datasets import load_digits as sklearn_digits

    images, labels = digits_arrays()
    ref = sklearn_digits()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert np.array_equal(images, ref.images) and np.array_equal(labels, ref.target)


def test_loading_the_digits_does_not_import_scikit_learn():
    code = (
        "import sys, labkit; labkit.load_digits(); "
        "sys.exit(3 if any(m.startswith('sklearn') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
