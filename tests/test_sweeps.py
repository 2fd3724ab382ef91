"""Sweeps: reading and checking sweep files, point names, resuming, reports, and Dask runs.

Most tests run a toy lesson written here: it trains nothing and writes run records at once, so a
sweep of it takes seconds. One test runs lesson 01 at its CI parameters on a LocalCluster.
"""

import contextlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import nbformat
import pandas as pd
import psutil
import pytest
from distributed import Client
from nbformat.v4 import new_code_cell, new_notebook

from lrcourse import cli, sweeps

ROOT = Path(__file__).resolve().parents[1]
PARAMETERS = '''
accuracy: float = 0.5  # validation and test accuracy of every run (plus 0.01 per seed)
seeds: list = [0]  # one record per seed
runs: list = ["plain"]  # one record per name and seed
fail: bool = False  # raise in the cell after the records
sleep: float = 0.0  # seconds to wait before writing anything
output_dir: str = "unused"  # set by the runner
'''
WORK = '''
import json, os, pathlib, time
time.sleep(sleep)
for run in runs:
    for seed in seeds:
        record = {"name": run, "history": {}, "iterations": [], "learning_rates": [],
                  "val_loss": 1 - accuracy, "val_accuracy": accuracy + 0.01 * seed,
                  "test_loss": 1 - accuracy, "test_accuracy": accuracy + 0.01 * seed,
                  "report": {}, "report_text": "", "seconds": 1.0, "steps_per_epoch": 1,
                  "device": {"backend": "toy", "kind": "CPU", "name": "CPU"},
                  "params": {"spec": {"seed": seed}, "key": run},
                  "threads": os.environ.get("TF_NUM_INTRAOP_THREADS")}
        path = pathlib.Path(output_dir) / "runs" / run / f"seed-{seed}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({k: v for k, v in record.items() if k != "threads"}))
        (pathlib.Path(output_dir) / "threads.txt").write_text(str(record["threads"]))
'''
FAIL = '''
if fail:
    raise ValueError("this point was told to fail")
'''


