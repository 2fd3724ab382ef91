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



# Building blocks: any hyperparameter over updates, joined in phases.


@keras.saving.register_keras_serializable(package="lrcourse")
class Constant(LearningRateDecay):
    """The same value at every update: ``value(k) = value``.

    >>> Constant(0.01)(12345)
    0.01
    """

    unit = "iteration"

    def __init__(self, value, steps_per_epoch=None):
        super().__init__(steps_per_epoch)
        self.value = _checks.non_negative("value", value)

    def formula(self, t, xp):
        return xp.full_like(t, self.value)

    def get_config(self):
        return {"value": self.value, **super().get_config()}


ANNEAL_STRATEGIES = ("cos", "linear")


@keras.saving.register_keras_serializable(package="lrcourse")
class Anneal(LearningRateDecay):
    """Move from ``start`` to ``end`` over ``steps`` updates, then stay at ``end``.

    With ``p = min(k / steps, 1)`` the fraction of the way done::

        cos:    value(k) = end + (start - end) * (1 + cos(pi p)) / 2
        linear: value(k) = (1 - p) * start + p * end

    The cosine leaves ``start`` and arrives at ``end`` gently; the line goes at one speed. This is
    PyTorch's ``OneCycleLR`` anneal. ``steps`` may be fractional (PyTorch's phases are). It can
    schedule any hyperparameter: a rate, or a momentum going down.

    >>> round(Anneal(0.1, 0.0, steps=100)(50), 6), round(Anneal(0.1, 0.0, steps=100)(500), 6)
    (0.05, 0.0)
    >>> round(Anneal(0.95, 0.85, steps=100, strategy="linear")(25), 6)
    0.925
    """

    unit = "iteration"

    def __init__(self, start, end, steps, strategy="cos", steps_per_epoch=None):
        super().__init__(steps_per_epoch)
        self.start = _checks.non_negative("start", start)
        self.end = _checks.non_negative("end", end)
        self.steps = _checks.positive("steps", steps)
        self.strategy = _checks.choice("strategy", strategy, ANNEAL_STRATEGIES)

    def formula(self, t, xp):
        p = xp.clip(t / self.steps, 0.0, 1.0)
        if self.strategy == "linear":
            return (1 - p) * self.start + p * self.end  # exact at both ends, even in float32
        return self.end + (self.start - self.end) * xp.square(xp.cos(math.pi / 2 * p))  # = (1 + cos(pi p)) / 2

    def default_length(self):
        return math.ceil(self.steps)

    def get_config(self):
        return {"start": self.start, "end": self.end, "steps": self.steps, "strategy": self.strategy,
                **super().get_config()}


@keras.saving.register_keras_serializable(package="lrcourse")
class Join(LearningRateDecay):
    """Schedules one after another, each counting updates from its own start.

    With boundaries ``b_1 < b_2 < ...`` (in updates, from the start of the run)::

        value(k) = schedules[0](k)          for k < b_1
                 = schedules[i](k - b_i)    for b_i <= k < b_(i+1)

    and the last schedule runs on. This is optax's ``join_schedules`` (fastai's
    ``combine_scheds`` says the same with fractions of the run). Warmup + cosine, SGDR restarts
    and one-cycle are made of it. The parts are schedules counting updates (``Constant``,
    ``Anneal``, ``CyclicalLearningRate``, ``TimeBasedDecay``, another ``Join``...); the joined
    schedule is saved with the model, parts included.

    >>> warmup_then_hold = Join([Anneal(0.0, 0.1, 10, "linear"), Constant(0.1)], boundaries=[10])
    >>> warmup_then_hold(5), warmup_then_hold(10), warmup_then_hold(1000)
    (0.05, 0.1, 0.1)
    """

    unit = "iteration"

    def __init__(self, schedules, boundaries, steps_per_epoch=None):
        super().__init__(steps_per_epoch)
        self.schedules = [_joinable(part) for part in schedules]
        self.boundaries = [_checks.positive("each boundary", b) for b in boundaries]
        if len(self.boundaries) != len(self.schedules) - 1:
            raise _checks.RefusedArgument(f"Join needs one boundary fewer than schedules; got {len(self.schedules)} "
                                          f"schedules and {len(self.boundaries)} boundaries")
        if any(b >= after for b, after in zip(self.boundaries, self.boundaries[1:])):
            raise _checks.RefusedArgument(f"boundaries must increase; got {self.boundaries}")

    def formula(self, t, xp):
        value = self.schedules[0].formula(t, xp)
        for start, part in zip(self.boundaries, self.schedules[1:]):
            value = xp.where(t >= start, part.formula(xp.maximum(t - start, 0.0), xp), value)
        return value

    def default_length(self):
        return math.ceil((self.boundaries[-1] if self.boundaries else 0) + self.schedules[-1].default_length())

    def arguments(self):
        return {"schedules": self.schedules, "boundaries": self.boundaries, "steps_per_epoch": self.steps_per_epoch}

    def get_config(self):
        return {"schedules": [keras.saving.serialize_keras_object(part) for part in self.schedules],
                "boundaries": self.boundaries, **LearningRateDecay.get_config(self)}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "schedules": [keras.saving.deserialize_keras_object(c) for c in config["schedules"]]})


