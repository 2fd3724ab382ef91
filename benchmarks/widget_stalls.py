"""How often a cell that shows widgets stalls when the course executes a notebook, and what it costs.

Builds a notebook of widget cells (each of the course's explorers in turn, and a plain
``ipywidgets.interact`` such as a learner writes in an exercise), then executes it ``--runs``
times the way ``lrcourse run`` does: ``lrcourse.batch.run_in_process``, which starts
``python -m lrcourse.batch`` and so papermill, the course's kernel manager and client. Beside it
``--burners`` processes spin on the CPU, because the stall is a race that load makes likelier.

A cell stalls when its reply never reaches the client although the kernel is idle (nbclient
issue 312): the run then waits forever. Each run here has a time limit (``--run-limit``); a run
stopped at it, or stopped by the course's own idle-kernel guard, counts one stall at the cell it
was on, and the seconds since that cell started count as lost. Printed: one line a run (cells
executed, stall, seconds) and the totals.

    .venv/bin/python benchmarks/widget_stalls.py [--runs 8] [--cells 30] [--burners 1]
"""

import argparse
import multiprocessing
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lrcourse import batch  # noqa: E402

SETUP = """\
import numpy as np
import ipywidgets
from lrcourse import widgets
from lrcourse.finder import RangeTestResult

lrs = np.geomspace(1e-5, 1.0, 60)
losses = 2.3 - 1.5 * np.exp(-((np.log10(lrs) + 2.5) ** 2)) + np.where(lrs > 0.2, 5 * lrs, 0.0)
result = RangeTestResult(lrs=list(lrs), losses=list(losses), smoothed_losses=list(losses), start_lr=1e-5, end_lr=1.0)

def learner_curve(rate=0.1, epochs=20):  # what a learner writes in an exercise
    print(f"rate {rate} for {epochs} epochs: final {rate * 0.5 ** (epochs // 5):.4g}")
"""

WIDGET_CELLS = [
    "widgets.decay_explorer()",
    "widgets.clr_explorer()",
    "widgets.bounds_explorer(result)",
    "widgets.one_cycle_explorer()",
    "widgets.warmup_restarts_explorer()",
    "ipywidgets.interact(learner_curve, rate=(0.01, 1.0), epochs=(5, 50));",
]


def widget_notebook(path, cells):
    """A notebook of a setup cell and ``cells`` widget cells, cycling through :data:`WIDGET_CELLS`."""
    sources = [SETUP] + [WIDGET_CELLS[i % len(WIDGET_CELLS)] for i in range(cells)]
    notebook = new_notebook(cells=[new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def burn():
    while True:
        pass


def stalled_cell(notebook):
    """``(widget cells completed, the running cell's index or None, seconds since it started)`` of a
    partial or executed copy, from papermill's per-cell metadata."""
    try:
        cells = nbformat.read(notebook, as_version=4).cells
    except (OSError, ValueError):
        return 0, None, 0.0
    completed = sum(cell.metadata.get("papermill", {}).get("status") == "completed" for cell in cells[1:])
    for index, cell in enumerate(cells):
        meta = cell.metadata.get("papermill", {})
        if meta.get("status") == "running" and meta.get("start_time"):
            started = datetime.fromisoformat(meta["start_time"])
            return completed, index, (datetime.now(timezone.utc) - started).total_seconds()
    return completed, None, 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8, help="executions of the notebook (default 8)")
    parser.add_argument("--cells", type=int, default=30, help="widget cells in the notebook (default 30)")
    parser.add_argument("--burners", type=int, default=1, help="CPU-burning processes beside it (default 1)")
    parser.add_argument("--run-limit", type=float, default=240,
                        help="seconds after which a run counts as stalled and is stopped (default 240)")
    args = parser.parse_args(argv)

    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.burners)]
    for process in burners:
        process.start()
    cells = stalls = 0
    lost = seconds = 0.0
    print(f"{args.runs} runs of {args.cells} widget cells through lrcourse.batch.run_in_process beside "
          f"{args.burners} CPU burner(s); a run not done in {args.run_limit:.0f} s is stalled", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="widget-stalls-") as folder:
            notebook = widget_notebook(Path(folder) / "widget_cells.ipynb", args.cells)
            for run in range(1, args.runs + 1):
                out = Path(folder) / f"run-{run}"
                start = time.perf_counter()
                outcome = batch.run_in_process(notebook, {}, out, timeout=args.run_limit, cwd=ROOT,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                took = time.perf_counter() - start
                done, running, waited = stalled_cell(out / notebook.name)
                stalled = outcome is None or outcome["error"].startswith("stopped: the kernel stayed idle")
                why = "" if outcome is None or outcome["ok"] else f"  ({outcome['error']})"
                print(f"run {run}: {done} of {args.cells} widget cells in {took:.1f} s; "
                      + (f"STALLED at cell {running}, {waited:.0f} s lost" if stalled else "no stall") + why,
                      flush=True)
                cells, seconds = cells + done, seconds + took
                stalls, lost = stalls + stalled, lost + (waited if stalled else 0.0)
    finally:
        for process in burners:
            process.kill()
    print(f"total: {stalls} stall(s) in {args.runs} runs; {cells} widget cells executed; {lost:.0f} s lost "
          f"of {seconds:.0f} s")
    return 1 if stalls else 0


if __name__ == "__main__":
    sys.exit(main())
