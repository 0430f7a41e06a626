"""The explorers in a real browser: JupyterLab driven by headless Chromium (Playwright).

Each test copies a notebook into a temporary JupyterLab root (the repository's
files are never modified), runs all its cells, finds an explorer by its CSS
class, changes a control with the mouse or keyboard, and checks that the
picture was redrawn. Screenshots go to ``artifacts/screenshots/``.

Needs the Debian ``chromium`` package. Without it the tests are skipped, unless
the environment variable ``CI`` is set, in which case they fail.
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
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SCRATCH = ROOT / "tests" / "browser" / "explorers.py"
SHOTS = ROOT / "artifacts" / "screenshots"
SERVER_START_S = 90
RUN_ALL_S = float(os.environ.get("GLM_BROWSER_RUN_ALL_S", "420"))  # a whole notebook, on a busy CPU
REDRAW_S = 60
# JupyterLab settings for the test server: no autosave, no news or update checks
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
    # render every cell, so outputs far down the notebook are in the page
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _jupyter() -> list[str]:
    return [sys.executable, "-m", "jupyter"]


class Lab:
    """A JupyterLab server on 127.0.0.1 with a temporary root directory."""

    def __init__(self, root: Path, settings_dir: Path, log: Path) -> None:
        self.root, self.port, self.token = root, _free_port(), secrets.token_hex(16)
        env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
               "JUPYTERLAB_WORKSPACES_DIR": str(settings_dir / "workspaces"),
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            _jupyter() + ["lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                          f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
                          "--ServerApp.port_retries=0", "--LabApp.news_url=",
                          "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                          "--LabApp.extension_manager=readonly"]
            + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            cwd=root, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def url(self, path: str, query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}{query}"

    def wait_ready(self, timeout: float = SERVER_START_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.proc.returncode}; see {self._log.name}")
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"jupyter lab did not answer within {timeout:.0f} s; see {self._log.name}")

    def stop(self) -> None:
        """Terminate the server and its kernels (its own process group), then kill if needed."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log.close()


@pytest.fixture(scope="module")
def lab(chromium, sync_playwright_cls, tmp_path_factory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab-root")
    settings = tmp_path_factory.mktemp("lab-settings")
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    server = Lab(root, settings, tmp_path_factory.mktemp("lab-log") / "jupyter.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def install_notebook(source: Path, lab: Lab) -> str:
    """Copy (or convert from its jupytext .py pair) a notebook into the server's root."""
    target = lab.root / (source.stem + ".ipynb")
    ipynb = source.with_suffix(".ipynb")
    if ipynb.exists():
        shutil.copy(ipynb, target)
    elif source.with_suffix(".py").exists():
        subprocess.run([sys.executable, "-m", "jupytext", "--to", "ipynb", "-o", str(target),
                        str(source.with_suffix(".py"))], check=True, capture_output=True, timeout=60)
    else:
        pytest.fail(f"notebook {source} not found (neither .ipynb nor .py)")
    return target.name


def open_and_run_all(browser, lab: Lab, notebook: str, explorer_class: str, viewport: dict | None = None):
    """Open ``notebook`` in JupyterLab, run all cells, return (page, explorer locator, external requests).

    ``viewport`` is the window's size (default 1400x1800: tall, so a whole explorer is in view).
    """
    context = browser.new_context(viewport=viewport or {"width": 1400, "height": 1800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    external: list[str] = []

    def offline_only(route):
        url = route.request.url
        if url.startswith(f"http://127.0.0.1:{lab.port}/") or url.startswith(("data:", "blob:")):
            route.continue_()
        else:  # the course must work offline: record and refuse anything else
            external.append(url)
            route.abort()

    page.route("**/*", offline_only)
    try:
        # a fresh workspace per notebook, so no tab of an earlier test is restored
        workspace = f"lab/workspaces/{Path(notebook).stem.replace('_', '-')}/tree/{notebook}"
        page.goto(lab.url(workspace, "&reset"), wait_until="domcontentloaded", timeout=90_000)
        page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=120_000)
        run_all_cells(page)
        explorer = page.locator(f".{explorer_class}").first
        explorer.locator("img").first.wait_for(state="visible", timeout=RUN_ALL_S * 1000)
        # widget messages wait behind running cells: let the whole notebook finish first
        page.wait_for_function(
            "() => ![...document.querySelectorAll('.jp-InputArea-prompt')]"
            ".some(e => e.textContent.includes('*'))", timeout=RUN_ALL_S * 1000, polling=1000)
        page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=RUN_ALL_S * 1000)
        explorer.scroll_into_view_if_needed()
        page.wait_for_function("el => el.querySelector('img') && el.querySelector('img').naturalWidth > 100",
                               arg=explorer.element_handle(), timeout=60_000)  # the first picture is drawn
    except Exception:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"FAILED_{Path(notebook).stem}.png"), timeout=30_000)
        context.close()
        raise
    return context, page, explorer, external