class JoinedByArguments(Join):
    """A schedule with arguments of its own, built as a ``Join`` of phases: its config is those
    arguments (plain numbers), and its ``repr`` shows them, not the phases."""

    def arguments(self):
        return self.get_config()

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _joinable(part):
    if not isinstance(part, LearningRateDecay) or part.unit != "iteration":
        raise ValueError(f"Join takes lrcourse schedules that count updates (Constant, Anneal, CyclicalLearningRate, "
                         f"TimeBasedDecay, WarmupCosine, CosineRestarts, OneCycle, Join); got {part!r}: build "
                         f"an epoch-based shape from Constant or Anneal pieces with boundaries in updates")
    return part


@keras.saving.register_keras_serializable(package="lrcourse")
class WarmupCosine(JoinedByArguments):
    """A linear warmup from ``initial_lr`` to ``peak_lr``, then a cosine down to ``alpha * peak_lr``.

    ``lr(k) = initial_lr + (peak_lr - initial_lr) * k / warmup_steps`` for ``k < warmup_steps``,
    then ``Anneal(peak_lr, alpha * peak_lr, decay_steps)`` counted from the warmup's end; after
    ``warmup_steps + decay_steps`` updates it stays at ``alpha * peak_lr``. Keras'
    ``CosineDecay(initial_lr, decay_steps, alpha, warmup_target=peak_lr, warmup_steps=...)``
    gives the same values.

    The warmup matters most with large rates and large batches: at the start the weights are
    random and the gradients large and erratic, so a full-size step can throw the network into a
    bad region (or to NaN) before it has learned anything (Goyal et al. 2017).

    >>> s = WarmupCosine(peak_lr=0.1, warmup_steps=100, decay_steps=900)
    >>> [round(s(k), 6) for k in (50, 100, 550, 1000)]
    [0.05, 0.1, 0.05, 0.0]
    """

    def __init__(self, peak_lr, warmup_steps, decay_steps, initial_lr=0.0, alpha=0.0, steps_per_epoch=None):
        self.peak_lr = _checks.positive("peak_lr", peak_lr)
        self.warmup_steps = _checks.count("warmup_steps", warmup_steps)
        self.decay_steps = _checks.count("decay_steps", decay_steps)
        self.initial_lr = _checks.non_negative("initial_lr", initial_lr)
        self.alpha = _checks.non_negative("alpha", alpha)
        super().__init__(
            [Anneal(self.initial_lr, self.peak_lr, self.warmup_steps, "linear"),
             Anneal(self.peak_lr, self.alpha * self.peak_lr, self.decay_steps, "cos")],
            boundaries=[self.warmup_steps], steps_per_epoch=steps_per_epoch)

    def get_config(self):
        return {"peak_lr": self.peak_lr, "warmup_steps": self.warmup_steps, "decay_steps": self.decay_steps,
                "initial_lr": self.initial_lr, "alpha": self.alpha, **LearningRateDecay.get_config(self)}


