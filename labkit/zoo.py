"""The model zoo: trained checkpoints the course starts from, verified before use.

Introduced in notebooks/00_welcome.ipynb. ``labkit zoo build`` retrains every
model reproducibly and rewrites data/zoo/manifest.json; ``load_pretrained(name)``
checks the file's sha256 against the manifest and loads it with
``torch.load(weights_only=True)`` (no arbitrary code runs while loading).

Used by: `labkit zoo build` and `labkit zoo verify` (labkit/cli.py), and
``labkit.load_pretrained`` in every notebook.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from labkit._validate import check_choice
from labkit.data import data_dir, load_digits, sha256_of
from labkit.env import seed_everything, versions
from labkit.fashion import load_fashion_mnist
from labkit.models import create_model
from labkit.train import evaluate, fit

# The data each checkpoint is trained on. Fashion-MNIST is the running data: all 55,000 of its
# training images. The digits (scikit-learn's 8x8 digits upscaled to 16x16, each training image
# with 3 augmented copies) are the second, smaller example: seconds-long demos, and the lessons
# not yet moved to Fashion-MNIST.
DATASETS: dict[str, dict] = {
    "fashion_mnist": dict(name="fashion_mnist", train_size=None, seed=0),
    "digits": dict(name="digits", image_size=16, augment_copies=3, seed=0),
}

# What each checkpoint is and how it is trained. Changing a line here means
# running `labkit zoo build` and committing data/zoo again.
RECIPES: dict[str, dict] = {
    "baseline": dict(
        description="the course's running example: a SmallCNN of width 16 on Fashion-MNIST",
        dataset="fashion_mnist",
        model=dict(width=16, kernel_size=3),
        train=dict(
            epochs=12, lr=3e-3, batch_size=128, optimizer="adam", schedule="onecycle", seed=0
        ),
    ),
    "teacher": dict(
        description="a larger SmallCNN (width 48) on Fashion-MNIST, for distillation and "
        "comparison",
        dataset="fashion_mnist",
        model=dict(width=48, kernel_size=3),
        train=dict(
            epochs=12, lr=2e-3, batch_size=128, optimizer="adam", schedule="onecycle", seed=1
        ),
    ),
    "digits_baseline": dict(
        description="a SmallCNN of width 16 on the digits (the smaller example)",
        dataset="digits",
        model=dict(width=16, kernel_size=3),
        train=dict(epochs=8, lr=3e-3, batch_size=64, optimizer="adam", seed=0),
    ),
    "digits_teacher": dict(
        description="a SmallCNN of width 48 on the digits (the smaller example)",
        dataset="digits",
        model=dict(width=48, kernel_size=3),
        train=dict(epochs=8, lr=2e-3, batch_size=64, optimizer="adam", seed=1),
    ),
}
MANIFEST = "manifest.json"


class ZooError(RuntimeError):
    """A checkpoint is missing, altered, or unknown; the message names the fix."""


def zoo_dir() -> Path:
    """Where the checkpoints and their manifest live (data/zoo)."""
    return data_dir() / "zoo"


def recipe(name: str = "baseline") -> dict:
    """How checkpoint ``name`` is built: its architecture arguments, its training
    hyperparameters and its data, as ``labkit zoo build`` uses them.

    Lesson: notebooks/01_parameters_vs_hyperparameters.ipynb, "Hyperparameters: what we chose".
    """
    check_choice("name", name, RECIPES)
    return {
        "model": dict(RECIPES[name]["model"]),
        "train": dict(RECIPES[name]["train"]),
        "dataset": dict(DATASETS[RECIPES[name]["dataset"]]),
    }


def load_training_data(name: str = "baseline"):
    """The dataset checkpoint ``name`` was trained on, built exactly as `labkit zoo build`
    builds it (same split, same normalization)."""
    check_choice("name", name, RECIPES)
    args = dict(DATASETS[RECIPES[name]["dataset"]])
    loader = load_fashion_mnist if args.pop("name") == "fashion_mnist" else load_digits
    return loader(**args)


def read_manifest(root: Path | None = None) -> dict:
    """The zoo's manifest: every checkpoint's file, fingerprint, recipe and accuracy."""
    path = Path(root or zoo_dir()) / MANIFEST
    fix = "Restore it with `git checkout data/zoo` or rebuild the zoo with `labkit zoo build`."
    if not path.exists():
        raise ZooError(f"{path} is missing. {fix}")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ZooError(f"{path} is not valid JSON ({err}): it was altered. {fix}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), dict):
        raise ZooError(f"{path} has no 'models' table: it was altered. {fix}")
    return manifest


def _train_one(name: str, data, progress: bool) -> tuple[nn.Module, dict]:
    recipe = RECIPES[name]
    seed_everything(recipe["train"]["seed"])
    net = create_model("small_cnn", seed=recipe["train"]["seed"], **recipe["model"])
    fit(net, data.train, data.val, progress=progress, desc=f"zoo: {name}", **recipe["train"])
    return net, {"val": evaluate(net, data.val), "test": evaluate(net, data.test)}


def build(names: list[str] | None = None, root: Path | None = None, progress: bool = True) -> dict:
    """Train the named checkpoints (default: all), save them and rewrite the manifest.

    Everything is written to a temporary folder first and moved into place at the
    end, so an interrupted build leaves the old zoo untouched.
    """
    names = list(RECIPES) if names is None else list(names)
    if not names:
        raise ValueError("argument 'names' is empty; give at least one of " + ", ".join(RECIPES))
    for n in names:
        check_choice("names", n, RECIPES)
    root = Path(root or zoo_dir())
    root.mkdir(parents=True, exist_ok=True)
    try:
        manifest = read_manifest(root)
    except ZooError:
        manifest = {"format": 2, "models": {}}
    loaded = {}  # each dataset built once, however many checkpoints train on it
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        entries = {}
        for name in names:
            dataset = RECIPES[name]["dataset"]
            if dataset not in loaded:
                loaded[dataset] = load_training_data(name)
            net, acc = _train_one(name, loaded[dataset], progress)
            path = Path(tmp) / f"{name}.pt"
            torch.save(net.state_dict(), path)
            v = versions()
            entries[name] = {
                "file": path.name,
                "sha256": sha256_of(path),
                "bytes": path.stat().st_size,
                "description": RECIPES[name]["description"],
                "arch": "small_cnn",
                "dataset": DATASETS[dataset],
                "model": RECIPES[name]["model"],
                "train": RECIPES[name]["train"],
                "val_accuracy": {"correct": acc["val"].correct, "total": acc["val"].total},
                "test_accuracy": {"correct": acc["test"].correct, "total": acc["test"].total},
                "built_with": {
                    "command": "labkit zoo build",
                    "torch": v["torch"],
                    "python": v["python"],
                },
            }
        for entry in entries.values():
            shutil.move(str(Path(tmp) / entry["file"]), root / entry["file"])
        manifest["format"] = 2
        manifest.pop("dataset", None)
        manifest["models"].update(entries)
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def verify(name: str, root: Path | None = None) -> Path:
    """Return the checkpoint's path if it exists and matches its manifest sha256."""
    root = Path(root or zoo_dir())
    manifest = read_manifest(root)
    check_choice("name", name, manifest["models"])
    entry = manifest["models"][name]
    if not isinstance(entry, dict) or not {"file", "sha256", "model", "arch"} <= set(entry):
        raise ZooError(
            f"the manifest's entry for {name!r} lacks file, sha256, arch or model: it was "
            "altered. Restore it with `git checkout data/zoo` or rebuild the zoo with "
            "`labkit zoo build`."
        )
    path = root / entry["file"]
    if not path.exists():
        raise ZooError(
            f"{path} is missing. Restore it with `git checkout data/zoo` or rebuild it "
            f"with `labkit zoo build --only {name}`."
        )
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise ZooError(
            f"{path} does not match its manifest (sha256 {actual[:12]}... instead of "
            f"{entry['sha256'][:12]}...): the file was altered. Restore it with "
            f"`git checkout data/zoo` or rebuild it with `labkit zoo build --only {name}`."
        )
    return path


def load_pretrained(name: str = "baseline", root: Path | None = None) -> nn.Module:
    """The trained model ``name`` from the zoo, verified, in eval mode.

    Lesson: notebooks/00_welcome.ipynb, "The model zoo".
    """
    if not isinstance(name, str):
        raise TypeError(
            f"argument 'name' must be a zoo model name such as 'baseline', got {name!r}"
        )
    path = verify(name, root)
    entry = read_manifest(root)["models"][name]
    net = create_model(entry["arch"], seed=None, **entry["model"])
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net.eval()
