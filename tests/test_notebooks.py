"""Every notebook, with the reference solutions filled in, runs to the end with every
check passing (LABKIT_STRICT_CHECKS=1), within the memory budget.

(tests/test_browser.py separately runs the notebooks as learners get them, with blanks.)
The run times are printed as a table and written to build/timings.md.
"""

from pathlib import Path

import pytest

from labkit.nbrun import BUDGET_BYTES, fill_solutions, format_table, list_notebooks, run_notebook

pytestmark = pytest.mark.slow
RUNS = []


@pytest.mark.parametrize("path", list_notebooks(), ids=lambda p: p.name)
def test_notebook_with_solutions_passes_every_check(path, tmp_path):
    # An empty torch.compile cache: the first run on a fresh machine (C++ kernels built from
    # nothing) is the one that needs the most memory, and the one CI sees.
    env = {"LABKIT_STRICT_CHECKS": "1", "TORCHINDUCTOR_CACHE_DIR": str(tmp_path)}
    run = run_notebook(path, solutions=True, timeout=300, env=env)
    RUNS.append(run)
    assert run.error is None, run.error
    assert run.peak_bytes <= BUDGET_BYTES, f"peak memory {run.peak_bytes / 2**20:.0f} MB"


def test_filling_solutions_replaces_every_blank():
    import nbformat

    for path in list_notebooks():
        solved = fill_solutions(nbformat.read(path, as_version=4))
        tagged = [c for c in solved.cells if "exercise" in c.metadata.get("tags", [])]
        assert tagged and all("____" not in c.source for c in tagged)


def teardown_module():
    if RUNS:
        table = format_table(RUNS)
        out = Path(__file__).resolve().parents[1] / "build"
        out.mkdir(exist_ok=True)
        (out / "timings.md").write_text(table + "\n")
        print("\n" + table)