@keras.saving.register_keras_serializable(package="lrcourse")
class CosineRestarts(JoinedByArguments):
    """SGDR (Loshchilov and Hutter 2017): cosine decays that restart at a high rate.

    Cycle ``i`` (from 0) lasts ``first_period * t_mul ** i`` updates and anneals by a cosine from
    ``initial_lr * (alpha + (1 - alpha) * m_mul ** i)`` down to ``alpha * initial_lr``; then the
    rate jumps back up. After ``cycles`` cycles it stays at ``alpha * initial_lr`` (Keras'
    ``CosineDecayRestarts`` restarts forever; within the cycles the two give the same values, as
    does PyTorch's ``CosineAnnealingWarmRestarts`` with ``eta_min = alpha * initial_lr``).

    >>> s = CosineRestarts(0.1, first_period=100, cycles=3, alpha=0.01)   # cycles of 100, 200, 400
    >>> s(0), round(s(50), 6), s(100), s(300), s(700)
    (0.1, 0.0505, 0.1, 0.1, 0.001)
    """

    def __init__(self, initial_lr, first_period, cycles, t_mul=2.0, m_mul=1.0, alpha=0.0, steps_per_epoch=None):
        self.initial_lr = _checks.positive("initial_lr", initial_lr)
        self.first_period = _checks.count("first_period", first_period)
        self.cycles = _checks.count("cycles", cycles)
        self.t_mul = _checks.positive("t_mul", t_mul)
        self.m_mul = _checks.in_unit_interval("m_mul", m_mul)
        self.alpha = _checks.non_negative("alpha", alpha)
        periods = [self.first_period * self.t_mul ** i for i in range(self.cycles)]
        floor = self.alpha * self.initial_lr
        super().__init__(
            [Anneal(floor + (self.initial_lr - floor) * self.m_mul ** i, floor, period)
             for i, period in enumerate(periods)],
            boundaries=list(np.cumsum(periods[:-1]).tolist()), steps_per_epoch=steps_per_epoch)

    def get_config(self):
        return {"initial_lr": self.initial_lr, "first_period": self.first_period, "cycles": self.cycles,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, **LearningRateDecay.get_config(self)}


ONE_CYCLE_CONVENTIONS = ("pytorch", "fastai")


