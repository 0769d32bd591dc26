"""Widgets in a real browser: JupyterLab + Chromium driven by Playwright (issue 17, part 1).

nbval only executes the cells; there an ipywidgets object is a model with no view, so a widget
that fails to render in JupyterLab (a missing front-end extension, a view error, a text
fallback) passes it. This test opens each notebook that uses ipywidgets in a headless
JupyterLab, runs all cells under the notebook's default (quick) preset, checks that the widgets
render as widgets, moves a control twice and checks that the output the control drives changed
each time (a figure's image data or printed numbers). On failure a screenshot is saved next to
the test's temporary folder, and its path is in the failure message.

Needs ``playwright`` (the ``browser`` extra) and a Chromium: Debian's ``chromium`` package
(``apt-get install -y chromium``) or Playwright's own (``python -m playwright install chromium``).
Without them the test skips and says so. Select or deselect it with ``-m browser``.
``SHARELIB_WIDGET_SCREENSHOTS=<folder>`` keeps a picture of each widget after its second move.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
RUN_ALL_TIMEOUT_S = 240
REDRAW_TIMEOUT_S = 180

pytestmark = pytest.mark.browser

HOW_TO_GET_A_BROWSER = (
    "the browser test needs playwright and Chromium: pip install -e '.[browser]' and either "
    "'apt-get install -y chromium' (Debian, as root) or 'python -m playwright install chromium'"
)


def widget_notebooks() -> list[str]:
    """Notebooks (relative to notebooks/) whose code imports ipywidgets."""
    found = []
    for path in sorted(NOTEBOOKS.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        cells = json.loads(path.read_text())["cells"]
        if any(c["cell_type"] == "code" and "ipywidgets" in "".join(c["source"]) for c in cells):
            found.append(path.relative_to(NOTEBOOKS).as_posix())
    return found


def _chromium() -> str | None:
    """A Chromium executable: the system's, else None (Playwright then uses its own download)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One headless JupyterLab over a scratch copy of notebooks/ (so nothing saves into the repo)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason=HOW_TO_GET_A_BROWSER)
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(NOTEBOOKS, root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    # No autosave; every cell in the DOM (JupyterLab 4 renders only visible cells by default);
    # the notebook's kernel without a "Select Kernel" dialog; no news pop-up over the widgets.
    for plugin, setting in [("docmanager-extension/plugin", '{"autosave": false}'),
                            ("notebook-extension/tracker", '{"windowingMode": "none", "autoStartDefaultKernel": true}'),
                            ("apputils-extension/notification", '{"fetchNews": "false"}')]:
        folder, name = plugin.split("/")
        path = root / "lab-settings" / "@jupyterlab" / folder / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(setting)
    port = _free_port()
    env = dict(os.environ)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # the test session's Agg would draw nothing
    env["JUPYTERLAB_SETTINGS_DIR"] = str(root / "lab-settings")
    env["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         f"--ServerApp.root_dir={root / 'notebooks'}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--allow-root"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start; its log: {root / 'jupyterlab.log'}")
            time.sleep(0.5)
    pw = sync_api.sync_playwright().start()
    try:
        browser = pw.chromium.launch(headless=True, executable_path=_chromium())
    except Exception as exc:  # noqa: BLE001 - no system Chromium and no Playwright download
        pw.stop()
        server.kill()
        pytest.skip(f"{HOW_TO_GET_A_BROWSER} ({type(exc).__name__}: {str(exc).splitlines()[0]})")
    yield browser, url, root
    browser.close()
    pw.stop()
    server.terminate()
    server.wait(timeout=30)
    log.close()


def _output_of(container):
    """What a widget's Output area shows: image data and text, so a redraw with new numbers differs."""
    return container.evaluate(
        """el => {
            const out = el.querySelector('.widget-output');
            if (!out) return '';
            const imgs = [...out.querySelectorAll('img')].map(i => i.src);
            return imgs.join('|') + '||' + out.innerText;
        }"""
    )


def _move(container, page, step: int) -> str:
    """Change the first control of a widget: a slider by keyboard, else a dropdown; press Run if manual."""
    handle = container.locator(".noUi-handle, .slider-container [role=slider]")
    select = container.locator("select")
    if handle.count():
        handle.first.focus()
        page.keyboard.press("ArrowRight")
        moved = "slider"
    elif select.count():
        options = select.first.locator("option").all_inner_texts()
        select.first.select_option(index=step % len(options))
        moved = "dropdown"
    else:
        raise AssertionError("a widget without a slider or a dropdown to move")
    run = container.locator("button", has_text="Run")
    if run.count():
        run.first.click()
        moved += " + Run"
    return moved


def _wait_for_change(container, previous: str, what: str):
    deadline = time.time() + REDRAW_TIMEOUT_S
    while time.time() < deadline:
        now = _output_of(container)
        if now and now != previous and "Traceback" not in now:
            return now
        if "Traceback" in now:
            raise AssertionError(f"moving the {what} raised: {now[-800:]}")
        time.sleep(0.5)
    raise AssertionError(f"moving the {what} did not change the widget's output within {REDRAW_TIMEOUT_S} s")


def _menu(page, menu: str, item: str):
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def _run_all(page, timeout_s: float):
    """Clear the saved outputs, run all cells, wait until every code cell has an execution count.

    Clearing first matters: the committed notebooks carry execution counts and outputs, which
    would satisfy the wait before anything ran.
    """
    _menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
        ".every(p => !/\\[\\d+\\]/.test(p.innerText))", timeout=30_000, polling=250)
    # A Run All sent while the kernel is still connecting can be dropped (seen under load): send it
    # again until a cell starts ([*]) or has run. Repeating is safe, since nothing ran.
    started = ("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]"
               ".some(p => /\\[(\\*|\\d+)\\]/.test(p.innerText))")
    for attempt in range(4):
        _menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(started, timeout=30_000, polling=250)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError; try again
            if attempt == 3:
                raise AssertionError("Run All Cells did not start any cell, four times in a row")
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.innerText));
        }""",
        timeout=timeout_s * 1000, polling=1000,
    )


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("relpath", widget_notebooks())
def test_widgets_render_and_respond_in_jupyterlab(lab, relpath):
    browser, url, root = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    shot = root / "screenshots" / (relpath.replace("/", "__") + ".png")
    try:
        # A workspace of its own, reset: else JupyterLab restores the tabs of the notebooks before.
        workspace = relpath.replace("/", "-").removesuffix(".ipynb")
        page.goto(f"{url}/lab/workspaces/{workspace}/tree/{relpath}?reset", wait_until="domcontentloaded")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=120_000)
        # the kernel connected and idle: the status bar reads "<kernel> | Idle"
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(t => /\\|\\s*Idle/.test(t.innerText))",
            timeout=120_000, polling=500)
        _run_all(page, RUN_ALL_TIMEOUT_S)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                              has_text="Traceback")
        assert errors.count() == 0, f"a cell raised: {errors.first.inner_text()[-800:]}"
        text = page.locator(".jp-Notebook").inner_text()
        assert "Error displaying widget" not in text
        for fallback in ("interactive(children=", "VBox(children=", "Output()"):
            assert fallback not in text, f"a widget printed as text ({fallback}...): its view did not render"
        containers = page.locator(".jp-OutputArea-output:has(.widget-output)")
        assert containers.count() > 0, "no widget with an output area rendered"
        widget = containers.first
        widget.scroll_into_view_if_needed()
        before = _output_of(widget)
        what = _move(widget, page, 1)
        first = _wait_for_change(widget, before, what)
        what = _move(widget, page, 2)
        _wait_for_change(widget, first, what)
        keep = os.environ.get("SHARELIB_WIDGET_SCREENSHOTS")
        if keep:  # how figures/readme/widget.png was made
            Path(keep).mkdir(parents=True, exist_ok=True)
            widget.screenshot(path=str(Path(keep) / (relpath.replace("/", "__") + ".png")))
    except Exception as exc:
        shot.parent.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=str(shot), full_page=False)
        except Exception:  # noqa: BLE001 - the screenshot is a help, not the verdict
            pass
        raise AssertionError(f"{relpath}: {exc}\nscreenshot: {shot}\nJupyterLab log: {root / 'jupyterlab.log'}") from exc
    finally:
        try:
            page.evaluate("() => fetch('/api/sessions').then(r => r.json()).then(s => Promise.all(s.map("
                          "x => fetch('/api/sessions/' + x.id, {method: 'DELETE'}))))")
        except Exception:  # noqa: BLE001
            pass
        page.close()
