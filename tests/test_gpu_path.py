"""benchmarks/gpu_path.py runs end to end at tiny sizes, so GPU minutes go to measuring only.
(Its figures are printed, never asserted: these tests check what it measures, not how fast.)"""

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_path.py"


def _run(tmp_path, *args):
    output = tmp_path / "gpu_path.json"
    done = subprocess.run([sys.executable, str(SCRIPT), *args, "--dataset", "synthetic", "--output", str(output)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(output.read_text()), done.stdout


def test_speed_measures_every_combination_it_is_given(tmp_path):
    result, stdout = _run(tmp_path, "speed", "--models", "small_cnn", "--precisions", "float32", "mixed_bfloat16",
                          "--jit", "on", "--steps-per-execution", "1", "2", "--warmup-batches", "2", "--batches", "4")
    rows = result["rows"]
    assert [(r["precision"], r["steps_per_execution"]) for r in rows] == [
        ("float32", 1), ("float32", 2), ("mixed_bfloat16", 1), ("mixed_bfloat16", 2)]
    assert all(r["updates timed"] == 4 and r["s per epoch"] > 0 and r["xla"] is True for r in rows)
    assert result["device"]["kind"] == "CPU" and "s per epoch" in stdout


def test_the_clr_protocol_reports_wall_time_and_test_accuracy(tmp_path):
    result, _ = _run(tmp_path, "clr", "--model", "small_cnn", "--epochs", "2", "--subset", "128",
                     "--precision", "float32", "--steps-per-execution", "2")
    (row,) = result["rows"]
    assert row["epochs"] == 2 and row["cycles"] == 2 / 16 and row["article s per epoch"] == 96
    assert 0 <= row["test accuracy"] <= 1 and row["wall s"] > 0
