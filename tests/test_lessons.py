"""What a new lesson folder must bring, checked for every lesson the package finds: the tests
that run its parts are not lists a contributor has to remember to extend, but checks that fail
with the one thing to add."""

import ast
import math
import re
from pathlib import Path

import pytest

from labkit import lessons

ROOT = Path(__file__).resolve().parents[1]
LESSONS = lessons.lessons()
TESTS = Path(__file__).resolve().parent


def _functions(test_file: str) -> set[str]:
    tree = ast.parse((TESTS / test_file).read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


def test_the_lessons_are_the_notebooks_01_to_07_at_least():
    assert [lesson.name for lesson in LESSONS][:7] == [
        "hparams",
        "search",
        "prune",
        "quantize",
        "precision",
        "factorize",
        "distill",
    ]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.name)
def test_a_lesson_names_a_notebook_that_exists(lesson):
    assert re.fullmatch(r"\d\d_\w+", lesson.notebook), f"NOTEBOOK = {lesson.notebook!r}"
    assert (ROOT / "notebooks" / f"{lesson.notebook}.ipynb").exists(), lesson.notebook
    assert (ROOT / "labkit" / "exercises" / f"lab{lesson.notebook[:2]}.py").exists()


def test_no_lesson_takes_the_name_of_a_command():
    own = set(re.findall(r'sub\.add_parser\(\s*"(\w[\w-]*)"', (ROOT / "labkit/cli.py").read_text()))
    assert {"doctor", "zoo", "bench", "tables", "reference", "timings"} <= own
    taken = own & {lesson.name for lesson in LESSONS}
    assert not taken, f"lessons named like a command of `labkit`: {taken}; rename the folder"


@pytest.mark.parametrize(
    "lesson", [x for x in LESSONS if x.has_bench], ids=lambda lesson: lesson.name
)
def test_a_lessons_benchmark_has_a_quick_test(lesson):
    assert f"test_bench_{lesson.name}_quick" in _functions("test_bench.py"), (
        f"add test_bench_{lesson.name}_quick to tests/test_bench.py: `make test` runs each "
        "benchmark in quick mode and checks its JSON"
    )
    module = (ROOT / "labkit" / lesson.name / "bench.py").read_text()
    assert "def run(" in module and "progress" in module  # the command passes progress=


@pytest.mark.parametrize(
    "lesson",
    [x for x in LESSONS if (ROOT / "labkit" / x.name / "widget.py").exists()],
    ids=lambda lesson: lesson.name,
)
def test_a_lessons_app_is_used_in_the_browser_test(lesson):
    source = (TESTS / "test_browser.py").read_text()
    assert f'"{lesson.notebook}.ipynb"' in source, (
        f"add {lesson.notebook}.ipynb to INTERACTIONS in tests/test_browser.py: one click or "
        "slide that must change the app's picture"
    )


@pytest.mark.parametrize("lesson", [x for x in LESSONS if x.has_table], ids=lambda x: x.name)
def test_a_stored_table_says_how_to_rebuild_it_and_how_long_that_takes(lesson):
    table = lesson.module("table")
    assert table.COMMAND == f"labkit {lesson.name} build-table"
    stored = table.load() if hasattr(table, "load") else None
    loaded = stored or next(
        getattr(table, n).load() for n in dir(table) if hasattr(getattr(table, n), "load")
    )
    assert math.ceil(loaded.meta["seconds"] / 60) == table.BUILD_MINUTES, (
        f"BUILD_MINUTES in labkit/{lesson.name}/table.py should be the stored table's "
        "meta.seconds in whole minutes, rounded up"
    )
    assert loaded.path.name in (ROOT / "data" / "README.md").read_text()
