"""The course's website (``make site``): built once with the CI parameters, then read like a visitor would.

Every lesson page shows its executed outputs (all its figures, no error, no TensorFlow log line), says
which parameters made them and has a Colab button that opens the stored lesson; every internal link and
anchor resolves; the API pages document each module's public functions and classes. A lesson that
fails stops the build with one line naming the lesson and the cell.
"""

import importlib
import inspect
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest

from lrcourse import batch

pytest.importorskip("myst_nb", reason="the site's packages: pip install -e '.[site]'")

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "build_site.py"
LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")

sys.path.insert(0, str(SCRIPT.parent))
import build_site  # noqa: E402
import test_lesson_findings  # noqa: E402  (tests/ is on the path, as for every test module)


# What TensorFlow writes to standard error that a student would read as an error.
TF_LOG_LINE = re.compile("|".join([
    r"All log messages before absl::InitializeLog\(\)",
    r"oneDNN custom operations",
    r"Could not find cuda drivers|cuInit|cuDNN|cuFFT|cuBLAS",
    r"NodeDef mentions attribute",
    r"tf\.function retracing",
    r"rebuild TensorFlow with the appropriate compiler flags",
    r"^[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]",  # any line of TensorFlow's C++ (abseil) log
]), re.MULTILINE)


def output_texts(notebook):
    """Every text a reader sees in the outputs of an executed notebook (images left out)."""
    for cell in nbformat.read(notebook, as_version=4).cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                yield output.text
            elif output.output_type == "error":
                yield "\n".join(output.traceback)
            else:
                yield from (value for mime, value in output.get("data", {}).items() if mime.startswith("text/"))


class Page(HTMLParser):
    """What a test reads in a page: its links, images, element ids, visible text and output classes."""

    def __init__(self, path):
        super().__init__()
        self.links, self.images, self.ids, self.text, self.classes, self.anchors = [], [], set(), [], set(), []
        self._skip = 0
        self.feed(path.read_text())

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "name" in attrs:
            self.ids.add(attrs["name"])
        self.classes.update((attrs.get("class") or "").split())
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        if tag == "a":
            self.anchors.append(attrs)
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def local(link):
    parts = urlsplit(link)
    return not parts.scheme and not parts.netloc and not link.startswith(("mailto:", "javascript:", "data:"))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    # LRCOURSE_SITE_OUTPUT=build/site-ci: build there instead, reusing the lessons executed there by an earlier run
    output = Path(os.environ.get("LRCOURSE_SITE_OUTPUT") or tmp_path_factory.mktemp("site")).resolve()
    start = time.perf_counter()
    # As under `make site`: the lessons quiet TensorFlow themselves, and draw with the inline backend.
    env = {name: value for name, value in os.environ.items() if name not in ("TF_CPP_MIN_LOG_LEVEL", "MPLBACKEND")}
    process = subprocess.run([sys.executable, str(SCRIPT), "--params", "ci", "--timeout", "420", "--output", str(output)],
                             cwd=REPO, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    assert process.returncode == 0, process.stdout[-4000:] + process.stderr[-4000:]
    print(f"\nsite built with the CI parameters in {seconds:.0f} s: " + process.stdout.strip().splitlines()[-1])
    return output


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_lesson_page_shows_its_figures_and_no_errors_or_tensorflow_log(site, lesson):
    html = site / "html" / f"{lesson.stem}.html"
    assert html.is_file(), f"no page for {lesson.name}"
    page = Page(html)
    images = [src for src in page.images if local(src)]
    missing = [src for src in images if not (html.parent / unquote(urlsplit(src).path)).is_file()]
    assert not missing, f"{html.name}: images with no file: {missing}"
    executed = nbformat.read(batch.executed_path(lesson, site / "executed"), as_version=4)
    outputs = sum(any(mime in output.get("data", {}) for mime in IMAGE_TYPES)
                  for cell in executed.cells for output in cell.get("outputs", []))
    figures = [src for src in images if src.startswith("_images/")]  # the theme's icons live in _static/
    assert outputs and len(figures) >= outputs, f"{html.name}: {len(figures)} figures for {outputs} image outputs"
    assert not {"traceback", "error"} & page.classes, f"{html.name} shows an error output"
    text = "".join(page.text)
    assert "Traceback (most recent call last)" not in text
    noise = [line for line in text.splitlines() if TF_LOG_LINE.search(line)]
    assert not noise, f"TensorFlow log lines on {html.name}:\n" + "\n".join(noise)
    assert f"executed with the CI parameters in notebooks/params/{lesson.name[:2]}_ci.yaml" in " ".join(text.split())
    explorers = sum(str(output.get("data", {}).get("text/plain", "")).startswith("Explorer at its starting values")
                    for cell in executed.cells for output in cell.get("outputs", []))
    assert explorers, f"{lesson.name}: no explorer cell kept its one-line text"
    assert " ".join(text.split()).count("sliders move in JupyterLab and Colab") == explorers, \
        f"{html.name} does not say under each explorer's figure where its sliders move"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_executed_lesson_writes_its_findings_from_its_own_runs(site, lesson):
    """With CI's seeds, as tests/test_lesson_findings.py checks them with another seed list."""
    seeds = batch.read_params_file(REPO / "notebooks" / "params" / f"{lesson.name[:2]}_ci.yaml")["seeds"]
    executed = batch.executed_path(lesson, site / "executed")
    test_lesson_findings.check_findings(executed, executed.parent, seeds)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_executed_lesson_prints_no_tensorflow_log_and_no_path_of_this_machine(site, lesson):
    """The lesson as the course's runner executed it (as ``make course`` does, TensorFlow's log level not
    preset): its outputs, streams included, must read cleanly."""
    texts = list(output_texts(batch.executed_path(lesson, site / "executed")))
    noise = [line for text in texts for line in text.splitlines() if TF_LOG_LINE.search(line)]
    assert not noise, "TensorFlow log lines in the outputs:\n" + "\n".join(noise)
    for machine_path in (str(REPO), str(site), tempfile.gettempdir()):
        leaks = [text for text in texts if machine_path in text]
        assert not leaks, f"{machine_path} printed in the outputs: {leaks[0][:300]}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_lesson_page_launches_the_stored_lesson_on_colab(site, lesson):
    repository = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    expected = (f"https://colab.research.google.com/github/{urlsplit(repository).path.strip('/')}"
                f"/blob/main/notebooks/{lesson.name}")
    page = Page(site / "html" / f"{lesson.stem}.html")
    buttons = [a["href"] for a in page.anchors if "Colab" in (a.get("title") or "")]
    assert buttons == [expected]


def test_every_internal_link_and_anchor_resolves(site):
    root = site / "html"
    pages = {path: Page(path) for path in root.rglob("*.html")
             if not path.relative_to(root).parts[0].startswith("_")}  # _static holds the theme's template macros
    broken = []
    for path, page in pages.items():
        for link in filter(local, page.links):
            parts = urlsplit(link)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{path.relative_to(root)}: {link}")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else Page(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(root)}: {link} (no such anchor)")
    assert not broken, "broken links:\n" + "\n".join(sorted(set(broken))[:40])
    assert {f"{lesson.stem}.html" for lesson in LESSONS} <= {link for link in Page(root / "index.html").links}


