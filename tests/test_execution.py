"""Every notebook the course executes comes to an end: widgets cannot stall it, an idle kernel that
does not reply stops one lesson with a line naming the cell, and so does a kernel that dies, while
the other lessons of the batch still run (lrcourse.execution, through lrcourse.batch and the CLI)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from lrcourse import batch, cli, execution

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
KILL = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
FREEZE = "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)"  # a kernel that is alive and never replies
RECORD = "import pathlib\npathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)\n" \
         "(pathlib.Path(output_dir) / 'done.txt').write_text('ran')"


def write_notebook(path, *sources):
    """A notebook with a parameters cell (``output_dir``) and ``sources`` as code cells."""
    cells = [new_code_cell('output_dir: str = "unused"', metadata={"tags": ["parameters"]})]
    notebook = new_notebook(cells=cells + [new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = KERNELSPEC
    nbformat.write(notebook, path)
    return path


def benchmark():
    spec = importlib.util.spec_from_file_location("widget_stalls", ROOT / "benchmarks" / "widget_stalls.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_kernel_manager_builds_the_watchful_client_over_ipc():
    manager = execution.CourseKernelManager(kernel_name="python3")
    client = manager.client()
    assert type(client) is execution.WatchfulKernelClient
    assert client.shell_channel_class is execution.WatchfulShellChannel
    assert manager.transport == ("ipc" if os.name == "posix" else "tcp")


@pytest.mark.skipif(os.name != "posix", reason="IPC transport is for POSIX systems")
def test_a_kernels_ipc_sockets_live_in_the_runtime_folder_not_the_lessons(tmp_path):
    from jupyter_core.paths import jupyter_runtime_dir

    notebook = write_notebook(tmp_path / "where.ipynb", "import json, ipykernel\n"
                              "print(json.load(open(ipykernel.get_connection_file()))['ip'])")
    result = batch.execute(notebook, {}, tmp_path / "out")
    assert result.ok, result.error
    ip = nbformat.read(result.output_notebook, as_version=4).cells[2].outputs[0].text.strip()
    assert Path(ip).parent == Path(jupyter_runtime_dir()) and Path(ip).name.startswith("lrcourse-kernel-")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "where.ipynb"]  # no socket files beside the lesson
    assert not list(Path(jupyter_runtime_dir()).glob(Path(ip).name + "-*"))  # and none left once it ended


def test_widget_cells_executed_repeatedly_under_load_never_stall(capsys):
    # The course's explorers and a learner's own interact, 36 widget cells in 3 runs beside a CPU burner,
    # each run bounded: a stall fails the run at its limit instead of hanging the tests. Before the fix,
    # 3 of the first 4 runs of this notebook stalled, each within its first 3 cells.
    code = benchmark().main(["--runs", "3", "--cells", "12", "--burners", "1", "--run-limit", "150"])
    out = capsys.readouterr().out
    assert code == 0 and "total: 0 stall(s) in 3 runs; 36 widget cells executed" in out, out


def test_widget_output_lands_in_the_cell_and_the_reply_is_awaited_in_watched_slices(tmp_path, monkeypatch):
    import nbclient.output_widget

    imitated, watched = [], []
    monkeypatch.setattr(nbclient.output_widget.OutputWidget, "__init__",
                        lambda self, *args: imitated.append(args))
    plain_watch = execution.SafeExecution._watch
    monkeypatch.setattr(execution.SafeExecution, "_watch", lambda self: watched.append(1) or plain_watch(self))
    notebook = write_notebook(tmp_path / "explorer.ipynb", "from lrcourse import widgets\nimport time",
                              "widgets.clr_explorer()", "time.sleep(2.5)")
    result = batch.execute(notebook, {}, tmp_path / "out")
    assert result.ok, result.error
    assert not imitated, "the client imitated the Output widget, which is what stalls"
    assert watched, "the wait for the sleeping cell's reply was never watched"
    outputs = nbformat.read(result.output_notebook, as_version=4).cells[3].outputs  # after the injected cell
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    lines = [o["data"]["text/plain"] for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(images) == 1, "the executed explorer cell must show the figure for its starting values"
    assert len(lines) == 1 and "sliders move in JupyterLab and Colab" in lines[0] and "\n" not in lines[0]


def test_a_kernel_that_dies_fails_its_lesson_and_the_batch_goes_on(tmp_path, capsys):
    dying = write_notebook(tmp_path / "dying.ipynb", "x = 1", KILL, "print('never')")
    good = write_notebook(tmp_path / "good.ipynb", RECORD)
    code = cli.main(["run", str(dying), str(good), "--output", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 1, out
    stopped = [line for line in out.splitlines() if line.startswith("dying: stopped")]
    assert len(stopped) == 1, out
    assert "the kernel died at cell 3 (`import os, signal`)" in stopped[0]
    assert "partial notebook kept at" in stopped[0] and "Traceback" not in out
    assert (tmp_path / "out" / "good" / "done.txt").read_text() == "ran"
    assert "1 of 2 lessons ran" in out
    summary = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.split()[:1] in (["dying"], ["good"])
               and len(line.split()) == 3}
    assert summary == {"dying": "stopped", "good": "ok"}, out
    partial = nbformat.read(tmp_path / "out" / "dying" / "dying.ipynb", as_version=4)
    assert partial.cells[3].outputs[-1].ename == "LessonStopped"  # cell 1 holds the injected output_dir
    assert partial.cells[4].metadata.papermill.status == "pending"


def test_an_idle_kernel_that_never_replies_is_stopped_at_the_cell_timeout(tmp_path, capsys):
    frozen = write_notebook(tmp_path / "frozen.ipynb", "x = 1", FREEZE, "print('never')")
    code = cli.main(["run", str(frozen), "--output", str(tmp_path / "out"), "--cell-timeout", "3"])
    out = capsys.readouterr().out
    assert code == 1, out
    line = next(line for line in out.splitlines() if line.startswith("frozen: stopped"))
    assert "the kernel stayed idle 3 s without replying (--cell-timeout) at cell 3 (`import os, signal`)" in line
    partial = nbformat.read(tmp_path / "out" / "frozen" / "frozen.ipynb", as_version=4)
    assert partial.cells[3].metadata.papermill.status == "failed"


def test_a_working_kernel_is_not_stopped_however_long_its_cell(tmp_path):
    # idle means no CPU used by the kernel or the processes it started (lesson 04 trains in a child)
    spin = "import time\nend = time.time() + 6\nwhile time.time() < end:\n    pass"
    notebook = write_notebook(tmp_path / "busy.ipynb", spin,
                              f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {spin!r}], check=True)")
    result = batch.execute(notebook, {}, tmp_path / "out", cell_timeout=2)
    assert result.ok, result.error


def test_the_cell_timeout_must_be_positive(tmp_path, capsys):
    notebook = write_notebook(tmp_path / "n.ipynb", "x = 1")
    assert cli.main(["run", str(notebook), "--cell-timeout", "0"]) == 2
    assert "--cell-timeout must be a positive number of seconds; got 0" in capsys.readouterr().err


def test_the_kernel_log_goes_to_a_file_not_the_terminal(tmp_path):
    notebook = write_notebook(tmp_path / "loud.ipynb", "import os\nos.write(2, b'C-level line\\n')")
    process = subprocess.run([sys.executable, "-m", "lrcourse.cli", "run", str(notebook), "--output",
                              str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)
    assert process.returncode == 0, process.stderr
    assert process.stderr == "" and "C-level line" not in process.stdout
    assert "without encryption" not in process.stdout + process.stderr
    assert (tmp_path / "out" / "loud" / "kernel.log").read_text().endswith("C-level line\n")
    assert [line.split(":")[0] for line in process.stdout.splitlines()[:2]] == ["loud", "loud"]


def test_otter_executes_with_the_safe_notebook_client(tmp_path):
    # otter grades with nbconvert's ExecutePreprocessor, which runs NotebookClient.__init__ again when it
    # executes: the Output-widget imitation must stay off through that too, so the figure lands in the cell
    check = f"""
