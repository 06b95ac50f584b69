"""Fashion-MNIST, the running data: set up offline from Debian's package (or copied files),
every file checked against its SHA-256, read by a from-scratch IDX reader that agrees with
torchvision's, and split reproducibly with the validation images apart from the test images."""

import gzip
import shutil

import numpy as np
import pytest
import torch

from labkit import fashion
from labkit.data import DatasetUnavailableError

needs_package = pytest.mark.skipif(
    not fashion.PACKAGE_DIR.exists(),
    reason="Debian's dataset-fashion-mnist is not installed (.ci/run installs it)",
)


@pytest.fixture(scope="module")
def data():
    if fashion.missing_files():
        pytest.skip("Fashion-MNIST is not set up here (make setup; .ci/run installs its package)")
    return fashion.load_fashion_mnist()


needs_data = pytest.mark.skipif(
    bool(fashion.missing_files()),
    reason="Fashion-MNIST is not set up here (make setup; .ci/run installs its package)",
)


@needs_data
def test_the_idx_reader_agrees_with_torchvisions():
    from torchvision.datasets.mnist import read_image_file, read_label_file

    folder = fashion.fashion_dir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        ours = fashion.read_idx(folder / name)
        reader = read_image_file if "images" in name else read_label_file
        assert np.array_equal(ours, reader(str(folder / name)).numpy())
    assert fashion.read_idx(folder / "t10k-images-idx3-ubyte").shape == (10_000, 28, 28)


def test_a_file_that_is_no_idx_is_refused(tmp_path):
    (tmp_path / "x").write_bytes(b"\x00\x00\x0d\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="not an IDX file"):
        fashion.read_idx(tmp_path / "x")
    (tmp_path / "y").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(ValueError, match="header says"):
        fashion.read_idx(tmp_path / "y")


def test_the_split_holds_validation_apart_and_is_the_same_every_time(data):
    assert (len(data.train), len(data.val), len(data.test)) == (55_000, 5_000, 10_000)
    assert data.image_shape == (1, 28, 28) and data.classes == fashion.FASHION_CLASSES
    assert torch.bincount(data.val.y).tolist() == [500] * 10
    assert not set(data.val.source.tolist()) & set(data.train.source.tolist())
    small = fashion.load_fashion_mnist(train_size=1000)
    assert torch.equal(small.val.source, data.val.source)  # the same validation images
    assert torch.equal(small.train.source, data.train.source[:1000])
    again = fashion.load_fashion_mnist(train_size=1000)
    assert torch.equal(again.train.X, small.train.X)
    # the same normalization whatever the subset: the zoo's models see the same test tensors
    assert torch.equal(small.test.X, data.test.X) and small.mean == data.mean
    assert abs(float(data.train.X.mean())) < 1e-3 and abs(float(data.train.X.std()) - 1) < 1e-3
    with pytest.raises(ValueError, match="train_size"):
        fashion.load_fashion_mnist(train_size=56_000)


@needs_package
def test_setup_unpacks_the_package_and_checks_every_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path))
    folder = fashion.setup_fashion_mnist()
    assert folder == tmp_path / "downloads/FashionMNIST/raw" and not fashion.missing_files()
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"altered")
    assert fashion.missing_files() == ["t10k-labels-idx1-ubyte"]
    fashion.setup_fashion_mnist()  # unpacked again from the package
    assert not fashion.missing_files()


def test_without_package_or_copy_the_error_names_every_way(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path))
    with pytest.raises(DatasetUnavailableError) as err:
        fashion.setup_fashion_mnist(source=tmp_path / "nowhere")
    text = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in text and "--download" in text
    assert "train-images-idx3-ubyte" in text and str(tmp_path) in text
    with pytest.raises(DatasetUnavailableError, match="not set up"):
        fashion.load_fashion_mnist()


def test_copied_gz_files_are_unpacked_and_a_wrong_one_is_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path))
    folder = fashion.fashion_dir()
    folder.mkdir(parents=True)
    real = fashion.PACKAGE_DIR if fashion.PACKAGE_DIR.exists() else None
    for name in fashion.FILES:
        with open(folder / f"{name}.gz", "wb") as out, gzip.GzipFile(fileobj=out, mode="wb") as gz:
            if real is not None and name != "t10k-labels-idx1-ubyte":
                with gzip.open(real / f"{name}.gz") as src:
                    shutil.copyfileobj(src, gz)
            else:
                gz.write(b"not the file")
    with pytest.raises(DatasetUnavailableError):
        fashion.setup_fashion_mnist(source=tmp_path / "nowhere")
    assert not (folder / "t10k-labels-idx1-ubyte").exists()  # the wrong file is gone


def test_downloading_offline_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA", str(tmp_path))
    with pytest.raises(DatasetUnavailableError, match="Could not download"):
        fashion.setup_fashion_mnist(download=True, source=tmp_path / "nowhere")
    with pytest.raises(TypeError, match="download"):
        fashion.setup_fashion_mnist(download="yes")
