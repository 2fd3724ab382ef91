"""The ``lrcourse`` command line: run lessons in batch and list their parameters.

    lrcourse run NOTEBOOK [NOTEBOOK ...] [-p NAME VALUE ...] [-f PARAMS.yaml] [--output DIR]
    lrcourse params NOTEBOOK

Exit status: 0 when every lesson ran, 1 when one failed, 2 for refused input, 130 on Ctrl-C.
"""

import argparse
import sys

from lrcourse import batch, paths


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
    params = commands.add_parser("params", help="list a lesson's parameters with types, defaults and help")
    params.add_argument("notebook")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
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
    except (ValueError, FileNotFoundError) as error:
        print(f"lrcourse: error: {error}", file=sys.stderr)
        return 2

    failed, finished = 0, []
    for notebook in args.notebooks:
        print(f"running {notebook} ...", flush=True)
        try:
            result = batch.run_lesson(notebook, values, output=args.output)
        except KeyboardInterrupt:
            print(_interrupted(notebook, args.output, finished), file=sys.stderr)
            return 130
        finished.append(result)
        where = paths.display(result.output_notebook)
        if result.ok:
            print(f"  done in {result.seconds:.0f} s -> {where}", flush=True)
        else:
            failed += 1
            print(f"  FAILED after {result.seconds:.0f} s: {result.error}\n  partial notebook kept at {where}", flush=True)
    print(f"{len(args.notebooks) - failed} of {len(args.notebooks)} lessons ran")
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
