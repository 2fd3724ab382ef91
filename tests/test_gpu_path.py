"""benchmarks/gpu_path.py runs end to end at tiny sizes under JAX, as on the GPU machine (which has
no TensorFlow), so GPU minutes go to measuring only. Its figures are printed, never asserted:
these tests check what it measures and writes, not how fast."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_path.py"
# Run the script under JAX, then fail if anything imported TensorFlow (the GPU machine has none).
UNDER_JAX = ("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__'); "
             "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'")


def _run(tmp_path, command, *args):
    output = tmp_path / f"{command}.json"
    done = subprocess.run([sys.executable, "-c", UNDER_JAX, str(SCRIPT), command, *args, "--dataset", "synthetic",
                           "--output", str(output)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(output.read_text()), done.stdout


def test_speed_measures_every_combination_it_is_given_without_tensorflow(tmp_path):
    result, stdout = _run(tmp_path, "speed", "--models", "small_cnn", "--precisions", "float32", "mixed_float16",
                          "--jit", "on", "off", "--steps-per-execution", "1", "2", "--warmup-batches", "2",
                          "--batches", "4", "--eager-batches", "2")
    assert result["device"]["backend"] == "jax"
    assert [(r["precision"], r["xla"], r["steps_per_execution"], r["updates timed"]) for r in result["rows"]] == [
        ("float32", True, 1, 4), ("float32", True, 2, 4), ("float32", False, 1, 2),
        ("mixed_float16", True, 1, 4), ("mixed_float16", True, 2, 4), ("mixed_float16", False, 1, 2)]
    assert all(r["s per epoch"] > 0 for r in result["rows"]) and "s per epoch" in stdout


def test_speed_stops_cleanly_past_its_time_limit_keeping_what_it_measured(tmp_path):
    result, _ = _run(tmp_path, "speed", "--models", "small_cnn", "--precisions", "float32", "mixed_bfloat16",
                     "--jit", "on", "--steps-per-execution", "1", "--warmup-batches", "1", "--batches", "2",
                     "--time-limit", "0")
    assert len(result["rows"]) == 1 and result["stopped"].startswith("past --time-limit 0.0 s, before small_cnn")


def test_the_clr_protocol_reports_wall_time_epochs_and_test_accuracy(tmp_path):
    result, stdout = _run(tmp_path, "clr", "--model", "small_cnn", "--epochs", "2", "--subset", "128",
                          "--precision", "float32", "--steps-per-execution", "2")
    (row,) = result["rows"]
    assert row["epochs"] == 2 and row["cycles"] == pytest.approx(2 / 16) and row["augment"] is True
    assert len(result["epoch_seconds"]) == 2 and 0 <= row["test accuracy"] <= 1 and row["wall s"] > 0
    assert "epoch 2: " in stdout


def test_too_few_images_for_the_updates_asked_is_refused_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "speed", "--models", "small_cnn", "--precisions", "float32",
                           "--jit", "on", "--steps-per-execution", "1", "--dataset", "synthetic", "--subset", "64",
                           "--warmup-batches", "1", "--batches", "8", "--output", str(tmp_path / "x.json")],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith(
        "gpu_path: error: 8 updates of 64 need 512 training images; the data has 64: lower --batches")


def test_lessons_times_each_lesson_run_as_lrcourse_run_runs_it(tmp_path):
    result, stdout = _run_lessons(tmp_path, "--lessons", "02", "--params", "ci")
    (row,) = result["rows"]
    assert (row["lesson"], row["parameters"], row["side by side"], row["result"]) == (
        "02_cyclical_learning_rates", "ci", 1, "ok")
    assert row["wall s"] > 0 and (tmp_path / "lessons" / "02_cyclical_learning_rates" /
                                  "02_cyclical_learning_rates.ipynb").exists()


def test_a_lesson_still_running_at_the_time_limit_is_stopped_and_reported_unfinished(tmp_path):
    result, _ = _run_lessons(tmp_path, "--lessons", "02", "03", "--params", "ci", "--time-limit", "1")
    assert sorted(r["lesson"] for r in result["rows"]) == ["02_cyclical_learning_rates", "03_learning_rate_range_test"]
    assert {r["result"] for r in result["rows"]} == {"not finished in 1 s"} and result["side_by_side"] == 2


def _run_lessons(tmp_path, *args):
    output = tmp_path / "lessons.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "lessons", *args, "--output", str(output),
                           "--lesson-output", str(tmp_path / "lessons")], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(output.read_text()), done.stdout
