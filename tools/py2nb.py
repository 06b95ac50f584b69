"""Build notebooks/NN_*.ipynb from their sources in notebooks/src/NN_*.py (percent format).

The .py sources are what course developers edit and review; the notebooks are
generated, without outputs. `make notebooks` runs this; a test fails when a
notebook and its source disagree.

Cells start with a line `# %%` (code) or `# %% [markdown]`; markdown lines drop
their leading `# `. `# %% tags=["exercise"]` marks a cell whose answer the test
suite replaces with the question's reference solution.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def convert(text: str) -> nbformat.NotebookNode:
    cells, kind, lines, tags = [], None, [], []

    def flush() -> None:
        body = "\n".join(lines).strip("\n")
        if kind == "markdown":
            body = "\n".join(
                ln[2:] if ln.startswith("# ") else ln.lstrip("#") for ln in body.splitlines()
            )
            cells.append(nbformat.v4.new_markdown_cell(body))
        elif kind == "code" and body:
            cell = nbformat.v4.new_code_cell(body)
            if tags:
                cell.metadata["tags"] = tags
            cells.append(cell)

    for line in text.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
            tags = json.loads(line.split("tags=", 1)[1]) if "tags=" in line else []
        elif kind is not None:
            lines.append(line)
    flush()
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:03d}"  # stable ids keep regenerated notebooks byte-identical
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    return nb


def render(source: Path) -> str:
    return nbformat.writes(convert(source.read_text()), version=4) + "\n"


def main(argv: list[str]) -> int:
    sources = [Path(a) for a in argv] or sorted((ROOT / "notebooks" / "src").glob("*.py"))
    for src in sources:
        target = ROOT / "notebooks" / f"{src.stem}.ipynb"
        target.write_text(render(src))
        print(f"{src.relative_to(ROOT)} -> {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
