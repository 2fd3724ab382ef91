"""Sweeps: many runs of one lesson on Dask, put side by side with honest statistics.

A sweep file names a lesson, the parameters fixed for every run, and what varies::

    lesson: notebooks/01_learning_rate_schedules.ipynb
    parameters_file: notebooks/params/01_ci.yaml   # optional: a base that the rest override
    parameters:                                    # the same for every point
      epochs: 20
    grid:                                          # every combination of these
      batch_size: [32, 64, 128]
      seed: [0, 1, 2]
    points:                                        # and/or points listed one by one
      - {batch_size: 256, momentum: 0.0}

Each point is one papermill execution of the lesson (:func:`lrcourse.batch.execute`), checked
like ``lrcourse run`` before anything runs. ``seed`` is the sweep's seed axis: a lesson that
declares a list ``seeds`` runs the point with ``seeds: [seed]``, so each seed is a point of
its own and the seeds of one setting run in parallel.

Points run on Dask workers: a ``LocalCluster`` on this machine, or any cluster given by its
scheduler's address. The lesson travels with the task and the results come back with its
outcome, so a worker needs the package (the bundled data sets are inside it) but no shared
folder. Only this process writes into the output, each file atomically (written beside its
place, then renamed), and a point's ``point.json`` last: a point is finished when that file
says so and every file it lists is still there and whole, never because half of its files are
there. A resumed sweep runs again, and names, a saved point whose files were lost or damaged. The output::

    <output>/points/<name>-<hash>/   one folder a point: the executed notebook, its run records
                                     (runs/), figures, kernel.log (what the kernel process printed),
                                     point.log (the point's own process) and point.json (parameters,
                                     outcome, worker)
    <output>/results.csv             one row per training run of every finished point
    <output>/summary.md              the runs grouped over seeds: mean and 95% CI, best on validation
    <output>/failures.csv            each failed point: the cell that failed and the error

``<name>`` reads the swept values (``batch_size-32_seed-0``) and ``<hash>`` is a digest of the
lesson's name and every parameter, so running the sweep again skips finished points and runs the
missing or failed ones, and a point whose parameters change is a new point. Editing the lesson
itself does not start the points again: give another ``--output`` for that.

Threads: several TensorFlow kernels on one machine would each start a thread per core and fight
over them. Each point's kernel gets its machine's cores divided by the task slots of the Dask
workers there (:func:`kernel_threads`), through TensorFlow's and OpenMP's thread settings
(:func:`thread_environment`).
"""

import contextlib
import hashlib
import importlib.metadata
import itertools
import json
import logging
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from lrcourse import batch, paths, statistics

SWEEP_KEYS = ("lesson", "parameters_file", "parameters", "grid", "points", "compare_within")
SEED_AXIS = "seed"
SET_BY_SWEEP = ("output_dir", "seeds")  # set for each point by the sweep (seeds from its seed axis)
MAX_POINTS = 1000  # a larger sweep runs only when asked for (--yes, or a yes at the prompt)


@dataclass(frozen=True)
class Point:
    """One run of the lesson: the swept ``values`` and every parameter injected into it."""

    name: str
    values: dict
    parameters: dict


@dataclass(frozen=True)
class Sweep:
    """A sweep file, read and checked: the lesson, its fixed parameters and its points."""

    source: Path
    lesson: Path
    fixed: dict
    points: tuple
    compare_within: tuple = ()  # swept names whose values are conditions, each summarised on its own

    @property
    def axes(self):
        """The names that vary between points, in the order the file gives them."""
        return list(dict.fromkeys(name for point in self.points for name in point.values))


def expand_grid(grid):
    """Every combination of the grid's values, the last axis varying fastest.

    >>> expand_grid({"lr": [0.1, 0.01], "seed": [0, 1]})
    [{'lr': 0.1, 'seed': 0}, {'lr': 0.1, 'seed': 1}, {'lr': 0.01, 'seed': 0}, {'lr': 0.01, 'seed': 1}]
    """
    return [dict(zip(grid, combination)) for combination in itertools.product(*grid.values())]


