"""Show the code of a labkit function in a lesson: the code that runs, so the lesson and the
package cannot drift apart.

Introduced in notebooks/02_hyperparameter_search.ipynb ("Bayesian optimization, one step at a
time"); every notebook that builds something from scratch shows it this way.

Used by: ``labkit.show_source`` in the notebooks (given to them by labkit/__init__.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from labkit._validate import check_callable


def source_of(fn: Callable) -> str:
    """The source code of ``fn``, without its docstring's lesson pointer (the whole pointer,
    also when it is wrapped over several lines)."""
    check_callable("fn", fn, "a function or class")
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError) as err:
        raise TypeError(f"argument 'fn': no source code to show for {fn!r} ({err})") from None
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("Lesson: "):
            skipping = True
            if kept and not kept[-1].strip():
                kept.pop()  # the blank line that set the pointer apart
            if stripped.endswith('"""'):  # the pointer ends the docstring on its own line
                kept.append(line[: len(line) - len(line.lstrip())] + '"""')
                skipping = False
            continue
        if skipping:
            if not stripped:  # the pointer's paragraph ends at a blank line
                skipping = False
            elif stripped.startswith('"""'):  # or at the closing quotes
                skipping = False
            else:
                if stripped.endswith('"""'):  # a wrapped pointer's last line closes it
                    kept.append(line[: len(line) - len(line.lstrip())] + '"""')
                    skipping = False
                continue
        kept.append(line)
    return "\n".join(kept)


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
