"""The ``lrcourse`` command line: run lessons in batch and list their parameters.

    lrcourse run NOTEBOOK [NOTEBOOK ...] [-p NAME VALUE ...] [-f PARAMS.yaml] [--output DIR]
    lrcourse params NOTEBOOK
"""

import argparse
import sys

from lrcourse import batch


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
        values.update({name: batch.parse_value(value) for name, value in args.parameter})
        for notebook in args.notebooks:  # check every lesson before running any
            batch.check_parameters(notebook, values)
    except (ValueError, FileNotFoundError) as error:
        print(f"lrcourse: error: {error}", file=sys.stderr)
        return 2

    failed = 0
    for notebook in args.notebooks:
        print(f"running {notebook} ...", flush=True)
        result = batch.run_lesson(notebook, values, output=args.output)
        if result.ok:
            print(f"  done in {result.seconds:.0f} s -> {result.output_notebook}", flush=True)
        else:
            failed += 1
            print(f"  FAILED after {result.seconds:.0f} s: {result.error}\n"
                  f"  partial notebook kept at {result.output_notebook}", flush=True)
    print(f"{len(args.notebooks) - failed} of {len(args.notebooks)} lessons ran")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
