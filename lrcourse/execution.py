"""Execute a notebook so that it always comes to an end: every path of the course that runs notebooks
(``lrcourse run``, a sweep's point, the website, otter's grading) goes through this module.

Three things could stop a run forever or end a whole batch, and each has its remedy here:

* **The widget stall.** A client that executes notebooks (nbclient, under papermill and otter) imitates
  the Output widget that ``interact`` draws into: it keeps the widget's outputs and sends them back to
  the kernel on the shell channel, while it is waiting on that same socket for the cell's reply. The
  send can take the socket's one wake-up, and the wait then never ends although the reply is there
  (nbclient issue 312). :class:`SafeExecution` turns the imitation off (no widget it is told of gets
  an imitation): what a widget's callback draws then lands in the cell itself, which is also what a
  reader of the executed notebook wants to see, the figure for the explorer's starting values.
* **A reply that never comes** for a reason not met yet. The shell channel waits in slices of
  :data:`POLL_SLICE_SECONDS`, so it looks at the socket again each slice; and when the kernel has been
  idle (no message about the cell, no CPU time used by it or its children) for ``cell_timeout``
  seconds without replying, the kernel is stopped and the cell fails with :class:`LessonStopped`,
  which names it.
* **A dead kernel** (killed, out of memory, crashed) becomes a :class:`LessonStopped` too, naming the
  cell it died in, so the caller fails that one lesson and goes on with the next.

Kernels start over IPC (Unix sockets in Jupyter's runtime folder) where the platform has it, so their
ports are not open on the network, and the kernel process's own output (TensorFlow's C++ log at
import) goes to a log file, not the terminal. Errors raised in cells still show in full in the
executed notebook.
"""

import logging
import os
import runpy
import sys
import uuid
from queue import Empty
from time import monotonic

import nbformat
import psutil
import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from jupyter_core.utils import ensure_dir_exists, run_sync
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.iorw import LocalHandler, papermill_io
from traitlets import Float, Type, default

from lrcourse import paths

POLL_SLICE_SECONDS = 1.0
CELL_TIMEOUT = 900.0  # seconds a kernel may stay idle without replying to a cell
IDLE_CPU_SECONDS = 0.05  # CPU seconds that an idle kernel (all its threads waiting) stays under in a slice
ENGINE = "lrcourse"  # the papermill engine name of :class:`CourseEngine`

# The clients' own log ("Kernel died while waiting for execute reply") repeats what LessonStopped says: it
# reaches the terminal only where the caller sets up logging.
logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())


class LessonStopped(RuntimeError):
    """A notebook stopped before its end without an error of its own: the kernel died, or it went
    idle without replying. ``cell`` is the index of the cell it was running."""

    def __init__(self, message, cell):
        super().__init__(message)
        self.cell = cell


class WatchfulShellChannel(AsyncZMQSocketChannel):
    """A shell channel that waits without a time limit in slices of :data:`POLL_SLICE_SECONDS`,
    looking at the socket again each slice, and calls ``watch()`` after each empty slice (the
    client's idle-kernel guard)."""

    watch = None

    async def get_msg(self, timeout=None):
        if timeout is not None:
            return await super().get_msg(timeout)
        while True:
            try:
                return await super().get_msg(POLL_SLICE_SECONDS)
            except Empty:
                if self.watch is not None:
                    self.watch()

    def reply_waiting(self):
        """Whether a message waits on the socket now (its ZMQ_EVENTS), whatever any wait believes."""
        return bool(self.socket.get(zmq.EVENTS) & zmq.POLLIN)


class WatchfulKernelClient(AsyncKernelClient):
    shell_channel_class = Type(WatchfulShellChannel)


