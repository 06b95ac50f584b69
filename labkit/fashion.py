"""Fashion-MNIST, the course's running data: 70,000 grey 28x28 pictures of clothes in ten
classes (Xiao, Rasul and Vollgraf, 2017, "Fashion-MNIST: a Novel Image Dataset for
Benchmarking Machine Learning Algorithms", arXiv:1708.07747; MIT licence), 60,000 for training
and 10,000 for testing. The course takes its validation images (for choosing hyperparameters
and stopping early) out of the 60,000, and keeps the 10,000 test images for final claims.

Offline after set-up, on every platform. The four IDX files live in
data/downloads/FashionMNIST/raw/ (where torchvision's ``FashionMNIST`` reads them too);
`labkit data setup` (``make setup`` runs it) puts them there from Debian's or Ubuntu's
``dataset-fashion-mnist`` package (/usr/share/datasets/fashion-mnist), or, where there is none
and there is a network, downloads them once with torchvision; either way each file is checked
against its SHA-256 (below, of the uncompressed file). Nothing downloads at run time.

Used by: every lesson (``labkit.load_fashion_mnist``, given to notebooks by labkit/__init__.py),
labkit.zoo and `labkit data setup` (labkit/cli.py).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import torch

from labkit._validate import check_bool, check_int
from labkit.data import (
    FASHION_CLASSES,
    Dataset,
    DatasetUnavailableError,
    Split,
    data_dir,
    sha256_of,
)

# SHA-256 of each uncompressed IDX file (the package and the download compress them
# differently, so the compressed files' sums differ; their contents do not).
FILES = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
PACKAGE_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
VAL_IMAGES = 5000  # held out of the 60,000 training images, 500 per class


def fashion_dir() -> Path:
    """Where the four files live: data/downloads/FashionMNIST/raw (torchvision's layout)."""
    return data_dir() / "downloads" / "FashionMNIST" / "raw"


def missing_files(folder: Path | None = None) -> list[str]:
    """The files of ``folder`` (default: ``fashion_dir()``) that are absent or do not match
    their SHA-256; an empty list means the data are ready."""
    folder = Path(folder or fashion_dir())
    return [
        n for n, sha in FILES.items() if not (folder / n).exists() or sha256_of(folder / n) != sha
    ]


HOW_TO_GET_IT = (
    "Fashion-MNIST is not set up. Any one of these gets it: (1) on Debian or Ubuntu, "
    "`sudo apt-get install dataset-fashion-mnist`, then `make setup`; (2) with a network "
    "connection, `labkit data setup --download` (about 30 MB, once); (3) copy the four files "
    "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
    "t10k-labels-idx1-ubyte (uncompressed, or .gz) from any machine that has them into "
    "{folder}, then `labkit data setup`."
)


def setup_fashion_mnist(download: bool = False, source: Path | None = None) -> Path:
    """Make the four files ready in ``fashion_dir()`` and return it: keep them if they are there
    and verified; else unpack them from ``source`` (default: Debian's package folder), or from
    .gz files copied into the folder itself; else, with ``download=True``, fetch them with
    torchvision. Every file is checked against its SHA-256; what fails is removed, and the
    error says each way to get it."""
    check_bool("download", download)
    folder = fashion_dir()
    if not missing_files(folder):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for where in [Path(source or PACKAGE_DIR), folder]:
        for name in missing_files(folder):
            packed = where / f"{name}.gz"
            if packed.exists():
                with gzip.open(packed) as src, open(folder / f"{name}.part", "wb") as dst:
                    shutil.copyfileobj(src, dst)
                (folder / f"{name}.part").replace(folder / name)
    if missing_files(folder) and download:
        _download(folder)
    bad = missing_files(folder)
    for name in bad:  # a wrong file must not look like a right one next time
        (folder / name).unlink(missing_ok=True)
    if bad:
        raise DatasetUnavailableError(HOW_TO_GET_IT.format(folder=folder))
    return folder


def _download(folder: Path) -> None:
    import torchvision  # only here: the download, once, on a machine with a network

    try:
        torchvision.datasets.FashionMNIST(folder.parents[1], train=True, download=True)
        torchvision.datasets.FashionMNIST(folder.parents[1], train=False, download=True)
    except Exception as err:  # URLError, socket errors, the test suite's network guard
        raise DatasetUnavailableError(
            f"Could not download Fashion-MNIST: no network connection? ({err}). "
            + HOW_TO_GET_IT.format(folder=folder)
        ) from err


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the format of MNIST and Fashion-MNIST) as a NumPy array of bytes: two zero
    bytes, the type code 0x08 (unsigned byte), the number of dimensions, each dimension as a
    big-endian 32-bit integer, then the data. torchvision's reader gives the
    same array (a test compares them)."""
    return _parse_idx(Path(path).read_bytes(), path)


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} holds {data.size} bytes of data, its header says {dims}")
    return data.reshape(dims)


def fashion_arrays() -> dict[str, np.ndarray]:
    """The four files as arrays: train/test images (N, 28, 28) and labels (N,), uint8."""
    folder = fashion_dir()
    arrays = {}
    for name, sha in FILES.items():  # each file read once: checked and parsed from one copy
        path = folder / name
        raw = path.read_bytes() if path.exists() else b""
        if hashlib.sha256(raw).hexdigest() != sha:
            raise DatasetUnavailableError(HOW_TO_GET_IT.format(folder=folder))
        arrays[name] = _parse_idx(raw, path)
    return arrays


def load_fashion_mnist(train_size: int | None = None, seed: int = 0) -> Dataset:
    """Fashion-MNIST as a labkit Dataset: ``train`` (the first ``train_size`` of the 55,000
    training images, all by default, in a seeded random order), ``val`` (5,000 images held
    out of the 60,000, 500 per class, the same whatever ``train_size``) and ``test`` (the
    10,000 test images). Pixels are normalized with the mean and spread of all 55,000 training
    images, whatever ``train_size``.
    The same arguments always give the same tensors.

    Lesson: notebooks/00_welcome.ipynb, "The running example: Fashion-MNIST".
    """
    if train_size is not None:
        train_size = check_int(
            "train_size", train_size, min_value=10, max_value=60_000 - VAL_IMAGES
        )
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    arrays = fashion_arrays()
    images, labels = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    g = torch.Generator().manual_seed(seed)
    val_idx, train_idx = [], []
    for c in range(10):  # the validation images: the same share of every class
        idx = torch.nonzero(torch.from_numpy(labels == c)).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        val_idx.append(idx[: VAL_IMAGES // 10])
        train_idx.append(idx[VAL_IMAGES // 10 :])
    val_idx = torch.cat(val_idx)
    train_idx = torch.cat(train_idx)
    # the mean and spread of all 55,000 training images, whatever train_size: a model trained
    # on the whole set and one trained on a subset see the same test tensors. Exactly, from a
    # histogram of the grey levels (no float copy of all the pixels: memory is the notebooks'
    # tightest budget).
    counts = np.bincount(images[np.sort(train_idx.numpy())].ravel(), minlength=256)
    train_idx = train_idx[torch.randperm(len(train_idx), generator=g)][:train_size]
    val_idx = val_idx[torch.randperm(len(val_idx), generator=g)]
    levels = np.arange(256) / 255
    mean = float((counts * levels).sum() / counts.sum())
    std = float(np.sqrt((counts * (levels - mean) ** 2).sum() / (counts.sum() - 1)))

    def make(X: np.ndarray, y: np.ndarray, idx: torch.Tensor) -> Split:
        pixels = torch.from_numpy(X[idx.numpy()]).unsqueeze(1).float().div_(255)
        return Split(pixels.sub_(mean).div_(std), torch.from_numpy(y[idx.numpy()]).long(), idx)

    test_x, test_y = arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]
    return Dataset(
        name="fashion_mnist",
        train=make(images, labels, train_idx),
        val=make(images, labels, val_idx),
        test=make(test_x, test_y, torch.arange(len(test_y))),
        classes=FASHION_CLASSES,
        mean=mean,
        std=std,
        provenance="Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, Zalando Research); MIT licence.",
        details=dict(train_size=train_size, seed=seed, val_images=VAL_IMAGES),
    )
