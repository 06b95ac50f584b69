"""Show the code of a labkit function in a lesson: the code that runs, so the lesson and the
package cannot drift apart.

Introduced in notebooks/02_hyperparameter_search.ipynb ("Bayesian optimization, one step at a
time"); every notebook that builds something from scratch shows it this way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from labkit._validate import check_callable


def source_of(fn: Callable) -> str:
    """The source code of ``fn``, without its docstring's lesson pointer.

    Lesson: notebooks/02_hyperparameter_search.ipynb, "Bayesian optimization, one step at a
    time".
    """
    check_callable("fn", fn, "a function or class")
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError) as err:
        raise TypeError(f"argument 'fn': no source code to show for {fn!r} ({err})") from None
    lines = [line for line in text.splitlines() if not line.strip().startswith("Lesson: ")]
    return "\n".join(lines)


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