class CourseKernelManager(AsyncKernelManager):
    """The kernel manager of every notebook the course executes: a watchful client, IPC where it exists."""

    # AsyncKernelManager builds its clients from client_factory; its client_class is not read.
    client_factory = Type(WatchfulKernelClient)

    @default("transport")
    def _transport_default(self):
        # Unix socket paths are limited to about 107 bytes: a long runtime folder keeps TCP on loopback
        return "ipc" if os.name == "posix" and len(jupyter_runtime_dir()) < 70 else "tcp"

    @default("ip")
    def _ip_default(self):
        """Over IPC, where the kernel's sockets go: a unique name in Jupyter's runtime folder (by default
        jupyter_client puts them in the working folder, the lesson's, as kernel-ipc-1 to -5)."""
        if self.transport != "ipc":
            return super()._ip_default()
        folder = jupyter_runtime_dir()
        ensure_dir_exists(folder, mode=0o700)  # private, as Jupyter makes it
        return os.path.join(folder, f"lrcourse-kernel-{uuid.uuid4().hex[:12]}")


class SafeExecution(NotebookClient):
    """What the course changes in a notebook client (mixed into papermill's and nbconvert's):
    no Output-widget imitation, the idle-kernel guard, and a dead kernel reported with its cell."""

    cell_timeout = Float(CELL_TIMEOUT, help="seconds a kernel may stay idle without replying to a cell").tag(config=True)
    kernel_manager_class = Type(CourseKernelManager, config=True)

    def reset_execution_trackers(self):
        super().reset_execution_trackers()
        self._running = None  # (index, cell) of the cell waiting for its reply
        self._idle_stop = ""  # why the guard stopped the kernel, if it did

    def on_comm_open_jupyter_widget(self, msg):
        """No Output-widget imitation: its updates, sent on the shell channel while the reply is awaited
        there, cause the stall. What a widget's callback shows stays in the cell."""
        return None

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        client.shell_channel.watch = self._watch
        return client

    async def async_execute_cell(self, cell, cell_index, *args, **kwargs):
        self._running, self._last_cpu = (cell_index, cell), None
        self._heard()
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        except DeadKernelError:
            raise self._stopped(self._idle_stop or "the kernel died") from None
        finally:
            self._running = None

    # nbclient's synchronous names wrap its own coroutines, not the ones above: wrap these instead
    start_new_kernel_client = run_sync(async_start_new_kernel_client)
    execute_cell = run_sync(async_execute_cell)

    def process_message(self, *args, **kwargs):
        self._heard()  # a message about the running cell
        return super().process_message(*args, **kwargs)

    def _heard(self):
        self._last_heard = monotonic()

    def _watch(self):
        """After each empty slice of the wait for a reply: once the kernel has been idle
        ``cell_timeout`` seconds (no message about the cell, no CPU time used) and, looked at once
        more, no reply is waiting, stop the kernel. nbclient then finds it dead within a second and
        ends the cell the way it ends a dead kernel's, and the cell fails saying why."""
        if self._running is None or self._idle_stop:
            return
        cpu = kernel_cpu_seconds(self.km)
        if cpu is None or self._last_cpu is None or abs(cpu - self._last_cpu) > IDLE_CPU_SECONDS:
            self._heard()  # still working (or the first look since the cell started)
        self._last_cpu = cpu
        idle = monotonic() - self._last_heard
        if idle >= self.cell_timeout and not self.kc.shell_channel.reply_waiting() and kill_kernel(self.km):
            self._idle_stop = f"the kernel stayed idle {self.cell_timeout:g} s without replying (--cell-timeout)"

    def _stopped(self, why):
        """A :class:`LessonStopped` for the running cell, also written into the cell as an error output."""
        index, cell = self._running
        message = f"{why} at cell {index} ({first_line(cell.source)})"
        cell.outputs.append(nbformat.v4.new_output("error", ename="LessonStopped", evalue=message, traceback=[message]))
        return LessonStopped(message, index)


def first_line(source, width=60):
    """A cell's first line of code, shortened, in backticks: how a message names the cell."""
    line = source.strip().splitlines()[0] if source.strip() else ""
    return f"`{line if len(line) <= width else line[:width - 3] + '...'}`"


