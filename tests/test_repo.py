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


# ----------------------------------------------------------------- lessons and helpers

LABKIT = ROOT / "labkit"
LESSON = re.compile(r'Lesson: notebooks/(\d\d_\w+\.ipynb), "([^"]+)"')
MAX_LINES = 460  # "about 450": a module readable in a sitting


def _headings(path: Path) -> set[str]:
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return set(re.findall(r"^#{1,4} (.+?)\s*$", text, re.M))


def _public_definitions():
    import ast

    for path in sorted(LABKIT.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                yield (
                    path.relative_to(ROOT),
                    node.name,
                    " ".join((ast.get_docstring(node) or "").split()),
                )


def _module_doc(path: Path) -> str:
    import ast

    return " ".join((ast.get_docstring(ast.parse(path.read_text())) or "").split())


def _notebook_source(notebook: str) -> str:
    return (ROOT / "notebooks" / "src" / notebook.replace(".ipynb", ".py")).read_text()


def _code_names(notebook: str) -> set[str]:
    """Every name the notebook's code uses: names, attributes, imported names (the source is
    Python with the markdown as comments, so prose and strings never count)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(_notebook_source(notebook))):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.name for a in node.names)
    return names


def _shown(notebook: str) -> set[str]:
    """The names the notebook's code prints with show_source(...)."""
    import ast

    shown = set()
    for node in ast.walk(ast.parse(_notebook_source(notebook))):
        called = getattr(node, "func", None)
        if (
            isinstance(node, ast.Call)
            and node.args
            and "show_source"
            in (
                getattr(called, "attr", None),
                getattr(called, "id", None),
            )
        ):
            arg = node.args[0]
            shown.add(arg.attr if isinstance(arg, ast.Attribute) else getattr(arg, "id", ""))
    return shown


def test_every_public_definition_points_back_to_where_it_is_used_and_the_pointer_is_true():
    """A public definition names the notebook section that teaches it, and that notebook really
    uses it; or its module says once, in its docstring, who uses it ("Used by: ..."). No
    definition carries a "Used by:" line of its own (one sentence per module, not stamped)."""
    headings = {p.name: _headings(p) for p in NOTEBOOKS}
    problems = []
    for path, name, doc in _public_definitions():
        if "Used by:" in doc:
            problems.append(
                f"{path}:{name} has its own 'Used by:' line; say it once, in the module"
            )
        found = LESSON.search(doc)
        if found:
            notebook, section = found.groups()
            if section not in headings.get(notebook, set()):
                problems.append(
                    f"{path}:{name} points to a missing section: {notebook} / {section}"
                )
            elif name not in _code_names(notebook):
                problems.append(f"{path}:{name} points to {notebook}, whose code never uses it")
        elif "Used by:" not in _module_doc(ROOT / path):
            problems.append(f"{path}:{name} names no lesson, and its module names no user")
    assert not problems, "\n".join(problems)


USED_BY = re.compile(r"Used by:(.*?)(?:\.\s|\.$|$)")


def test_a_modules_used_by_sentence_names_modules_that_really_use_it():
    problems = []
    for path in sorted(LABKIT.rglob("*.py")):
        found = USED_BY.search(_module_doc(path))
        if not found:
            continue
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        users = re.sub(r"``[^`]*``|`[^`]*`", "", found.group(1))  # code names, not modules
        for user in re.findall(r"(?:labkit|tests|tools)[./][\w./]*\w", users):
            file = ROOT / (user if user.endswith(".py") else user.replace(".", "/") + ".py")
            if not file.exists():
                file = file.with_suffix("") / "__init__.py"
            if not file.exists():
                problems.append(f"{path.relative_to(ROOT)} names {user}, which does not exist")
                continue
            text = file.read_text()
            parent, _, leaf = dotted.rpartition(".")
            if (
                file.resolve() != path.resolve()
                and dotted not in text
                and (f"from {parent} import" not in text or not re.search(rf"\b{leaf}\b", text))
            ):
                problems.append(f"{path.relative_to(ROOT)} names {user}, which never imports it")
    assert not problems, "\n".join(problems)


def test_from_scratch_code_is_shown_where_it_is_taught():
    """A definition whose docstring says "From scratch" is printed in its lesson's notebook with
    labkit.show_source, so the learner reads the code that runs."""
    problems = []
    for path, name, doc in _public_definitions():
        found = LESSON.search(doc)
        claim = LESSON.sub("", doc).lower()  # a section may be called "..., from scratch"
        if "from scratch" in claim and found:
            if name not in _shown(found.group(1)):
                problems.append(
                    f"{path}:{name} is from scratch but {found.group(1)} never shows it"
                )
        elif "from scratch" in claim:
            problems.append(f"{path}:{name} says 'from scratch' but names no lesson to show it in")
    assert not problems, "\n".join(problems)


def test_every_public_method_has_a_docstring():
    import ast

    missing = []
    for path in sorted(LABKIT.rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                for item in node.body:
                    if (
                        isinstance(item, ast.FunctionDef)
                        and not item.name.startswith("_")
                        and not ast.get_docstring(item)
                    ):
                        missing.append(f"{path.relative_to(ROOT)}:{node.name}.{item.name}")
    assert not missing, "public methods without a docstring:\n" + "\n".join(missing)


def test_modules_stay_readable_in_a_sitting():
    for path in LABKIT.rglob("*.py"):
        lines = path.read_text().splitlines()
        if len(lines) > MAX_LINES:
            assert "Why this module is long:" in "\n".join(lines[:30]), (
                f"{path}: {len(lines)} lines"
            )


def _internal_imports() -> dict[str, set[str]]:
    """labkit module -> the labkit modules it imports at its top level."""
    import ast

    graph = {}
    for path in LABKIT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.parse(path.read_text()).body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("labkit")
            ):
                if node.module != "labkit":  # `from labkit import plots` depends on plots only
                    deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):  # `import labkit.cli` depends on labkit.cli
                deps.update(a.name for a in node.names if a.name.startswith("labkit."))
        graph[name] = deps
    return {k: {d for d in v if d in graph and d != k} for k, v in graph.items()}


