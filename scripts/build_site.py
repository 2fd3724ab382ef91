"""Build the course's static website: the executed lessons, their figures and tables, and the API reference.

    python scripts/build_site.py                # the lessons' default parameters (what `make course` runs)
    python scripts/build_site.py --params ci    # notebooks/params/NN_ci.yaml: small, fast runs (CI)

Each lesson is executed with papermill by the course's runner (``python -m lrcourse.batch``, in a process of
its own). With the default parameters the executed copy is ``build/<lesson>/<lesson>.ipynb``, the one
``make course`` writes, and a copy that is already there, complete, newer than its lesson and run with the
defaults is used as it is. With ``--params ci`` the copies go to ``<output>/executed/``. A lesson that fails,
whose kernel dies or stays idle ``--cell-timeout`` seconds without finishing a cell, or that still runs after
``--timeout`` seconds stops the build with one line naming the lesson and the cell. The executed copies,
each with a note saying which parameters it ran with, are staged with ``docs/`` and an API page per module
into ``<output>/src``; Sphinx (myst-nb, which executes nothing again, and sphinx-book-theme) writes
``<output>/html``. Nothing needs the network.
"""

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from lrcourse import batch
from lrcourse.execution import CELL_TIMEOUT, first_line

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
PACKAGE = REPO / "lrcourse"
LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NOTE_TAG = "site-parameters-note"


class LessonFailed(Exception):
    """A lesson did not execute; its message is one line naming the lesson and the cell."""


def params_file(lesson, params):
    """The parameters file of ``lesson`` for ``params`` ("ci", "seed"), or None for its defaults."""
    return None if params == "default" else lesson.parent / "params" / f"{lesson.name[:2]}_{params}.yaml"


def display(path):
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def reusable(executed, parameters, sources):
    """Whether ``executed`` is a complete run with ``parameters`` (no error output), newer than its ``sources``."""
    if not executed.is_file() or any(executed.stat().st_mtime < source.stat().st_mtime for source in sources):
        return False
    notebook = nbformat.read(executed, as_version=4)
    meta = notebook.metadata.get("papermill", {})
    ran_with = {name: value for name, value in meta.get("parameters", {}).items() if name != "output_dir"}
    errors = any(output.get("output_type") == "error" for cell in notebook.cells for output in cell.get("outputs", []))
    return not meta.get("exception") and not errors and ran_with == parameters


def execute(lesson, params, output, timeout, cell_timeout=CELL_TIMEOUT, log=print):
    """The executed copy of ``lesson``: run now, or reused when a complete one with the same parameters is there."""
    source = params_file(lesson, params)
    parameters = batch.read_params_file(source) if source else {}
    root = REPO / "build" if params == "default" else output / "executed"
    executed = batch.executed_path(lesson, root)
    # Newer than the lesson, its parameters file and the package it imports: else it shows old code's numbers.
    if reusable(executed, parameters, [lesson, *([source] if source else []), *PACKAGE.rglob("*.py")]):
        log(f"site: {lesson.name}: reusing {display(executed)}")
        return executed
    log(f"site: {lesson.name}: executing with {display(source) if source else 'its default parameters'} ...")
    start = time.perf_counter()
    outcome = batch.run_in_process(lesson, parameters, executed.parent, timeout, cell_timeout, cwd=REPO)
    if outcome is None:
        raise LessonFailed(f"lesson {lesson.name}: not finished after {timeout:.0f} s, at {last_started(executed)} "
                           f"(partial notebook: {display(executed)})")
    if not outcome["ok"]:
        raise LessonFailed(f"lesson {lesson.name} {outcome['error']} "  # one line: failed: ... or stopped: ...
                           f"(partial notebook: {display(executed)})")
    log(f"site: {lesson.name}: executed in {time.perf_counter() - start:.0f} s")
    return executed


def last_started(executed):
    """``cell N (`<its first line>`)``: the cell a run stopped at its time limit was executing."""
    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError):
        return "an unknown cell"
    running = [(index, cell) for index, cell in enumerate(cells)
               if cell.get("metadata", {}).get("papermill", {}).get("status") == "running"]
    if not running:
        return "an unknown cell"
    index, cell = running[0]
    return f"cell {index} ({first_line(cell.source)})"


