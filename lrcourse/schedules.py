"""Learning-rate schedules as Keras 3 ``LearningRateSchedule`` objects.

Every schedule here is a pure function of a counter, written once and usable three ways:

* called with a plain Python number it returns a Python float (handy for tables and plots);
* set as ``optimizer.learning_rate`` it is evaluated inside the compiled training step at every
  update, from the optimizer's ``iterations`` counter (a tensor), with ``keras.ops`` so it runs
  on every Keras backend;
* through :meth:`LearningRateDecay.epoch_callback` it drives a per-epoch
  ``keras.callbacks.LearningRateScheduler``, the way the seed articles do it.

Each schedule has a *unit*: epoch-based schedules (``StepDecay``, ``PolynomialDecay``) count
epochs, starting at 0; iteration-based ones (``TimeBasedDecay``) count optimizer updates
``k``, the number already applied when the next one is computed. A plain number passed to a
schedule is in its own unit. The optimizer's counter is always in updates, so an epoch-based
schedule needs ``steps_per_epoch`` to turn it into epochs (``epoch = k // steps_per_epoch``):
the learning rate then steps down exactly at epoch boundaries, as the callback does.
"""

import numbers

import keras
import numpy as np
from keras import ops

from lrcourse import _checks


class LearningRateDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Base class: one formula, evaluated with NumPy or with ``keras.ops``.

    Subclasses set ``unit`` ("epoch" or "iteration") and implement ``formula(t, xp)``, where
    ``t`` is the counter in that unit and ``xp`` is either ``numpy`` or ``keras.ops`` (the two
    share the names used here: ``floor``, ``power``, ``maximum``...).
    """

    unit = "epoch"

    def __init__(self, steps_per_epoch=None):
        if steps_per_epoch is not None:
            steps_per_epoch = _checks.count("steps_per_epoch", steps_per_epoch)
        self.steps_per_epoch = steps_per_epoch

    def formula(self, t, xp):
        raise NotImplementedError

    def __call__(self, step):
        if isinstance(step, numbers.Real):
            return float(self.formula(np.float64(step), np))
        if isinstance(step, (list, tuple, np.ndarray)):
            return self.formula(np.asarray(step, dtype="float64"), np)
        return self.formula(self._counter_from_step(step), ops)

    def _counter_from_step(self, step):
        """The optimizer's update counter (a tensor) in this schedule's unit, as float32."""
        if self.unit == "epoch":
            step = ops.floor_divide(step, self._required_steps_per_epoch())
        return ops.cast(step, "float32")

    def _required_steps_per_epoch(self):
        if self.steps_per_epoch is None:
            raise ValueError(
                f"{type(self).__name__} counts epochs, but the optimizer counts updates: pass "
                f"steps_per_epoch=<batches per epoch> to use it as optimizer.learning_rate, or "
                f"use schedule.epoch_callback() instead"
            )
        return self.steps_per_epoch

    def with_steps_per_epoch(self, steps_per_epoch):
        """A copy of this schedule that knows how many optimizer updates make one epoch."""
        return type(self).from_config({**self.get_config(), "steps_per_epoch": steps_per_epoch})

    def at_epoch(self, epoch):
        """The learning rate used throughout epoch ``epoch`` (0-based) when set once per epoch."""
        if self.unit == "iteration":
            return self(epoch * self._required_steps_per_epoch())
        return self(epoch)

    def epoch_callback(self, verbose=0):
        """A ``keras.callbacks.LearningRateScheduler`` that sets ``at_epoch(epoch)`` at each epoch start."""
        return keras.callbacks.LearningRateScheduler(lambda epoch: self.at_epoch(epoch), verbose=verbose)

    def get_config(self):
        return {"steps_per_epoch": self.steps_per_epoch}

    def plot(self, length=None, ax=None, label=None):
        """Draw the schedule over ``length`` units (epochs or iterations) and return the axes."""
        from lrcourse import plots

        length = length or self.default_length()
        t = np.arange(length)
        return plots.plot_lr(t, self(t), unit=self.unit, ax=ax, label=label or repr(self))

    def default_length(self):
        return 100

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="lrcourse")
class StepDecay(LearningRateDecay):
    """Drop the learning rate by ``factor`` every ``drop_every`` epochs.

    ``lr(epoch) = initial_lr * factor ** floor((1 + epoch) / drop_every)``

    The ``1 +`` is the seed article's convention: with ``drop_every=10`` the first drop
    happens at epoch index 9, the tenth epoch.

    >>> s = StepDecay(0.1, factor=0.25, drop_every=15)
    >>> s(0), s(14), s(29)
    (0.1, 0.025, 0.00625)
    """

    unit = "epoch"

    def __init__(self, initial_lr, factor=0.25, drop_every=10, steps_per_epoch=None):
        super().__init__(steps_per_epoch)
        self.initial_lr = _checks.positive("initial_lr", initial_lr)
        self.factor = _checks.in_unit_interval("factor", factor)
        self.drop_every = _checks.count("drop_every", drop_every)

    def formula(self, t, xp):
        return self.initial_lr * xp.power(self.factor, xp.floor((1 + t) / self.drop_every))

    def get_config(self):
        return {
            "initial_lr": self.initial_lr,
            "factor": self.factor,
            "drop_every": self.drop_every,
            **super().get_config(),
        }


@keras.saving.register_keras_serializable(package="lrcourse")
class PolynomialDecay(LearningRateDecay):
    """Decay from ``initial_lr`` to 0 over ``max_epochs`` along a polynomial.

    ``lr(epoch) = initial_lr * (1 - min(epoch, max_epochs) / max_epochs) ** power``

    ``power=1`` is linear decay; a larger power falls faster at first. Past ``max_epochs`` the
    rate stays at its end value, 0 (never negative, never complex).

    >>> s = PolynomialDecay(max_epochs=100, initial_lr=0.1, power=1)
    >>> round(s(0), 6), round(s(50), 6), round(s(99), 6), s(150)
    (0.1, 0.05, 0.001, 0.0)
    """

    unit = "epoch"

    def __init__(self, max_epochs, initial_lr, power=1.0, steps_per_epoch=None):
        super().__init__(steps_per_epoch)
        self.max_epochs = _checks.count("max_epochs", max_epochs)
        self.initial_lr = _checks.positive("initial_lr", initial_lr)
        self.power = _checks.non_negative("power", power)

    def formula(self, t, xp):
        remaining = xp.maximum(1.0 - t / self.max_epochs, 0.0)
        return self.initial_lr * xp.power(remaining, self.power)

    def default_length(self):
        return self.max_epochs

    def get_config(self):
        return {
            "max_epochs": self.max_epochs,
            "initial_lr": self.initial_lr,
            "power": self.power,
            **super().get_config(),
        }


@keras.saving.register_keras_serializable(package="lrcourse")
class TimeBasedDecay(LearningRateDecay):
    """The old Keras optimizer ``decay=`` argument, applied at every update ``k``.

    ``lr(k) = initial_lr / (1 + decay * k)``

    Keras 2 optimizers did this internally; Keras 3 accepts ``decay=`` and ignores it with
    only a warning, so this schedule is the working way to get the same behaviour.

    >>> s = TimeBasedDecay(0.1, decay=0.001)
    >>> s(0), s(1000)
    (0.1, 0.05)
    """

    unit = "iteration"

    def __init__(self, initial_lr, decay, steps_per_epoch=None):
        super().__init__(steps_per_epoch)
        self.initial_lr = _checks.positive("initial_lr", initial_lr)
        self.decay = _checks.non_negative("decay", decay)

    def formula(self, t, xp):
        return self.initial_lr / (1.0 + self.decay * t)

    def default_length(self):
        return 10 * (self.steps_per_epoch or 100)

    def get_config(self):
        return {"initial_lr": self.initial_lr, "decay": self.decay, **super().get_config()}


DECAY_KINDS = ("time-based", "step", "linear", "polynomial")


def make_decay(kind, initial_lr, epochs, factor=0.25, drop_every=None, power=5.0, decay=None):
    """The seed article's decay schedules by name, for a run of ``epochs`` epochs.

    ``"time-based"``: ``TimeBasedDecay`` with ``decay = initial_lr / epochs`` unless given (the
    seed's rule of thumb for Keras' old ``decay=``); ``"step"``: ``StepDecay`` dropping by
    ``factor`` every ``drop_every`` epochs (default 15% of the run, the seed's 15 of 100, at least 2: with the
    seed's ``1 +`` convention ``drop_every=1`` would drop already in epoch 0);
    ``"linear"``: ``PolynomialDecay`` with power 1; ``"polynomial"``: power ``power`` (5).

    >>> make_decay("step", 0.1, epochs=100)
    StepDecay(initial_lr=0.1, factor=0.25, drop_every=15)
    """
    if kind == "time-based":
        return TimeBasedDecay(initial_lr, decay=initial_lr / epochs if decay is None else decay)
    if kind == "step":
        return StepDecay(initial_lr, factor=factor, drop_every=drop_every or max(2, round(0.15 * epochs)))
    if kind == "linear":
        return PolynomialDecay(epochs, initial_lr, power=1.0)
    if kind == "polynomial":
        return PolynomialDecay(epochs, initial_lr, power=power)
    raise ValueError(f"kind must be one of {', '.join(map(repr, DECAY_KINDS))}; got {kind!r}")
