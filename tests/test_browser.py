"""The course as a learner sees it: JupyterLab started as `make lab` starts it, in headless
Chromium, every notebook run through the UI as learners get it (blanks included).

Asserted per notebook: no error output, nothing on stderr (warnings a learner cannot act on),
no echoed True/False under an exercise, no dialog or pop-up, every widget view rendered, and
every widget answering one interaction. The server must refuse requests without its token.
Screenshots go to build/browser/ for a person to look at.

Without Chromium the notebooks still run as learners get them (through nbclient), and the
test says how to install the browser: `sudo apt-get install chromium` (Debian, Ubuntu).
"""

from __future__ import annotations

import warnings

import pytest
from lab_browser import (
    find_chromium,
    run_notebook_in_browser,
    running_lab,
    save_report,
    screenshot_cells,
)

from labkit.nbrun import list_notebooks, run_notebook

pytestmark = pytest.mark.slow
NOTEBOOKS = [p.name for p in list_notebooks()]
CHROMIUM = find_chromium()
INSTALL = (
    "Chromium is not installed, so the notebooks ran without a browser. To test them as a "
    "learner sees them: `sudo apt-get install chromium` (Debian, Ubuntu), or set "
    "LABKIT_CHROMIUM to a Chromium executable."
)
REPORTS = []


_SHOWS = "el => [...el.querySelectorAll('img')].map(i => i.src.slice(-200)).join() + el.innerText"


def changes_after(page, widget: str, action, done_text: str = "") -> None:
    """Do ``action`` on the widget found by ``widget`` (a Playwright selector) and wait until
    what it shows (its pictures and text) has changed, and holds ``done_text``."""
    element = page.locator(widget).first.element_handle(
        timeout=120_000
    )  # a busy machine renders late
    before = element.evaluate(_SHOWS)
    action(page.locator(widget).first)
    page.wait_for_function(
        f"([el, old, text]) => {{ const now = ({_SHOWS})(el);"
        " return now !== old && now.includes(text) && !now.includes('Training...'); }",
        arg=[element, before, done_text],
        timeout=120_000,
    )
    # Each key press redraws once; let the last redraw land before the screenshots are taken:
    # wait until what the widget shows holds still for a second and a half (at most a minute).
    shown = element.evaluate(_SHOWS)
    for _ in range(40):
        page.wait_for_timeout(1500)
        now = element.evaluate(_SHOWS)
        if now == shown:
            break
        shown = now


def _click_train(page):
    """Notebook 01's explorer: press Train; a new run is drawn and reported."""
    changes_after(
        page,
        ".jp-OutputArea-output:has(button:has-text('Train'))",
        lambda w: w.locator("button:has-text('Train')").click(),
        "validation",
    )


def _slide(label: str, key: str, presses: int = 3):
    """Move the slider named ``label`` with the keyboard, as a learner could."""

    def interact(page):
        def press(widget):
            handle = widget.locator(
                f".widget-slider:has(label:has-text('{label}')) .noUi-handle"
            ).first
            handle.focus()
            for _ in range(presses):
                handle.press(key)

        changes_after(page, f".jp-OutputArea-output:has(label:has-text('{label}'))", press)

    return interact


INTERACTIONS = {
    "01_parameters_vs_hyperparameters.ipynb": [_click_train],
    "02_hyperparameter_search.ipynb": [_slide("budget", "ArrowLeft")],
    "03_pruning.ipynb": [_slide("sparsity", "ArrowRight")],
    "04_quantization.ipynb": [_slide("bits", "ArrowLeft")],
    "05_mixed_precision.ipynb": [_slide("log2 of the loss scale", "ArrowRight")],
    "06_matrix_factorization.ipynb": [_slide("rank", "ArrowRight")],
    "07_knowledge_distillation.ipynb": [_slide("temperature", "ArrowRight")],
}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip(INSTALL)
    with running_lab(tmp_path_factory.mktemp("lab")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh tab per notebook, as a learner opening it from the file browser would see it."""
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    yield tab
    tab.close()


def test_the_server_refuses_requests_without_its_token(lab):
    assert lab.api("/api/contents", token=False) == 403
    assert lab.api("/api/contents") == 200


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_learner_runs_the_notebook_in_the_browser(name, lab, page):
    report = run_notebook_in_browser(page, lab, name)
    for interact in INTERACTIONS.get(name, []):
        interact(page)
    report.screenshots = screenshot_cells(page, name)
    REPORTS.append(report)
    save_report(REPORTS)
    assert not report.errors, report.errors
    assert not report.stderr, f"text on stderr a learner cannot act on: {report.stderr}"
    assert not report.echoed, f"True/False echoed under a cell: {report.echoed}"
    assert not report.dialogs, f"unexpected dialogs or pop-ups: {report.dialogs}"
    assert report.broken_widgets == 0


@pytest.mark.skipif(CHROMIUM is not None, reason="the browser run covers it")
@pytest.mark.parametrize("path", list_notebooks(), ids=lambda p: p.name)
def test_without_a_browser_the_notebook_runs_as_learners_get_it(path):
    warnings.warn(INSTALL, stacklevel=1)
    run = run_notebook(path, solutions=False, timeout=600)
    assert run.error is None, run.error
