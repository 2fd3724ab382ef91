"""Stop a run half-way, save it, load it, go on: does it continue exactly where it stopped?

:func:`compare_resume` trains a model twice on the same batches: once straight through, once
stopped after ``stop_after`` epochs, saved, loaded and trained to the end. It reports how far
apart the two runs ended (weights, momentum slots, and the rates and momenta applied at every
update). Methods:

* ``"keras"``: ``model.save("run.keras")`` then ``keras.saving.load_model``. Weights, optimizer
  state and the step counter ``iterations`` come back, so the schedule continues.
* ``"weights"``: ``model.save_weights`` then ``load_weights`` into a freshly compiled model. The
  trap: the fresh optimizer has no slots yet (momentum, Adam's moments), so Keras 3 skips all its
  variables with only a warning: ``iterations`` is 0 again, the schedule starts over and the
  momentum is lost. (Plain SGD has no slots, so its counter happens to load.)
* ``"weights_built"``: the fix; ``model.optimizer.build(model.trainable_variables)`` before
  ``load_weights`` gives the optimizer its slots, so everything is loaded.
* ``"backup"``: ``keras.callbacks.BackupAndRestore``; the run is interrupted by an exception
  after ``stop_after`` epochs, and the same ``fit`` call, run again, resumes from the backup.

>>> from lrcourse.schedules import TimeBasedDecay
>>> x = np.linspace(-1, 1, 32, dtype="float32").reshape(16, 2)
>>> y = x.sum(axis=1, keepdims=True)
>>> build = lambda: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
>>> sgd = lambda: keras.optimizers.SGD(TimeBasedDecay(0.1, decay=0.1), momentum=0.9)
>>> trap = compare_resume(build, sgd, x, y, epochs=4, stop_after=2, method="weights", batch_size=8)
>>> trap.iterations_after_loading, trap.expected_iterations, trap.resumed_correctly
(0, 4, False)
>>> resume_table(build, sgd, x, y, epochs=4, stop_after=2, batch_size=8)["iterations after loading"]
method
keras            4
weights          0
weights_built    4
backup           4
Name: iterations after loading, dtype: int64
"""

import math
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

from lrcourse import _checks
from lrcourse.callbacks import LearningRateRecorder

METHODS = ("keras", "weights", "weights_built", "backup")


@dataclass
class ResumeResult:
    """How a stopped, saved and resumed run compares with the same run done in one go.

    ``rates_*[k]`` and ``momenta_*[k]`` are what update ``k`` used (momenta are ``None`` when the
    optimizer does not schedule its momentum). ``loading_warnings`` are the warnings Keras gave
    while loading.
    """

    method: str
    expected_iterations: int  # updates done before the stop
    iterations_after_loading: int  # the optimizer's counter at the first update after loading
    max_weight_difference: float
    max_rate_difference: float
    max_momentum_difference: float | None
    max_slot_difference: float  # the optimizer's slots at the end (momentum; Adam's moments)
    rates_uninterrupted: list
    rates_resumed: list
    momenta_uninterrupted: list | None = None
    momenta_resumed: list | None = None
    loading_warnings: list = field(default_factory=list)

    @property
    def resumed_correctly(self):
        """Whether the counter went on and the run ended where the uninterrupted one did."""
        return (self.iterations_after_loading == self.expected_iterations
                and self.max_weight_difference < 1e-5 and self.max_slot_difference < 1e-5
                and self.max_rate_difference < 1e-7
                and (self.max_momentum_difference or 0.0) < 1e-7)

    def row(self):
        """The numbers of this comparison as one row of a table."""
        return {
            "method": self.method,
            "iterations after loading": self.iterations_after_loading,
            "expected": self.expected_iterations,
            "max |weight difference|": self.max_weight_difference,
            "max |rate difference|": self.max_rate_difference,
            "max |momentum difference|": self.max_momentum_difference,
            "max |slot difference|": self.max_slot_difference,
            "resumed correctly": self.resumed_correctly,
        }


