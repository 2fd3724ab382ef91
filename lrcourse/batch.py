"""Run lessons in batch with papermill, keeping every executed notebook and its records.

A lesson declares its knobs in a cell tagged ``parameters``. :func:`run_lesson` refuses a name
the lesson does not declare (papermill itself only warns), injects the values, executes the
notebook in its own folder and writes ``<output>/<lesson>/<lesson>.ipynb`` beside the run's JSON
records (``runs/``), figures (``figures/``) and the kernel's own log (``kernel.log``), executed
through :mod:`lrcourse.execution`. A run that fails (a cell raised) or stops (its kernel died, or
stayed idle without replying) keeps its partial notebook and names the cell; the other lessons
of the batch still run. Values are checked against the
declared types before anything runs (an int given for a float becomes a float), and the output
folder is passed to the lesson relative to the repository, so executed notebooks carry no
absolute paths of this machine. ``python -m lrcourse.batch`` runs one lesson in a process of its
own (:func:`execute_in_process`): a sweep's point, a lesson of the website.
"""

import json
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from lrcourse import execution, paths

BASIC_TYPES = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "list": (list,), "dict": (dict,)}
# What a value may be, declared at the end of the parameter's comment: `epochs: int = 10  # epochs [allowed: >= 1]`.
# Conditions are separated by ";": a comparison (≥ 1, > 0, ≤ 1, < 1; papermill cannot read a comment holding "="),
# `one of a, b, c`, and for lists `at least N` (items), `distinct` and `each <condition>`.
ALLOWED = re.compile(r"\[allowed: ([^\]]+)\]\s*$")
COMPARISONS = {"≥": float.__ge__, ">": float.__gt__, "≤": float.__le__, "<": float.__lt__}
EXAMPLES = {"list": "a list, such as [{value}]", "dict": "a mapping, such as {{name: {value}}}"}


def notebook_parameters(notebook):
    """The parameters a lesson declares: ``{name: {"type", "default", "help"}}`` in cell order."""
    import papermill

    if not Path(notebook).is_file():
        raise FileNotFoundError(f"no notebook at {paths.display(notebook)}: give a lesson's path, such as "
                                f"notebooks/01_learning_rate_schedules.ipynb")
    try:
        found = papermill.inspect_notebook(str(notebook))
    except Exception as error:  # noqa: BLE001  (nbformat and papermill raise many kinds for a file that is no notebook)
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"{paths.display(notebook)} is not a readable notebook ({reason}): give a lesson's .ipynb, "
                         f"such as notebooks/01_learning_rate_schedules.ipynb") from None
    return {
        name: {"type": p["inferred_type_name"], "default": p["default"], "help": p["help"]}
        for name, p in found.items()
    }


def format_parameters(notebook):
    """A readable listing of a lesson's parameters, one per line."""
    lines = [f"Parameters of {notebook}:"]
    for name, p in notebook_parameters(notebook).items():
        lines.append(f"  {name}: {p['type']} = {p['default']}" + (f"  # {p['help']}" if p["help"] else ""))
    return "\n".join(lines)


def read_yaml(path, what):
    """The YAML file at ``path``; a syntax error becomes one line with where it is and how to fix it."""
    path = paths.resolve(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {paths.display(path)}: check the path")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ValueError(f"{paths.display(path)}{_where(error)}: not valid YAML ({_problem(error)}); "
                         f"correct it there (a list is written [a, b]; quote text that holds ': ')") from None


def read_params_file(path):
    """A YAML mapping of parameter names to values (``notebooks/params/NN_ci.yaml``)."""
    values = read_yaml(path, "parameters file") or {}
    if not isinstance(values, dict):
        raise ValueError(f"{paths.display(path)} must hold a mapping of parameter names to values; "
                         f"got {type(values).__name__}")
    return with_numbers(values)


def _number_or_text(text):
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def with_numbers(value):
    """YAML 1.1 reads ``1e-7`` as text; turn such strings into numbers, inside lists and mappings too."""
    if isinstance(value, str):
        return _number_or_text(value)
    if isinstance(value, list):
        return [with_numbers(item) for item in value]
    if isinstance(value, dict):
        return {name: with_numbers(item) for name, item in value.items()}
    return value


def parse_value(text, name="value"):
    """A command-line value: a number if it reads as one, else YAML (``true``, ``[1e-3, 1e-2]``, text)."""
    value = _number_or_text(text)
    if not isinstance(value, str):
        return value
    try:
        return with_numbers(yaml.safe_load(text))
    except yaml.YAMLError as error:
        raise ValueError(f"-p {name} {text!r}{_where(error)}: not valid YAML ({_problem(error)}); "
                         f"write a list as [a, b], or quote text: -p {name} \"'{text}'\"") from None