class TooManyPoints(ValueError):
    """A sweep file asks for more points than the limit it was read with."""

    def __init__(self, where, size, limit):
        super().__init__(f"{where} asks for {size:,} points, more than {limit:,}: shrink the grid, or pass --yes "
                         f"to run them all")
        self.size = size


def read_sweep(path, max_points=MAX_POINTS):
    """Read and check a sweep file; every problem is a one-line ``ValueError`` or ``FileNotFoundError``.

    A sweep of more than ``max_points`` points (``None``: no limit) is refused with
    :class:`TooManyPoints` before any point is expanded or checked, which for a huge grid would
    take minutes.

    Refused: a file that is not YAML or not a mapping, an unknown key, no lesson, an unknown
    lesson, a grid axis that is not a non-empty list, points that are not mappings, no points at
    all, a name both fixed and swept, a parameter the lesson does not declare, a value of the
    wrong type, and two points that are the same run.
    """
    source = paths.resolve(path)
    where = paths.display(source)
    content = batch.read_yaml(source, "sweep file")
    if not isinstance(content, dict):
        raise ValueError(f"{where} must hold a mapping with `lesson:` and `grid:` (or `points:`); "
                         f"got {type(content).__name__}")
    unknown = sorted(set(content) - set(SWEEP_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key {', '.join(map(repr, unknown))}; a sweep file has "
                         f"{', '.join(SWEEP_KEYS)}")
    if not isinstance(content.get("lesson"), str):
        raise ValueError(f"{where} names no lesson: add `lesson: notebooks/01_learning_rate_schedules.ipynb`")
    lesson = paths.resolve(content["lesson"])
    declared = batch.notebook_parameters(lesson)  # FileNotFoundError names an unknown lesson

    parameters_file = content.get("parameters_file")
    if parameters_file is not None and not isinstance(parameters_file, str):
        raise ValueError(f"{where}: parameters_file must be one path, such as notebooks/params/01_ci.yaml; "
                         f"got {parameters_file!r}")
    base = batch.read_params_file(parameters_file) if parameters_file else {}
    fixed = _mapping(content.get("parameters") or {}, f"{where}: parameters")
    grid = _grid(content.get("grid"), where)
    listed = _points(content.get("points"), where)
    size = (math.prod(len(values) for values in grid.values()) if grid else 0) + len(listed)
    if max_points is not None and size > max_points:
        raise TooManyPoints(where, size, max_points)
    swept = expand_grid(grid) if grid else []
    swept += [_mapping(point, f"{where}: points[{i}]") for i, point in enumerate(listed)]
    if not swept:
        raise ValueError(f"{where} has no points: add `grid:` with a list of values for each name to vary, "
                         f"or `points:` with one mapping a run")

    points, seen = [], {}
    for i, values in enumerate(swept):
        both = sorted(set(_lesson_values(values, declared)) & set(fixed))
        if both:
            raise ValueError(f"{where}: {', '.join(map(repr, both))} set under parameters and swept too; "
                             f"keep each name in one place")
        if "output_dir" in {**base, **fixed, **values}:
            raise ValueError(f"{where}: output_dir is set by the sweep (each point writes into its own folder "
                             f"under --output); remove it")
        parameters = batch.check_parameters(lesson, _lesson_values({**base, **fixed, **values}, declared))
        same = json.dumps(parameters, sort_keys=True)
        if same in seen:
            raise ValueError(f"{where}: points {seen[same] + 1} and {i + 1} are the same run ({values}); "
                             f"list each point once")
        seen[same] = i
        points.append(Point(_point_name(lesson, values, parameters), values, parameters))
    swept_names = {name for values in swept for name in [*values, *_lesson_values(values, declared)]}
    fixed = {name: value for name, value in {**base, **fixed}.items() if name not in swept_names}
    within = content.get("compare_within") or []
    if not isinstance(within, list) or not set(within) <= swept_names - {SEED_AXIS, *SET_BY_SWEEP}:
        raise ValueError(f"{where}: compare_within must list swept names (not seed), such as [dataset]; "
                         f"got {within!r}")
    return Sweep(source, lesson, fixed, tuple(points), tuple(within))


def _mapping(value, what):
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a mapping of parameter names to values, such as {{epochs: 20}}; "
                         f"got {value!r}")
    return batch.with_numbers(value)


