"""The course's smaller data set, real handwritten digits offline; the ``Dataset`` and ``Split``
types every data set uses; bigger datasets on request.

The running data is Fashion-MNIST (labkit/fashion.py, introduced in notebooks/00_welcome.ipynb,
"The running example"); the lessons not yet moved to it train and test on ``load_digits()``.

The digits are scikit-learn's copy of the UCI handwritten digits
(1,797 real 8x8 digits by 13 writers, the UCI test set, shipped inside scikit-learn, so no
network). We upscale them and enlarge the training part by deterministic
random affine distortions. The split into train / validation / test is made on
the *source images* first, and distortions are only made inside the training
part, so no variant of a test digit is ever seen in training.

Used by: every lesson, and labkit.zoo, labkit.fashion and labkit.train.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from labkit._validate import check_bool, check_choice, check_float, check_int

DIGIT_CLASSES = tuple(str(d) for d in range(10))


@dataclass
class Split:
    """One part of a dataset: images ``X`` (N, C, H, W), labels ``y`` (N,), and the
    index of the original image each sample was made from (``source``).
    """

    X: torch.Tensor
    y: torch.Tensor
    source: torch.Tensor

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, n: int) -> Split:
        """The first ``n`` samples (they are already in random order)."""
        n = check_int("n", n, min_value=1, max_value=len(self))
        return Split(self.X[:n], self.y[:n], self.source[:n])


@dataclass
class Dataset:
    """A dataset in three parts (train, val, test), with its classes, the normalization applied
    to its pixels, and where it comes from.
    """

    name: str
    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...]
    mean: float
    std: float
    provenance: str
    details: dict = field(default_factory=dict)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The shape of one image, (channels, height, width)."""
        return tuple(self.train.X.shape[1:])

    @property
    def num_classes(self) -> int:
        """How many classes the labels name."""
        return len(self.classes)

    def with_train_subset(self, n: int) -> Dataset:
        """The same dataset with only the first ``n`` training images (for quick experiments)."""
        return Dataset(
            self.name,
            self.train.subset(n),
            self.val,
            self.test,
            self.classes,
            self.mean,
            self.std,
            self.provenance,
            {**self.details, "train_subset": n},
        )

    def unnormalize(self, X: torch.Tensor) -> torch.Tensor:
        """Back to the [0, 1] pixel scale, for pictures."""
        return (X * self.std + self.mean).clamp(0, 1)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}: train {len(self.train)}, val {len(self.val)}, "
            f"test {len(self.test)}, images {self.image_shape}, {self.num_classes} classes)"
        )


def check_split(name: str, split: object) -> Split:
    """Return ``split`` if it is a non-empty labkit Split (such as ``data.train``)."""
    if not isinstance(split, Split):
        raise TypeError(
            f"argument '{name}' must be a labkit.data.Split (such as data.train), "
            f"got {type(split).__name__}"
        )
    if len(split) == 0:
        raise ValueError(f"argument '{name}' is empty")
    return split


def check_dataset(name: str, data: object) -> Dataset:
    """Return ``data`` if it is a labkit Dataset (such as ``labkit.load_digits()``)."""
    if not isinstance(data, Dataset):
        raise TypeError(
            f"argument '{name}' must be a labkit.data.Dataset such as labkit.load_digits(), "
            f"got {type(data).__name__}"
        )
    return data


def data_dir() -> Path:
    """Where the course keeps its files (the repository's data/, or LABKIT_DATA)."""
    return Path(os.environ.get("LABKIT_DATA", Path(__file__).resolve().parents[1] / "data"))


