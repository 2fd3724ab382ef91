"""Graded assignments with otter-grader: build them, hand them out, grade them.

Each assignment is one otter master notebook in the repository's ``assignments/`` folder:
the questions, the solutions and the tests in one place. ``otter assign`` turns it into

* ``build/assignments/<name>/student/<name>.ipynb``: what a student gets, solutions replaced by ``...``;
* ``build/assignments/<name>/autograder/``: the solutions, every test (public and hidden) and
  ``<name>-autograder_<time>.zip``, which grades a submission.

A student's notebook runs its *public* tests with ``grader.check("q1")``. They come from the
package (:func:`public_tests`), so a student on Colab, with only the notebook and
``pip install lrcourse[assignments]``, has them; ``make assignments`` refreshes that copy.
A teacher grades with :func:`grade` (``lrcourse grade`` on the command line), which runs
``otter run`` on each submission and collects the scores in one table.
"""

import json
import numbers
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from lrcourse import paths

NAMES = ("01_warmup_schedule", "02_reading_a_range_test", "03_is_the_difference_real")
TESTS_DIR = paths.PACKAGE_DIR / "assignment_tests"
DATA_DIR = paths.PACKAGE_DIR / "assignment_data"


def _checked_name(name):
    if name not in NAMES:
        raise ValueError(f"no assignment is called {name!r}; the assignments are {', '.join(NAMES)}")
    return name


def public_tests(name):
    """The folder of assignment ``name``'s public tests, shipped in the package (for ``otter.Notebook``)."""
    return str(TESTS_DIR / _checked_name(name))


def data_path(filename):
    """A data file that ships with the assignments (``lrcourse/assignment_data/``)."""
    path = DATA_DIR / filename
    if not path.is_file():
        raise FileNotFoundError(f"no assignment data file {filename!r}; the files are "
                                f"{', '.join(sorted(p.name for p in DATA_DIR.glob('*.json')))}")
    return path


def plot_schedule(schedule, updates, ax=None):
    """The learning rate of ``schedule`` at updates 0 .. ``updates - 1``; a one-line note instead
    of a figure while the schedule does not return numbers yet. Returns the axes, or None."""
    from lrcourse import plots
    try:
        rates = [float(schedule(step)) for step in range(updates)]
    except Exception as error:  # a student's unfinished schedule: say why, do not stop the notebook
        print(f"The schedule cannot be plotted yet: {type(error).__name__}: {error}")
        return None
    return plots.plot_lr(range(updates), rates, unit="update", ax=ax)


def load_range_test():
    """The stored range test that assignment 02 reads (see ``scripts/build_assignment_data.py``)."""
    from lrcourse.finder import RangeTestResult
    return RangeTestResult.load(data_path("range_test_fashion_mnist.json"))


