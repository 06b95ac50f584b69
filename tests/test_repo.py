"""The repository's house rules: layout, notebooks, exercises, dependencies, lint."""

import importlib
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from labkit.nbrun import exercise_cells, list_notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = list_notebooks()
SKELETON = [
    "## Overview",
    "## Prerequisites",
    "## Imports",
    "## Exercises",
    "## Summary",
    "## What's next",
    "## Resources and references",
]


def test_the_layout_of_the_project_card():
    for name in (
        "README.md",
        "environment.yml",
        "notebooks",
        "labkit",
        "data",
        "tests",
        "binder",
        "pyproject.toml",
        "Makefile",
        ".ci/run",
        "data/README.md",
    ):
        assert (ROOT / name).exists(), name
    assert "make test" in (ROOT / ".ci/run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme


def test_there_are_notebooks_in_syllabus_order():
    names = [p.name for p in NOTEBOOKS]
    assert names[:2] == ["00_welcome.ipynb", "01_parameters_vs_hyperparameters.ipynb"]
    assert [n[:2] for n in names] == sorted(n[:2] for n in names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_match_their_sources(path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        py2nb = importlib.import_module("py2nb")
    finally:
        sys.path.pop(0)
    source = ROOT / "notebooks" / "src" / f"{path.stem}.py"
    assert source.exists(), f"{source} is missing"
    assert path.read_text() == py2nb.render(source), "run `make notebooks` after editing the source"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_follow_the_skeleton_and_house_rules(path):
    nb = nbformat.read(path, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert re.match(r"import labkit\n+(env = )?labkit\.setup\(", code[0]), "first cell: setup()"
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    positions = [markdown.find(h) for h in SKELETON]
    assert all(p >= 0 for p in positions), [
        h for h, p in zip(SKELETON, positions, strict=True) if p < 0
    ]
    assert positions == sorted(positions), "skeleton sections out of order"
    everything = "\n".join(code)
    assert ".cuda()" not in everything and "torch.ao.quantization" not in everything


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_question_has_one_exercise_cell_with_a_blank(path):
    nb = nbformat.read(path, as_version=4)
    lab = importlib.import_module(f"labkit.exercises.lab{path.name[:2]}")
    questions = sorted(n for n in vars(lab) if re.fullmatch(r"q\d+", n))
    cells = exercise_cells(nb)
    assert sorted(q for _, _, q in cells) == questions
    for index, module, _ in cells:
        assert module == f"lab{path.name[:2]}"
        assert "____" in nb.cells[index].source


def _names(requirements):
    return {
        re.split(r"[=<>!\s\[]", r.strip(), maxsplit=1)[0].lower()
        for r in requirements
        if isinstance(r, str) and not r.strip().startswith("-")
    }


def test_pyproject_and_both_environment_files_name_the_same_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"])
    local = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    pip_section = next(d["pip"] for d in local if isinstance(d, dict))
    assert _names(pip_section) == wanted
    binder = yaml.safe_load((ROOT / "binder/environment.yml").read_text())["dependencies"]
    conda_names = {"pytorch-cpu": "torch", "matplotlib-base": "matplotlib"}
    binder_pip = [r for d in binder if isinstance(d, dict) for r in d["pip"]]
    binder_conda = [d for d in binder if isinstance(d, str)]
    binder_names = {conda_names.get(n, n) for n in _names(binder_conda + binder_pip)}
    binder_names -= {"python", "pip"}
    assert binder_names == wanted


def test_torch_and_torchvision_are_pinned_everywhere():
    for path in ("pyproject.toml", "environment.yml", "requirements.lock"):
        text = (ROOT / path).read_text()
        assert "torch==2.14.1" in text and "torchvision==0.29.1" in text, path
    binder = (ROOT / "binder/environment.yml").read_text()
    assert "pytorch-cpu=2.14.1" in binder and "torchvision=0.29.1" in binder


def test_binder_scripts():
    post = (ROOT / "binder/postBuild").read_text().splitlines()
    assert post[0].startswith("#!") and post[1:] and "set -e" in post
    start = (ROOT / "binder/start").read_text().strip().splitlines()
    assert start[-1] == 'exec "$@"' and any("OMP_NUM_THREADS=1" in line for line in start)


def test_the_data_card_describes_every_shipped_file():
    card = (ROOT / "data/README.md").read_text()
    shipped = [
        p
        for p in (ROOT / "data").rglob("*")
        if p.is_file() and p.name != "README.md" and "downloads" not in p.parts
    ]
    for path in shipped:
        assert path.name in card, f"data/README.md does not describe {path.name}"
    assert "licen" in card.lower()


@pytest.mark.parametrize("args", [["check"], ["format", "--check"]])
def test_ruff_is_clean_on_the_package_tests_and_notebooks(args):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    done = subprocess.run(
        [ruff, *args, "labkit", "tests", "notebooks", "tools"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