def _where(error):
    mark = getattr(error, "problem_mark", None)
    return f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _problem(error):
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    start = getattr(error, "context_mark", None)
    return problem + (f", in what starts at line {start.line + 1}, column {start.column + 1}" if start else "")


def check_parameters(notebook, values):
    """Refuse names the lesson does not declare and values of the wrong declared type.

    Returns the values to inject, with an int given for a float turned into that float.
    """
    declared = notebook_parameters(notebook)
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise ValueError(
            f"{Path(notebook).name} has no parameter {', '.join(map(repr, unknown))}. "
            f"It declares: {', '.join(declared)} (see `lrcourse params {notebook}`)"
        )
    checked = {}
    for name, value in values.items():
        kind = declared[name]["type"]
        expected = BASIC_TYPES.get(kind)
        if expected and (not isinstance(value, expected) or (bool not in expected and isinstance(value, bool))):
            fix = f"; write {EXAMPLES[kind].format(value=value)}" if kind in EXAMPLES else ""
            raise ValueError(
                f"parameter {name!r} of {Path(notebook).name} is declared {kind}; "
                f"got {value!r} ({type(value).__name__}){fix}"
            )
        checked[name] = float(value) if kind == "float" else value
        rule = allowed(declared[name]["help"])
        problem = rule and breaks(checked[name], rule)
        if problem:
            raise ValueError(f"parameter {name!r} of {Path(notebook).name} {problem}; got {value!r} (allowed: {rule})")
    return checked


def allowed(help_text):
    """The ``[allowed: ...]`` rule at the end of a parameter's comment, or ``None``."""
    match = ALLOWED.search(help_text or "")
    return match.group(1).strip() if match else None


def breaks(value, rule):
    """What is wrong with ``value`` under ``rule`` (the text of an ``[allowed: ...]``), or ``None``.

    >>> breaks([0, 0], "at least 1; distinct; each ≥ 0")
    'must hold different values'
    >>> breaks(0.0, "≥ 0; < 1") is None, breaks(float("nan"), "> 0")
    (True, 'must be a finite number > 0')
    """
    for condition in (part.strip() for part in rule.split(";")):
        problem = _breaks_one(value, condition)
        if problem:
            return problem
    return None


def _breaks_one(value, condition):
    if condition.startswith("each "):
        for item in value:
            problem = _breaks_one(item, condition[len("each "):])
            if problem:
                return f"has {item!r}, but each item {problem}"
        return None
    if condition.startswith("at least "):
        least = int(condition[len("at least "):])
        return None if len(value) >= least else f"must hold at least {least} item{'s' * (least > 1)}"
    if condition == "distinct":
        return None if len({repr(item) for item in value}) == len(value) else "must hold different values"
    if condition.startswith("one of "):
        options = [option.strip() for option in condition[len("one of "):].split(",")]
        return None if value in options else f"must be one of {', '.join(options)}"
    operator, bound = condition.split(maxsplit=1)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"must be a finite number {condition}"
    return None if COMPARISONS[operator](float(value), float(bound)) else f"must be {condition}"


@dataclass
class LessonRun:
    """The outcome of one lesson run: where its notebook is and, if it failed, which cell and why."""

    notebook: Path
    output_notebook: Path
    seconds: float
    error: str = ""
    cell: int | None = None  # the index of the cell that failed

    @property
    def ok(self):
        return not self.error


def executed_path(notebook, output="build"):
    """Where :func:`run_lesson` writes the executed copy of ``notebook``."""
    notebook = paths.resolve(notebook)
    return paths.resolve(output) / notebook.stem / notebook.name


def run_lesson(notebook, parameters=None, output="build", cell_timeout=execution.CELL_TIMEOUT):
    """Execute one lesson with papermill into ``<output>/<lesson name>/``; returns a :class:`LessonRun`."""
    return execute(notebook, parameters, executed_path(notebook, output).parent, cell_timeout=cell_timeout)