class _Recorder(LearningRateRecorder):
    """The learning-rate recorder, plus the momentum when the optimizer schedules it."""

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.momenta = []

    def on_train_batch_begin(self, batch, logs=None):
        super().on_train_batch_begin(batch, logs)
        momentum = getattr(self.model.optimizer, "current_momentum", None)
        if momentum is not None:
            self.momenta.append(float(keras.ops.convert_to_numpy(momentum)))


class _Interrupt(keras.callbacks.Callback):
    """Raises after ``epochs`` epochs, as a crash or a lost machine would."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise _Interrupted(f"interrupted after epoch {epoch + 1}")


class _Interrupted(RuntimeError):
    pass


def _check(method, epochs, stop_after):
    _checks.choice("method", method, METHODS)
    epochs = _checks.count("epochs", epochs, minimum=2)
    stop_after = _checks.count("stop_after", stop_after)
    if stop_after >= epochs:
        raise ValueError(f"stop_after must be a whole number in 1..epochs-1 = 1..{epochs - 1}; got {stop_after!r}")
    return epochs, stop_after


def _compiled(build_model, make_optimizer, loss, seed, jit_compile):
    keras.utils.set_random_seed(seed)
    model = build_model()
    model.compile(optimizer=make_optimizer(), loss=loss, jit_compile=jit_compile)
    return model


def _fit(model, x, y, batch_size, **kwargs):
    recorder = _Recorder()
    kwargs["callbacks"] = [*kwargs.get("callbacks", []), recorder]
    model.fit(x, y, batch_size=batch_size, shuffle=False, verbose=0, **kwargs)
    return recorder


def _uninterrupted(build_model, make_optimizer, x, y, epochs, batch_size, loss, seed, jit_compile):
    model = _compiled(build_model, make_optimizer, loss, seed, jit_compile)
    recorder = _fit(model, x, y, batch_size, epochs=epochs)
    return model, recorder


def _resumed(method, build_model, make_optimizer, x, y, epochs, stop_after, batch_size, loss, seed, jit_compile,
             folder):
    """Train, stop after ``stop_after`` epochs, save, load with ``method``, finish; return the
    final model, the recorders of both parts and the warnings given while loading."""
    folder.mkdir(parents=True, exist_ok=True)
    model = _compiled(build_model, make_optimizer, loss, seed, jit_compile)
    caught = []
    if method == "backup":
        backup = keras.callbacks.BackupAndRestore(str(folder / "backup"))
        first = _Recorder()
        try:
            model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                      callbacks=[backup, _Interrupt(stop_after), first])
        except _Interrupted:
            pass
        # a new process: a new model, compiled again, and the same fit call with the same backup folder
        model = _compiled(build_model, make_optimizer, loss, seed + 1, jit_compile)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            second = _fit(model, x, y, batch_size, epochs=epochs, callbacks=[backup])
        return model, first, second, _messages(caught)

    first = _fit(model, x, y, batch_size, epochs=stop_after)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if method == "keras":
            model.save(folder / "run.keras")
            model = keras.saving.load_model(folder / "run.keras")
        else:
            model.save_weights(folder / "run.weights.h5")
            model = _compiled(build_model, make_optimizer, loss, seed + 1, jit_compile)  # other starting weights
            if method == "weights_built":
                model.optimizer.build(model.trainable_variables)
            model.load_weights(folder / "run.weights.h5")
    second = _fit(model, x, y, batch_size, epochs=epochs, initial_epoch=stop_after)
    return model, first, second, _messages(caught)


def _messages(caught):
    """The warnings worth showing (not the deprecation notices of libraries)."""
    return [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]


def _max_difference(a, b):
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    if a.shape != b.shape:
        return math.inf
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def _slots(optimizer):
    """The values of the optimizer's slot variables (not its counter or its learning rate)."""
    return [keras.ops.convert_to_numpy(v) for v in optimizer.variables if v.name not in ("iteration", "learning_rate")]


def _max_list_difference(arrays, others):
    if len(arrays) != len(others):
        return math.inf
    return max((_max_difference(a, b) for a, b in zip(arrays, others)), default=0.0)


