"""Learning-rate schedules as Keras 3 ``LearningRateSchedule`` objects.

One contract, as in Keras: ``schedule(k)`` is the learning rate of the update that comes after
``k`` updates, which is the optimizer's ``iterations`` counter. ``k`` is always a number of
updates, whatever its type: a Python or NumPy number gives a Python float, a list or NumPy array
gives a NumPy array, and a backend tensor gives a tensor (computed with ``keras.ops``, so it
runs inside the compiled training step on every backend). So the same object fills a table,
draws a plot and works as ``optimizer.learning_rate``.

Epochs (0-based) go through two other doors: ``schedule.at_epoch(epoch)`` (a number gives a
float, an array an array) and ``schedule.epoch_callback()``, a per-epoch
``keras.callbacks.LearningRateScheduler`` as in the seed articles.

Each formula is written once, in its own *unit*. Epoch-based schedules (``StepDecay``,
``PolynomialDecay``) count epochs, so to be called with updates they need ``steps_per_epoch``
(the epoch is ``k // steps_per_epoch``, and the rate steps exactly at epoch boundaries, as the
callback does); without it they raise an error that says so. Iteration-based ones
(``TimeBasedDecay``, ``CyclicalLearningRate``) count updates, so their ``at_epoch`` needs
``steps_per_epoch`` instead and gives the rate at the epoch's first update.
"""

import copy
import math
import numbers
from dataclasses import dataclass

import keras
import numpy as np
from keras import ops

from lrcourse import _checks


class LearningRateDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Base class: one formula, evaluated with NumPy or with ``keras.ops``.

    Subclasses set ``unit`` ("epoch" or "iteration") and implement ``formula(t, xp)``, where
    ``t`` is the counter in that unit and ``xp`` is either ``numpy`` or ``keras.ops`` (the two
    share the names used here: ``floor``, ``power``, ``maximum``...). ``__call__`` turns an update
    count into that unit; ``at_epoch`` turns an epoch into it.
    """

    unit = "epoch"

    def __init__(self, steps_per_epoch=None):
        if steps_per_epoch is not None:
            steps_per_epoch = _checks.count("steps_per_epoch", steps_per_epoch)
        self.steps_per_epoch = steps_per_epoch

    def formula(self, t, xp):
        raise NotImplementedError

    def __call__(self, step):
        """The learning rate after ``step`` optimizer updates (a number, an array or a tensor)."""
        if isinstance(step, (numbers.Real, list, tuple, np.ndarray)):
            return self._with_numpy(self._in_unit(np.asarray(step, dtype="float64"), np), like=step)
        return self.formula(ops.cast(self._in_unit(step, ops), "float32"), ops)

    def at_epoch(self, epoch):
        """The learning rate throughout epoch ``epoch`` (0-based) when set once per epoch; for an
        iteration-based schedule, the rate at the epoch's first update."""
        if self.unit == "iteration":
            if self.steps_per_epoch is None:
                raise ValueError(
                    f"{type(self).__name__} counts updates, so at_epoch needs steps_per_epoch=<updates per "
                    f"epoch> (or .with_steps_per_epoch(n)) to find where an epoch begins"
                )
            return self(np.multiply(epoch, self.steps_per_epoch))
        return self._with_numpy(np.asarray(epoch, dtype="float64"), like=epoch)

    def _with_numpy(self, t, like):
        """The formula at ``t`` in this schedule's unit: a float if ``like`` is a number, else an array."""
        rates = self.formula(t, np)
        return float(rates) if isinstance(like, numbers.Real) else rates

    def _in_unit(self, updates, xp):
        """An update count in this schedule's unit: for an epoch-based one, the epoch it falls in."""
        if self.unit == "iteration":
            return updates
        if self.steps_per_epoch is None:
            raise ValueError(
                f"{type(self).__name__} counts epochs but was called with an update count: pass "
                f"steps_per_epoch=<updates per epoch> (or use .with_steps_per_epoch(n)), or use "
                f"at_epoch(epoch) or epoch_callback() for epochs"
            )
        return xp.floor_divide(updates, self.steps_per_epoch)

    def with_steps_per_epoch(self, steps_per_epoch):
        """A copy of this schedule that knows how many optimizer updates make one epoch."""
        duplicate = copy.copy(self)
        duplicate.steps_per_epoch = _checks.count("steps_per_epoch", steps_per_epoch)
        return duplicate

    def epoch_callback(self, verbose=0):
        """A ``keras.callbacks.LearningRateScheduler`` that sets ``at_epoch(epoch)`` at each epoch start."""
        return keras.callbacks.LearningRateScheduler(lambda epoch: self.at_epoch(epoch), verbose=verbose)

    def get_config(self):
        return {"steps_per_epoch": self.steps_per_epoch}

    def plot(self, length=None, ax=None, label=None):
        """Draw the schedule over ``length`` of its units (epochs or updates); returns the axes."""
        from lrcourse import plots

        t = np.arange(length or self.default_length())
        rates = self.at_epoch(t) if self.unit == "epoch" else self(t)
        return plots.plot_lr(t, rates, unit=self.unit, ax=ax, label=label or repr(self))

    def default_length(self):
        return 100

    def arguments(self):
        """The constructor's arguments as they are now (``get_config`` is their saved form)."""
        return self.get_config()

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(v, '__name__', v)!r}" if callable(v) else f"{k}={v!r}"
                         for k, v in self.arguments().items() if v is not None)
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="lrcourse")
class StepDecay(LearningRateDecay):
    """Drop the learning rate by ``factor`` every ``drop_every`` epochs.

    ``lr(epoch) = initial_lr * factor ** floor((1 + epoch) / drop_every)``

    The ``1 +`` is the seed article's convention: with ``drop_every=10`` the first drop
    happens at epoch index 9, the tenth epoch.

    >>> s = StepDecay(0.1, factor=0.25, drop_every=15)
    >>> s.at_epoch(0), s.at_epoch(14), s.at_epoch(29)
    (0.1, 0.025, 0.00625)
    >>> s.with_steps_per_epoch(391)(5474)  # update 5474 = 14 * 391, the first of epoch 14
    0.025
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
    >>> [round(s.at_epoch(e), 6) for e in (0, 50, 99, 150)]
    [0.1, 0.05, 0.001, 0.0]
    >>> round(s.with_steps_per_epoch(10)(505), 6)  # update 505 falls in epoch 50
    0.05
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
    >>> s.with_steps_per_epoch(500).at_epoch(2)  # epoch 2 starts at update 1000
    0.05
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



CLR_MODES = ("triangular", "triangular2", "exp_range")
CLR_WAVES = ("triangular", "sinusoidal", "parabolic")
SCALE_MODES = ("cycle", "iterations")


@keras.saving.register_keras_serializable(package="lrcourse")
class CyclicalLearningRate(LearningRateDecay):
    """Cyclical learning rate (Smith 2015/2017): sweep between two bounds, up and down.

    With ``k`` the number of updates already applied and ``s = step_size`` (updates per
    half cycle)::

        cycle = floor(1 + k / (2 s))          # 1, 1, ..., 2, 2, ...
        x     = |k / s - 2 cycle + 1|         # 1 at a cycle's start and end, 0 at its peak
        lr    = base_lr + (max_lr - base_lr) * wave(x) * scale

    ``wave`` is Smith's triangle ``max(0, 1 - x)`` by default, or ``"sinusoidal"``
    ``(1 + cos(pi x)) / 2`` or ``"parabolic"`` (Welch) ``1 - x**2``: all three reach ``max_lr`` and
    ``base_lr`` at the same updates. ``scale`` is set by ``mode``: ``"triangular"`` 1,
    ``"triangular2"`` ``1 / 2 ** (cycle - 1)`` (the amplitude halves each cycle), ``"exp_range"``
    ``gamma ** k`` (over all updates, not within the cycle). A ``scale_fn`` replaces ``mode``; it
    receives the cycle number (``scale_mode="cycle"``) or ``k`` (``"iterations"``), must work on
    floats and tensors alike, and must be a named function registered with
    ``@keras.saving.register_keras_serializable()`` for the schedule to be saved.

    The values match Brad Kenstler's Keras callback, TensorFlow Addons and PyTorch's ``CyclicLR``.

    >>> clr = CyclicalLearningRate(1e-3, 6e-3, step_size=2000)
    >>> [round(clr(k), 6) for k in (0, 1000, 2000, 3000, 4000)]
    [0.001, 0.0035, 0.006, 0.0035, 0.001]
    >>> round(CyclicalLearningRate(1e-3, 6e-3, 2000, mode="triangular2")(5000), 6)
    0.00225
    """

    unit = "iteration"

    def __init__(self, base_lr, max_lr, step_size, mode="triangular", gamma=1.0, scale_fn=None,
                 scale_mode="cycle", wave="triangular", steps_per_epoch=None):
        super().__init__(steps_per_epoch)
        self.base_lr = _checks.positive("base_lr", base_lr)
        self.max_lr = _checks.positive("max_lr", max_lr)
        if self.base_lr >= self.max_lr:
            raise ValueError(f"base_lr must be < max_lr; got base_lr={base_lr!r}, max_lr={max_lr!r}")
        self.step_size = _checks.count("step_size", step_size)
        self.mode = _checks.choice("mode", mode, CLR_MODES)
        self.gamma = _checks.in_unit_interval("gamma", gamma)
        if scale_fn is not None and not callable(scale_fn):
            raise ValueError(f"scale_fn must be a function of the cycle or the iteration; got {scale_fn!r}")
        self.scale_fn = scale_fn
        self.scale_mode = _checks.choice("scale_mode", scale_mode, SCALE_MODES)
        self.wave = _checks.choice("wave", wave, CLR_WAVES)

    def formula(self, t, xp):
        cycle = xp.floor(1 + t / (2 * self.step_size))
        x = xp.abs(t / self.step_size - 2 * cycle + 1)
        return self.base_lr + (self.max_lr - self.base_lr) * self._wave(x, xp) * self._scale(t, cycle, xp)

    def _wave(self, x, xp):
        if self.wave == "sinusoidal":
            return (1 + xp.cos(math.pi * x)) / 2
        if self.wave == "parabolic":
            return 1 - x * x
        return xp.maximum(0.0, 1 - x)

    def _scale(self, t, cycle, xp):
        if self.scale_fn is not None:
            return self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        if self.mode == "triangular2":
            return 1 / xp.power(2.0, cycle - 1)
        if self.mode == "exp_range":  # gamma ** t, as exp(t log gamma) so float32 stays exact
            return xp.exp(t * math.log(self.gamma))
        return 1.0

    def default_length(self):
        return 6 * self.step_size

    def arguments(self):
        return {
            "base_lr": self.base_lr,
            "max_lr": self.max_lr,
            "step_size": self.step_size,
            "mode": self.mode,
            "gamma": self.gamma,
            "scale_fn": self.scale_fn,
            "scale_mode": self.scale_mode,
            "wave": self.wave,
            "steps_per_epoch": self.steps_per_epoch,
        }

    def get_config(self):
        config = self.arguments()
        if self.scale_fn is not None:
            config["scale_fn"] = _registered_name(self.scale_fn)
        return config

    @classmethod
    def from_config(cls, config):
        name = config.get("scale_fn")
        if name is not None:
            scale_fn = keras.saving.get_registered_object(name)
            if scale_fn is None:
                raise ValueError(
                    f"scale_fn {name!r} is not registered in this session: import or define it with "
                    f"@keras.saving.register_keras_serializable() before loading"
                )
            config = {**config, "scale_fn": scale_fn}
        return cls(**config)


def _registered_name(function):
    """The name a function is saved under; an anonymous or unregistered one is refused now, at
    saving time, because it could not be found again when the model is loaded."""
    name = keras.saving.get_registered_name(function)
    if getattr(function, "__name__", "<lambda>") == "<lambda>" or keras.saving.get_registered_object(name) is not function:
        raise ValueError(
            f"scale_fn {function!r} cannot be saved: give it a name with def and register it with "
            f"@keras.saving.register_keras_serializable() so that loading can find it"
        )
    return name


@dataclass(frozen=True)
class CyclePlan:
    """How a step size given in epochs turns into updates, and how many cycles a run makes."""

    step_size: int  # updates per half cycle
    full_cycles: int  # complete up-and-down cycles in the run
    leftover_epochs: float  # epochs after the last full cycle

    def __str__(self):
        return (f"step_size = {self.step_size} updates; {self.full_cycles} full cycles"
                + (f", then {self.leftover_epochs:g} epochs of an unfinished one" if self.leftover_epochs else ""))


def plan_cycles(step_epochs, steps_per_epoch, epochs):
    """Turn a half-cycle length in epochs into ``step_size`` and count the run's full cycles.

    Smith advises a half cycle of 2 to 10 epochs' worth of updates. The CLR article's run:

    >>> plan = plan_cycles(step_epochs=8, steps_per_epoch=782, epochs=96)
    >>> plan.step_size, plan.full_cycles
    (6256, 6)
    """
    step_epochs = _checks.positive("step_epochs", step_epochs)
    steps_per_epoch = _checks.count("steps_per_epoch", steps_per_epoch)
    epochs = _checks.count("epochs", epochs)
    cycles = int(epochs // (2 * step_epochs))
    return CyclePlan(
        step_size=max(1, round(step_epochs * steps_per_epoch)),
        full_cycles=cycles,
        leftover_epochs=epochs - cycles * 2 * step_epochs,
    )


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
