"""show_source prints the code that runs, without the lesson pointer a docstring ends with."""

import ast
import textwrap

import pytest

from labkit import distill, search
from labkit.source import show_source, source_of


def _pointer_free(text: str) -> None:
    assert "Lesson:" not in text and "notebooks/" not in text
    ast.parse(textwrap.dedent(text))  # still valid Python


def test_a_wrapped_pointer_is_dropped_whole():
    text = source_of(distill.teacher_logits)  # its pointer wraps onto a second line
    _pointer_free(text)
    assert 'once".' not in text and "def teacher_logits(" in text and "torch.cat(" in text


def test_a_one_line_pointer_and_the_blank_line_before_it_go():
    text = source_of(search.expected_improvement)
    _pointer_free(text)
    lines = text.splitlines()
    closing = next(i for i, line in enumerate(lines) if i > 1 and line.strip().endswith('"""'))
    assert lines[closing - 1].strip(), "no blank line left before the closing quotes"


def test_classes_are_shown_whole_without_their_pointer():
    from labkit.precision import DynamicScaler

    text = source_of(DynamicScaler)
    _pointer_free(text)
    assert "def update(" in text and "class DynamicScaler" in text
    nested = source_of(_pointer_free)
    assert nested.startswith("def _pointer_free")


def test_show_source_prints_outside_jupyter(capsys):
    show_source(search.gp_posterior)
    out = capsys.readouterr().out
    assert "def gp_posterior(" in out and "Lesson:" not in out


def test_what_has_no_source_gets_a_clear_error():
    with pytest.raises(TypeError, match="argument 'fn'"):
        source_of(len)
    with pytest.raises(TypeError, match="argument 'fn'"):
        source_of("not a function")


def test_single_quoted_docstrings_and_text_after_the_pointer_are_kept(tmp_path, monkeypatch):
    import importlib
    import sys

    module = tmp_path / "sample_for_source.py"
    module.write_text(
        "def f(x):\n"
        "    '''Add one.\n\n"
        '    Lesson: notebooks/00_welcome.ipynb, "A section whose\n'
        '    title wraps".\n\n'
        "    A note after the pointer stays.\n"
        "    '''\n"
        "    return x + 1\n\n\n"
        "def g(x):\n"
        '    """Twice.\n\n'
        '    Lesson: notebooks/00_welcome.ipynb, "One line"."""\n'
        "    return 2 * x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sample = importlib.import_module("sample_for_source")
    try:
        f = source_of(sample.f)
        assert "return x + 1" in f and "A note after the pointer stays." in f
        assert "Lesson:" not in f and "title wraps" not in f
        g = source_of(sample.g)
        assert "Lesson:" not in g and "return 2 * x" in g and g.count('"""') == 2
        ast.parse(textwrap.dedent(f))
        ast.parse(textwrap.dedent(g))
    finally:
        sys.modules.pop("sample_for_source", None)