@keras.saving.register_keras_serializable(package="lrcourse")
class OneCycle(JoinedByArguments):
    """One cycle (Smith 2018, "super-convergence"): up to ``max_lr`` and down far below the start, once.

    The arguments and values are PyTorch's ``OneCycleLR``. With ``T = total_steps``, the rate
    starts at ``initial = max_lr / div_factor``, rises to ``max_lr`` over the first ``pct_start``
    of the run, then anneals down to ``initial / final_div_factor``::

        phase 1: k from 0 to e1 = pct_start * T - 1:   Anneal(initial, max_lr)
        phase 2: k from e1 to T - 1:                   Anneal(max_lr, initial / final_div_factor)

    with the cosine (``anneal_strategy="cos"``) or linear ``Anneal``. ``three_phase=True`` comes
    back down to ``initial`` by ``2 * pct_start * T - 2`` and only then anneals to the minimum.
    ``momentum_schedule()`` gives the momentum that moves against the rate, from
    ``max_momentum`` down to ``base_momentum`` while the rate rises and back (Smith: a large
    rate wants a smaller momentum); give it to ``lrcourse.optimizers.SGD(momentum=...)`` or as
    Adam's ``beta_1``. Past ``total_steps`` both hold their final values (PyTorch raises).

    ``convention="fastai"`` ends the phases at ``pct_start * T`` and ``T`` (fastai measures the
    position before the batch); ``OneCycle.fastai(max_lr, total_steps)`` is fastai's
    ``fit_one_cycle``: ``pct_start=0.25``, final rate ``max_lr / 1e5``, cosine in both phases.

    >>> s = OneCycle(max_lr=0.01, total_steps=1000)
    >>> round(s(0), 6), s(299), round(s(500), 6), round(s(999), 10)
    (0.0004, 0.01, 0.0081, 4e-08)
    >>> m = s.momentum_schedule()
    >>> round(m(0), 6), round(m(299), 6), round(m(999), 6)
    (0.95, 0.85, 0.95)
    """

    def __init__(self, max_lr, total_steps, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
                 final_div_factor=1e4, three_phase=False, base_momentum=0.85, max_momentum=0.95,
                 convention="pytorch", steps_per_epoch=None):
        self.max_lr = _checks.positive("max_lr", max_lr)
        self.total_steps = _checks.count("total_steps", total_steps)
        self.pct_start = _checks.number("pct_start", pct_start, "a fraction of the run in (0, 1)")
        self.anneal_strategy = _checks.choice("anneal_strategy", anneal_strategy, ANNEAL_STRATEGIES)
        self.div_factor = _checks.positive("div_factor", div_factor)
        self.final_div_factor = _checks.positive("final_div_factor", final_div_factor)
        self.three_phase = bool(three_phase)
        self.base_momentum = _checks.momentum("base_momentum", base_momentum)
        self.max_momentum = _checks.momentum("max_momentum", max_momentum)
        self.convention = _checks.choice("convention", convention, ONE_CYCLE_CONVENTIONS)
        self.ends = self._phase_ends()
        initial = self.max_lr / self.div_factor
        rates = [initial, self.max_lr, initial, initial / self.final_div_factor]
        if not self.three_phase:
            rates = [initial, self.max_lr, initial / self.final_div_factor]
        super().__init__(self._phases(rates), boundaries=self.ends[:-1], steps_per_epoch=steps_per_epoch)

    @classmethod
    def fastai(cls, max_lr, total_steps, pct_start=0.25, div=25.0, div_final=1e5, moms=(0.95, 0.85, 0.95)):
        """fastai's ``fit_one_cycle`` as a ``OneCycle``: its defaults and its phase positions."""
        return cls(max_lr, total_steps, pct_start=pct_start, anneal_strategy="cos", div_factor=div,
                   final_div_factor=div_final / div, base_momentum=moms[1], max_momentum=moms[0],
                   convention="fastai")

    def momentum_schedule(self):
        """The momentum (or Adam's ``beta_1``) at each update: against the rate, in the same phases."""
        high, low = self.max_momentum, self.base_momentum
        return Join(self._phases([high, low, high, high] if self.three_phase else [high, low, high]),
                    boundaries=self.ends[:-1])

    def _phase_ends(self):
        """Where each phase ends, in updates (floats, as in PyTorch)."""
        n_phases = 3 if self.three_phase else 2
        limit = 0.5 if self.three_phase else 1.0
        if not 0 < self.pct_start < limit:
            raise _checks.RefusedArgument(
                f"pct_start must be in (0, {limit:g}){' with three_phase' if self.three_phase else ''}; "
                f"got {self.pct_start!r}")
        shift = 1 if self.convention == "pytorch" else 0  # PyTorch counts to the last update, T - 1
        ends = [(i + 1) * (self.pct_start * self.total_steps - shift) for i in range(n_phases - 1)]
        ends.append(self.total_steps - shift)
        lengths = np.diff([0.0, *ends])
        if not np.all(lengths > 0):
            raise _checks.RefusedArgument(
                f"total_steps={self.total_steps} is too short for pct_start={self.pct_start}: "
                f"a phase would have no updates; give more steps or a larger pct_start")
        return ends

    def _phases(self, values):
        """``Anneal`` from each value to the next, one per phase."""
        starts = [0.0, *self.ends[:-1]]
        return [Anneal(a, b, end - start, self.anneal_strategy)
                for a, b, start, end in zip(values, values[1:], starts, self.ends)]

    def default_length(self):
        return self.total_steps

    def get_config(self):
        return {"max_lr": self.max_lr, "total_steps": self.total_steps, "pct_start": self.pct_start,
                "anneal_strategy": self.anneal_strategy, "div_factor": self.div_factor,
                "final_div_factor": self.final_div_factor, "three_phase": self.three_phase,
                "base_momentum": self.base_momentum, "max_momentum": self.max_momentum,
                "convention": self.convention, **LearningRateDecay.get_config(self)}


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
            raise _checks.RefusedArgument(f"base_lr must be < max_lr; got base_lr={base_lr!r}, max_lr={max_lr!r}")
        self.step_size = _checks.count("step_size", step_size)
        self.mode = _checks.choice("mode", mode, CLR_MODES)
        self.gamma = _checks.in_unit_interval("gamma", gamma)
        if scale_fn is not None and not callable(scale_fn):
            raise _checks.RefusedArgument(
                f"scale_fn must be a function of the cycle or the iteration; got {scale_fn!r}")
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
    raise _checks.RefusedArgument(f"kind must be one of {', '.join(map(repr, DECAY_KINDS))}; got {kind!r}")