def test_labkit_has_no_import_cycle():
    graph = _internal_imports()
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*stack, node, dep]))
            if dep not in state:
                visit(dep, [*stack, node])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [])


# The tooling: the command, running notebooks, finding the lessons' parts. A new tool (a
# grader, say) joins this set; CONTRIBUTING.md, "Layout", says so.
TOOLING = {"labkit.cli", "labkit.nbrun", "labkit.lessons"}
COMBINERS = {"labkit.compress": 6.5}  # composes 03, 04 and 06; composed by 07 and 08


def _layer(module: str, numbers: dict[str, int]) -> tuple[str, float]:
    """(layer, syllabus place) of a labkit module."""
    parts = module.split(".")
    if module in TOOLING:
        return "tooling", 99
    if module in COMBINERS:
        return "lesson", COMBINERS[module]
    if len(parts) > 1 and parts[1] in numbers:
        return "lesson", numbers[parts[1]]
    if len(parts) > 1 and parts[1] == "bench":
        return "harness", 0
    if len(parts) > 1 and parts[1] == "exercises":
        return "exercises", 50
    return "core", 0


def test_the_layers_hold_core_lessons_harness_exercises_tooling():
    """The shared core never imports a lesson; a lesson imports the core and earlier lessons
    (and only its benchmark imports the benchmark harness); nothing but tooling imports
    tooling."""
    from labkit.lessons import lessons

    numbers = {lesson.name: lesson.number for lesson in lessons()}
    broken = []
    for module, deps in _internal_imports().items():
        layer, place = _layer(module, numbers)
        for dep in deps:
            dep_layer, dep_place = _layer(dep, numbers)
            same_package = module.split(".")[:2] == dep.split(".")[:2]
            allowed = {
                "core": dep_layer == "core",
                "harness": dep_layer in ("core", "harness"),
                "lesson": dep_layer == "core"
                or (dep_layer == "lesson" and (same_package or dep_place < place))
                or (dep_layer == "harness" and module.endswith(".bench")),
                "exercises": dep_layer != "tooling",
                "tooling": True,
            }[layer]
            if not allowed:
                broken.append(f"{module} ({layer}) imports {dep} ({dep_layer})")
    assert not broken, "\n".join(broken)


def test_import_labkit_loads_the_shared_core_only():
    code = "import labkit, sys; print(' '.join(m for m in sys.modules if m.startswith('labkit')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    from labkit.lessons import lessons

    numbers = {lesson.name: lesson.number for lesson in lessons()}
    loaded = done.stdout.split()
    assert [m for m in loaded if _layer(m, numbers)[0] != "core"] == [], loaded
    assert len(loaded) <= 20, f"import labkit loads {len(loaded)} modules: {loaded}"


def test_labkit_imports_its_own_modules_at_the_top():
    import ast

    hidden = []
    for path in LABKIT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_solution"):
                for inner in ast.walk(node):
                    names = (
                        [inner.module or ""]
                        if isinstance(inner, ast.ImportFrom)
                        else [a.name for a in inner.names]
                        if isinstance(inner, ast.Import)
                        else []
                    )
                    if any(n.split(".")[0] == "labkit" for n in names):
                        hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno} in {node.name}")
    assert not hidden, "imports of labkit inside functions:\n" + "\n".join(hidden)


# ----------------------------------------------------------------- links

LINK = re.compile(r"\]\(([^)\s]+)\)")


def _markdown_sources():
    yield ROOT / "README.md", (ROOT / "README.md").read_text()
    yield ROOT / "CONTRIBUTING.md", (ROOT / "CONTRIBUTING.md").read_text()
    yield ROOT / "data/README.md", (ROOT / "data/README.md").read_text()
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        yield path, "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading).strip().replace(" ", "-")


def test_every_link_to_a_file_or_section_of_the_course_exists():
    broken = []
    for path, text in _markdown_sources():
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):  # http(s), mailto: not checked offline
                continue
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file) if file else path
            if not resolved.exists():
                broken.append(f"{path.name}: {target} (no such file)")
            elif anchor and resolved.suffix == ".ipynb":
                if anchor not in {_anchor(h) for h in _headings(resolved)}:
                    broken.append(f"{path.name}: {target} (no such section)")
    assert not broken, "\n".join(broken)


def test_the_contributor_guide_exists_and_pyproject_cites_it():
    guide = ROOT / "CONTRIBUTING.md"
    assert guide.exists()
    assert "CONTRIBUTING.md" in (ROOT / "pyproject.toml").read_text()
    text = guide.read_text()
    for word in ("Glossary", "Exercises", "Benchmarks", "make unit"):
        assert word in text, word


def test_the_syllabus_links_what_exists_and_marks_what_is_coming():
    nb = nbformat.read(ROOT / "notebooks/00_welcome.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    rows = re.findall(r"^\| (0\d) \| (.+)$", text, re.M)
    assert [n for n, _ in rows] == [f"0{i}" for i in range(9)]
    existing = {p.name[:2]: p.name for p in NOTEBOOKS}
    for number, row in rows[1:]:
        if number in existing:
            assert f"({existing[number]})" in row, f"syllabus row {number} should link its notebook"
        else:
            assert "(coming)" in row, f"syllabus row {number} should say it is coming"