def _grid(grid, where):
    if grid is None:
        return {}
    grid = _mapping(grid, f"{where}: grid")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: grid axis {name!r} must be a non-empty list of values, such as "
                             f"{name}: [a, b]; got {values!r}")
    return grid


def _points(points, where):
    if points is None:
        return []
    if not isinstance(points, list):
        raise ValueError(f"{where}: points must be a list of mappings, such as - {{batch_size: 32}}; got {points!r}")
    return points


def _lesson_values(values, declared):
    """The sweep's ``seed`` axis, for a lesson that takes a list ``seeds``: ``seeds: [seed]``."""
    if SEED_AXIS in values and SEED_AXIS not in declared and "seeds" in declared:
        values = dict(values)
        values["seeds"] = [values.pop(SEED_AXIS)]
    return values


def _point_name(lesson, values, parameters):
    """``<swept values>-<hash>``: readable, and different whenever any parameter differs."""
    described = json.dumps({"lesson": lesson.name, "parameters": parameters}, sort_keys=True)
    digest = hashlib.sha256(described.encode()).hexdigest()[:8]
    readable = "_".join(f"{name}-{_cell(value)}" for name, value in values.items())
    readable = re.sub(r"[^A-Za-z0-9.+_-]+", "-", readable).strip("-")[:80] or "defaults"
    return f"{readable}-{digest}"


def _cell(value):
    """A value as one cell of a table (and of a folder name): a list's items joined by +, a mapping as JSON."""
    if isinstance(value, list):
        return "+".join(map(_cell, value))
    return json.dumps(value) if isinstance(value, dict) else str(value)


def point_folder(output, point):
    return paths.resolve(output) / "points" / point.name


def read_point(folder):
    """A point's ``point.json``, or ``None`` when it has not finished, never started, or its
    ``point.json`` is damaged (not JSON, or without its ``ok``): such a point runs again."""
    try:
        status = json.loads((Path(folder) / "point.json").read_text())
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) and isinstance(status.get("ok"), bool) else None


def damaged_files(folder, status):
    """The files a point's ``point.json`` lists that are missing, or are JSON that does not parse (a
    record cut short); a point saved before the list was kept is taken as whole."""
    damaged = []
    for name in status.get("files", []):
        try:
            content = (Path(folder) / name).read_bytes()
            if name.endswith(".json"):
                json.loads(content)
        except (OSError, ValueError):
            damaged.append(name)
    return damaged


def is_finished(folder):
    """Whether the point finished and every file it wrote is still there and whole."""
    status = read_point(folder)
    return bool(status and status["ok"] and not damaged_files(folder, status))


def needs_repair(folder):
    """Why a point that was saved must run again: its ``point.json`` is damaged, or files it lists
    are missing or damaged. ``None`` for a point never saved, failed (it runs again anyway) or whole."""
    if not (Path(folder) / "point.json").exists():
        return None
    status = read_point(folder)
    if status is None:
        return "its point.json is damaged"
    damaged = damaged_files(folder, status) if status["ok"] else []
    return f"{len(damaged)} of its files are missing or damaged ({', '.join(damaged[:3])})" if damaged else None


# --- on a worker ---------------------------------------------------------------------------------

