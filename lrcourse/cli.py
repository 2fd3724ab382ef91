"""The ``lrcourse`` command line: run lessons in batch and list their parameters.

    lrcourse run NOTEBOOK [NOTEBOOK ...] [-p NAME VALUE ...] [-f PARAMS.yaml] [--output DIR] [--cell-timeout SECONDS]
    lrcourse params NOTEBOOK
    lrcourse sweep SWEEP.yaml [--workers N] [--scheduler ADDRESS [--certificates DIR | --insecure]] [--output DIR] [--yes]
    lrcourse certs [--output DIR] [--hosts HOST ...]
    lrcourse assign [NAME ...] [--output DIR]
    lrcourse grade NAME SUBMISSION.ipynb [SUBMISSION.ipynb ...] [--output DIR]

Exit status: 0 when every lesson (point, assignment, submission) ran, 1 when one failed, 2 for refused
input, 130 on Ctrl-C.
"""

import argparse
import contextlib
import sys
from pathlib import Path

from lrcourse import batch, execution, paths


def _parser():
    parser = argparse.ArgumentParser(prog="lrcourse", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute lessons with papermill, keeping notebooks and records")
    run.add_argument("notebooks", nargs="+", help="lesson notebooks (.ipynb)")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                     help="set one parameter; VALUE is a number, or YAML (true, [step, linear], text)")
    run.add_argument("-f", "--parameters-file", action="append", default=[], metavar="PARAMS.yaml",
                     help="YAML file of parameters; -p values override it")
    run.add_argument("--output", default="build", help="folder for executed notebooks and records (default: build)")
    run.add_argument("--cell-timeout", type=float, default=execution.CELL_TIMEOUT, metavar="SECONDS",
                     help="stop a lesson whose kernel stays idle this long without finishing a cell: no CPU used "
                          f"by it or what it started, nothing sent (default: {execution.CELL_TIMEOUT:.0f})")
    params = commands.add_parser("params", help="list a lesson's parameters with types, defaults and help")
    params.add_argument("notebook")
    sweep = commands.add_parser("sweep", help="run a grid of lesson runs on Dask and summarise them over seeds")
    sweep.add_argument("sweep_file", metavar="SWEEP.yaml", help="lesson, fixed parameters, grid and/or points")
    sweep.add_argument("--workers", type=int, default=None,
                       help="worker processes of the local Dask cluster (default: one per core, fewer if memory is short)")
    sweep.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run on an existing Dask cluster instead, such as tls://HOST:8786 (see lrcourse certs)")
    sweep.add_argument("--certificates", metavar="FOLDER", default=None,
                       help="the lab's certificates (from `lrcourse certs`), to reach a tls:// scheduler")
    sweep.add_argument("--insecure", action="store_true",
                       help="allow a plain tcp:// scheduler on another machine (anyone who reaches it can run code here)")
    sweep.add_argument("--yes", action="store_true",
                       help="run a sweep of more than 1,000 points without asking first")
    sweep.add_argument("--output", default=None,
                       help="folder for the points, results.csv and summary.md (default: build/sweeps/<file name>)")
    certs = commands.add_parser("certs", help="create the certificates of a TLS Dask cluster for a small lab")
    certs.add_argument("--output", default="build/certificates", help="folder (default: build/certificates)")
    certs.add_argument("--hosts", nargs="+", default=["localhost"], metavar="HOST",
                       help="the names and addresses the scheduler is reached by (default: localhost)")
    assign = commands.add_parser("assign", help="build the graded assignments' student and autograder versions")
    assign.add_argument("names", nargs="*", metavar="NAME", help="assignments to build (default: all)")
    assign.add_argument("--output", default="build/assignments", help="folder (default: build/assignments)")
    grade = commands.add_parser("grade", help="grade submitted notebooks of one assignment into a table")
    grade.add_argument("name", metavar="NAME", help="the assignment, such as 01_warmup_schedule")
    grade.add_argument("submissions", nargs="+", metavar="SUBMISSION.ipynb")
    grade.add_argument("--assignments", default="build/assignments",
                       help="where `lrcourse assign` wrote the autograder (default: build/assignments)")
    grade.add_argument("--output", default="build/grades", help="folder for grades.csv and each submission's "
                       "results (default: build/grades)")
    return parser


PATH_ARGUMENTS = ("notebooks", "notebook", "parameters_file", "output", "sweep_file", "submissions", "assignments",
                  "certificates")


