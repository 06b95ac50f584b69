"""Show the code of a labkit function in a lesson: the code that runs, so the lesson and the
package cannot drift apart.

Introduced in notebooks/02_hyperparameter_search.ipynb ("Bayesian optimization, one step at a
time"); every notebook that builds something from scratch shows it this way.

Used by: ``labkit.show_source`` in the notebooks (given to them by labkit/__init__.py).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable

from labkit._validate import check_callable


def source_of(fn: Callable) -> str:
    """The source code of ``fn``, without its docstring's lesson pointer: the paragraph that
    starts with "Lesson: ", also when it wraps over several lines (the docstring is found with
    ``ast``, so quotes of either kind and the code around it are left alone)."""
    check_callable("fn", fn, "a function or class")
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError) as err:
        raise TypeError(f"argument 'fn': no source code to show for {fn!r} ({err})") from None
    lines = text.splitlines()
    node = ast.parse(textwrap.dedent(text)).body[0]
    body = getattr(node, "body", [])
    if not body or not isinstance(body[0], ast.Expr) or not isinstance(body[0].value, ast.Constant):
        return text.rstrip("\n")
    first, last = body[0].lineno - 1, body[0].end_lineno - 1  # the docstring's lines
    start = next((i for i in range(first, last + 1) if _pointer(lines[i], i == first)), None)
    if start is None:
        return text.rstrip("\n")
    end = start  # the pointer's paragraph: up to a blank line or the docstring's end
    while (
        end + 1 <= last
        and lines[end + 1].strip()
        and not lines[end + 1].strip().startswith(('"""', "'''"))
    ):
        end += 1
    closing = lines[end].rstrip()
    quotes = closing[-3:] if closing.endswith(('"""', "'''")) else ""
    kept = lines[:start]
    if quotes:  # the pointer's last line also closed the docstring: keep the quotes
        while kept and not kept[-1].strip():
            kept.pop()  # the blank line that set the pointer apart
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        kept.append(indent + quotes)
    elif end + 1 <= last and lines[end + 1].strip().startswith(('"""', "'''")):
        while kept and not kept[-1].strip():
            kept.pop()
    return "\n".join(kept + lines[end + 1 :])


def _pointer(line: str, first_line: bool) -> bool:
    stripped = line.strip().lstrip("\"'")
    return stripped.startswith("Lesson: ") and not first_line


def show_source(fn: Callable) -> None:
    """Print the source code of ``fn`` (with colours in Jupyter).

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Bayesian optimization, one step at a
    time".
    """
    text = source_of(fn)
    try:
        from IPython import get_ipython
        from IPython.display import Code, display

        if get_ipython() is not None:
            display(Code(text, language="python"))
            return
    except ImportError:
        pass
    print(text)
