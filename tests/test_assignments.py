"""The graded assignments: otter builds them, the solutions earn every point, the unchanged student
notebook earns none, and a prepared partial answer earns exactly the points of what it got right.

The slow part (about 5 minutes on 2 cores) runs ``otter assign`` and ``otter run`` as a teacher
would, through ``lrcourse.assignments``.
"""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

from lrcourse import assignments, cli

ROOT = Path(__file__).resolve().parent.parent
MASTERS = sorted((ROOT / "assignments").glob("*.ipynb"))

# A student's half-done work: {text that finds the student's cell: what the student wrote there}.
PARTIAL_ANSWERS = {
    "01_warmup_schedule": {
        "class WarmupExponentialDecay": '''
@keras.saving.register_keras_serializable(package="assignment")
class WarmupExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak_lr, warmup_steps, decay_rate, decay_steps):
        self.peak_lr, self.warmup_steps = peak_lr, warmup_steps
        self.decay_rate, self.decay_steps = decay_rate, decay_steps

    def __call__(self, step):  # the right values, but with a Python float and if; no get_config yet
        step = float(step)
        if step < self.warmup_steps:
            return self.peak_lr * step / self.warmup_steps
        return self.peak_lr * self.decay_rate ** ((step - self.warmup_steps) / self.decay_steps)
''',
    },
    "02_reading_a_range_test": {
        "def smooth_losses": '''
def smooth_losses(losses, beta=0.98):  # forgets the bias correction
    average, smoothed = 0.0, []
    for loss in losses:
        average = beta * average + (1 - beta) * loss
        smoothed.append(average)
    return np.array(smoothed)

smoothed = smooth_losses(losses)
''',
        "lowest_smoothed_lr = ...": "lowest_smoothed_lr = float(lrs[np.argmin(smoothed)])",
        "lag_moves_readings = ...": 'lag_moves_readings = "high"',
        "base_lr": "centred = centred_average(losses)\nbase_lr, max_lr = 0.004, 0.1",
        "one_rate = ...": "one_rate = 0.1  # the bottom of the curve: too high for one constant rate",
    },
    "03_is_the_difference_real": {
        "best = ...": 'best = runs.groupby("run")["val_accuracy"].mean().idxmax()',
        "half_widths = ...": 'half_widths = 1.96 * runs.groupby("run")["test_accuracy"].std() / np.sqrt(3)  # z, not t',
    },
}
# The points each question of the partial answer earns (a question's points are shared evenly by its tests).
PARTIAL_SCORES = {
    "01_warmup_schedule": {"q1": 4, "q2": 1, "q3": 0, "q4": 0},  # q2: eager passes, compiled fails
    "02_reading_a_range_test": {"q1": 0, "q2": 1, "q3": 1, "q4": 3, "q5": 1},  # q2 reads its own curve
    "03_is_the_difference_real": {"q1": 2, "q2": 1.5, "q3": 0, "q4": 0},
}
SOLUTION_LINES = {  # one line of each assignment's solutions
    "01_warmup_schedule": "keras.ops.where(step < self.warmup_steps, warmup, decay)",
    "02_reading_a_range_test": "smoothed.append(average / (1 - beta ** (i + 1)))",
    "03_is_the_difference_real": "stats.t.ppf(0.975, n - 1) * by_setting.std() / np.sqrt(n)",
}
POINTS = {"01_warmup_schedule": 10, "02_reading_a_range_test": 10, "03_is_the_difference_real": 10}


def _config(master):
    raw = next(c for c in nbformat.read(master, as_version=4).cells if c.cell_type == "raw")
    return yaml.safe_load(raw.source.replace("# ASSIGNMENT CONFIG", ""))


# --- fast: the masters, the shipped tests and data, and the errors ----------------------------------


def test_every_assignment_has_one_master_notebook_stored_clean():
    assert [m.stem for m in MASTERS] == list(assignments.NAMES)
    for master in MASTERS:
        nb = json.loads(master.read_text())
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in nb["cells"] if c["cell_type"] == "code"), f"{master.name}: strip outputs"


@pytest.mark.parametrize("master", MASTERS, ids=lambda path: path.stem)
def test_each_master_is_configured_for_colab_with_tests_as_files(master):
    config = _config(master)
    assert config["name"] == master.stem
    assert config["runs_on"] == "colab" and config["tests"] == {"files": True, "ok_format": False}
    assert config["init_cell"] is False  # its own first cell installs the package on Colab and finds the tests
    source = master.read_text()
    assert f'otter.Notebook(tests_dir=assignments.public_tests(\\"{master.stem}\\"))' in source
    assert '\\"google.colab\\" in sys.modules' in source and "lrcourse[assignments] @ git+" in source