def main(argv=None):
    args = _parser().parse_args(argv)
    for name in PATH_ARGUMENTS:  # relative paths are the user's: from the folder the command runs in
        value = getattr(args, name, None)
        if value is not None:
            setattr(args, name, [str(Path(v).absolute()) for v in value] if isinstance(value, list) else str(Path(value).absolute()))
    if args.command == "sweep":
        return _sweep(args)
    if args.command in ("assign", "grade"):
        return _assignments(args)
    if args.command == "certs":
        return _certs(args)
    try:
        if args.command == "params":
            print(batch.format_parameters(args.notebook))
            return 0
        values = {}
        for path in args.parameters_file:
            values.update(batch.read_params_file(path))
        values.update({name: batch.parse_value(value, name) for name, value in args.parameter})
        for notebook in args.notebooks:  # check every lesson before running any
            batch.check_parameters(notebook, values)
        batch.check_cell_timeout(args.cell_timeout)
    except (ValueError, FileNotFoundError) as error:
        print(f"lrcourse: error: {error}", file=sys.stderr)
        return 2

    with contextlib.ExitStack() as held:
        return _run(args, values) if _hold(held, args.output) else 2


def _hold(stack, output):
    """Hold the output folder for the rest of the command (:func:`lrcourse.paths.locked`); if it is a
    file, not writable or held by another run, say so in one line and return False."""
    try:
        stack.enter_context(paths.locked(output))
        return True
    except ValueError as error:
        print(f"lrcourse: error: {error}", file=sys.stderr)
        return False


def _run(args, values):
    """Run each lesson in turn, one line as each ends, then a table; the output folder is held."""
    finished = []
    for notebook in args.notebooks:
        print(f"{Path(notebook).stem}: running ...", flush=True)
        try:
            result = batch.run_lesson(notebook, values, output=args.output, cell_timeout=args.cell_timeout)
        except KeyboardInterrupt:
            print(_interrupted(notebook, args.output, finished), file=sys.stderr)
            return 130
        finished.append(result)
        print(_outcome_line(result), flush=True)
    print(_summary(finished))
    return 0 if all(result.ok for result in finished) else 1


def _outcome_line(result):
    """One line: how a lesson ended, and where its notebook is (partial when it failed)."""
    where = paths.display(result.output_notebook)
    if result.ok:
        return f"{result.notebook.stem}: done in {result.seconds:.0f} s -> {where}"
    return f"{result.notebook.stem}: {result.error} (after {result.seconds:.0f} s); partial notebook kept at {where}"


def _summary(results):
    """The batch at a glance: each lesson, ok or failed, its seconds; and how many ran."""
    import pandas as pd

    table = pd.DataFrame({"lesson": [r.notebook.stem for r in results],
                          "result": ["ok" if r.ok else r.error.split(":")[0] for r in results],
                          "seconds": [round(r.seconds) for r in results]})
    ran = sum(r.ok for r in results)
    return f"\n{table.to_string(index=False)}\n{ran} of {len(results)} lessons ran"


def _sweep(args):
    from lrcourse import cluster, sweeps

    try:
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be at least 1; got {args.workers}")
        if args.workers is not None and args.scheduler:
            raise ValueError("--workers sets the size of the local cluster; with --scheduler, start workers "
                             "on the cluster instead (dask worker ADDRESS)")
        if args.scheduler:
            cluster.check_address(args.scheduler, args.certificates, args.insecure)
        elif args.certificates or args.insecure:
            raise ValueError("--certificates and --insecure are for --scheduler: a local cluster stays on this machine")
        security = cluster.security(args.certificates) if args.certificates else None
        sweep = _read_sweep(sweeps, args)
    except (ValueError, FileNotFoundError) as error:
        print(f"lrcourse: error: {error}", file=sys.stderr)
        return 2
    output = Path(args.output or f"build/sweeps/{sweep.source.stem}").absolute()
    with contextlib.ExitStack() as held:
        return _run_sweep(args, sweep, output, security) if _hold(held, output) else 2


def _read_sweep(sweeps, args):
    """The sweep file; one larger than ``sweeps.MAX_POINTS`` needs --yes, or a yes typed at a terminal."""
    try:
        return sweeps.read_sweep(args.sweep_file, max_points=None if args.yes else sweeps.MAX_POINTS)
    except sweeps.TooManyPoints as error:
        if not sys.stdin.isatty():
            raise
        if input(f"{error.size:,} points: run them all? [y/N] ").strip().lower() not in ("y", "yes"):
            raise
        return sweeps.read_sweep(args.sweep_file, max_points=None)