def parameters_note(lesson, params):
    """The note at the top of a lesson page saying which parameters produced its numbers."""
    source = params_file(lesson, params)
    if source is None:
        text = (f"This page is lesson {lesson.name[:2]} executed with its default parameters (the values in its "
                f"parameters cell), as `make course` runs it. Launch it on Colab to run it yourself.")
        return f"```{{note}}\n{text}\n```"
    text = (f"This page is lesson {lesson.name[:2]} executed with the {params.upper()} parameters in "
            f"`notebooks/params/{source.name}`")
    if params == "ci":
        text += (": a small, fast run that checks the lesson works, so its numbers and figures are not the "
                 "lesson's results. `make site` builds the pages with the lessons' default parameters.")
    else:
        text += "."
    return f"```{{important}}\n{text}\n```"


def stage_lesson(executed, lesson, params, src):
    """Copy the executed notebook to ``src/<lesson>.ipynb`` with the parameters note under its title."""
    notebook = nbformat.read(executed, as_version=4)
    note = nbformat.v4.new_markdown_cell(parameters_note(lesson, params))
    note.metadata["tags"] = [NOTE_TAG]
    notebook.cells.insert(1, note)
    nbformat.write(notebook, src / lesson.name)


def modules():
    """The package's modules that get an API page: ``lrcourse`` and each public ``lrcourse/<name>.py``."""
    return ["lrcourse"] + [f"lrcourse.{path.stem}" for path in sorted(PACKAGE.glob("*.py"))
                           if not path.stem.startswith("_")]


def stage_api(src):
    api = src / "api"
    api.mkdir()
    for module in modules():
        title = f"``{module}``"
        (api / f"{module}.rst").write_text(
            f"{title}\n{'=' * len(title)}\n\n.. automodule:: {module}\n   :members:\n   :undoc-members:\n"
            f"   :show-inheritance:\n")


def build(params="default", output=REPO / "build" / "site", lessons=LESSONS, timeout=3600, cell_timeout=CELL_TIMEOUT,
          log=print):
    """Execute (or reuse) every lesson, stage the Sphinx source and build ``<output>/html``; the timings."""
    output = Path(output).resolve()
    timings = {}
    start = time.perf_counter()
    executed = {lesson: execute(Path(lesson).resolve(), params, output, timeout, cell_timeout, log) for lesson in lessons}
    timings["lessons"] = time.perf_counter() - start

    src = output / "src"
    shutil.rmtree(src, ignore_errors=True)
    shutil.copytree(DOCS, src, ignore=shutil.ignore_patterns("conf.py", "__pycache__"))
    for lesson, notebook in executed.items():
        stage_lesson(notebook, Path(lesson), params, src)
    stage_api(src)

    start = time.perf_counter()
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-W", "--keep-going", "-c", str(DOCS),
               "-d", str(output / "doctrees"), str(src), str(output / "html")]
    process = subprocess.run(command, cwd=REPO)
    timings["sphinx"] = time.perf_counter() - start
    if process.returncode:
        raise RuntimeError(f"sphinx-build failed (exit {process.returncode}); its warnings are above")
    log(f"site: {display(output / 'html' / 'index.html')} (lessons {timings['lessons']:.0f} s, "
        f"sphinx {timings['sphinx']:.0f} s)")
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="default",
                        help="'default' (the lessons' own values, as `make course`), or a kind of "
                             "notebooks/params/NN_<kind>.yaml such as 'ci' (small, fast runs)")
    parser.add_argument("--output", default=str(REPO / "build" / "site"),
                        help="where the site goes: <output>/html (default build/site)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds a lesson may run before it is stopped (default 3600)")
    parser.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT,
                        help=f"seconds a lesson's kernel may stay idle without finishing a cell (default {CELL_TIMEOUT:.0f})")
    parser.add_argument("lessons", nargs="*", default=LESSONS, help="lessons to include (default: all)")
    args = parser.parse_args(argv)
    try:
        batch.check_cell_timeout(args.cell_timeout)
        build(args.params, args.output, args.lessons, args.timeout, args.cell_timeout)
    except (LessonFailed, RuntimeError, FileNotFoundError, ValueError) as error:
        print(f"site: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
