"""lrcourse: the support package of a notebook course on learning rates with Keras 3.

Modules, one idea each:

* ``schedules``: learning-rate schedules (step, polynomial/linear, time-based decay, cyclical), and
  schedules joined in phases (warmup + cosine, SGDR restarts, one-cycle with its momentum)
* ``optimizers``: SGD and Adam whose momentum / beta_1 follows a schedule in the compiled step
* ``finder``: the learning-rate range test and its readings
* ``callbacks``: a learning-rate recorder, the CLR article's callback, cuts and restarts on plateaus,
  and the JAX trap of callbacks that set the rate
* ``resuming``: stop, save, load and go on: which ways continue the run exactly
* ``loops``: the schedules and optimizers in hand-written training loops (TensorFlow and JAX)
* ``backends``: run a package function under another Keras backend, in a child process
* ``data``: train, validation and test splits of bundled real images, offline sets and Keras' loaders
* ``experiments``: a run as a value, repeated over seeds, summarised with intervals and tests
* ``statistics``: confidence intervals, Welch's test, and the summary table over seeds
* ``models``: the lessons' networks and augmentation
* ``training``: fit with a schedule and record what happened
* ``plots`` and ``widgets``: figures and interactive explorers
* ``exercises``: self-checking answers
* ``batch`` and ``cli``: run lessons in batch with papermill
* ``execution``: how every notebook is executed so that it always ends (no widget stall, dead or idle kernels)
* ``sweeps``: grids of lesson runs on Dask, summarised over seeds
* ``device`` and ``paths``: where a run computes and where it writes
* ``quiet``: keep TensorFlow's log lines out of the lessons (:func:`quiet_tensorflow`)
"""

from lrcourse._checks import RefusedArgument  # noqa: F401  (the error for a value the package refuses)
from lrcourse.quiet import quiet_tensorflow  # noqa: F401  (standard library only: cheap to import)

__version__ = "0.1.0"