@pytest.fixture
def toy(tmp_path):
    """A toy lesson: records at once, optionally a failing cell."""
    nb = new_notebook(cells=[new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                             new_code_cell(WORK), new_code_cell(FAIL)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "toy.ipynb"
    nbformat.write(nb, path)
    return path


def write_sweep(tmp_path, text, name="sweep.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def toy_sweep(tmp_path, toy, grid="accuracy: [0.5, 0.8]\n  seed: [0, 1, 2]", extra=""):
    return write_sweep(tmp_path, f"lesson: {toy}\ngrid:\n  {grid}\n{extra}")


# --- reading a sweep file -----------------------------------------------------------------------

def test_grid_expands_every_combination_with_the_last_axis_fastest():
    assert sweeps.expand_grid({"a": [1, 2], "b": ["x", "y", "z"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"},
        {"a": 2, "b": "x"}, {"a": 2, "b": "y"}, {"a": 2, "b": "z"}]


def test_seed_axis_runs_each_seed_as_a_point_of_a_lesson_that_takes_seeds(tmp_path, toy):
    sweep = sweeps.read_sweep(toy_sweep(tmp_path, toy, extra="parameters:\n  runs: [a, b]\n"))
    assert sweep.axes == ["accuracy", "seed"]
    assert len(sweep.points) == 6
    first = sweep.points[0]
    assert first.values == {"accuracy": 0.5, "seed": 0}
    assert first.parameters == {"runs": ["a", "b"], "accuracy": 0.5, "seeds": [0]}
    assert first.name.startswith("accuracy-0.5_seed-0-")


def test_points_are_listed_as_well_as_a_grid_and_ints_become_floats(tmp_path, toy):
    path = toy_sweep(tmp_path, toy, grid="seed: [0, 1]", extra="points:\n  - {accuracy: 1, seed: 5}\n")
    sweep = sweeps.read_sweep(path)
    assert [p.values for p in sweep.points] == [{"seed": 0}, {"seed": 1}, {"accuracy": 1, "seed": 5}]
    assert sweep.points[2].parameters["accuracy"] == 1.0 and isinstance(sweep.points[2].parameters["accuracy"], float)


def test_point_names_are_readable_and_hash_every_parameter(tmp_path, toy):
    a = sweeps.read_sweep(toy_sweep(tmp_path, toy, grid="seed: [0]", extra="parameters: {accuracy: 0.5}\n"))
    b = sweeps.read_sweep(toy_sweep(tmp_path, toy, grid="seed: [0]", extra="parameters: {accuracy: 0.6}\n"))
    same = sweeps.read_sweep(write_sweep(tmp_path, f"parameters: {{accuracy: 0.5}}\nlesson: {toy}\ngrid: {{seed: [0]}}\n"))
    assert a.points[0].name.startswith("seed-0-") and len(a.points[0].name.split("-")[-1]) == 8
    assert a.points[0].name != b.points[0].name  # a fixed parameter changed: a new point
    assert a.points[0].name == same.points[0].name  # the order of keys in the file does not matter
    listed = sweeps.read_sweep(toy_sweep(tmp_path, toy, grid="runs: [[a, b]]"))
    assert listed.points[0].name.startswith("runs-a+b-")


@pytest.mark.parametrize("text, message", [
    ("lesson: [unclosed", "not valid YAML"),
    ("- just\n- a list\n", "must hold a mapping"),
    ("lesson: {toy}\ngrid: {{seed: [0]}}\ngrids: {{a: [1]}}\n", "unknown key 'grids'"),
    ("grid: {{seed: [0]}}\n", "names no lesson"),
    ("lesson: notebooks/99_no_such_lesson.ipynb\ngrid: {{seed: [0]}}\n", "no notebook at notebooks/99_no_such_lesson.ipynb"),
    ("lesson: {toy}\ngrid: {{momentum: [0.9]}}\n", "has no parameter 'momentum'"),
    ("lesson: {toy}\ngrid: {{accuracy: [high]}}\n", "parameter 'accuracy' of toy.ipynb is declared float; got 'high'"),
    ("lesson: {toy}\ngrid: {{seed: []}}\n", "grid axis 'seed' must be a non-empty list"),
    ("lesson: {toy}\ngrid: {{seed: 3}}\n", "grid axis 'seed' must be a non-empty list"),
    ("lesson: {toy}\ngrid: {{}}\n", "has no points"),
    ("lesson: {toy}\n", "has no points"),
    ("lesson: {toy}\npoints: {{seed: 1}}\n", "points must be a list of mappings"),
    ("lesson: {toy}\npoints: [3]\n", "points[0] must be a mapping"),
    ("lesson: {toy}\nparameters: {{accuracy: 0.5}}\ngrid: {{accuracy: [0.5]}}\n", "'accuracy' set under parameters and swept too"),
    ("lesson: {toy}\nparameters: {{seeds: [0, 1]}}\ngrid: {{seed: [0, 1]}}\n", "'seeds' set under parameters and swept"),
    ("lesson: {toy}\ngrid: {{seed: [0, 1]}}\npoints: [{{seed: 1}}]\n", "points 2 and 3 are the same run"),
    ("lesson: {toy}\ngrid: {{seed: [0]}}\npoints: [{{seeds: [0]}}]\n", "points 1 and 2 are the same run"),
    ("lesson: {toy}\nparameters_file: [a.yaml]\ngrid: {{seed: [0]}}\n", "parameters_file must be one path"),
    ("lesson: {toy}\nparameters: {{output_dir: x}}\ngrid: {{seed: [0]}}\n", "output_dir is set by the sweep"),
    ("lesson: {toy}\ngrid: {{seed: [0]}}\ncompare_within: [dataset]\n", "compare_within must list swept names"),
])
def test_refused_sweep_files_exit_2_with_one_line_before_anything_runs(tmp_path, toy, capsys, text, message):
    path = write_sweep(tmp_path, text.format(toy=toy))
    assert cli.main(["sweep", str(path), "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
    assert not (tmp_path / "out").exists()


def test_a_missing_sweep_file_and_bad_workers_are_refused(tmp_path, toy, capsys):
    assert cli.main(["sweep", str(tmp_path / "nope.yaml")]) == 2
    assert "no sweep file at" in capsys.readouterr().err
    path = toy_sweep(tmp_path, toy)
    assert cli.main(["sweep", str(path), "--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
    assert cli.main(["sweep", str(path), "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"]) == 2
    assert "start workers on the cluster" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, toy, capsys):
    path = toy_sweep(tmp_path, toy)
    assert cli.main(["sweep", str(path), "--scheduler", "tcp://127.0.0.1:9", "--output", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "cannot reach a Dask scheduler at tcp://127.0.0.1:9" in error and error.count("\n") == 1


# --- saving points, resuming, reports (no Dask) ---------------------------------------------------

def outcome(ok=True, files=None, error="", cell=None):
    return {"ok": ok, "error": error, "cell": cell, "seconds": 1.0, "worker": "tcp://w", "host": "h",
            "threads": 1, "files": files or {}}


def record_file(run, seed, accuracy):
    return json.dumps({"name": run, "history": {}, "iterations": [], "learning_rates": [], "val_loss": 0.1,
                       "val_accuracy": accuracy, "test_loss": 0.1, "test_accuracy": accuracy, "report": {},
                       "report_text": "", "seconds": 2.0, "steps_per_epoch": 1,
                       "device": {"backend": "tensorflow", "name": "CPU"}, "params": {"spec": {"seed": seed}}})


def test_only_a_point_whose_point_json_says_ok_counts_as_finished(tmp_path, toy):
    sweep = sweeps.read_sweep(toy_sweep(tmp_path, toy))
    good, bad, half = sweep.points[:3]
    out = tmp_path / "out"
    sweeps.save_point(out, good, outcome(files={"toy.ipynb": b"{}"}))
    sweeps.save_point(out, bad, outcome(ok=False, error="cell 2 raised ValueError: no", cell=2))
    (sweeps.point_folder(out, half) / "runs").mkdir(parents=True)  # killed before it finished
    (sweeps.point_folder(out, half) / ".point.json.tmp-12").write_text('{"ok": tr')  # a write cut short
    assert [sweeps.is_finished(sweeps.point_folder(out, p)) for p in (good, bad, half)] == [True, False, False]
    status = json.loads((sweeps.point_folder(out, good) / "point.json").read_text())
    assert status["values"] == good.values and status["parameters"] == good.parameters


def test_saving_a_point_again_replaces_the_earlier_attempt(tmp_path, toy):
    point = sweeps.read_sweep(toy_sweep(tmp_path, toy)).points[0]
    out = tmp_path / "out"
    sweeps.save_point(out, point, outcome(ok=False, files={"runs/a/seed-0.json": b"half", "toy.ipynb": b"{}"}))
    sweeps.save_point(out, point, outcome(files={"toy.ipynb": b"{}"}))
    folder = sweeps.point_folder(out, point)
    assert sorted(p.name for p in folder.rglob("*")) == ["point.json", "toy.ipynb"]


def test_reports_group_over_seeds_and_list_failures_apart(tmp_path, toy):
    sweep = sweeps.read_sweep(toy_sweep(tmp_path, toy))
    out = tmp_path / "out"
    for point in sweep.points:
        accuracy, seed = point.values["accuracy"], point.values["seed"]
        if (accuracy, seed) == (0.8, 2):
            sweeps.save_point(out, point, outcome(ok=False, error="cell 2 (In [3]) raised ValueError: no", cell=2,
                                                  files={"toy.ipynb": b"{}"}))
            continue
        value = accuracy + [0.0, 0.01, -0.01][seed]
        sweeps.save_point(out, point, outcome(files={"runs/plain/seed-%d.json" % seed: record_file("plain", seed, value)
                                                     .encode()}))
    results, failures = sweeps.write_reports(sweep, out)
    assert len(results) == 5 and set(results.columns) >= {"point", "accuracy", "run", "seed", "val_accuracy",
                                                          "test_accuracy", "seconds", "device", "record"}
    assert "seeds" not in results.columns and results["device"].unique().tolist() == ["CPU (tensorflow)"]
    assert pd.read_csv(out / "results.csv").shape == results.shape
    failed = pd.read_csv(out / "failures.csv")
    assert failed.to_dict("records") == [{"point": sweep.points[5].name, "accuracy": 0.8, "seed": 2, "cell": 2,
                                          "error": "cell 2 (In [3]) raised ValueError: no",
                                          "notebook": f"points/{sweep.points[5].name}/toy.ipynb"}]
    summary = (out / "summary.md").read_text()
    assert "Failed points: 1" in summary
    assert re.search(r"\| +accuracy \| run +\| +failed points \| validation accuracy", summary)
    rows = [re.split(r" *\| *", line.strip("| ")) for line in summary.splitlines() if "| plain |" in line]
    # 0.8 over seeds 0, 1 (seed 2 failed): mean 0.805, CI half-width t(0.975, 1) * 0.00707 / sqrt(2) = 0.0635
    assert rows[0][:4] == ["0.8", "plain", "1", "0.805 ± 0.064"] and rows[0][6] == "2"
    # 0.5 over seeds 0, 1, 2: mean 0.5, CI half-width t(0.975, 2) * 0.01 / sqrt(3) = 0.0248
    assert rows[1][:4] == ["0.5", "plain", "0", "0.500 ± 0.025"] and rows[1][6] == "3"
    assert rows[1][8].startswith("different from the best")
    assert "1 setting is each tested against the best" in summary


def test_compare_within_gives_each_condition_its_own_table_and_best(tmp_path, toy):
    path = toy_sweep(tmp_path, toy, grid="runs: [[easy], [hard]]\n  accuracy: [0.5, 0.8]\n  seed: [0, 1]",
                     extra="compare_within: [runs]\n")
    sweep = sweeps.read_sweep(path)
    out = tmp_path / "out"
    for point in sweep.points:
        run, seed = point.values["runs"][0], point.values["seed"]
        value = point.values["accuracy"] - (0.3 if run == "hard" else 0) + 0.01 * seed
        sweeps.save_point(out, point, outcome(files={f"runs/{run}/seed-{seed}.json": record_file(run, seed, value).encode()}))
    sweeps.write_reports(sweep, out)
    summary = (out / "summary.md").read_text()
    assert "## runs = easy" in summary and "## runs = hard" in summary
    assert summary.count("best (chosen on validation)") == 2  # one best a condition, each at accuracy 0.8
    easy, hard = summary.split("## runs = hard")
    assert re.search(r"\| +0.8 \| easy .*best \(chosen", easy) and re.search(r"\| +0.8 \| hard .*best \(chosen", hard)


# --- Dask -------------------------------------------------------------------------------------------

def test_thread_environment_limits_tensorflow_openmp_and_xla():
    one, four = sweeps.thread_environment(1), sweeps.thread_environment(4)
    assert one["TF_NUM_INTRAOP_THREADS"] == "1" and one["OMP_NUM_THREADS"] == "1"
    assert one["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=false"
    assert four["TF_NUM_INTRAOP_THREADS"] == "4" and four["OMP_NUM_THREADS"] == "4" and "XLA_FLAGS" not in four


def test_a_kernel_started_with_the_thread_environment_uses_one_core():
    """TensorFlow reads the limit: a matrix product loop keeps one core busy, not two."""
    code = ("import os, time; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'; import tensorflow as tf\n"
            "a = tf.random.normal((800, 800)); f = tf.function(lambda a: [a := tf.matmul(a, a) / 800 for _ in range(40)][-1])\n"
            "f(a).numpy(); cpu, wall = time.process_time(), time.perf_counter(); f(a).numpy(); f(a).numpy()\n"
            "print((time.process_time() - cpu) / (time.perf_counter() - wall))")
    env = {**os.environ, **sweeps.thread_environment(1), "KERAS_BACKEND": "tensorflow"}  # the code is TensorFlow's
    busy = float(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
                 .stdout.split()[-1])
    assert busy < 1.3  # CPU seconds per wall second: about 1 with one thread (2 on this 2-core machine without)


def test_local_cluster_runs_every_point_keeps_failures_apart_and_resumes(tmp_path, toy, capsys):
    path = toy_sweep(tmp_path, toy, grid="accuracy: [0.5, 0.8]\n  seed: [0, 1]",
                     extra="points:\n  - {accuracy: 0.9, seed: 0, fail: true}\n")
    out = tmp_path / "out"
    assert cli.main(["sweep", str(path), "--workers", "2", "--output", str(out)]) == 1
    printed = capsys.readouterr()
    assert "4 of 5 points ran" in printed.out and "1 failed" in printed.out
    assert "done 4, failed 1, running 0" in printed.err  # the progress bar's last state
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 and sorted(results["seed"]) == [0, 0, 1, 1]
    failed = pd.read_csv(out / "failures.csv")
    # cell 3 of the executed notebook: papermill adds its injected-parameters cell after cell 0
    assert len(failed) == 1 and failed["cell"][0] == 3 and "this point was told to fail" in failed["error"][0]
    assert (out / failed["notebook"][0]).exists()  # the partial notebook is kept
    finished = sorted(p.name for p in (out / "points").iterdir())
    threads = {(out / "points" / name / "threads.txt").read_text() for name in finished if "fail" not in name}
    assert threads == {str(max(1, dask_cpu_count() // 2))}  # two one-task workers share the cores

    # the second time only the failed point runs (and fails again); finished ones are kept as they were
    stamps = {name: (out / "points" / name / "point.json").stat().st_mtime_ns for name in finished}
    assert cli.main(["sweep", str(path), "--workers", "1", "--output", str(out)]) == 1
    assert "0 of 1 points ran" in capsys.readouterr().out
    changed = [n for n in finished if (out / "points" / n / "point.json").stat().st_mtime_ns != stamps[n]]
    assert changed == [failed["point"][0]]
    assert len(pd.read_csv(out / "results.csv")) == 4


def test_a_point_whose_kernel_dies_is_a_failed_point_that_the_next_run_retries(tmp_path, capsys):
    lesson = tmp_path / "dying.ipynb"
    cells = [new_code_cell("die: bool = False  # kill the kernel\noutput_dir: str = 'unused'", metadata={"tags": ["parameters"]}),
             new_code_cell("import os, signal\nif die:\n    os.kill(os.getpid(), signal.SIGKILL)")]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                      "language": "python"}}), lesson)
    path = write_sweep(tmp_path, f"lesson: {lesson}\npoints:\n  - {{die: false}}\n  - {{die: true}}\n")
    out = tmp_path / "out"
    assert cli.main(["sweep", str(path), "--workers", "1", "--output", str(out)]) == 1
    assert "1 of 2 points ran" in capsys.readouterr().out
    failed = pd.read_csv(out / "failures.csv")
    assert len(failed) == 1 and failed["cell"][0] == 2
    assert failed["error"][0].startswith("stopped: the kernel died at cell 2 (`import os, signal`)")
    assert cli.main(["sweep", str(path), "--workers", "1", "--output", str(out)]) == 1
    assert "0 of 1 points ran" in capsys.readouterr().out  # only the stopped point ran again


def _start(*command, env=None):
    # Ctrl-C as at a terminal: a shell without job control starts background jobs with SIGINT ignored, and a
    # child would inherit that (Python then never raises KeyboardInterrupt), so restore its default first.
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, **(env or {})},
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _stop(*processes):
    """Kill each process with everything it started."""
    for process in processes:
        if process.poll() is None:
            for p in [*psutil.Process(process.pid).children(recursive=True), psutil.Process(process.pid)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()
        process.wait(timeout=30)


@contextlib.contextmanager
def local_cluster(allowed_failures=3):
    """A Dask scheduler and one `dask worker` command with two one-thread processes, on loopback."""
    dask = str(Path(sys.executable).parent / "dask")
    port = 28786 + os.getpid() % 1000
    address = f"tcp://127.0.0.1:{port}"
    env = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures)}
    scheduler = _start(dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", env=env)
    worker = _start(dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard")
    try:
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)  # both, so that each point sees the other's slot
        yield address, worker
    finally:
        _stop(worker, scheduler)


def test_a_sweep_runs_on_an_existing_cluster_given_by_its_address(tmp_path, toy, capsys):
    path = toy_sweep(tmp_path, toy, grid="accuracy: [0.5, 0.8]\n  seed: [0, 1]")
    out = tmp_path / "out"
    with local_cluster() as (address, _):
        assert cli.main(["sweep", str(path), "--scheduler", address, "--output", str(out)]) == 0, capsys.readouterr()
    assert f"on {address}" in capsys.readouterr().out
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 and results["val_accuracy"].round(2).tolist() == [0.5, 0.51, 0.8, 0.81]
    assert pd.read_csv(out / "failures.csv").empty
    threads = {(p / "threads.txt").read_text() for p in (out / "points").iterdir()}
    assert threads == {str(max(1, dask_cpu_count() // 2))}  # two one-task workers on this host share its cores


def dask_cpu_count():
    from dask.system import CPU_COUNT

    return CPU_COUNT


def _kill_a_worker_running_a_point(worker):
    """SIGKILL a worker process of the `dask worker` command while its point's kernel runs;
    return the point's process and its kernel."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for process in psutil.Process(worker.pid).children(recursive=True):
            points = [child for child in process.children() if "lrcourse.batch" in " ".join(child.cmdline())]
            kernels = [kernel for point in points for kernel in point.children()]
            if kernels:
                time.sleep(1)  # the kernel is running the lesson
                process.kill()
                return points + kernels
        time.sleep(0.2)
    raise AssertionError("no worker ever ran a point")


def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path, toy):
    path = toy_sweep(tmp_path, toy, grid="accuracy: [0.5, 0.8]\n  seed: [0, 1, 2]", extra="parameters: {sleep: 6.0}\n")
    out = tmp_path / "out"
    with local_cluster() as (address, worker):
        sweep = _start(sys.executable, "-m", "lrcourse.cli", "sweep", str(path), "--scheduler", address,
                       "--output", str(out))
        orphans = _kill_a_worker_running_a_point(worker)
        printed, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, printed  # the killed point ran again on a worker that lived
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 6 and math.isclose(results["val_accuracy"].sum(), 3 * 0.5 + 3 * 0.8 + 2 * 0.03)
    assert pd.read_csv(out / "failures.csv").empty
    assert [json.loads((p / "point.json").read_text())["ok"] for p in (out / "points").iterdir()] == [True] * 6
    # the dead worker's point process noticed within a second and stopped, and its kernel with it
    psutil.wait_procs(orphans, timeout=10)
    assert not [p.pid for p in orphans if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_point_whose_workers_keep_dying_is_listed_as_failed_with_the_reason(tmp_path, toy):
    path = toy_sweep(tmp_path, toy, grid="accuracy: [0.5]\n  seed: [0]", extra="parameters: {sleep: 6.0}\n")
    out = tmp_path / "out"
    with local_cluster(allowed_failures=0) as (address, worker):  # no second try
        sweep = _start(sys.executable, "-m", "lrcourse.cli", "sweep", str(path), "--scheduler", address,
                       "--output", str(out))
        _kill_a_worker_running_a_point(worker)
        printed, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 1, printed
    failed = pd.read_csv(out / "failures.csv")
    assert len(failed) == 1 and failed["error"][0].startswith("KilledWorker") and "died" in failed["error"][0]
    assert (out / "results.csv").read_text().strip() == ""  # no run finished


def test_ctrl_c_keeps_the_finished_points_and_the_next_run_does_the_rest(tmp_path, toy):
    path = toy_sweep(tmp_path, toy, grid="seed: [0, 1, 2, 3]", extra="parameters: {sleep: 2.0}\n")
    out = tmp_path / "out"
    sweep = _start(sys.executable, "-m", "lrcourse.cli", "sweep", str(path), "--workers", "1", "--output", str(out))
    deadline = time.monotonic() + 120
    while not list(out.glob("points/*/point.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    sweep.send_signal(signal.SIGINT)
    printed, _ = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, printed
    assert "interrupted: the finished points are kept" in printed
    finished = [p for p in (out / "points").iterdir() if sweeps.is_finished(p)]
    assert 1 <= len(finished) < 4
    assert cli.main(["sweep", str(path), "--workers", "2", "--output", str(out)]) == 0
    assert len(pd.read_csv(out / "results.csv")) == 4


def test_lesson_01_on_a_local_cluster_2x2_grid_with_a_point_that_fails(tmp_path, capsys):
    """A 2x2 grid of lesson 01 at its CI parameters (one epoch, two schedules, one seed a point):
    scikit-learn's digits have 1,293 training images, so the point asking for 1,500 of them fails
    in the data cell, and the other three finish."""
    path = write_sweep(tmp_path, "lesson: notebooks/01_learning_rate_schedules.ipynb\n"
                                 "parameters_file: notebooks/params/01_ci.yaml\n"
                                 "parameters: {epochs: 1, schedule_names: [step], initial_lrs: [0.03, 0.1], seeds: [0]}\n"
                                 "grid:\n  dataset: [fashion_mnist_small, digits]\n  subset: [256, 1500]\n")
    out = tmp_path / "out"
    assert cli.main(["sweep", str(path), "--workers", "2", "--output", str(out)]) == 1
    assert "3 of 4 points ran" in capsys.readouterr().out
    failed = pd.read_csv(out / "failures.csv")
    assert failed[["dataset", "subset"]].values.tolist() == [["digits", 1500]]
    assert "subset must be at most the 1293 training examples of digits" in failed["error"][0]
    results = pd.read_csv(out / "results.csv")
    runs = results.groupby("point")["run"].agg(list)
    assert len(runs) == 3 and all(point.count("step") == 1 for point in runs)  # each point: its constant grid, then step
    assert all(sum(run.startswith("constant ") for run in point) >= 2 for point in runs) and len(results) >= 9
    assert results["test_accuracy"].between(0.05, 1).all() and (results["device"] == f"CPU ({keras.backend.backend()})").all()
    summary = (out / "summary.md").read_text()
    assert re.search(r"\| dataset +\| +subset \| run +\|", summary), summary
    # one row a run (one seed each): all but the best are untested
    assert summary.count("not tested (needs 2 seeds or more)") == len(results) - 1 and "nothing is tested" in summary


def test_the_docstring_examples_hold():
    import doctest

    result = doctest.testmod(sweeps)
    assert result.attempted >= 1 and result.failed == 0


@pytest.mark.parametrize("path", sorted((ROOT / "sweeps").rglob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_sweep_is_accepted_and_sweeps_five_seeds(path):
    sweep = sweeps.read_sweep(path)
    assert [p.values for p in sweep.points] == [{"seed": seed} for seed in range(5)]
    assert all(p.parameters["seeds"] == [p.values["seed"]] for p in sweep.points)


def test_the_readme_example_sweep_is_accepted(tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = readme.split("A sweep file:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    sweep = sweeps.read_sweep(write_sweep(tmp_path, example))
    assert len(sweep.points) == 3 * 3 + 1 and sweep.axes == ["batch_size", "seed", "momentum"]
    assert sweep.fixed == {"dataset": "fashion_mnist_small", "subset": 256, "model_name": "mnist_cnn", "epochs": 20,
                           "schedule_names": ["step", "linear"]}


def test_a_saved_point_whose_files_are_missing_or_damaged_is_not_finished_and_says_why(tmp_path, toy):
    sweep = sweeps.read_sweep(toy_sweep(tmp_path, toy))
    deleted, truncated, garbled, whole = sweep.points[:4]
    out = tmp_path / "out"
    files = {"toy.ipynb": b"{}", "runs/r-1/seed-0.json": record_file("r", 0, 0.5).encode()}
    for point in (deleted, truncated, garbled, whole):
        sweeps.save_point(out, point, outcome(files=files))
    (sweeps.point_folder(out, deleted) / "runs/r-1/seed-0.json").unlink()
    record = sweeps.point_folder(out, truncated) / "runs/r-1/seed-0.json"
    record.write_bytes(record.read_bytes()[:40])  # a disk that filled up while it was written
    (sweeps.point_folder(out, garbled) / "point.json").write_text('{"point": "x"}')  # JSON, but not a point's
    folders = [sweeps.point_folder(out, p) for p in (deleted, truncated, garbled, whole)]
    assert [sweeps.is_finished(f) for f in folders] == [False, False, False, True]
    assert [sweeps.needs_repair(f) for f in folders] == [
        "1 of its files are missing or damaged (runs/r-1/seed-0.json)",
        "1 of its files are missing or damaged (runs/r-1/seed-0.json)", "its point.json is damaged", None]
    results, _ = sweeps.write_reports(sweep, out)  # no traceback: only whole points are read
    assert list(results["point"]) == [whole.name]


def test_a_resumed_sweep_runs_again_the_points_whose_records_were_lost(tmp_path, toy, capsys):
    path = toy_sweep(tmp_path, toy, grid="accuracy: [0.5]\n  seed: [0, 1]")
    out = tmp_path / "out"
    assert cli.main(["sweep", str(path), "--workers", "1", "--output", str(out)]) == 0
    lost = next(iter(sorted((out / "points").glob("*/runs/*/seed-*.json"))))
    lost.unlink()
    capsys.readouterr()
    assert cli.main(["sweep", str(path), "--workers", "1", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "running again 1 saved point(s) that are not whole" in printed and "1 of 1 points ran" in printed
    assert lost.exists() and len(pd.read_csv(out / "results.csv")) == 2  # both seeds summarised again


@pytest.mark.parametrize("sent, says", [
    ({"files": {"../../../x/owned.txt": b"x"}}, "a worker sent back a file named '../../../x/owned.txt'"),
    ({"files": {"/etc/owned": b"x"}}, "a worker sent back a file named '/etc/owned'"),
    ({"files": {"runs/a b;rm/x.json": b"x"}}, "not a plain path inside its point's folder"),
    ({"files": {"toy.ipynb": "text"}}, "'toy.ipynb' as str, not bytes"),
    ({"ok": "yes"}, "ok='yes', not a bool"),
    ({"cell": True}, "cell=True, not a int"),
    ({"extra": 1}, "without the expected fields"),
])
def test_what_a_worker_sends_back_is_checked_before_anything_is_written(tmp_path, toy, sent, says):
    point = sweeps.read_sweep(toy_sweep(tmp_path, toy)).points[0]
    out = tmp_path / "sweep-output"
    status = sweeps.save_point(out, point, {**outcome(files={"toy.ipynb": b"{}"}), **sent})
    assert status["ok"] is False and says in status["error"] and status["files"] == []
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["sweep-output/points/" + point.name + "/point.json", "sweep.yaml", "toy.ipynb"]


# --- an authenticated cluster ----------------------------------------------------------------------

def test_a_tls_cluster_admits_only_holders_of_the_labs_certificate(tmp_path, toy, capsys):
    import socket
    import ssl

    from distributed import Client, LocalCluster
    from distributed.comm.addressing import parse_host_port

    from lrcourse import cluster

    certificates = tmp_path / "certificates"
    assert cli.main(["certs", "--output", str(certificates), "--hosts", "localhost", "127.0.0.1"]) == 0
    assert "keep ca-key.pem private" in capsys.readouterr().out
    assert oct((certificates / "cluster-key.pem").stat().st_mode)[-3:] == "600"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tls://", host="127.0.0.1",
                      security=cluster.security(certificates), dashboard_address=None) as lab:
        address = lab.scheduler_address
        host, port = parse_host_port(address.removeprefix("tls://"))
        # a client with no certificate: the scheduler ends the handshake before it can send anything
        context = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
        with socket.create_connection((host, port)) as raw, context.wrap_socket(raw, server_hostname="localhost") as tls:
            with pytest.raises((ssl.SSLError, ConnectionError)):
                tls.sendall(b"x")
                tls.recv(1)
        # another lab's certificate, and plain TCP, are refused too
        other = cluster.security(cluster.make_certificates(tmp_path / "other-lab"))
        with pytest.raises(OSError, match="certificate"):
            Client(address, security=other, timeout="5s")
        with pytest.raises(OSError):
            Client(address.replace("tls://", "tcp://"), timeout="5s")
        # the lab's own sweep runs
        path = toy_sweep(tmp_path, toy, grid="accuracy: [0.5]\n  seed: [0, 1]")
        out = tmp_path / "out"
        assert cli.main(["sweep", str(path), "--scheduler", address, "--certificates", str(certificates),
                         "--output", str(out)]) == 0
        assert len(pd.read_csv(out / "results.csv")) == 2


@pytest.mark.parametrize("arguments, says", [
    (["--scheduler", "tcp://10.1.2.3:8786"], "is plain tcp:// to another machine"),
    (["--scheduler", "tls://10.1.2.3:8786"], "is TLS: give --certificates FOLDER"),
    (["--certificates", "somewhere"], "--certificates and --insecure are for --scheduler"),
])
def test_an_unauthenticated_or_incomplete_cluster_setting_is_refused_in_one_line(tmp_path, toy, capsys, arguments, says):
    assert cli.main(["sweep", str(toy_sweep(tmp_path, toy)), *arguments, "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err


def test_insecure_is_the_users_explicit_choice_for_plain_tcp_to_another_machine(tmp_path, toy, capsys):
    arguments = ["sweep", str(toy_sweep(tmp_path, toy)), "--scheduler", "tcp://127.0.0.2:9", "--insecure"]
    assert cli.main([*arguments, "--output", str(tmp_path / "out")]) == 2  # allowed, then nobody answers there
    assert "cannot reach a Dask scheduler at tcp://127.0.0.2:9" in capsys.readouterr().err
