"""What running lessons through `lrcourse sweep` costs and gains, against `lrcourse run` one after another.

Two workloads, each run three ways side by side in one session (the machines are shared, so
compare the ratios, not the seconds across days):

* ``empty``: a notebook that does nothing, so every second is overhead (Python, papermill, the
  kernel's start, and for the sweep Dask and the point's own process);
* ``lesson``: lesson 01 at its CI parameters with one seed a point, the unit of a real sweep.

The three ways: one ``lrcourse run`` per point in a row (what a shell loop does), ``lrcourse
sweep --workers 1``, and ``lrcourse sweep --workers 2``. Printed: wall seconds, seconds a point,
the sweep's extra seconds a point against the loop, the speed-up, points an hour, and the time
to run a finished sweep again (its fixed cost: start the cluster, skip every point, write the reports).

    .venv/bin/python benchmarks/sweep_overhead.py [--points 4] [--empty-points 8]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LESSON = ROOT / "notebooks" / "01_learning_rate_schedules.ipynb"


def empty_lesson(folder):
    nb = new_notebook(cells=[new_code_cell("seeds: list = [0]  # one record per seed", metadata={"tags": ["parameters"]}),
                             new_code_cell("total = sum(seeds)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "empty.ipynb"
    nbformat.write(nb, path)
    return path


def in_a_row(lesson, base, points, folder):
    """One `lrcourse run` per point, as a shell loop would: returns the wall seconds."""
    start = time.perf_counter()
    for i, values in enumerate(points):
        params = folder / f"point-{i}.yaml"
        params.write_text(yaml.safe_dump({**base, **values}))
        subprocess.run([BIN / "lrcourse", "run", str(lesson), "-f", str(params), "--output", str(folder / f"run-{i}")],
                       check=True, capture_output=True)
    return time.perf_counter() - start


def as_sweep(lesson, base, points, folder, workers):
    sweep = folder / f"sweep-{workers}.yaml"
    sweep.write_text(yaml.safe_dump({"lesson": str(lesson), "parameters": base, "points": points}))
    command = [BIN / "lrcourse", "sweep", str(sweep), "--workers", str(workers), "--output", str(folder / f"out-{workers}")]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)  # every point finished: start, check, report
    again = time.perf_counter() - start
    inside = [json.loads(p.read_text())["seconds"] for p in (folder / f"out-{workers}" / "points").glob("*/point.json")]
    return wall, sum(inside) / len(inside), again


def measure(name, lesson, base, count):
    points = [{"seeds": [seed]} for seed in range(count)]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        loop = in_a_row(lesson, base, points, folder)
        one, one_inside, again = as_sweep(lesson, base, points, folder, 1)
        two, two_inside, _ = as_sweep(lesson, base, points, folder, 2)
    print(f"\n{name}: {count} points")
    print(f"{'way':<24}{'wall s':>8}{'s/point':>9}{'extra s/point':>15}{'speed-up':>10}{'points/hour':>13}")
    for way, wall in (("lrcourse run in a row", loop), ("sweep, 1 worker", one), ("sweep, 2 workers", two)):
        print(f"{way:<24}{wall:>8.1f}{wall / count:>9.1f}{(wall - loop) / count:>15.1f}{loop / wall:>10.2f}"
              f"{3600 * count / wall:>13.0f}")
    print(f"a point's own process, from start to outcome: {one_inside:.1f} s with 1 worker, "
          f"{two_inside:.1f} s with 2 (two kernels share the cores)")
    print(f"the same sweep again, every point finished (start, skip, write the reports): {again:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=4, help="lesson points (one seed each)")
    parser.add_argument("--empty-points", type=int, default=8, help="points of the empty notebook")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        measure("empty notebook (all overhead)", empty_lesson(Path(scratch)), {}, args.empty_points)
    ci = yaml.safe_load((ROOT / "notebooks" / "params" / "01_ci.yaml").read_text())
    ci.pop("seeds")  # each point runs one seed
    measure("lesson 01 at its CI parameters, one seed a point", LESSON, ci, args.points)


if __name__ == "__main__":
    main()
