"""The batch runner and its command line, on small notebooks written by the tests."""

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from lrcourse import batch, cli

ROOT = Path(__file__).resolve().parent.parent

PARAMETERS = '''
count: int = 2  # how many lines to write
label: str = "demo"  # written into the record
rate: float = 0.5  # a float, to check that an int given for it arrives as a float
names: list = ["a", "b"]  # a list
output_dir: str = "unused"  # set by the runner
'''
WORK = '''
import json, pathlib
out = pathlib.Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
(out / "record.json").write_text(json.dumps({"count": count, "label": label, "rate": repr(rate)}))
'''
FAIL = '''
if count == 3:
    raise RuntimeError("three is not allowed")
'''


def write_notebook(path, *sources):
    nb = new_notebook(cells=[new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]})])
    nb.cells += [new_code_cell(source) for source in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def lesson(tmp_path):
    return write_notebook(tmp_path / "demo.ipynb", WORK, FAIL)


def test_params_lists_names_types_defaults_and_help(lesson, capsys):
    assert cli.main(["params", str(lesson)]) == 0
    out = capsys.readouterr().out
    assert "count: int = 2  # how many lines to write" in out and 'label: str = "demo"' in out


def test_run_keeps_the_executed_notebook_and_the_records(lesson, tmp_path, capsys):
    params_file = tmp_path / "p.yaml"
    params_file.write_text("count: 5\nlabel: from-file\n")
    code = cli.main(["run", str(lesson), "-f", str(params_file), "-p", "label", "from-cli", "--output", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr()
    run_dir = tmp_path / "out" / "demo"
    assert json.loads((run_dir / "record.json").read_text()) == {"count": 5, "label": "from-cli", "rate": "0.5"}
    executed = nbformat.read(run_dir / "demo.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)


def test_unknown_parameter_is_refused_before_anything_runs(lesson, tmp_path, capsys):
    code = cli.main(["run", str(lesson), "-p", "epochs", "3", "--output", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "no parameter 'epochs'" in err and "count, label, rate, names, output_dir" in err
    assert not (tmp_path / "out").exists()


def test_value_of_the_wrong_type_is_refused(lesson, capsys):
    assert cli.main(["run", str(lesson), "-p", "count", "many"]) == 2
    assert "declared int; got 'many'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="declared int"):
        batch.check_parameters(lesson, {"count": True})


def test_failed_run_keeps_its_partial_notebook_and_the_other_runs(lesson, tmp_path, capsys):
    good = write_notebook(tmp_path / "good.ipynb", WORK)
    code = cli.main(["run", str(lesson), str(good), "-p", "count", "3", "--output", str(tmp_path / "out")])
    assert code == 1
    out = capsys.readouterr().out
    assert "demo: failed: cell 3 (`if count == 3:`) raised RuntimeError: three is not allowed" in out
    assert "1 of 2 lessons ran" in out
    partial = nbformat.read(tmp_path / "out" / "demo" / "demo.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in partial.cells if c.cell_type == "code" for o in c.outputs)
    assert (tmp_path / "out" / "demo" / "record.json").exists()  # the cells before the failure did their work
    assert (tmp_path / "out" / "good" / "record.json").exists()


def test_params_file_must_be_a_mapping(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="mapping of parameter names"):
        batch.read_params_file(bad)


@pytest.mark.parametrize("text, value", [("3", 3), ("1e-7", 1e-7), ("0.5", 0.5), ("true", True),
                                          ("[step, linear]", ["step", "linear"]), ("digits", "digits"),
                                          ("[1e-3, 0.1, 2]", [1e-3, 0.1, 2])])
def test_command_line_values_read_as_numbers_then_yaml(text, value):
    assert batch.parse_value(text) == value and type(batch.parse_value(text)) is type(value)


def test_params_file_numbers_in_exponent_form_are_numbers(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("base_lr: 1e-7\nmax_lr: 1.0e-2\nname: cifar10\ngrid: [1e-4, 1e-3]\n")
    assert batch.read_params_file(path) == {"base_lr": 1e-7, "max_lr": 0.01, "name": "cifar10", "grid": [1e-4, 1e-3]}


def test_a_missing_notebook_is_named(tmp_path, capsys):
    for command in ("run", "params"):
        assert cli.main([command, str(tmp_path / "nope.ipynb")]) == 2
        assert f"no notebook at {tmp_path / 'nope.ipynb'}" in capsys.readouterr().err
    missing_params = tmp_path / "missing.yaml"
    assert cli.main(["run", str(tmp_path / "nope.ipynb"), "-f", str(missing_params)]) == 2
    assert "missing.yaml" in capsys.readouterr().err


def test_text_given_for_a_list_is_refused_before_anything_runs(lesson, tmp_path, capsys):
    assert cli.main(["run", str(lesson), "-p", "names", "step", "--output", str(tmp_path / "out")]) == 2
    assert "declared list; got 'step' (str); write a list, such as [step]" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="declared list"):
        batch.check_parameters(lesson, {"names": {"a": 1}})


def test_an_int_given_for_a_float_arrives_as_a_float(lesson, tmp_path, capsys):
    params_file = tmp_path / "p.yaml"
    params_file.write_text("rate: 2\n")
    assert batch.check_parameters(lesson, {"rate": 1, "count": 4}) == {"rate": 1.0, "count": 4}
    for args, rate in ((["-p", "rate", "1"], "1.0"), (["-f", str(params_file)], "2.0")):
        assert cli.main(["run", str(lesson), *args, "--output", str(tmp_path / "out")]) == 0, capsys.readouterr()
        assert json.loads((tmp_path / "out" / "demo" / "record.json").read_text())["rate"] == rate


def test_a_yaml_error_names_the_file_line_and_column(lesson, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("count: 3\nnames: [a, b\n")
    assert cli.main(["run", str(lesson), "-f", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"lrcourse: error: {bad}, line 3, column 1: not valid YAML")
    assert "starts at line 2, column 8" in err


def test_a_yaml_error_in_a_command_line_value_is_one_line(lesson, capsys):
    assert cli.main(["run", str(lesson), "-p", "label", "a: b: c"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "-p label 'a: b: c', line 1, column 5: not valid YAML" in err
    assert "quote text: -p label \"'a: b: c'\"" in err


def fake_papermill(interrupt_on):
    """A stand-in for papermill.execute_notebook: writes the output notebook, and raises
    KeyboardInterrupt (as Ctrl-C does) while running ``interrupt_on``."""
    def execute_notebook(input_path, output_path, parameters=None, **kwargs):
        nbformat.write(nbformat.read(input_path, as_version=4), output_path)
        if input_path.endswith(interrupt_on):
            raise KeyboardInterrupt
    return execute_notebook


def test_ctrl_c_says_in_one_line_what_was_kept(lesson, tmp_path, capsys, monkeypatch):
    import papermill

    good = write_notebook(tmp_path / "good.ipynb", WORK)
    monkeypatch.setattr(papermill, "execute_notebook", fake_papermill("demo.ipynb"))
    code = cli.main(["run", str(good), str(lesson), str(good), "--output", str(tmp_path / "out")])
    assert code == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"interrupted while running {lesson}: its partial notebook is at {tmp_path}/out/demo/demo.ipynb" in err
    assert f"finished before it: good.ipynb ran -> {tmp_path}/out/good/good.ipynb" in err


def test_ctrl_c_before_anything_was_written(lesson, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "run_lesson", interrupted)
    assert cli.main(["run", str(lesson), "--output", str(tmp_path / "out")]) == 130
    assert "it had written no notebook yet; finished before it: none" in capsys.readouterr().err


def test_the_output_folder_is_injected_relative_to_the_repository(lesson, tmp_path, monkeypatch):
    import papermill

    from lrcourse import paths

    seen = {}
    monkeypatch.setattr(paths, "repo_root", lambda: tmp_path)
    monkeypatch.setattr(papermill, "execute_notebook", lambda *args, parameters, **kw: seen.update(parameters))
    assert batch.run_lesson(lesson, output="build").ok
    assert seen["output_dir"] == "build/demo"
    assert paths.display(tmp_path / "build" / "x.png") == "build/x.png"
    assert paths.display("/elsewhere/x.png") == "/elsewhere/x.png"


def test_a_second_run_into_a_held_output_is_refused_and_the_lock_goes_with_its_holder(lesson, tmp_path, capsys):
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom lrcourse import paths\n"
                               f"with paths.locked({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert cli.main(["run", str(lesson), "--output", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"is in use by lrcourse pid {holder.pid}" in err and "give another --output" in err
        assert not (out / "demo").exists()  # nothing of the refused run was written
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # killed, not let go: the operating system drops its lock all the same
        holder.wait()
    assert cli.main(["run", str(lesson), "--output", str(out)]) == 0
    assert json.loads((out / "demo" / "record.json").read_text())["count"] == 2


def test_an_output_that_is_a_file_is_refused_in_one_line(lesson, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"lesson: {lesson}\ngrid:\n  count: [1, 2]\n")
    for command in (["run", str(lesson)], ["sweep", str(sweep)], ["assign"], ["grade", "01_warmup_schedule", str(lesson)]):
        code = cli.main([*command, "--output", str(afile)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and "is a file, not a folder" in err, err
    assert afile.read_text() == "not a folder"


def test_relative_paths_are_the_users_not_the_checkouts(tmp_path, monkeypatch, capsys):
    from lrcourse import paths

    checkout, here = tmp_path / "checkout", tmp_path / "here"
    checkout.mkdir()
    here.mkdir()
    (checkout / "pyproject.toml").write_text("")
    write_notebook(checkout / "demo.ipynb", WORK.replace('"label": label', '"label": "the checkout\'s"'))
    write_notebook(here / "demo.ipynb", WORK)
    monkeypatch.setattr(paths, "repo_root", lambda: checkout)
    monkeypatch.chdir(here)
    assert cli.main(["run", "demo.ipynb", "-p", "label", "mine", "--output", "out"]) == 0, capsys.readouterr()
    assert json.loads((here / "out" / "demo" / "record.json").read_text())["label"] == "mine"  # my notebook, my folder
    assert not (checkout / "out").exists()


LESSONS = {path.name[:2]: path for path in sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))}


@pytest.mark.parametrize("lesson, name, value, says", [
    ("01", "epochs", "0", "parameter 'epochs' of 01_learning_rate_schedules.ipynb must be ≥ 1; got 0"),
    ("01", "seeds", "[]", "parameter 'seeds' of 01_learning_rate_schedules.ipynb must hold at least 1 item; got []"),
    ("01", "batch_size", "0", "must be ≥ 1; got 0 (allowed: ≥ 1)"),
    ("01", "seeds", "[-1]", "has -1, but each item must be ≥ 0; got [-1]"),
    ("01", "seeds", "[1, 1]", "must hold different values; got [1, 1]"),
    ("02", "policies", "[nope]", "has 'nope', but each item must be one of triangular, triangular2, exp_range"),
    ("02", "fixed_lrs", "[nan, 0.1]", "has nan, but each item must be a finite number > 0"),
    ("02", "momentum", "1.0", "must be < 1; got 1.0 (allowed: ≥ 0; < 1)"),
    ("04", "warmup_fraction", "0", "must be > 0"),
])
def test_values_outside_what_a_parameter_allows_are_refused_before_any_kernel_starts(lesson, name, value, says, capsys,
                                                                                      monkeypatch):
    monkeypatch.setattr(batch, "run_lesson", lambda *args, **kwargs: pytest.fail("a kernel was started"))
    assert cli.main(["run", str(LESSONS[lesson]), "-p", name, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err


@pytest.mark.parametrize("lesson", sorted(LESSONS))
def test_every_lessons_defaults_and_parameter_files_keep_what_they_declare(lesson):
    import ast

    declared = batch.notebook_parameters(LESSONS[lesson])
    rules = {name: batch.allowed(p["help"]) for name, p in declared.items() if batch.allowed(p["help"])}
    assert {"epochs", "batch_size", "seeds"} <= set(rules)  # the values a learner changes first are all guarded
    for name, rule in rules.items():
        assert batch.breaks(ast.literal_eval(declared[name]["default"]), rule) is None, (name, rule)
    for kind in ("ci", "seed"):
        batch.check_parameters(LESSONS[lesson], batch.read_params_file(LESSONS[lesson].parent / "params" / f"{lesson}_{kind}.yaml"))


@pytest.mark.parametrize("content", ['{"a": 1}', "not json", ""])
def test_a_file_that_is_not_a_notebook_is_refused_in_one_line(tmp_path, capsys, content):
    bad = tmp_path / "bad.ipynb"
    bad.write_text(content)
    assert cli.main(["run", str(bad), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.ipynb is not a readable notebook" in err and "give a lesson's .ipynb" in err


@pytest.mark.parametrize("address", ["garbage", "tcp://host-without-port", "tcp://:x"])
def test_a_scheduler_address_dask_cannot_read_is_refused_before_connecting(lesson, tmp_path, capsys, address):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"lesson: {lesson}\ngrid:\n  count: [1, 2]\n")
    assert cli.main(["sweep", str(sweep), "--scheduler", address, "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--scheduler {address!r} is not a Dask scheduler's address" in err, err
    assert not (tmp_path / "out").exists()


def test_a_huge_grid_is_refused_at_once_unless_asked_for(lesson, tmp_path, capsys, monkeypatch):
    from lrcourse import sweeps

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"lesson: {lesson}\ngrid:\n  count: {list(range(1000))}\n  label: {['l%d' % i for i in range(1000)]}\n")
    monkeypatch.setattr(sweeps, "expand_grid", lambda grid: pytest.fail("the grid was expanded"))
    assert cli.main(["sweep", str(sweep), "--output", str(tmp_path / "out")]) == 2  # refused before expanding it
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "asks for 1,000,000 points, more than 1,000: shrink the grid, or pass --yes" in err
    small = tmp_path / "small.yaml"
    small.write_text(f"lesson: {lesson}\ngrid:\n  count: {list(range(30))}\n  label: {['l%d' % i for i in range(40)]}\n")
    with pytest.raises(sweeps.TooManyPoints):
        sweeps.read_sweep(small)
    assert len(sweeps.read_sweep(small, max_points=None).points) == 1200  # what --yes reads