import nbformat, sys
from lrcourse import execution
try:
    execution.run_otter(["--version"])
except SystemExit:
    pass
import nbclient.output_widget
def refuse(self, *args):
    raise AssertionError("the Output widget was imitated")
nbclient.output_widget.OutputWidget.__init__ = refuse
from nbconvert.preprocessors import ExecutePreprocessor
notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("from lrcourse import widgets\\nwidgets.clr_explorer()")],
                                    metadata={{"kernelspec": {KERNELSPEC!r}}})
executed, _ = ExecutePreprocessor(kernel_name="python3").preprocess(notebook, {{}})
print(type(ExecutePreprocessor).__name__, [sorted(o.get("data", {{}})) for o in executed.cells[0].outputs])
"""
    environment = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
    process = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=environment, timeout=300)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "['image/png', 'text/plain']" in process.stdout, process.stdout


def test_a_kernel_that_dies_after_the_last_cell_stops_the_lesson_with_one_line(tmp_path, monkeypatch):
    from nbclient.exceptions import DeadKernelError
    from papermill.clientwrap import PapermillNotebookClient

    def die(self, *args, **kwargs):
        raise DeadKernelError("Kernel died")

    monkeypatch.setattr(PapermillNotebookClient, "wait_for_reply", die)  # papermill's kernel_info after the cells
    result = batch.execute(write_notebook(tmp_path / "late.ipynb", "x = 1"), {}, tmp_path / "out")
    assert result.error == "stopped: DeadKernelError: Kernel died" and result.cell is None


def test_a_write_that_fails_keeps_the_previous_notebook_whole_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    import errno

    from papermill.iorw import papermill_io

    notebook = tmp_path / "lesson.ipynb"
    handler = papermill_io.get_handler(str(notebook))
    assert isinstance(handler, execution.WholeFileHandler)  # what papermill uses for the executed notebook
    handler.write('{"cells": [], "first": "complete"}', str(notebook))

    def fill_the_disk(self, text, encoding=None):
        Path.write_bytes(self, text.encode()[:10])  # a part reaches the disk, then it is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", fill_the_disk)
    with pytest.raises(OSError, match="No space left"):
        handler.write('{"cells": [], "second": "cut short"}', str(notebook))
    monkeypatch.undo()
    assert json.loads(notebook.read_text()) == {"cells": [], "first": "complete"}
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.ipynb"]
