"""Keras callbacks of the course: a learning-rate recorder, the CLR article's callback, plateaus
with restarts, and a per-batch rate setter that shows the JAX trap.

A schedule set as ``optimizer.learning_rate`` is the better tool for changing the rate: it is
evaluated inside the compiled step at every update. Callbacks are here for watching (the
recorder), for readers who bring code from the CLR article (``CyclicLR``), for rates that
depend on how training goes (``PlateauRestarts``: cut on a plateau, restart after a few cuts),
and for showing why a callback that sets the rate must go through ``self.model``
(``PerBatchRate`` and ``measure_per_batch_callback``). Keras' own ``ReduceLROnPlateau`` and
``LearningRateScheduler`` accept an optimizer whose rate is a schedule and then fail with a
``TypeError`` when they first change the rate; the callbacks here refuse it before training.
"""

import time

import keras
import numpy as np

from lrcourse import _checks
from lrcourse.schedules import CyclicalLearningRate


def _current_learning_rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


class LearningRateRecorder(keras.callbacks.Callback):
    """Reads ``optimizer.learning_rate`` and ``optimizer.iterations`` before every update.

    The optimizer evaluates its schedule (or reads its variable) at the current ``iterations``
    to compute the update, so this is the rate that update uses, whichever way it was set.
    Keras calls batch hooks once per ``steps_per_execution`` updates, so with a larger
    ``steps_per_execution`` it sees only the first update of each group.
    """

    def on_train_begin(self, logs=None):
        self.iterations, self.learning_rates = [], []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.iterations.append(int(keras.ops.convert_to_numpy(optimizer.iterations)))
        self.learning_rates.append(_current_learning_rate(optimizer))


class CyclicLR(keras.callbacks.Callback):
    """The CLR article's per-batch callback (after Brad Kenstler's), working on Keras 3.

    Same arguments and the same ``history["lr"]`` / ``history["iterations"]`` as the original,
    which breaks on Keras 3 (``optimizer.lr`` and ``K.set_value`` are gone). It sets the rate
    after every batch Keras reports, so with ``steps_per_execution > 1`` it changes the rate only
    once per group of updates; prefer ``CyclicalLearningRate`` as the optimizer's learning rate.
    """

    def __init__(self, base_lr=0.001, max_lr=0.006, step_size=2000, mode="triangular", gamma=1.0,
                 scale_fn=None, scale_mode="cycle"):
        super().__init__()
        self.schedule = CyclicalLearningRate(base_lr, max_lr, step_size, mode=mode, gamma=gamma,
                                             scale_fn=scale_fn, scale_mode=scale_mode)
        self.clr_iterations = 0
        self.trn_iterations = 0
        self.history = {}

    def _set_learning_rate(self):
        _settable_optimizer(self.model, "CyclicLR").learning_rate = self.schedule(self.clr_iterations)

    def on_train_begin(self, logs=None):
        self._set_learning_rate()

    def on_train_batch_end(self, batch, logs=None):
        self.trn_iterations += 1
        self.clr_iterations += 1
        self.history.setdefault("lr", []).append(_current_learning_rate(self.model.optimizer))
        self.history.setdefault("iterations", []).append(self.trn_iterations)
        self._set_learning_rate()


def _settable_optimizer(model, who):
    """``model.optimizer``, after checking that its learning rate is a float that can be set."""
    optimizer = model.optimizer
    rate = getattr(getattr(optimizer, "inner_optimizer", optimizer), "_learning_rate", None)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) or callable(rate):
        raise ValueError(f"{who} sets the learning rate itself, but this optimizer's rate is a schedule "
                         f"({type(rate).__name__}): give the optimizer a float rate (a plain float learning rate, such as "
                         f"SGD(learning_rate=0.1))")
    return optimizer