def thread_environment(threads):
    """Environment variables that hold one TensorFlow kernel to ``threads`` CPU threads.

    TensorFlow reads ``TF_NUM_INTRAOP_THREADS`` (inside one op) and ``TF_NUM_INTEROP_THREADS``
    (ops side by side), OpenMP and BLAS libraries ``OMP_NUM_THREADS``. XLA (JAX, and Keras steps
    compiled with XLA) has no thread count to set; with one thread its multi-threaded Eigen
    kernels are turned off (``--xla_cpu_multi_thread_eigen=false``).
    """
    threads = max(1, int(threads))
    environment = {"TF_NUM_INTRAOP_THREADS": str(threads), "TF_NUM_INTEROP_THREADS": "1" if threads == 1 else "2",
                   "OMP_NUM_THREADS": str(threads)}
    if threads == 1:
        environment["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"
    return environment


def kernel_threads():
    """The CPU threads for a point's kernel on this worker: the machine's cores (affinity and
    container limits counted) divided by the task slots of all Dask workers on it, counted when
    the point starts, so that a worker that restarted or joined late is counted too."""
    from dask.system import CPU_COUNT
    from distributed import get_client, get_worker
    from distributed.comm import get_address_host

    worker = get_worker()
    host = get_address_host(worker.address)
    workers = get_client().scheduler_info(n_workers=-1)["workers"].values()
    slots = sum(info["nthreads"] for info in workers if info["host"] == host) or worker.state.nthreads
    return max(1, CPU_COUNT // slots)


def run_point(lesson_name, notebook, parameters):
    """Execute one point in a scratch folder on this worker; return its outcome and its files.

    Runs on a Dask worker. ``notebook`` is the lesson's bytes. The point runs in a process of its
    own (``python -m lrcourse.batch``, :func:`lrcourse.batch.execute_in_process`), which gets the
    thread limits of :func:`kernel_threads` and stops when the worker dies. A lesson that fails
    still returns: its partial notebook is among the files.
    """
    from distributed import get_worker

    worker = get_worker()
    threads = kernel_threads()
    with tempfile.TemporaryDirectory(prefix="lrcourse-point-") as scratch:
        scratch = Path(scratch)
        lesson, out = scratch / lesson_name, scratch / "point"
        lesson.write_bytes(notebook)
        out.mkdir()
        start = time.perf_counter()
        with open(out / "point.log", "w") as log:  # the point's process (its kernel's log is kernel.log)
            outcome = batch.run_in_process(lesson, parameters, out, env={**os.environ, **thread_environment(threads)},
                                           stdout=log, stderr=subprocess.STDOUT)
        files = {str(f.relative_to(out)): f.read_bytes() for f in sorted(out.rglob("*")) if f.is_file()}
    return {**outcome, "seconds": time.perf_counter() - start, "worker": worker.address,
            "host": socket.gethostname(), "threads": threads, "files": files}


# --- on the machine that runs the command --------------------------------------------------------

def checked_file_name(name):
    """A file name a worker sent back, if it names a file inside the point's folder: relative, with
    no ``..``, no drive or root, nothing but plain characters. A worker is code this process did not
    run, so anything else is refused rather than written (``../../x`` would land outside --output).

    >>> checked_file_name("runs/a-1/seed-0.json")
    'runs/a-1/seed-0.json'
    """
    parts = Path(name).parts if isinstance(name, str) else ()
    if (not parts or Path(name).is_absolute() or any(part in ("..", ".") for part in parts)
            or not all(re.fullmatch(r"[\w.+-]+", part) for part in parts)):
        raise ValueError(f"a worker sent back a file named {name!r}, which is not a plain path inside its point's "
                         f"folder: refused, nothing of that point was written")
    return name


OUTCOME_TYPES = {"ok": (bool,), "error": (str,), "cell": (int, type(None)), "seconds": (int, float),
                 "worker": (str,), "host": (str,), "threads": (int,), "files": (dict,)}


def checked_outcome(outcome):
    """A worker's outcome of a point, if it has exactly the expected fields, of the expected types,
    with file names that :func:`checked_file_name` accepts and contents that are bytes; otherwise
    a one-line ``ValueError`` saying what was wrong."""
    if not isinstance(outcome, dict) or set(outcome) != set(OUTCOME_TYPES):
        raise ValueError(f"a worker sent back an outcome without the expected fields {sorted(OUTCOME_TYPES)}: refused")
    for key, types in OUTCOME_TYPES.items():
        if not isinstance(outcome[key], types) or (key != "ok" and isinstance(outcome[key], bool)):
            raise ValueError(f"a worker sent back {key}={outcome[key]!r:.60}, not a {types[0].__name__}: refused")
    for name, content in outcome["files"].items():
        checked_file_name(name)
        if not isinstance(content, bytes):
            raise ValueError(f"a worker sent back {name!r} as {type(content).__name__}, not bytes: refused")
    return outcome


def save_point(output, point, outcome):
    """Write a point's files into its folder, replacing an earlier attempt, and ``point.json`` last.
    What the worker sent is checked first (:func:`checked_outcome`); a point that fails the check is
    saved as a failed point with the reason, and none of its files are written."""
    folder = point_folder(output, point)
    try:
        outcome = checked_outcome(outcome)
    except ValueError as error:
        outcome = lost_point(error)
    shutil.rmtree(folder, ignore_errors=True)
    for name, content in outcome.get("files", {}).items():
        paths.write_atomically(folder / name, content)
    status = {key: value for key, value in outcome.items() if key != "files"}
    status.update(point=point.name, values=point.values, parameters=point.parameters,
                  files=sorted(outcome.get("files", {})),
                  finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    paths.write_atomically(folder / "point.json", json.dumps(status, indent=1))
    return status


def lost_point(error):
    """The outcome of a point whose task never returned (its worker died too often, say)."""
    from distributed import KilledWorker

    message = f"{type(error).__name__}: {error}".splitlines()[0]
    if isinstance(error, KilledWorker):
        message += " (the worker running it died each time it was tried: look for memory or a killed process)"
    return {"ok": False, "error": message, "cell": None, "seconds": 0.0, "worker": "", "host": "", "threads": 0,
            "files": {}}


def results_table(sweep, output):
    """One row per training run of every finished point: the point's parameters, the run's name
    and seed, validation and test metrics, seconds, device, and where its record is."""
    rows = []
    for point in sweep.points:
        folder = point_folder(output, point)
        if not is_finished(folder):
            continue
        columns = {name: _cell(value) for name, value in point.parameters.items() if name not in SET_BY_SWEEP}
        for record_path in sorted(folder.glob("runs/*/seed-*.json")):
            record = json.loads(record_path.read_text())  # a RunResult's JSON, read without Keras
            rows.append({
                "point": point.name, **columns, "run": record["name"],
                "seed": record["params"].get("spec", {}).get("seed", ""),
                **{metric: record[metric] for metric in statistics.METRICS},
                "seconds": record["seconds"],
                "device": f"{record['device'].get('name', '?')} ({record['device'].get('backend', '?')})",
                "record": str(record_path.relative_to(paths.resolve(output))),
            })
    return pd.DataFrame(rows)


def failures_table(sweep, output):
    """Each point that ran and failed: its values, the cell that failed, the error, its partial notebook."""
    rows = []
    for point in sweep.points:
        folder = point_folder(output, point)
        status = read_point(folder)
        if status and not status["ok"]:
            notebook = folder / sweep.lesson.name
            rows.append({"point": point.name, **{name: _cell(v) for name, v in point.values.items()},
                         "cell": "" if status["cell"] is None else status["cell"], "error": status["error"],
                         "notebook": str(notebook.relative_to(paths.resolve(output))) if notebook.exists() else ""})
    return pd.DataFrame(rows, columns=["point", *sweep.axes, "cell", "error", "notebook"])


def summary_markdown(sweep, results, failures):
    """``summary.md``: the runs grouped over seeds, with means, 95% CIs and the test against the best.

    The settings are the swept values other than the seed, and the run's name. All of them are
    compared with one best, unless the sweep names ``compare_within`` axes (a data set, say):
    then each value of those gets a table and a best of its own. A column counts the failed points
    of each setting, whose seeds are missing from its statistics.
    """
    fixed = ", ".join(f"{name}={_cell(value)}" for name, value in sweep.fixed.items()
                      if name not in SET_BY_SWEEP) or "the lesson's defaults"
    lines = [f"# Sweep {sweep.source.stem}: {paths.display(sweep.lesson)}", "",
             f"{len(sweep.points)} points; fixed: {fixed}. Failed points: {len(failures)} (failures.csv).", ""]
    if results.empty:
        return "\n".join(lines + ["No point has finished yet, so there is nothing to summarise.", ""])
    axes = [name for name in sweep.axes if name in results.columns and name not in (SEED_AXIS, *SET_BY_SWEEP)]
    results = results.assign(**{name: results[name].fillna("") for name in axes})  # a point that does not set it
    failed = Counter(map(tuple, failures.reindex(columns=axes).fillna("").astype(str).to_numpy()))
    lines += [
        f"{len(results)} training runs on {', '.join(sorted(results['device'].unique()))}, grouped over seeds. Each "
        "cell is the mean ± the half-width of its 95% confidence interval (Student's t over the seeds). The best "
        "setting is the one with the highest mean validation accuracy; each other setting's test accuracies are "
        "compared with the best's by Welch's t-test (p < 0.05: different). With one seed there is no interval "
        "and no test. A setting with failed points is summarised over the seeds that finished.", ""]
    within = list(sweep.compare_within)
    groups = results.groupby(within, sort=False) if within else [((), results)]
    compared = [name for name in axes if name not in within]
    for condition, runs in groups:
        table = statistics.summarise_runs(runs, by=[*compared, "run"])
        shown = statistics.readable(table).reset_index()
        values = [{**dict(zip(within, condition)), **row} for row in shown.to_dict("records")]
        shown.insert(len(compared) + 1, "failed points", [failed[tuple(v[name] for name in axes)] for v in values])
        if within:
            lines += [f"## {', '.join(f'{name} = {value}' for name, value in zip(within, condition))}", ""]
        lines += [shown.to_markdown(index=False), "", _caution(table["distinguishable"].notna().sum()), ""]
    return "\n".join(lines)


def _caution(tested):
    if not tested:
        return ("No setting has two seeds or more, so nothing is tested: sweep a seed axis "
                "(seed: [0, 1, 2]) to get intervals and tests.")
    return (f"{tested} setting{'s are' if tested > 1 else ' is'} each tested against the best at the 5% level, "
            f"so about {0.05 * tested:.1f} of them may look different by chance alone. A difference the test "
            "does not show is not shown to be absent: more seeds narrow the intervals.")


def write_reports(sweep, output):
    """Write ``results.csv``, ``failures.csv`` and ``summary.md`` from the point folders."""
    output = paths.resolve(output)
    results, failures = results_table(sweep, output), failures_table(sweep, output)
    paths.write_atomically(output / "results.csv", results.to_csv(index=False))
    paths.write_atomically(output / "failures.csv", failures.to_csv(index=False))
    paths.write_atomically(output / "summary.md", summary_markdown(sweep, results, failures))
    return results, failures


@dataclass
class SweepReport:
    """What one ``lrcourse sweep`` did: points finished before, run now, failed now."""

    skipped: int
    ran: int
    failed: int
    seconds: float


def run_sweep(sweep, output, client, progress=True):
    """Run the sweep's unfinished points on ``client``'s workers, save each as it finishes, then
    write the reports. Returns a :class:`SweepReport`; a failed point never stops the others."""
    output = paths.resolve(output)
    pending = [point for point in sweep.points if not is_finished(point_folder(output, point))]
    notebook, run_id = sweep.lesson.read_bytes(), uuid.uuid4().hex[:6]  # task keys unique on a shared cluster
    start = time.perf_counter()
    futures = {client.submit(run_point, sweep.lesson.name, notebook, point.parameters,
                             key=f"lrcourse-{run_id}-{point.name}", pure=False): point for point in pending}
    failed = 0
    with _progress_bar(len(pending), progress) as bar:
        try:
            while futures:
                for future in [f for f in futures if f.done()]:
                    point = futures.pop(future)
                    try:
                        outcome = future.result()
                    except Exception as error:  # the task itself was lost (KilledWorker, ...)
                        outcome = lost_point(error)
                    if not save_point(output, point, outcome)["ok"]:
                        failed += 1
                    bar.update(1)
                running = _running(client, {f.key for f in futures}, sum(client.nthreads().values()))
                bar.set_postfix_str(f"done {bar.n - failed}, failed {failed}, running {running}")
                time.sleep(1)  # poll, so that the bar's running count and clock stay current
        finally:
            client.cancel(list(futures))
            write_reports(sweep, output)
    return SweepReport(len(sweep.points) - len(pending), len(pending), failed, time.perf_counter() - start)


def _progress_bar(total, shown):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="point", desc="sweep", disable=not shown, file=sys.stderr, dynamic_ncols=True,
                bar_format="{desc}: {n}/{total} {bar} {postfix} [{elapsed}, ETA {remaining}]")


def _running(client, keys, slots):
    """How many of ``keys`` a worker is executing now (Dask may queue one more per worker)."""
    processing = sum(1 for tasks in client.processing().values() for key in tasks if key in keys)
    return min(processing, slots)


def default_workers():
    """Worker processes for a sweep on this machine: one per core, each point's kernel on one
    thread (on 2 cores that ran lesson 01's points 1.3 times as fast as one worker with two
    threads: ``benchmarks/sweep_overhead.py``), and no more than memory holds at about 3 GiB a kernel."""
    from dask.system import CPU_COUNT

    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return max(1, min(CPU_COUNT, int(memory_gib // 3)))


# Dask's own bookkeeping, made rarer: an idle local cluster of two workers used a fifth of a core
# (a profiler sampling every 10 ms, a 20 ms event-loop tick, a memory check every 100 ms); with
# these settings it uses 2%, which the points' kernels get instead.
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


@contextlib.contextmanager
def dask_client(workers=None, scheduler=None, security=None):
    """A Dask client: on an existing cluster at ``scheduler`` (over TLS with ``security``, see
    :mod:`lrcourse.cluster`), or on a ``LocalCluster`` of ``workers`` processes (one task each,
    :data:`QUIET_DASK`) started here and closed at the end."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s", security=security)
        except (OSError, TimeoutError) as error:
            raise ConnectionError(f"cannot reach a Dask scheduler at {scheduler} ({error}); start one with "
                                  f"`dask scheduler` and workers with `dask worker {scheduler}`, or leave "
                                  f"--scheduler out to run on this machine") from None
        with client:
            _check_workers(client, scheduler)
            yield client
        return
    with dask.config.set(QUIET_DASK), LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                                                   processes=True, dashboard_address=None,
                                                   silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def _check_workers(client, scheduler):
    """Every worker must have this version of lrcourse, to run the points as this machine would."""
    try:
        client.wait_for_workers(1, timeout=30)
    except TimeoutError:
        raise ConnectionError(f"the Dask scheduler at {scheduler} has no workers: start one with "
                              f"`dask worker {scheduler}` on each machine that should run points") from None
    wanted = importlib.metadata.version("lrcourse")
    found = client.run(importlib.metadata.version, "lrcourse", on_error="return")
    wrong = {address: version for address, version in found.items() if version != wanted}
    if wrong:
        address, version = next(iter(wrong.items()))
        have = "no lrcourse" if isinstance(version, Exception) else f"lrcourse {version}"
        raise ConnectionError(f"worker {address} has {have}, this machine has lrcourse {wanted}: install the same "
                              f"version on every worker (pip install from this checkout)")
