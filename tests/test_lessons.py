"""Every lesson runs top to bottom with its CI parameters (notebooks/params/NN_ci.yaml).

Under nbval: papermill injects the parameters without executing (prepare_only), then nbval
executes the prepared copy in a fresh kernel and fails on any error; the lessons' own assert
cells check the values they teach. nbval runs in its own pytest process so its kernel starts
clean. Through the course's runner (``lrcourse run``): the executed notebook must read cleanly,
with no TensorFlow log line and no absolute path of this machine in its outputs.
"""

import subprocess
import sys
import tempfile
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


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda path: path.stem)
def test_lesson_reads_cleanly_through_the_runner(lesson, tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # as under `make course`: the lesson quiets TensorFlow
    parameters = batch.read_params_file(NOTEBOOKS / "params" / f"{lesson.name[:2]}_ci.yaml")
    result = batch.run_lesson(lesson, parameters, output=tmp_path)
    assert result.ok, result.error
    texts = list(batch.output_texts(result.output_notebook))
    noise = [line for text in texts for line in text.splitlines() if batch.TF_LOG_LINE.search(line)]
    assert not noise, "TensorFlow log lines in the outputs:\n" + "\n".join(noise)
    for machine_path in (str(REPO), str(tmp_path), tempfile.gettempdir()):
        leaks = [text for text in texts if machine_path in text]
        assert not leaks, f"{machine_path} printed in the outputs: {leaks[0][:300]}"