def _run_sweep(args, sweep, output, security):
    from lrcourse import sweeps

    try:
        with sweeps.dask_client(args.workers, args.scheduler, security) as client:
            where = args.scheduler or f"a local Dask cluster of {len(client.nthreads())} workers"
            print(f"sweep {paths.display(sweep.source)}: {len(sweep.points)} points of {sweep.lesson.name} "
                  f"on {where} -> {paths.display(output)}", flush=True)
            repairs = [f"{point.name} ({why})" for point in sweep.points
                       if (why := sweeps.needs_repair(sweeps.point_folder(output, point)))]
            if repairs:
                print(f"running again {len(repairs)} saved point(s) that are not whole: {'; '.join(repairs)}", flush=True)
            report = sweeps.run_sweep(sweep, output, client)
    except ConnectionError as error:
        print(f"lrcourse: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lrcourse: interrupted: the finished points are kept in {paths.display(output)}/points; "
              f"run the same command again to run the others", file=sys.stderr)
        return 130
    print(f"{report.ran - report.failed} of {report.ran} points ran in {report.seconds:.0f} s "
          f"({report.skipped} finished before); {report.failed} failed"
          + (f": see {paths.display(output / 'failures.csv')}" if report.failed else "")
          + f"\nsummary: {paths.display(output / 'summary.md')}", flush=True)
    return 1 if report.failed else 0


def _certs(args):
    from lrcourse import cluster

    try:
        folder = paths.display(cluster.make_certificates(args.output, args.hosts))
    except ValueError as error:
        print(f"lrcourse: error: {error}", file=sys.stderr)
        return 2
    print(f"certificates for {', '.join(args.hosts)} in {folder}; copy the folder to every machine of the cluster, "
          f"and keep {cluster.FILES['ca_key']} private. Then:\n"
          f"  dask scheduler --protocol tls --tls-ca-file {folder}/ca.pem --tls-cert {folder}/cluster.pem "
          f"--tls-key {folder}/cluster-key.pem\n"
          f"  dask worker tls://{args.hosts[0]}:8786 --tls-ca-file {folder}/ca.pem --tls-cert {folder}/cluster.pem "
          f"--tls-key {folder}/cluster-key.pem\n"
          f"  lrcourse sweep SWEEP.yaml --scheduler tls://{args.hosts[0]}:8786 --certificates {folder}")
    return 0


def _assignments(args):
    from lrcourse import assignments

    try:
        paths.writable_folder(args.output)
        if args.command == "assign":
            return _assign(assignments, args.names or assignments.NAMES, args.output)
        table = assignments.grade(args.name, args.submissions, args.assignments, args.output)
    except (ValueError, FileNotFoundError) as error:
        print(f"lrcourse: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lrcourse: interrupted: each graded submission's results are in "
              f"{paths.display(paths.resolve(args.output) / args.name)}", file=sys.stderr)
        return 130
    print(table.to_string(index=False))
    print(f"grades: {paths.display(paths.resolve(args.output) / args.name / 'grades.csv')}")
    return 1 if "error" in table else 0


def _assign(assignments, names, output):
    for name in names:  # refuse an unknown name before building anything
        assignments.public_tests(name)
    failed = []
    for name in names:
        print(f"otter assign {name} ...", flush=True)
        try:
            print(f"  -> {paths.display(assignments.assign(name, output))}", flush=True)
        except RuntimeError as error:
            failed.append(name)
            print(f"  FAILED: {error}", flush=True)
        except KeyboardInterrupt:
            print(f"lrcourse: interrupted while building {name}", file=sys.stderr)
            return 130
    print(f"{len(names) - len(failed)} of {len(names)} assignments built" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def _interrupted(notebook, output, finished):
    """One line saying what a Ctrl-C kept: the finished lessons' notebooks and the partial one."""
    partial = batch.executed_path(notebook, output)
    kept = (f"its partial notebook is at {paths.display(partial)}" if partial.exists()
            else "it had written no notebook yet")
    done = "; ".join(f"{r.notebook.name} {'ran' if r.ok else 'FAILED'} -> {paths.display(r.output_notebook)}"
                     for r in finished)
    return f"lrcourse: interrupted while running {notebook}: {kept}; finished before it: {done or 'none'}"


if __name__ == "__main__":
    sys.exit(main())