class PlateauRestarts(keras.callbacks.Callback):
    """Cut the learning rate when ``monitor`` stops improving; after ``restart_after`` cuts, restart.

    The rule, checked at the end of every epoch:

    * The epoch improves on the best value so far if ``monitor`` beats it by more than
      ``min_delta`` (lower is better for ``mode="min"``, higher for ``"max"``; ``"auto"`` takes
      ``min`` for a loss, ``max`` for an accuracy).
    * After ``patience`` epochs in a row without improvement (a plateau), the rate changes, from
      the next epoch on: a cut multiplies it by ``factor`` (never below ``min_lr``); but once
      ``restart_after`` cuts have been made (or the rate sits at ``min_lr``), the next plateau
      is a restart instead: the rate goes back to ``restart_lr`` (by default the rate it had
      when ``fit`` began), the count of cuts starts again and the best value is forgotten.
    * After any change, the next ``cooldown`` epochs are not counted (an improvement in them
      still becomes the best value), so the next change comes at the earliest
      ``cooldown + patience`` epochs later. ``restart_after=None`` never restarts: then it is
      Keras' ``ReduceLROnPlateau`` (whose ``cooldown`` counts one epoch fewer).

    ``ReduceLROnPlateau`` cannot do this (it refuses ``factor >= 1``) and, like any callback that
    sets the rate, it fails with a ``TypeError`` at its first cut when the optimizer's rate is a
    schedule. This one needs a float rate too, and says so before training. It writes the rate
    through ``self.model.optimizer`` (on JAX a reference kept from before ``fit`` would be
    ignored), puts the rate of the epoch in ``logs["learning_rate"]`` (so in ``History``) and
    keeps one row per epoch in ``records``: the epoch, the monitored value, the rate applied in
    that epoch and the event at its end (``"cut"``, ``"restart"`` or ``"none"``);
    ``to_frame()`` gives them as a pandas DataFrame.

    >>> plateaus = PlateauRestarts("val_loss", factor=0.1, patience=3, restart_after=2)
    >>> model.fit(x, y, validation_split=0.2, epochs=40, callbacks=[plateaus])   # doctest: +SKIP
    >>> plateaus.to_frame().query("event != 'none'")                              # doctest: +SKIP

    With a start at 0.1 the rate goes 0.1, 0.01, 0.001, then back to 0.1 at the third plateau.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, cooldown=0, min_delta=1e-4,
                 restart_after=2, restart_lr=None, min_lr=0.0, mode="auto", verbose=0):
        super().__init__()
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be the name of a logged quantity, such as 'val_loss'; got {monitor!r}")
        factor = _checks.number("factor", factor, "a number in (0, 1)")
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1) (a cut multiplies the rate by it); got {factor!r}")
        self.monitor = monitor
        self.factor = factor
        self.patience = _checks.count("patience", patience, minimum=1)
        self.cooldown = _checks.count("cooldown", cooldown, minimum=0)
        self.min_delta = _checks.non_negative("min_delta", min_delta)
        self.restart_after = None if restart_after is None else _checks.count("restart_after", restart_after)
        self.restart_lr = None if restart_lr is None else _checks.positive("restart_lr", restart_lr)
        self.min_lr = _checks.non_negative("min_lr", min_lr)
        if self.restart_lr is not None and self.restart_lr <= self.min_lr:
            raise ValueError(f"restart_lr must be > min_lr ({self.min_lr!r}); got {restart_lr!r}")
        _checks.choice("mode", mode, ("auto", "min", "max"))
        if mode == "auto":
            name = monitor.lower()
            if name.endswith("loss") or "error" in name:
                mode = "min"
            elif "acc" in name:
                mode = "max"
            else:
                raise ValueError(f"mode='auto' cannot tell whether {monitor!r} should fall or rise: "
                                 f"pass mode='min' or mode='max'")
        self.mode = mode
        self.verbose = verbose
        self.records = []

    def _improves(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_train_begin(self, logs=None):
        optimizer = _settable_optimizer(self.model, "PlateauRestarts")
        self.start_lr = _current_learning_rate(optimizer)
        if self.restart_lr is not None:
            self.start_lr = self.restart_lr
        self.best, self.wait, self.cuts, self.cooldown_left = None, 0, 0, 0
        self.records = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer  # through the model: on JAX this syncs its state first
        if self.monitor not in logs:
            fix = ("pass validation data to fit, or choose another monitor" if self.monitor.startswith("val_")
                   else "choose one of those")
            raise ValueError(f"PlateauRestarts monitors {self.monitor!r}, which epoch {epoch} did not log "
                             f"(it logged {', '.join(sorted(logs))}): {fix}")
        rate = _current_learning_rate(optimizer)
        logs["learning_rate"] = rate
        value = float(logs[self.monitor])
        improves = self._improves(value)
        if improves:
            self.best = value
        event = "none"
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
        elif improves:
            self.wait = 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                event = self._change(optimizer, rate)
                self.wait = 0
                if event != "none":
                    self.cooldown_left = self.cooldown
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: PlateauRestarts {event}: learning rate "
                              f"{rate:.4g} -> {_current_learning_rate(optimizer):.4g}")
        self.records.append({"epoch": epoch, self.monitor: value, "learning_rate": rate, "event": event})

    def _change(self, optimizer, rate):
        at_floor = not rate > np.float32(self.min_lr)
        if self.restart_after is not None and (self.cuts >= self.restart_after or at_floor):
            optimizer.learning_rate = self.start_lr
            self.cuts, self.best = 0, None
            return "restart"
        if at_floor:
            return "none"
        optimizer.learning_rate = max(rate * self.factor, self.min_lr)
        self.cuts += 1
        return "cut"

    def to_frame(self):
        """``records`` as a pandas DataFrame: epoch, the monitored value, learning_rate, event."""
        import pandas as pd

        return pd.DataFrame(self.records, columns=["epoch", self.monitor, "learning_rate", "event"])


class PerBatchRate(keras.callbacks.Callback):
    """Set a float-rate optimizer's learning rate to ``schedule(step)`` before every batch.

    ``schedule`` is any function of the step (counted by the callback from 0 at the start of
    ``fit``), such as a Keras ``LearningRateSchedule``. Built to show the JAX trap, with a switch:

    * ``through_model=True`` writes through ``self.model.optimizer`` every batch. On JAX the
      ``model`` property first copies the training state back into the variables (a sync, which
      costs time every batch), and Keras reloads the state before the next update: it works.
    * ``through_model=False`` keeps the optimizer it got at ``on_train_begin`` and writes to it.
      On TensorFlow (and torch) that is the same object and it works. On JAX, during ``fit`` the
      variables live in a state object that is reloaded from them only at the start of an epoch
      or after a sync: the writes after the epoch's first batch are ignored, and the end of the
      epoch copies the state back over them.

    A schedule as ``optimizer.learning_rate`` needs neither and works on every backend.
    """

    def __init__(self, schedule, through_model=True):
        super().__init__()
        if not callable(schedule):
            raise ValueError(f"schedule must be a function of the step, such as a LearningRateSchedule; "
                             f"got {schedule!r}")
        self.schedule = schedule
        self.through_model = bool(through_model)

    def on_train_begin(self, logs=None):
        self._optimizer = _settable_optimizer(self.model, "PerBatchRate")
        self.step = 0

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer if self.through_model else self._optimizer
        optimizer.learning_rate = float(keras.ops.convert_to_numpy(self.schedule(self.step)))
        self.step += 1


class UpdateClock(keras.callbacks.Callback):
    """Times the updates after the first (which traces and compiles the step)."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.start = time.perf_counter()

    def on_train_end(self, logs=None):
        keras.ops.convert_to_numpy(self.model.trainable_variables[0])  # waits for queued work (JAX runs ahead)
        self.seconds = time.perf_counter() - self.start