def sha256_of(path: Path) -> str:
    """The SHA-256 fingerprint of a file (the zoo's manifest stores them; Fashion-MNIST's files
    are checked against published ones)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _distort(
    images: torch.Tensor,
    generator: torch.Generator,
    max_degrees: float,
    max_shift: float,
    max_scale: float,
) -> torch.Tensor:
    """Random rotation, scaling and shift of each image (deterministic given the generator)."""
    n = images.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(max_degrees))
    scale = 1 + uniform(max_scale)
    shift = torch.stack([uniform(max_shift), uniform(max_shift)], dim=1)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8x8 scans (grey levels 0..16) and their labels, read from the file that
    scikit-learn ships (sklearn/datasets/data/digits.csv.gz: 64 pixels then the label per row)
    without importing scikit-learn, which would add ~75 MB to every notebook's memory.
    Same arrays as ``sklearn.datasets.load_digits()`` (tests/test_data.py checks).
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError("scikit-learn is not installed; run `make setup` (it ships the digits)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets/data/digits.csv.gz"
    if not path.exists():  # a scikit-learn that keeps the file elsewhere: ask it
        from sklearn.datasets import load_digits as sklearn_digits

        raw = sklearn_digits()
        return raw.images, raw.target
    table = np.loadtxt(path, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


def load_digits(
    image_size: int = 16,
    augment_copies: int = 3,
    val_fraction: float = 0.15,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Dataset:
    """Real handwritten digits, split by source image, training part enlarged by distortion.

    ``image_size``: side in pixels (the scans are 8x8; they are upscaled smoothly).
    ``augment_copies``: distorted copies added per training image (0 keeps only the originals).
    The same arguments always give the same tensors.

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Imports".
    """
    image_size = check_int("image_size", image_size, min_value=8, max_value=64)
    augment_copies = check_int("augment_copies", augment_copies, min_value=0, max_value=20)
    val_fraction = check_float("val_fraction", val_fraction, low=0.05, high=0.5)
    test_fraction = check_float("test_fraction", test_fraction, low=0.05, high=0.5)
    seed = check_int("seed", seed, min_value=0, max_value=2**32 - 1)
    if val_fraction + test_fraction > 0.8:
        raise ValueError(
            "arguments 'val_fraction' + 'test_fraction' must leave at least 20% for "
            f"training, got {val_fraction} + {test_fraction}"
        )
    raw_images, raw_labels = digits_arrays()
    images = torch.tensor(raw_images, dtype=torch.float32).unsqueeze(1) / 16.0  # 0..16 grey levels
    labels = torch.tensor(raw_labels, dtype=torch.int64)
    if image_size != 8:
        images = F.interpolate(
            images, size=(image_size, image_size), mode="bilinear", align_corners=False
        ).clamp(0, 1)

    # Split the *originals* first, stratified by class, so no digit leaks across parts.
    g = torch.Generator().manual_seed(seed)
    parts: dict[str, list[torch.Tensor]] = {"train": [], "val": [], "test": []}
    for c in range(10):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_test, n_val = round(len(idx) * test_fraction), round(len(idx) * val_fraction)
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test : n_test + n_val])
        parts["train"].append(idx[n_test + n_val :])
    index = {k: torch.cat(v) for k, v in parts.items()}

    train_x, train_y, train_src = (
        [images[index["train"]]],
        [labels[index["train"]]],
        [index["train"]],
    )
    for _ in range(augment_copies):
        train_x.append(
            _distort(images[index["train"]], g, max_degrees=12, max_shift=0.12, max_scale=0.1)
        )
        train_y.append(labels[index["train"]])
        train_src.append(index["train"])
    X_train, y_train, s_train = torch.cat(train_x), torch.cat(train_y), torch.cat(train_src)
    mean, std = X_train.mean().item(), X_train.std().item()

    def make(X: torch.Tensor, y: torch.Tensor, src: torch.Tensor) -> Split:
        order = torch.randperm(len(y), generator=g)
        return Split(((X - mean) / std)[order].contiguous(), y[order], src[order])

    return Dataset(
        name="digits",
        train=make(X_train, y_train, s_train),
        val=make(images[index["val"]], labels[index["val"]], index["val"]),
        test=make(images[index["test"]], labels[index["test"]], index["test"]),
        classes=DIGIT_CLASSES,
        mean=mean,
        std=std,
        provenance="UCI ML hand-written digits (E. Alpaydin, C. Kaynak, 1998), as shipped in "
        "scikit-learn (sklearn.datasets.load_digits); CC BY 4.0.",
        details=dict(
            image_size=image_size,
            augment_copies=augment_copies,
            seed=seed,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
        ),
    )


FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_TORCHVISION = {
    "fashion_mnist": (
        "FashionMNIST",
        "Fashion-MNIST",
        "about 30 MB",
        FASHION_CLASSES,
    ),
    "cifar10": (
        "CIFAR10",
        "CIFAR-10",
        "about 170 MB",
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    ),
}


class DatasetUnavailableError(RuntimeError):
    """The dataset is not on disk and cannot (or may not) be downloaded now; the message says
    how to get it.
    """


def load_torchvision(
    name: str,
    download: bool = False,
    limit: int | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> Dataset:
    """Fashion-MNIST or CIFAR-10 through torchvision, kept in data/downloads/.

    Nothing is downloaded unless ``download=True``; without a network you get a clear
    message instead of a long wait. ``limit`` keeps the first N training images (for speed).
    """
    check_choice("name", name, _TORCHVISION)
    check_bool("download", download)
    if limit is not None:
        limit = check_int("limit", limit, min_value=10)
    val_fraction = check_float("val_fraction", val_fraction, low=0.01, high=0.5)
    import torchvision

    cls_name, title, size, classes = _TORCHVISION[name]
    cls = getattr(torchvision.datasets, cls_name)
    root = data_dir() / "downloads"
    try:
        train_set = cls(root, train=True, download=False)
        test_set = cls(root, train=False, download=False)
    except RuntimeError:
        if not download:
            raise DatasetUnavailableError(
                f"{title} is not in {root}. To fetch it ({size}), run "
                f"labkit.data.load_torchvision({name!r}, download=True) on a machine with a "
                "network connection. The course runs fully offline with load_digits()."
            ) from None
        try:
            root.mkdir(parents=True, exist_ok=True)
            train_set = cls(root, train=True, download=True)
            test_set = cls(root, train=False, download=True)
        except Exception as err:  # URLError, socket errors, the test suite's network guard
            raise DatasetUnavailableError(
                f"Could not download {title}: no network connection ({err}). "
                "The course runs fully offline with load_digits()."
            ) from err

    def to_tensors(ds, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
        X = torch.as_tensor(ds.data[:n]).float() / 255.0
        X = X.unsqueeze(1) if X.ndim == 3 else X.permute(0, 3, 1, 2)
        return X, torch.as_tensor(ds.targets[:n]).long()

    X, y = to_tensors(train_set, limit)
    X_test, y_test = to_tensors(test_set, None)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=g)
    n_val = max(1, int(len(y) * val_fraction))
    mean, std = X.mean().item(), X.std().item()

    def make(X_: torch.Tensor, y_: torch.Tensor, idx: torch.Tensor) -> Split:
        return Split(((X_[idx] - mean) / std).contiguous(), y_[idx], idx)

    return Dataset(
        name=name,
        train=make(X, y, order[n_val:]),
        val=make(X, y, order[:n_val]),
        test=make(X_test, y_test, torch.arange(len(y_test))),
        classes=classes,
        mean=mean,
        std=std,
        provenance=f"{title} via torchvision.datasets.{cls_name}",
        details=dict(limit=limit, seed=seed),
    )