@pytest.mark.parametrize("master", MASTERS, ids=lambda path: path.stem)
def test_the_package_ships_a_public_test_file_for_every_autograded_question(master):
    questions = {yaml.safe_load(c.source.replace("# BEGIN QUESTION", ""))["name"]
                 for c in nbformat.read(master, as_version=4).cells
                 if c.cell_type == "raw" and c.source.startswith("# BEGIN QUESTION")
                 and "manual: true" not in c.source}
    shipped = Path(assignments.public_tests(master.stem))
    assert {p.stem for p in shipped.glob("*.py")} == questions
    for test_file in shipped.glob("*.py"):
        assert "hidden=True" not in test_file.read_text(), f"{test_file.name} leaks a hidden test to students"


def test_in_colab_the_checks_run_on_the_tests_shipped_in_the_package(monkeypatch, tmp_path):
    """otter's Colab mode, as otter detects it: no notebook file and no ./tests folder, only the package."""
    import otter
    import otter.check.utils
    monkeypatch.setattr(otter.check.utils, "get_ipython", lambda: "<google.colab._shell.Shell object>")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="Tests directory ./tests does not exist"):
        otter.Notebook()  # why the tests ship in the package
    grader = otter.Notebook(tests_dir=assignments.public_tests("02_reading_a_range_test"))
    assert grader.interpreter is otter.check.utils.IPythonInterpreter.COLAB
    assert grader.check("q3", global_env={"lag_moves_readings": "high"}).passed_all
    assert not grader.check("q3", global_env={"lag_moves_readings": "sideways"}).passed_all


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="no assignment is called 'week1'; the assignments are 01_warmup_schedule"):
        assignments.public_tests("week1")
    with pytest.raises(FileNotFoundError, match="no assignment data file 'curve.json'; the files are range_test"):
        assignments.data_path("curve.json")


def test_the_stored_range_test_reads_as_the_assignment_says():
    curve = assignments.load_range_test()
    assert len(curve.lrs) == 250 and curve.lrs[0] == pytest.approx(1e-5) and curve.lrs[-1] == pytest.approx(0.5)
    base, top = curve.bounds()
    assert 1e-3 < base < 1e-2 < top < 0.3  # a curve with a clear fall and a turn, inside the sweep
    assert curve.suggest("steepest") / 3 < top / 2  # question 5's range is not empty


def test_the_figure_helpers_say_why_a_students_unfinished_answer_cannot_be_drawn(capsys):
    class Unfinished:
        def __call__(self, step):
            ...

    assert assignments.plot_schedule(Unfinished(), updates=10) is None
    assert capsys.readouterr().out.startswith("The schedule cannot be plotted yet: TypeError: ")
    from lrcourse.schedules import TimeBasedDecay
    assert assignments.plot_schedule(TimeBasedDecay(0.1, 0.01), updates=10) is not None
    ax = assignments.plot_range_test([1e-3, 1e-2, 1e-1], [2.0, 1.5, 3.0], smoothed=..., rates={"max_lr": ...})
    assert capsys.readouterr().out.startswith("The smoothed curve cannot be drawn yet: ")
    assert len(ax.lines) == 1


def test_grading_refuses_what_is_not_a_notebook_and_needs_the_built_autograder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no autograder zip in .*: run `make assignments` first"):
        assignments.autograder_zip("01_warmup_schedule", tmp_path)
    (tmp_path / "01_warmup_schedule" / "autograder").mkdir(parents=True)
    (tmp_path / "01_warmup_schedule" / "autograder" / "01_warmup_schedule-autograder_1.zip").write_bytes(b"")
    (tmp_path / "answer.py").write_text("x = 1\n")
    with pytest.raises(ValueError, match="answer.py is not a notebook: give the submitted .ipynb files"):
        assignments.grade("01_warmup_schedule", [tmp_path / "answer.py"], tmp_path, tmp_path / "grades")
    with pytest.raises(FileNotFoundError, match=r"\*.ipynb does not exist: give the paths of the submitted"):
        assignments.grade("01_warmup_schedule", [tmp_path / "*.ipynb"], tmp_path, tmp_path / "grades")


def test_submissions_are_labelled_by_their_students_folders():
    same = [Path("alice/01_warmup_schedule.ipynb"), Path("bob/Copy of 01_warmup_schedule.ipynb")]
    assert assignments._labels(same) == ["alice-01_warmup_schedule", "bob-Copy of 01_warmup_schedule"]
    assert assignments._labels([Path("a/x.ipynb"), Path("a/y.ipynb")]) == ["x", "y"]
    with pytest.raises(ValueError, match="give each student's notebook its own folder"):
        assignments._labels([Path("a/x.ipynb"), Path("b/a/x.ipynb")])


def test_the_command_line_refuses_an_unknown_assignment(capsys):
    assert cli.main(["assign", "week1"]) == 2
    assert capsys.readouterr().err.startswith("lrcourse: error: no assignment is called 'week1'")
    assert cli.main(["grade", "01_warmup_schedule", "missing.ipynb", "--assignments", "nowhere"]) == 2
    assert "run `make assignments` first" in capsys.readouterr().err