def plot_range_test(lrs, losses, smoothed=None, rates=None, ax=None):
    """Each batch's loss against the learning rate (log scale), a smoothed curve if given, and
    vertical lines at ``rates`` (``{label: rate}``; entries that are not numbers yet are skipped).
    The y-axis ends at 1.5 times the loss before training moves, so the final explosion does not
    squash the part of the curve that is read."""
    from lrcourse import plots
    fig, ax = plots.new_axes(ax)
    ax.plot(lrs, losses, color="0.7", linewidth=0.8, label="loss of each batch")
    if smoothed is not None:
        try:
            ax.plot(lrs, np.asarray(smoothed, dtype=float), label="smoothed")
        except (TypeError, ValueError) as error:  # a student's unfinished smoothing: say why, draw the rest
            print(f"The smoothed curve cannot be drawn yet: {error}")
    for (label, rate), style in zip((rates or {}).items(), ("--", "-.", ":", (0, (5, 1)))):
        if isinstance(rate, numbers.Real) and not isinstance(rate, bool):
            ax.axvline(rate, color="black", linestyle=style, linewidth=1, label=f"{label}: {rate:.2g}")
    start = float(np.median(np.asarray(losses, dtype=float)[: len(losses) // 10 + 1]))
    ax.set(xscale="log", xlabel="learning rate", ylabel="loss", ylim=(0, 1.5 * start))  # the explosion may leave
    ax.legend(fontsize=8)
    return ax


# --- for teachers: build and grade ---------------------------------------------------------------


def _otter():
    """otter-grader's command line, its notebook executions made safe from the widget stall
    (:func:`lrcourse.execution.run_otter`)."""
    return [sys.executable, "-m", "lrcourse.execution", "otter"]


def assign(name, output="build/assignments", refresh_package=True):
    """Run ``otter assign`` on ``assignments/<name>.ipynb`` into ``<output>/<name>/``.

    otter runs every test against the solutions and fails when one does not pass. With
    ``refresh_package`` the public tests it wrote for students are copied into the package
    (``lrcourse/assignment_tests/<name>/``), where :func:`public_tests` finds them. Returns the
    output folder.
    """
    root = paths.repo_root()
    if root is None:
        raise FileNotFoundError("the master notebooks are in the repository's assignments/ folder: "
                                "run this from a checkout of the course")
    master = root / "assignments" / f"{_checked_name(name)}.ipynb"
    target = paths.resolve(output) / name
    shutil.rmtree(target, ignore_errors=True)
    done = subprocess.run([*_otter(), "assign", "-v", str(master), str(target)], cwd=root,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"otter assign failed for {name} (exit {done.returncode}):\n"
                           f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    if refresh_package:
        shutil.rmtree(TESTS_DIR / name, ignore_errors=True)
        shutil.copytree(target / "student" / "tests", TESTS_DIR / name)
    return target


def autograder_zip(name, output="build/assignments"):
    """The autograder zip that :func:`assign` wrote for ``name``."""
    folder = paths.resolve(output) / _checked_name(name) / "autograder"
    zips = sorted(folder.glob(f"{name}-autograder_*.zip"))
    if not zips:
        raise FileNotFoundError(f"no autograder zip in {paths.display(folder)}: run `make assignments` first")
    return zips[-1]


def grade_one(submission, autograder, output_dir, timeout=1800):
    """Grade one submitted notebook with ``otter run``; returns ``{question: (score, possible)}``.

    Raises ``RuntimeError`` when otter could not grade it: it failed, ran past ``timeout``
    seconds (a student's endless loop), or wrote no scores (its kernel died).
    """
    submission, output_dir = Path(submission), Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    command = [*_otter(), "run", "-a", str(autograder), "-o", str(output_dir), str(submission)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"otter run did not finish {submission.name} in {timeout} s (an endless loop?)") from None
    results = output_dir / "results.json"
    tests = json.loads(results.read_text())["tests"] if results.exists() else []
    scores = {test["name"]: (test["score"], test["max_score"]) for test in tests if "score" in test}
    if done.returncode != 0 or not scores:  # Gradescope's format: "Public Tests" has no score
        lines = [line for line in (done.stderr + done.stdout).splitlines()
                 if any(word in line for word in ("Error", "Failed", "LessonStopped"))]
        lines += [test.get("output", "").strip() for test in tests if "Failed" in test.get("name", "")]
        raise RuntimeError(f"otter run could not grade {submission.name} (exit {done.returncode}): "
                           f"{(lines or ['no scores written'])[-1][:300]}")
    return scores


def _labels(submissions):
    """``<folder>-<file name>`` for each submission (the folder is the student's, so
    ``alice/01_warmup_schedule.ipynb`` -> ``alice-01_warmup_schedule``), or the file names alone when
    all submissions share one folder."""
    if len({s.parent for s in submissions}) == 1:
        return [s.stem for s in submissions]
    labels = [f"{s.parent.name}-{s.stem}" for s in submissions]
    if len(set(labels)) < len(labels):
        raise ValueError("two submissions have the same folder and file name: give each student's notebook "
                         "its own folder (submissions/<student>/<notebook>.ipynb)")
    return labels


def grade(name, submissions, assignments="build/assignments", output="build/grades", timeout=1800):
    """Grade every submitted notebook of assignment ``name``; one row per submission.

    The table has a column per question, the total, the points possible, and the error for a
    submission that could not be graded (the others are still graded; one still running after
    ``timeout`` seconds is stopped and could not be graded). Submissions are labelled as
    :func:`_labels` says; each one's full otter results, with the output of every failed test,
    land in ``<output>/<name>/<label>/results.json`` and the table in ``<output>/<name>/grades.csv``.
    """
    autograder = autograder_zip(name, assignments)
    submissions = [Path(s) for s in submissions]
    for submission in submissions:
        if not submission.is_file():
            raise FileNotFoundError(f"{submission} does not exist: give the paths of the submitted .ipynb files")
        if submission.suffix != ".ipynb":
            raise ValueError(f"{submission} is not a notebook: give the submitted .ipynb files")
    labels = _labels(submissions)
    folder = paths.resolve(output) / name
    rows = []
    for submission, label in zip(submissions, labels):
        row = {"submission": label}
        try:
            scores = grade_one(submission, autograder, folder / label, timeout)
        except (RuntimeError, OSError) as error:
            row["error"] = str(error)
        else:
            row.update({question: score for question, (score, _) in scores.items()})
            row["total"] = sum(score for score, _ in scores.values())
            row["possible"] = sum(possible for _, possible in scores.values())
        rows.append(row)
    table = pd.DataFrame(rows)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "grades.csv", index=False)
    return table
