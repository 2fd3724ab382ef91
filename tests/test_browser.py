"""Every lesson's explorer in a real JupyterLab 4, driven in headless Chromium, as a learner uses it.

For each explorer the test writes the lesson (with its CI parameters) up to the explorer's cell,
plus one check cell, opens it in JupyterLab, runs all cells, drags a slider with the mouse and
then re-runs the check cell, which reports what the kernel's explorer last drew. The figure on
the page must be the one, and the only one, drawn for the slider's final value, and no error may
show. Screenshots before and after each drag are
kept in ``build/browser/``.

The browser is Debian's ``chromium`` (``.ci/run`` installs it), driven by Playwright's Python
package with ``executable_path``, so nothing is downloaded. Where Chromium is missing the tests
skip, except in CI (``CI`` set), where that fails.
"""

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import papermill
import pytest

from lrcourse import batch

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = REPO / "build" / "browser"
CHROMIUM = shutil.which("chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]

try:
    import playwright.sync_api as playwright
except ImportError:
    playwright = None
MISSING = ("chromium is not installed: `apt-get install -y chromium`" if not CHROMIUM else
           "Playwright is not installed: `pip install -e '.[test]'`" if playwright is None else None)
if MISSING and os.environ.get("CI"):
    pytest.fail(f"{MISSING} (.ci/run installs both)", pytrace=False)
if MISSING:
    pytest.skip(f"{MISSING} to run the browser tests", allow_module_level=True)

# lesson, the explorer its cell makes, the slider to drag and how far (pixels, + is right)
EXPLORERS = [
    ("01_learning_rate_schedules", "decay_explorer", "initial LR", -90),
    ("02_cyclical_learning_rates", "clr_explorer", "max LR", 60),
    ("03_learning_rate_range_test", "bounds_explorer", "base LR", -30),
    ("04_one_cycle_and_beyond", "one_cycle_explorer", "pct_start", 70),
    ("04_one_cycle_and_beyond", "warmup_restarts_explorer", "warmup", 80),
]

CHECK_CELL = """\
import json
control = {{child.description: child for child in explorer.kwargs_widgets}}[{label!r}]
print(json.dumps({{"value": control.value, "note": explorer.note,
                  "error": None if explorer.error is None else repr(explorer.error)}}))
if explorer.note is None:  # the figure the explorer draws for its current values, drawn again here
    explorer.draw(**explorer.kwargs)
    plt.show()"""


def explorer_notebook(lesson, explorer, label, folder):
    """The lesson with its CI parameters, cut after the explorer's cell (which keeps the explorer
    as ``explorer``), and a check cell; returns its file name in ``folder``."""
    parameters = batch.read_params_file(REPO / "notebooks" / "params" / f"{lesson[:2]}_ci.yaml")
    parameters["output_dir"] = str(folder / "output")
    path = folder / f"{lesson}-{explorer}.ipynb"
    papermill.execute_notebook(str(REPO / "notebooks" / f"{lesson}.ipynb"), str(path), parameters=parameters,
                               prepare_only=True, kernel_name="python3", progress_bar=False)
    notebook = nbformat.read(path, as_version=4)
    cut = next(i for i, cell in enumerate(notebook.cells) if f"widgets.{explorer}(" in cell.source)
    notebook.cells = notebook.cells[:cut + 1]
    *lines, last = notebook.cells[cut].source.splitlines()
    assert last.startswith(f"widgets.{explorer}("), f"the explorer is not the last line of its cell: {last}"
    notebook.cells[cut].source = "\n".join([*lines, f"explorer = {last}", "explorer"])
    notebook.cells.append(nbformat.v4.new_code_cell(CHECK_CELL.format(label=label)))
    nbformat.write(notebook, path)
    return path.name


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on loopback, serving a fresh folder; yields ``(url, token, folder)``."""
    folder = tmp_path_factory.mktemp("lab")
    port, token = free_port(), secrets.token_hex(16)
    environment = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # Agg would stop inline figures
    log = open(folder / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ip", "127.0.0.1", "--port", str(port),
         f"--IdentityProvider.token={token}", "--LabApp.news_url=None", f"--ServerApp.root_dir={folder}"],
        stdout=log, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                assert server.poll() is None, (folder / "jupyterlab.log").read_text()[-3000:]
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within a minute:\n" + (folder / "jupyterlab.log").read_text()[-3000:])
        yield url, token, folder
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


def shut_down_kernels(url, token):
    with urllib.request.urlopen(f"{url}/api/kernels?token={token}") as reply:
        kernels = json.load(reply)
    for kernel in kernels:
        request = urllib.request.Request(f"{url}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request).close()


@pytest.fixture
def open_notebook(lab, browser):
    """Opens a notebook of the lab's folder in a new page, with its kernel started and idle."""
    url, token, folder = lab
    pages = []

    def open_(name):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        pages.append(page)
        page.goto(f"{url}/lab/tree/{name}?reset&token={token}")  # ?reset: no tab left open by another test
        page.wait_for_selector(".jp-StatusBar-TextItem:has-text('| Idle')", timeout=120_000)
        no_news = page.get_by_role("button", name="No", exact=True)  # JupyterLab asks once about its news feed
        if no_news.is_visible():
            no_news.click()
        return page

    yield open_
    for page in pages:  # the last state of each page, for a test that failed
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"{page.url.split('/')[-1].split('.ipynb')[0]}-at-the-end.png")
        page.close()
    shut_down_kernels(url, token)