def execute(notebook, parameters, run_dir, kernel_name="python3", cell_timeout=execution.CELL_TIMEOUT):
    """Execute ``notebook`` with checked ``parameters`` into ``run_dir``: the executed copy, and
    the lesson's records and figures when it declares ``output_dir`` (set to ``run_dir``).

    It goes through :mod:`lrcourse.execution`: widgets cannot stall it, a kernel idle for
    ``cell_timeout`` seconds without replying or a kernel that dies stops it, and the kernel
    process's own log goes to ``run_dir/kernel.log``. A failure or a stop is the returned
    :class:`LessonRun`'s ``error``, with the partial notebook kept."""
    import papermill

    notebook = paths.resolve(notebook)
    parameters = check_parameters(notebook, parameters or {})
    check_cell_timeout(cell_timeout)
    run_dir = paths.resolve(run_dir)
    output_notebook = run_dir / notebook.name
    run_dir.mkdir(parents=True, exist_ok=True)
    if "output_dir" in notebook_parameters(notebook):
        parameters.setdefault("output_dir", paths.display(run_dir))
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output_notebook),
            parameters=parameters,
            cwd=str(notebook.parent),
            kernel_name=kernel_name,
            progress_bar=False,
            engine_name=execution.ENGINE,
            cell_timeout=cell_timeout,
            kernel_log=str(run_dir / "kernel.log"),  # TensorFlow's C++ lines at import, kept off the terminal
            shutdown_kernel="immediate",  # on Ctrl-C too, without a traceback from the kernel
            extra_arguments=["--IPKernelApp.capture_fd_output=False"],  # C-level output to kernel.log, not the notebook
        )
    except papermill.PapermillExecutionError as error:
        message = (f"failed: cell {error.cell_index} ({execution.first_line(error.source)}) raised "
                   f"{error.ename}: {_first_line(error.evalue)}")
        return LessonRun(notebook, output_notebook, time.perf_counter() - start, message, error.cell_index)
    except execution.LessonStopped as stopped:
        return LessonRun(notebook, output_notebook, time.perf_counter() - start, f"stopped: {stopped}", stopped.cell)
    except Exception as error:  # outside any cell: the kernel did not start, or died after the last cell
        message = f"stopped: {type(error).__name__}: {_first_line(str(error))}"
        return LessonRun(notebook, output_notebook, time.perf_counter() - start, message)
    return LessonRun(notebook, output_notebook, time.perf_counter() - start)


def check_cell_timeout(seconds):
    """Refuse a ``cell_timeout`` that would stop every cell longer than a second."""
    if not seconds > 0:
        raise ValueError(f"--cell-timeout must be a positive number of seconds; got {seconds:g}")
    return seconds


def _first_line(text):
    return text.strip().splitlines()[0] if text.strip() else ""


def execute_in_process(notebook, parameters_file, run_dir, outcome_file, cell_timeout=execution.CELL_TIMEOUT):
    """``python -m lrcourse.batch NOTEBOOK PARAMETERS.json RUN_DIR OUTCOME.json [CELL_TIMEOUT]``:
    :func:`execute` in a process of its own (a sweep's point, a lesson of the website), writing its
    outcome as JSON. The process stops, and its kernel with it, when the process that started it dies."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    try:
        run = execute(notebook, json.loads(Path(parameters_file).read_text()), run_dir, cell_timeout=float(cell_timeout))
        outcome = {"ok": run.ok, "error": run.error, "cell": run.cell}
    except Exception as error:  # refused parameters (a lesson edited since the sweep was checked): say so
        outcome = {"ok": False, "error": f"failed: {type(error).__name__}: {_first_line(str(error))}", "cell": None}
    paths.write_atomically(outcome_file, json.dumps(outcome))


def run_in_process(notebook, parameters, run_dir, timeout=None, cell_timeout=execution.CELL_TIMEOUT, **popen):
    """Run :func:`execute_in_process` in a child process (``python -m lrcourse.batch``) and return its
    outcome ``{"ok", "error", "cell"}``; None when it ran past ``timeout`` seconds and was stopped (its
    kernel stops with it). ``popen`` goes to :class:`subprocess.Popen` (``env``, ``stdout``, ``cwd``)."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lrcourse-run-") as folder:
        parameters_file, outcome_file = Path(folder) / "parameters.json", Path(folder) / "outcome.json"
        parameters_file.write_text(json.dumps(parameters))
        process = subprocess.Popen([sys.executable, "-m", "lrcourse.batch", str(notebook), str(parameters_file),
                                    str(run_dir), str(outcome_file), str(cell_timeout)], **popen)
        try:
            process.wait(timeout=timeout)
        except BaseException as stopped:  # the time limit, or Ctrl-C: stop the run (its kernel follows it)
            process.kill()
            process.wait()
            if isinstance(stopped, subprocess.TimeoutExpired):
                return None
            raise
        if not outcome_file.exists():
            return {"ok": False, "cell": None,
                    "error": f"stopped: the process running the lesson ended with exit status {process.returncode}"}
        return json.loads(outcome_file.read_text())


def _exit_with_parent(parent):
    """Stop this process (and so its kernel) when the process that started it has died."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


if __name__ == "__main__":
    execute_in_process(*sys.argv[1:])