def kernel_processes(manager):
    """A local kernel's process and those it started (psutil), or [] when there is none to see."""
    pid = getattr(getattr(manager, "provisioner", None), "pid", None)
    try:
        kernel = psutil.Process(pid) if pid is not None else None
        return [kernel, *kernel.children(recursive=True)] if kernel else []
    except psutil.Error:
        return []


def kernel_cpu_seconds(manager):
    """CPU seconds used so far by a local kernel and the processes it started; None when unknown."""
    processes = kernel_processes(manager)
    try:
        return sum(sum(p.cpu_times()[:4]) for p in processes) if processes else None
    except psutil.Error:  # one ended meanwhile: seen as work
        return None


def kill_kernel(manager):
    """Stop a local kernel and the processes it started at once (SIGKILL ends a frozen one too);
    whether the kernel itself was stopped."""
    processes = kernel_processes(manager)
    for process in reversed(processes):
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
        except psutil.Error:
            return False
    return bool(processes)


class CourseNotebookClient(SafeExecution, PapermillNotebookClient):
    """Papermill's client with the course's :class:`SafeExecution`; a stopped cell is marked failed."""

    def _stopped(self, why):
        stopped = super()._stopped(why)
        self.nb_man.cell_exception(self.nb.cells[stopped.cell], cell_index=stopped.cell, exception=stopped)
        return stopped


class CourseEngine(NBClientEngine):
    """The papermill engine ``lrcourse``: papermill's own, executing with :class:`CourseNotebookClient`.

    ``cell_timeout`` goes to the client; ``kernel_log``, a path, receives the kernel process's output.
    Of papermill's other engine options only ``extra_arguments`` and ``shutdown_kernel`` are used (the
    course needs no ``execution_timeout``: the guard stops an idle kernel, and a working one may work).
    The kernel draws its figures inline whatever ``MPLBACKEND`` says here.
    """

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, start_timeout=60, cell_timeout=CELL_TIMEOUT,
                                 kernel_log=os.devnull, **kwargs):
        options = {name: kwargs[name] for name in ("extra_arguments", "shutdown_kernel") if name in kwargs}
        client = CourseNotebookClient(nb_man, kernel_name=kernel_name, startup_timeout=start_timeout,
                                      cell_timeout=cell_timeout, log=logger, **options)
        # A non-inline Matplotlib backend in this environment (pytest's Agg, say) would leave the executed
        # notebook without a single figure: the kernel chooses its own.
        environment = {name: value for name, value in os.environ.items() if name != "MPLBACKEND"}
        with open(kernel_log, "wb") as log:
            return client.execute(stdout=log, stderr=log, env=environment)


papermill_engines.register(ENGINE, CourseEngine)


class WholeFileHandler(LocalHandler):
    """papermill's local files, but each notebook written whole or not at all
    (:func:`lrcourse.paths.write_atomically`): papermill rewrites the executed notebook after every
    cell, in place, so a full disk or a kill mid-write left a truncated, unreadable "kept" notebook;
    now the previous complete one stays."""

    def write(self, buf, path):
        return paths.write_atomically(path, buf)


papermill_io.register("/", WholeFileHandler())  # every absolute path, which is all the course hands papermill


def run_otter(argv):
    """``python -m lrcourse.execution otter ARGS``: otter-grader's command line, whose notebook
    executions (``otter assign`` checking the solutions, ``otter run`` grading a submission) go
    through nbconvert's ExecutePreprocessor, here with the course's :class:`SafeExecution`."""
    from nbconvert import preprocessors

    class CourseExecutePreprocessor(SafeExecution, preprocessors.ExecutePreprocessor):
        """nbconvert's ExecutePreprocessor, as otter creates it, with :class:`SafeExecution`."""

    preprocessors.ExecutePreprocessor = CourseExecutePreprocessor  # otter imports it when it grades
    sys.argv = ["otter", *argv]
    runpy.run_module("otter", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    if sys.argv[1:2] != ["otter"]:
        sys.exit("usage: python -m lrcourse.execution otter ARGS (otter-grader's command line)")
    run_otter(sys.argv[2:])