# --- slow: otter assign and otter run, as a teacher runs them ----------------------------------------


def _partial(student_notebook, answers, path):
    nb = nbformat.read(student_notebook, as_version=4)
    for anchor, code in answers.items():
        cells = [c for c in nb.cells if c.cell_type == "code" and anchor in c.source]
        assert len(cells) == 1, f"{anchor!r} finds {len(cells)} cells of {student_notebook.name}"
        cells[0].source = code.strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every assignment built by otter assign (which runs its tests against the solutions)."""
    output = tmp_path_factory.mktemp("assignments")
    return {name: assignments.assign(name, output, refresh_package=False) for name in assignments.NAMES}


@pytest.mark.parametrize("name", assignments.NAMES)
def test_the_package_holds_the_public_tests_otter_writes_now(built, name):
    generated = {p.name: p.read_text() for p in (built[name] / "student" / "tests").glob("*.py")}
    shipped = {p.name: p.read_text() for p in Path(assignments.public_tests(name)).glob("*.py")}
    assert shipped == generated, "run `make assignments` and commit lrcourse/assignment_tests/"


@pytest.mark.parametrize("name", assignments.NAMES)
def test_solution_stub_and_partial_answer_score_all_none_and_part(built, name, tmp_path):
    folder = built[name]
    student = folder / "student" / f"{name}.ipynb"
    broken = tmp_path / "broken" / f"{name}.ipynb"  # a file that is no notebook: graded as an error, others kept
    broken.parent.mkdir()
    broken.write_text("this is not a notebook")
    submissions = [folder / "autograder" / f"{name}.ipynb", student, broken,
                   _partial(student, PARTIAL_ANSWERS[name], tmp_path / "partial" / f"{name}.ipynb")]
    table = assignments.grade(name, submissions, folder.parent, tmp_path / "grades").set_index("submission")
    print(table.to_string())
    assert table["error"].notna().tolist() == [False, False, True, False]
    assert table.loc[f"broken-{name}", "error"].startswith(f"otter run could not grade {name}.ipynb (exit ")
    solution, stub, partial = (table.loc[f"{kind}-{name}"] for kind in ("autograder", "student", "partial"))
    assert solution["total"] == solution["possible"] == POINTS[name]
    assert stub["total"] == 0
    assert {q: partial[q] for q in PARTIAL_SCORES[name]} == pytest.approx(PARTIAL_SCORES[name])
    assert 0 < partial["total"] < POINTS[name]
    assert (tmp_path / "grades" / name / "grades.csv").exists()


def test_a_submission_that_shows_widgets_is_graded_to_the_end(built, tmp_path):
    # otter executes submissions with nbconvert's client, which (like papermill's) could stall for good at a
    # cell showing widgets; graded through lrcourse.execution it cannot. The time limit keeps a regression
    # from hanging the tests.
    name = assignments.NAMES[0]
    notebook = nbformat.read(built[name] / "autograder" / f"{name}.ipynb", as_version=4)
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in [
        "from lrcourse import widgets\nwidgets.clr_explorer()",
        "import ipywidgets\nipywidgets.interact(lambda rate=0.1: print(rate), rate=(0.01, 1.0));"] * 5]
    submission = tmp_path / "widgets" / f"{name}.ipynb"
    submission.parent.mkdir()
    nbformat.write(notebook, submission)
    table = assignments.grade(name, [submission], built[name].parent, tmp_path / "grades", timeout=300)
    assert "error" not in table, table.to_string()
    assert table.loc[0, "total"] == POINTS[name]


def test_the_student_notebook_hides_solutions_and_hidden_tests(built):
    for name, folder in built.items():
        student = (folder / "student" / f"{name}.ipynb").read_text()
        autograder = (folder / "autograder" / f"{name}.ipynb").read_text()
        assert SOLUTION_LINES[name] in autograder and SOLUTION_LINES[name] not in student
        assert "BEGIN SOLUTION" not in student and "hidden: true" not in student
        hidden = sum("hidden=True" in p.read_text() for p in (folder / "autograder" / "tests").glob("*.py"))
        assert hidden == len(list((folder / "autograder" / "tests").glob("*.py"))), f"{name}: a question without hidden tests"


def test_a_student_notebook_runs_top_to_bottom_with_its_checks_failing_quietly(built, tmp_path):
    """An unanswered notebook must not stop at the first failed check (otter prints, it does not raise)."""
    name = "01_warmup_schedule"
    done = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                           "--output-dir", str(tmp_path), str(built[name] / "student" / f"{name}.ipynb")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    executed = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    outputs = "".join(json.dumps(c.get("outputs", [])) for c in executed.cells if c.cell_type == "code")
    assert "q1 results" in outputs and "The schedule cannot be plotted yet" in outputs
    assert not np.any(['"output_type": "error"' in json.dumps(c.get("outputs", [])) for c in executed.cells])
