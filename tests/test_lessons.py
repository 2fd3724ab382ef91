"""Every lesson runs top to bottom with its CI parameters (notebooks/params/NN_ci.yaml).

Under nbval: papermill injects the parameters without executing (prepare_only), then nbval
executes the prepared copy in a fresh kernel and fails on any error; the lessons' own assert
cells check the values they teach. nbval runs in its own pytest process so its kernel starts
clean. tests/test_site.py runs every lesson through the course's runner, as ``make course`` does,
and checks that what it prints reads cleanly.
"""

import subprocess
import sys
from pathlib import Path

import papermill
import pytest

from lrcourse import batch

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))

@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_lesson_runs_with_ci_parameters(lesson, tmp_path):
    parameters = batch.read_params_file(NOTEBOOKS / "params" / f"{lesson.name[:2]}_ci.yaml")
    parameters["output_dir"] = str(tmp_path / "output")
    prepared = tmp_path / lesson.name
    papermill.execute_notebook(str(lesson), str(prepared), parameters=parameters, prepare_only=True,
                               kernel_name="python3", progress_bar=False)
    process = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env",
         "--nbval-cell-timeout=600", str(prepared)],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert process.returncode == 0, process.stdout[-6000:] + process.stderr[-2000:]
    assert list((tmp_path / "output" / "runs").rglob("seed-*.json")), "the lesson wrote no run records"
    assert list((tmp_path / "output" / "figures").glob("*.png")), "the lesson saved no figures"