def _compare(method, reference, resumed, expected_iterations):
    model, recorder = reference
    resumed_model, first, second, caught = resumed
    weights = _max_list_difference(model.get_weights(), resumed_model.get_weights())
    slots = _max_list_difference(_slots(model.optimizer), _slots(resumed_model.optimizer))
    rates = first.learning_rates + second.learning_rates
    momenta = first.momenta + second.momenta if recorder.momenta else None
    return ResumeResult(
        method=method,
        expected_iterations=expected_iterations,
        iterations_after_loading=second.iterations[0],
        max_weight_difference=weights,
        max_rate_difference=_max_difference(recorder.learning_rates, rates),
        max_slot_difference=slots,
        max_momentum_difference=None if momenta is None else _max_difference(recorder.momenta, momenta),
        rates_uninterrupted=recorder.learning_rates,
        rates_resumed=rates,
        momenta_uninterrupted=recorder.momenta or None,
        momenta_resumed=momenta,
        loading_warnings=caught,
    )


def compare_resume(build_model, make_optimizer, x, y, epochs, stop_after, method="keras", *,
                   batch_size=16, loss="mse", seed=0, jit_compile="auto", folder=None):
    """Train straight through, and again stopped after ``stop_after`` epochs, saved and resumed
    with ``method`` (see :data:`METHODS`); return a :class:`ResumeResult` comparing the two.

    ``build_model()`` returns a new, built, uncompiled model and ``make_optimizer()`` a new
    optimizer (a fresh one for each run: an optimizer belongs to one model). Both runs see the
    same batches in the same order (``shuffle=False``) from the same starting weights (``seed``).
    The files go to a temporary folder, or to ``folder``. ``jit_compile`` goes to ``compile``
    (``False`` saves the XLA compilation time on tiny models).

    >>> from lrcourse.schedules import TimeBasedDecay
    >>> x = np.linspace(-1, 1, 32, dtype="float32").reshape(16, 2)
    >>> build = lambda: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> sgd = lambda: keras.optimizers.SGD(TimeBasedDecay(0.1, decay=0.1), momentum=0.9)
    >>> compare_resume(build, sgd, x, x.sum(axis=1), epochs=4, stop_after=2, batch_size=8).resumed_correctly
    True
    """
    return compare_methods(build_model, make_optimizer, x, y, epochs, stop_after, (method,),
                           batch_size=batch_size, loss=loss, seed=seed, jit_compile=jit_compile,
                           folder=folder)[method]


def compare_methods(build_model, make_optimizer, x, y, epochs, stop_after, methods=METHODS, *,
                    batch_size=16, loss="mse", seed=0, jit_compile="auto", folder=None):
    """:func:`compare_resume` for each of ``methods`` (the uninterrupted run is trained once and
    shared); returns ``{method: ResumeResult}``."""
    if isinstance(methods, str):
        methods = (methods,)
    for method in methods:
        epochs, stop_after = _check(method, epochs, stop_after)
    settings = dict(batch_size=batch_size, loss=loss, seed=seed, jit_compile=jit_compile)
    reference = _uninterrupted(build_model, make_optimizer, x, y, epochs, **settings)
    expected = stop_after * math.ceil(len(x) / batch_size)
    results = {}
    for method in methods:
        with tempfile.TemporaryDirectory(prefix="lrcourse-resume-") as temporary:
            place = Path(folder or temporary) / method
            resumed = _resumed(method, build_model, make_optimizer, x, y, epochs, stop_after, folder=place,
                               **settings)
        results[method] = _compare(method, reference, resumed, expected)
    return results


def resume_table(build_model, make_optimizer, x, y, epochs, stop_after, methods=METHODS, **options):
    """:func:`compare_methods` as a pandas table, one row a method (``options``: those of
    :func:`compare_resume`; the module's docstring has an example).
    """
    import pandas as pd

    results = compare_methods(build_model, make_optimizer, x, y, epochs, stop_after, methods, **options)
    return pd.DataFrame([result.row() for result in results.values()]).set_index("method")
