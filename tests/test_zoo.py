import shutil

import pytest
import torch

from labkit import zoo
from labkit.data import load_digits
from labkit.train import evaluate


def test_the_manifest_lists_every_recipe_and_its_files_verify():
    manifest = zoo.read_manifest()
    assert set(manifest["models"]) == set(zoo.RECIPES)
    for name, entry in manifest["models"].items():
        path = zoo.verify(name)
        assert path.stat().st_size == entry["bytes"]
        assert entry["built_with"]["command"] == "labkit zoo build"
        assert entry["dataset"] == zoo.recipe(name)["dataset"]
        assert entry["model"] == zoo.recipe(name)["model"]
        assert entry["train"] == zoo.recipe(name)["train"]


def test_loaded_checkpoints_score_what_the_manifest_says(data, digits):
    for name, test in [
        ("baseline", data.test),
        ("teacher", data.test),
        ("digits_baseline", digits.test),
        ("digits_teacher", digits.test),
    ]:
        entry = zoo.read_manifest()["models"][name]
        acc = evaluate(zoo.load_pretrained(name), test)
        assert (acc.correct, acc.total) == (
            entry["test_accuracy"]["correct"],
            entry["test_accuracy"]["total"],
        )


def test_the_running_baseline_and_teacher_are_trained_on_fashion_mnist():
    for name in ("baseline", "teacher"):
        assert zoo.recipe(name)["dataset"]["name"] == "fashion_mnist"
        assert zoo.load_training_data(name).train.X.shape[-2:] == (28, 28)


def test_the_teacher_is_larger_than_the_baseline():
    from labkit.measure import count_parameters

    assert count_parameters(zoo.load_pretrained("teacher")) > 5 * count_parameters(
        zoo.load_pretrained("baseline")
    )


@pytest.fixture
def zoo_copy(tmp_path):
    root = tmp_path / "zoo"
    shutil.copytree(zoo.zoo_dir(), root)
    return root


def test_an_altered_checkpoint_is_refused_with_the_fix(zoo_copy):
    path = zoo_copy / "baseline.pt"
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(zoo.ZooError, match="altered.*git checkout data/zoo"):
        zoo.load_pretrained("baseline", root=zoo_copy)


def test_a_missing_checkpoint_or_manifest_names_the_fix(zoo_copy):
    (zoo_copy / "teacher.pt").unlink()
    with pytest.raises(zoo.ZooError, match="missing.*labkit zoo build --only teacher"):
        zoo.load_pretrained("teacher", root=zoo_copy)
    (zoo_copy / "manifest.json").unlink()
    with pytest.raises(zoo.ZooError, match="manifest.json is missing"):
        zoo.load_pretrained("baseline", root=zoo_copy)


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="'name'"):
        zoo.load_pretrained("resnet50")
    with pytest.raises(ValueError, match="'names'"):
        zoo.build(names=["nope"])


def test_checkpoints_are_plain_tensors_loadable_with_weights_only():
    state = torch.load(zoo.verify("baseline"), weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_the_build_is_reproducible_and_matches_the_shipped_accuracy(tmp_path):
    # the digits checkpoint trains in seconds; the Fashion-MNIST ones take minutes (`make zoo`)
    name = "digits_baseline"
    first = zoo.build([name], root=tmp_path / "a", progress=False)["models"][name]
    second = zoo.build([name], root=tmp_path / "b", progress=False)["models"][name]
    assert first["sha256"] == second["sha256"]
    shipped = zoo.read_manifest()["models"][name]["test_accuracy"]
    assert abs(first["test_accuracy"]["correct"] - shipped["correct"]) <= 0.015 * shipped["total"]
    assert not list((tmp_path / "a").glob("tmp*"))  # no half-written leftovers
    assert len(load_digits().test) == first["test_accuracy"]["total"]