def measure_per_batch_callback(through_model, steps=20, initial_rate=0.5, first=0.01, last=0.1):
    """What a per-batch rate-setting callback really did, on the backend Keras runs on.

    Trains :func:`lrcourse.training.measure_applied_learning_rates`' probe (plain SGD at
    ``initial_rate``, one update per batch) for ``steps`` updates with ``PerBatchRate`` setting
    a linear ramp from ``first`` to ``last``, writing through the model (``through_model=True``),
    through a reference kept from the start (``False``), or with no callback at all (``None``,
    for the time baseline). Returns JSON: ``backend``, ``through_model``, ``expected`` and
    ``applied`` rates per update, ``max_abs_error``, ``matching`` (updates within 1e-6 of the
    ramp), ``rate_after_fit`` (what ``optimizer.learning_rate`` holds after ``fit``) and
    ``seconds_per_update`` (the updates after the first). Under another backend, run it with
    ``lrcourse.backends.run_under("jax", "lrcourse.callbacks:measure_per_batch_callback", ...)``.
    """
    from lrcourse.training import measure_applied_learning_rates

    steps = _checks.count("steps", steps, minimum=2)
    ramp = np.linspace(first, last, steps)
    clock = UpdateClock()
    callbacks = [clock] if through_model is None else [PerBatchRate(lambda step: ramp[step], through_model), clock]
    applied = measure_applied_learning_rates(initial_rate, steps, callbacks=callbacks)
    expected = np.full(steps, initial_rate) if through_model is None else ramp
    error = np.abs(applied - expected)
    return {
        "backend": keras.backend.backend(),
        "through_model": through_model,
        "expected": expected.tolist(),
        "applied": applied.tolist(),
        "max_abs_error": float(error.max()),
        "matching": int(np.sum(error <= 1e-6)),
        "rate_after_fit": _current_learning_rate(clock.model.optimizer),
        "seconds_per_update": clock.seconds / (steps - 1),
    }
