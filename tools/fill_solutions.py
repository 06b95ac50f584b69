"""Write a copy of every notebook with its exercise cells holding the reference solutions, for
the test suite's nbval lane that runs them as another CPU would (`make slow`).

Usage: python tools/fill_solutions.py OUTPUT_FOLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from labkit.nbrun import fill_solutions, list_notebooks


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for path in list_notebooks():
        nbformat.write(fill_solutions(nbformat.read(path, as_version=4)), out / path.name)
        print(f"{path.name} -> {out / path.name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