def run_all_cells(page):
    """Run > Run All Cells; a run asked before the kernel is connected is dropped, so ask again
    until the first cell shows that it ran or is running."""
    first_prompt = page.locator(".jp-CodeCell .jp-InputArea-prompt").first
    for _ in range(10):
        page.locator(".lm-MenuBar-item", has_text="Run").click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function("e => /\\[(\\*|\\d+)\\]/.test(e.textContent)", arg=first_prompt.element_handle(),
                                   timeout=5000)
            return
        except Exception:  # noqa: BLE001 - Playwright's timeout: ask again
            continue
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "never-ran.png")
    pytest.fail(f"JupyterLab never ran the notebook's cells (see {SCREENSHOTS / 'never-ran.png'})")


def slider(page, label):
    label_pattern = re.compile(f"^{re.escape(label)}$")
    return page.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text=label_pattern))


def drag(page, control, pixels):
    """Press the slider's handle, move it ``pixels`` sideways in small steps, release; returns the
    text its readout shows at the end."""
    handle = control.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + pixels, y, steps=12)
    page.mouse.up()
    return control.locator(".widget-readout").inner_text().strip()


def run_again(page, cell):
    """Runs ``cell`` again (click, Ctrl+Enter) and returns the JSON line it prints."""
    prompt = cell.locator(".jp-InputArea-prompt")
    before = prompt.inner_text()
    prompt.click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function("([e, old]) => /\\[\\d+\\]/.test(e.textContent) && e.textContent !== old",
                           arg=[prompt.element_handle(), before], timeout=60_000)
    return json.loads(cell.locator(".jp-OutputArea-output pre").first.inner_text())


def state_at(page, check_cell, readout):
    """What the kernel's explorer drew last, once that is for the slider's final value.

    The browser sends a slider's value only when the kernel has finished with the previous one,
    so the final value can reach the kernel after a cell run that was asked for later: run the
    check cell until the kernel has it (20 tries)."""
    for _ in range(20):
        state = run_again(page, check_cell)
        if state["value"] == pytest.approx(float(readout), rel=5e-3):  # the readout shows 3 digits
            return state
        time.sleep(1)
    pytest.fail(f"the kernel never received the slider's final value {readout}; it has {state['value']}")


def errors_shown(page):
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], "
                        ".jp-RenderedText[data-mime-type='application/vnd.jupyter.error']").all_inner_texts()


@pytest.mark.parametrize("lesson, explorer, label, pixels", EXPLORERS, ids=[case[1] for case in EXPLORERS])
def test_dragging_a_slider_redraws_the_figure_for_its_final_value(lesson, explorer, label, pixels, lab,
                                                                    open_notebook):
    page = open_notebook(explorer_notebook(lesson, explorer, label, lab[2]))
    run_all_cells(page)
    explorer_cell, check_cell = page.locator(".jp-CodeCell").nth(-2), page.locator(".jp-CodeCell").nth(-1)
    figure = explorer_cell.locator(".widget-interact .jp-OutputArea img")
    figure.wait_for(timeout=300_000)
    check_cell.locator(".jp-OutputArea-output pre").first.wait_for(timeout=60_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    explorer_cell.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / f"{lesson}-{explorer}-before.png")
    first_figure = figure.get_attribute("src")

    final_value = drag(page, slider(page, label), pixels)
    state = state_at(page, check_cell, final_value)

    explorer_cell.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / f"{lesson}-{explorer}-after.png")
    assert state["note"] is None and state["error"] is None
    expected = check_cell.locator(".jp-OutputArea img").get_attribute("src")  # drawn for the final value
    assert expected != first_figure, f"dragging {label!r} changed nothing to draw"
    # Retried until the output has settled (a redraw clears the old figure when the new one arrives):
    # one figure, the one for the final value.
    playwright.expect(figure).to_have_count(1)
    playwright.expect(figure).to_have_attribute("src", expected)
    assert not errors_shown(page)


def test_bounds_dragged_past_each_other_show_a_note_and_no_traceback(lab, open_notebook):
    page = open_notebook(explorer_notebook("03_learning_rate_range_test", "bounds_explorer", "base LR", lab[2]))
    run_all_cells(page)
    explorer_cell, check_cell = page.locator(".jp-CodeCell").nth(-2), page.locator(".jp-CodeCell").nth(-1)
    explorer_cell.locator(".widget-interact .jp-OutputArea img").wait_for(timeout=300_000)
    check_cell.locator(".jp-OutputArea-output pre").first.wait_for(timeout=60_000)

    base_lr = drag(page, slider(page, "base LR"), 2000)  # past the right end: the slider's top value
    state = state_at(page, check_cell, base_lr)

    explorer_cell.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "03_learning_rate_range_test-bounds_explorer-nonsense.png")
    assert state["error"] is None
    assert state["note"].startswith("Not drawn: base_lr must be < max_lr")
    output = explorer_cell.locator(".widget-interact .jp-OutputArea")
    assert output.inner_text().strip() == state["note"]  # one line, in place of the figure
    assert output.locator("img").count() == 0
    assert not errors_shown(page)
