"""Run the course in JupyterLab in a real browser (headless Chromium driven by Playwright), as a
learner would: the server started as `make lab` starts it, each notebook opened and run through
the UI, its outputs and widgets checked, screenshots kept in build/browser/ for a person.

Used by tests/test_browser.py. Chromium is Debian's package (`apt-get install chromium`);
Playwright drives that executable, so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "browser"
NEWS = "Would you like to get notified about official Jupyter news?"


def find_chromium() -> str | None:
    """Debian's Chromium (or LABKIT_CHROMIUM), if installed."""
    for name in (os.environ.get("LABKIT_CHROMIUM"), "chromium", "chromium-browser"):
        if name and (path := shutil.which(name)):
            return path
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def api(self, path: str, token: bool = True) -> int:
        """HTTP status of a GET on the server's API, with or without the token."""
        sep = "&" if "?" in path else "?"
        url = f"{self.url}{path}" + (f"{sep}token={self.token}" if token else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code
        except urllib.error.URLError:
            return 0  # not listening (yet)


@contextmanager
def running_lab(workdir: Path):
    """JupyterLab as `make lab` starts it (127.0.0.1 only, a token), serving a copy of the
    notebooks in ``workdir`` (a run saves outputs into the files it opens: never the repo's)."""
    shutil.copytree(ROOT / "notebooks", workdir / "notebooks", ignore=shutil.ignore_patterns("src"))
    token, port = secrets.token_hex(16), _free_port()
    bindir = Path(sys.executable).parent
    log = workdir / "jupyter.log"
    args = [
        str(bindir / "jupyter"),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={workdir / 'notebooks'}",
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")  # as `make lab` adds when run as root
    # A user setting for the test only: render every cell (JupyterLab renders only the cells in
    # view by default), so that the test can read every output. What is shown is the same.
    user = workdir / "user-settings" / "@jupyterlab" / "notebook-extension"
    user.mkdir(parents=True)
    (user / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    # The tests' own MPLBACKEND=Agg (conftest.py) would leave every figure undrawn in the lab.
    env = {
        **{k: v for k, v in os.environ.items() if k != "MPLBACKEND"},
        "LABKIT_STRICT_CHECKS": "0",
        "JUPYTERLAB_SETTINGS_DIR": str(workdir / "user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "workspaces"),
    }
    with open(log, "w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    lab = Lab(f"http://127.0.0.1:{port}", token, workdir / "notebooks", process, log)
    try:
        deadline = time.time() + 60
        while lab.api("/api/status") != 200:
            if time.time() > deadline or process.poll() is not None:
                raise RuntimeError(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield lab
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class NotebookReport:
    """What the browser showed after running every cell of one notebook."""

    name: str
    seconds: float
    errors: list[str] = field(default_factory=list)  # error outputs (tracebacks)
    stderr: list[str] = field(default_factory=list)  # text written to stderr (warnings)
    echoed: list[str] = field(default_factory=list)  # Out[n]: True/False under a cell
    dialogs: list[str] = field(default_factory=list)  # dialogs or pop-ups that appeared
    broken_widgets: int = 0  # widget views that failed to render
    widgets: int = 0
    screenshots: list[Path] = field(default_factory=list)


_READ_OUTPUTS = """() => {
  const out = {errors: [], stderr: [], echoed: [], widgets: 0, broken: 0};
  for (const area of document.querySelectorAll('.jp-OutputArea-output')) {
    const mime = area.getAttribute('data-mime-type') || '';
    const text = area.innerText.trim();
    if (mime === 'application/vnd.jupyter.stderr') {
      (text.includes('Traceback') || text.includes('Error') ? out.errors : out.stderr).push(text.slice(0, 400));
    }
  }
  for (const child of document.querySelectorAll('.jp-OutputArea-child')) {
    const prompt = child.querySelector('.jp-OutputPrompt');
    const body = child.querySelector('.jp-OutputArea-output');
    if (prompt && prompt.innerText.trim().startsWith('[') && body) {
      const text = body.innerText.trim();
      if (text === 'True' || text === 'False') out.echoed.push(text);
    }
  }
  out.widgets = document.querySelectorAll('.jupyter-widgets').length;
  for (const w of document.querySelectorAll('.jp-OutputArea-output')) {
    if (w.innerText.includes('Error displaying widget') || w.innerText.includes('Loading widget')) out.broken += 1;
  }
  return out;
}"""


def run_notebook_in_browser(page, lab: Lab, name: str, timeout_s: float = 300) -> NotebookReport:
    """Open ``name`` in JupyterLab, run every cell from the Run menu, wait until the kernel is
    done, and read what the page shows."""
    page.goto(
        f"{lab.url}/lab/tree/{name}?reset&token={lab.token}"
    )  # reset: only this notebook open
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
    # The kernel must be connected before the cells are sent, or they are silently dropped.
    page.wait_for_selector(".jp-StatusBar-TextItem:has-text('| Idle')", timeout=120_000)
    start = time.time()
    page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
    page.click("li.lm-Menu-item[data-command='runmenu:run-all']")
    # Done when every code cell shows its execution count (a cell that raised stops the run:
    # then the kernel is idle with cells left unrun, which the wait also ends on).
    try:
        _wait_until_done(page, timeout_s)
    except Exception:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{Path(name).stem}-TIMEOUT.png"))
        raise
    seconds = time.time() - start
    found = page.evaluate(_READ_OUTPUTS)
    report = NotebookReport(name, seconds, found["errors"], found["stderr"], found["echoed"])
    report.widgets, report.broken_widgets = found["widgets"], found["broken"]
    for selector in (".jp-Dialog", ".jp-Notification-Toast"):
        for element in page.query_selector_all(selector):
            report.dialogs.append(element.inner_text()[:200])
    if NEWS in page.content():
        report.dialogs.append(NEWS)
    return report


def _wait_until_done(page, timeout_s: float) -> None:
    page.wait_for_function(
        """() => {
          const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
          const idle = document.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']");
          const done = prompts.every(p => /\\[\\d+\\]/.test(p.innerText));
          const stopped = [...document.querySelectorAll('.jp-OutputArea-output')].some(
            o => o.innerText.includes('Traceback'));
          return idle && prompts.length && (done || stopped);
        }""",
        timeout=timeout_s * 1000,
        polling=1000,
    )


def screenshot_cells(page, name: str, limit: int = 40) -> list[Path]:
    """Screenshots for a person to look at: the window as the learner first sees it, then every
    output that holds a picture or a widget, each as its own image:
    build/browser/<notebook>-<k>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    stem = Path(name).stem
    for old in SHOTS.glob(f"{stem}-*.png"):
        old.unlink()
    page.query_selector(".jp-Notebook .jp-Cell").scroll_into_view_if_needed()
    paths = [SHOTS / f"{stem}-00.png"]
    page.screenshot(path=str(paths[0]))
    # A tall window, so that a tall output fits in view whole (not cut by the status bar).
    page.set_viewport_size({"width": 1280, "height": 2400})
    areas = [
        a
        for a in page.query_selector_all(".jp-Cell-outputArea")
        if a.query_selector("img, .jupyter-widgets")
    ]
    for k, area in enumerate(areas[:limit], start=1):
        area.scroll_into_view_if_needed()
        path = SHOTS / f"{stem}-{k:02d}.png"
        area.screenshot(path=str(path))
        paths.append(path)
    return paths


def save_report(reports: list[NotebookReport]) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / "report.json"
    rows = [{**r.__dict__, "screenshots": [str(p) for p in r.screenshots]} for r in reports]
    path.write_text(json.dumps(rows, indent=1))
    return path