def public_names(module):
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module.__name__]


@pytest.mark.parametrize("module", build_site.modules())
def test_api_page_documents_the_module(site, module):
    html = site / "html" / "api" / f"{module}.html"
    assert html.is_file(), f"no API page for {module}"
    ids = Page(html).ids
    missing = [name for name in public_names(importlib.import_module(module)) if f"{module}.{name}" not in ids]
    assert not missing, f"{html.name} lacks {missing}"


def write_lesson(folder, code):
    """``folder/99_lesson.ipynb``: a title, a parameters cell and ``code``; its CI parameters file beside it."""
    lesson = folder / "99_lesson.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A lesson"),
        nbformat.v4.new_code_cell("rate = 0.1  # a learning rate", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(code),
    ])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, lesson)
    (folder / "params").mkdir()
    (folder / "params" / "99_ci.yaml").write_text("rate: 0.2\n")
    return lesson


def build_error(lesson, *options):
    """The build's one error line for a lesson that does not execute."""
    process = subprocess.run([sys.executable, str(SCRIPT), "--params", "ci", "--output", str(lesson.parent / "site"),
                              *options, str(lesson)], cwd=REPO, capture_output=True, text=True)
    assert process.returncode == 1
    assert not (lesson.parent / "site" / "html").exists()
    lines = [line for line in process.stderr.splitlines() if line.startswith("site:")]
    assert len(lines) == 1, process.stderr
    return lines[0]


def test_a_lesson_that_fails_stops_the_build_with_one_line(tmp_path):
    line = build_error(write_lesson(tmp_path, "raise ValueError('the rate is wrong')"))
    assert line.startswith("site: lesson 99_lesson.ipynb failed: cell 3 (`raise ValueError('the rate is wrong')`)")
    assert "raised ValueError: the rate is wrong" in line


def test_a_lesson_whose_kernel_goes_idle_without_replying_stops_the_build_naming_the_cell(tmp_path):
    line = build_error(write_lesson(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)"),
                       "--cell-timeout", "3")
    assert line.startswith("site: lesson 99_lesson.ipynb stopped: the kernel stayed idle 3 s without replying")
    assert "at cell 3 (`import os, signal`)" in line


def test_a_lesson_that_never_finishes_is_stopped_at_the_time_limit(tmp_path):
    line = build_error(write_lesson(tmp_path, "while True:\n    pass"), "--timeout", "8")
    assert line.startswith("site: lesson 99_lesson.ipynb: not finished after 8 s, at cell 3 (`while True:`)")


def test_each_page_says_which_parameters_made_it():
    lesson = LESSONS[0]
    assert "default parameters" in build_site.parameters_note(lesson, "default")
    assert f"notebooks/params/{lesson.name[:2]}_ci.yaml" in build_site.parameters_note(lesson, "ci")


def test_an_executed_copy_is_reused_only_if_complete_current_and_run_with_the_same_parameters(tmp_path):
    lesson = tmp_path / "01_lesson.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), lesson)
    executed = tmp_path / "executed.ipynb"

    def write(outputs=(), exception=None, parameters=None):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", outputs=list(outputs))])
        notebook.metadata["papermill"] = {"parameters": parameters or {"epochs": 2, "output_dir": "build/01"},
                                          "exception": exception}
        nbformat.write(notebook, executed)

    write()
    assert build_site.reusable(executed, {"epochs": 2}, [lesson])
    assert not build_site.reusable(executed, {}, [lesson])  # run with other parameters
    write(exception=True)
    assert not build_site.reusable(executed, {"epochs": 2}, [lesson])
    write(outputs=[nbformat.v4.new_output("error", ename="ValueError", evalue="", traceback=[])])
    assert not build_site.reusable(executed, {"epochs": 2}, [lesson])
    write()
    os.utime(lesson, (time.time() + 60, time.time() + 60))  # the lesson changed since
    assert not build_site.reusable(executed, {"epochs": 2}, [lesson])