def run_all_cells(page, attempts: int = 3) -> None:
    """Menu Run > Run All Cells, once the kernel is idle; retried if no cell starts running."""
    started = ("() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
               ".some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))")
    for _ in range(attempts):
        # the kernel must be up before "Run All Cells", or the command does nothing
        page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=120_000)
        page.locator(".jp-NotebookPanel .jp-Cell").first.click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(started, timeout=30_000, polling=500)
            return
        except Exception:
            page.keyboard.press("Escape")
    raise AssertionError(f"Run All Cells did not start any cell after {attempts} attempts")


def image_src(explorer) -> str:
    return explorer.locator("img").first.get_attribute("src") or ""


def wait_for_new_image(page, explorer, old_src: str) -> str:
    deadline = time.monotonic() + REDRAW_S
    while time.monotonic() < deadline:
        src = image_src(explorer)
        if src and src != old_src:
            return src
        page.wait_for_timeout(200)
    raise AssertionError(f"the picture was not redrawn within {REDRAW_S} s")


def settle(page, explorer, quiet_s: float = 1.5) -> str:
    """Wait until the kernel is idle and the picture has stopped changing (queued redraws done)."""
    page.locator(".jp-StatusBar-Widget", has_text="Idle").first.wait_for(timeout=REDRAW_S * 1000)
    deadline = time.monotonic() + REDRAW_S
    src, since = image_src(explorer), time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        now = image_src(explorer)
        if now != src:
            src, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return src
    raise AssertionError(f"the picture kept changing for {REDRAW_S} s")


def image_loaded(explorer) -> bool:
    return explorer.locator("img").first.evaluate("img => img.complete && img.naturalWidth > 100")


def shot(explorer, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    explorer.screenshot(path=str(path), timeout=30_000)
    return path


def drag_slider(page, slider, fraction: float) -> None:
    """Drag a slider's handle to ``fraction`` of its track, like a user with a mouse."""
    track = slider.locator(".noUi-target, .slider-container").first
    handle = slider.locator(".noUi-handle").first
    box, hbox = track.bounding_box(), handle.bounding_box()
    y = hbox["y"] + hbox["height"] / 2
    page.mouse.move(hbox["x"] + hbox["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fraction, y, steps=8)
    page.mouse.up()


def notebook_source(name: str) -> Path:
    """The course notebook ``name``; ``GLM_BROWSER_SCRATCH=1`` uses tests/browser/explorers.py instead."""
    return SCRATCH if os.environ.get("GLM_BROWSER_SCRATCH") else NOTEBOOKS / name


def test_sampling_explorer_redraws_when_temperature_moves(browser, lab):
    notebook = install_notebook(notebook_source("07_generation_and_sampling"), lab)
    context, page, ex, external = open_and_run_all(browser, lab, notebook, "glm-sampling-explorer")
    try:
        shot(ex, "sampling_explorer_before.png")
        before_src, before_text = image_src(ex), ex.inner_text()
        temperature = ex.locator(".widget-slider").filter(has_text="temperature").first
        old_value = temperature.locator(".widget-readout").inner_text()
        drag_slider(page, temperature, 0.2)
        wait_for_new_image(page, ex, before_src)
        new_src = settle(page, ex)
        new_value = temperature.locator(".widget-readout").inner_text()
        assert new_value != old_value and float(new_value) < float(old_value)
        assert ex.inner_text() != before_text  # the entropy / kept readout changed too
        assert image_loaded(ex)
        shot(ex, "sampling_explorer_after_temperature.png")
        assert new_src.startswith("blob:") or new_src.startswith("data:image/png")
        assert not external, f"the page tried to reach the network: {external[:5]}"
    finally:
        context.close()


def test_attention_explorer_redraws_when_head_changes(browser, lab):
    notebook = install_notebook(notebook_source("04_attention"), lab)
    context, page, ex, external = open_and_run_all(browser, lab, notebook, "glm-attention-explorer")
    try:
        shot(ex, "attention_explorer_before.png")
        src = image_src(ex)
        selects = ex.locator("select")
        selects.nth(0).select_option(label="1")  # layer
        src = wait_for_new_image(page, ex, src)
        selects.nth(1).select_option(label="head 2")
        wait_for_new_image(page, ex, src)
        src = settle(page, ex)
        assert "layer 1, head 2" in ex.inner_text()
        shot(ex, "attention_explorer_layer1_head2.png")
        selects.nth(1).select_option(label="all heads")
        wait_for_new_image(page, ex, src)
        settle(page, ex)
        assert image_loaded(ex)
        shot(ex, "attention_explorer_all_heads.png")
        assert not external, f"the page tried to reach the network: {external[:5]}"
    finally:
        context.close()
