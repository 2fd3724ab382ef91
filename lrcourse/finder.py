"""The learning-rate range test ("LR finder"): raise the rate batch by batch and watch the loss.

``LRFinder(model).find(x, y)`` trains a compiled model for a few hundred batches while the
learning rate sweeps from ``start_lr`` to ``end_lr``, records the loss of every batch, and puts
the model back exactly as it was. The :class:`RangeTestResult` reads the curve: suggestions for
a single learning rate, and the two bounds of a cyclical schedule.

Conventions:

* Exponential sweep (default): ``lr_i = start_lr * (end_lr / start_lr) ** (i / (n - 1))``, and
  linear: ``lr_i = start_lr + (end_lr - start_lr) * i / (n - 1)``, for ``i = 0 .. n - 1``; the
  last batch reaches ``end_lr`` exactly (the PyTorch lr-finder convention; fastai stops one
  factor short).
* The loss recorded for batch ``i`` is that batch's own loss, computed in the forward pass
  before its update. (Keras 3's ``logs["loss"]`` at batch end is the running mean since the
  epoch began, so a callback reading it records a smeared curve.)
* Smoothing while sweeping: an exponential moving average with bias correction,
  ``avg_i = beta * avg_{i-1} + (1 - beta) * loss_i`` (from ``avg_{-1} = 0``), and
  ``smoothed_i = avg_i / (1 - beta ** (i + 1))``. It only uses batches up to ``i`` (causal), so
  the sweep can stop on it: it stops early when the smoothed loss exceeds ``stop_factor`` times
  its best value, when a loss is not finite, and, if ``stop_rise`` is given (0.75, say), when it has
  climbed back that share of the way from its best to where it started (a curve that saturates, such as a validation loss stuck near ln 10 once the network has
  collapsed, never reaches four times its best).
* Every reading lies at or before the lowest point of the curve it reads: what comes after the
  minimum is the divergence, and a slope found there (the loss falling back from an explosion) is
  no suggestion.
* Reading after the sweep: a causal average lags (by about ``beta / (1 - beta)`` = 49 batches
  at 0.98), which moves every reading to higher rates. The suggestions and bounds therefore read a
  centred moving average (:func:`centred_average`, :meth:`RangeTestResult.reading_curve`), which
  uses batches on both sides and has no lag.
* The sweep trains a fresh copy of the model's optimizer (same class and settings), so the
  model's own optimizer, its ``iterations`` and any schedule bound to it are never touched; the
  model's variables (weights, normalisation statistics, random-generator states) are restored
  bit for bit afterwards, also after an error or a KeyboardInterrupt.
"""

import json
import math
import sys
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from lrcourse import _checks, paths, training
from lrcourse.statistics import confidence_interval, in_words, show_markdown

MIN_BATCHES = 10
SUGGESTIONS = ("steepest", "minimum", "valley")
SUGGESTION_LABELS = {"steepest": "steepest", "minimum": "minimum / 10", "valley": "valley"}
CURVES = ("centred", "causal")
MEASURED_READINGS = Path(__file__).parent / "measurements" / "range_test_vs_grid.json"


# --- reading a curve ------------------------------------------------------------------------


def smooth(losses, beta=0.98):
    """Bias-corrected exponential moving average of ``losses``.

    >>> [round(v, 6) for v in smooth([2.0, 1.8, 1.5, 1.2, 1.0])]
    [2.0, 1.89899, 1.763298, 1.618177, 1.489497]
    """
    average, smoothed = 0.0, []
    for i, loss in enumerate(losses):
        average, value = _smoothing_step(average, loss, i, beta)
        smoothed.append(value)
    return smoothed


def _smoothing_step(average, loss, i, beta):
    """Add batch ``i``'s loss to the running average; return it and the bias-corrected value."""
    average = beta * average + (1 - beta) * loss
    return average, average / (1 - beta ** (i + 1))


def centred_average(values, half_width=None):
    """Centred moving average: each value replaced by the mean of the values around it.

    ``out_i = mean(values[i - h_i], ..., values[i + h_i])`` with ``h_i = min(h, i, n - 1 - i)``:
    near the ends the window shrinks on both sides, so it stays centred (the two end points are
    kept as they are). The default half width is ``h = max(1, round(n / 20))``: a window of about a
    tenth of the curve, whatever its length (4 batches each side for an 87-batch sweep, 15 for
    300). Being centred, it has no lag: a linear trend passes through unchanged and the lowest
    point of a symmetric valley stays where it is. It needs the batches after ``i``, so it can
    only read a finished sweep.

    >>> centred_average([1.0, 2.0, 6.0, 4.0, 5.0], half_width=1).tolist()
    [1.0, 3.0, 4.0, 5.0, 5.0]
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    h = max(1, round(n / 20)) if half_width is None else half_width
    sums = np.concatenate([[0.0], np.cumsum(values)])  # sums[j] = values[0] + ... + values[j - 1]
    i = np.arange(n)
    reach = np.minimum(h, np.minimum(i, n - 1 - i))
    return (sums[i + reach + 1] - sums[i - reach]) / (2 * reach + 1)


def _finite_length(values):
    """How many values come before the first one that is not finite (a sweep stops at that one)."""
    finite = np.isfinite(values)
    return len(values) if finite.all() else int(np.argmin(finite))


def _lowest_at_end(values):
    """True when the last value is the lowest: the curve has not turned up."""
    return int(np.argmin(values)) == len(values) - 1


def _caller_level():
    """The ``stacklevel`` of the first frame outside this module, so that a warning names the
    caller's line (a notebook cell), not one of this module's."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    return level


def _lowest(lrs, values):
    """Index of the lowest value, with a warning when it is the last one."""
    if _lowest_at_end(values):
        warnings.warn(
            f"the loss is lowest at the end of the readable sweep (lr {lrs[-1]:.3g}): it has not turned up, so "
            f"max_lr and minimum / 10 are no reading; raise end_lr or sweep longer", stacklevel=_caller_level())
    return int(np.argmin(values))


def _fit_y_axis(ax, curves, turn=np.argmin):
    """Scale the y-axis to the smoothed ``curves`` up to their turning point (``turn``: the index
    of their lowest value for a loss, of their highest for an accuracy), with a 10% margin. What
    comes after the turn (the explosion) and single raw batches may leave the frame: one spiking
    batch no longer squashes the curve that is read."""
    shown = np.concatenate([curve[: turn(curve) + 1] for curve in curves])
    low, high = shown.min(), shown.max()
    margin = 0.1 * (high - low) or 0.1 * abs(high) or 0.1
    ax.set_ylim(low - margin, high + margin)


@dataclass
class RangeTestResult:
    """One range test: the rates tried, the loss of each batch, and how to read them."""

    lrs: list
    losses: list
    smoothed_losses: list
    accuracies: list = field(default_factory=list)
    training_losses: list = field(default_factory=list)
    start_lr: float = 0.0
    end_lr: float = 0.0
    mode: str = "exponential"
    num_batches: int = 0
    beta: float = 0.98
    stop_factor: float = 4.0
    stop_rise: float | None = None
    stopped_early: str = ""
    loss_on: str = "training batch"
    trained_images: int = 0  # in all the sweep's batches
    validation_examples: int = 0  # evaluated after every update; 0 when the loss read is each training batch's

    def reading_curve(self):
        """The lag-free curve that the suggestions and bounds read: :func:`centred_average` of the
        losses (half width ``round(n / 20)``). A loss that is not finite (the batch at which a
        sweep stopped) is left out of the averages, and the curve is nan there."""
        finite = _finite_length(self.losses)
        curve = centred_average(self.losses[:finite])
        return np.concatenate([curve, np.full(len(self.losses) - finite, np.nan)])

    def _window(self, skip_begin, skip_end):
        """Indices of the readable part of the curve (which ends before a loss that is not
        finite), or a clear error if too little is left."""
        n = len(self.lrs)
        stop = min(n - skip_end, _finite_length(self.losses))
        if stop - skip_begin < 3:
            raise ValueError(
                f"the curve has {n} points; after skip_begin={skip_begin} and skip_end={skip_end} fewer than 3 "
                f"remain: lower the skips, or run the test with more batches or a lower start_lr"
            )
        return np.arange(skip_begin, stop)

    def _readable(self, skip_begin, skip_end, curve):
        """The rates and the values of ``curve`` (``"centred"``: :meth:`reading_curve`;
        ``"causal"``: the sweep's ``smoothed_losses``) over the readable part."""
        _checks.choice("curve", curve, CURVES)
        values = self.reading_curve() if curve == "centred" else np.asarray(self.smoothed_losses)
        window = self._window(skip_begin, skip_end)
        return np.asarray(self.lrs)[window], values[window]

    def _descent(self, skip_begin, skip_end, curve):
        """The readable curve up to and including its lowest point (where the readings may lie),
        with a warning when that point is the last one; an error when the curve never falls."""
        lrs, smoothed = self._readable(skip_begin, skip_end, curve)
        lowest = _lowest(lrs, smoothed)
        if lowest == 0 or smoothed[0] <= smoothed[lowest]:
            raise ValueError(
                "the smoothed loss never falls in the readable part of the curve: start the test at a "
                "lower start_lr, or lower skip_begin"
            )
        return lrs[: lowest + 1], smoothed[: lowest + 1]

    def suggest(self, method="steepest", skip_begin=10, skip_end=5, curve="centred"):
        """One learning rate read off the smoothed curve (by default the lag-free
        :meth:`reading_curve`; ``curve="causal"`` reads the sweep's moving average instead).

        * ``"steepest"``: where the smoothed loss falls fastest against log10(lr);
        * ``"minimum"``: minimum / 10, a tenth of the rate at the lowest smoothed loss;
        * ``"valley"``: halfway (in log lr) along the longest stretch over which the smoothed loss
          keeps falling.

        Each reads the curve up to its lowest point only, so none lies past the minimum.
        ``"steepest"`` is the default because it came closest to the best of a grid of fixed rates in
        the course's benchmark (``benchmarks/range_test_vs_grid.py``; lesson 3 shows its table,
        :func:`measured_readings` reads it).
        """
        _checks.choice("method", method, SUGGESTIONS)
        lrs, smoothed = self._descent(skip_begin, skip_end, curve)
        if method == "steepest":
            slope = np.gradient(smoothed, np.log10(lrs))
            return float(lrs[np.argmin(slope)])
        if method == "minimum":
            return float(lrs[-1] / 10)
        start, end = _longest_descent(smoothed)
        return float(np.sqrt(lrs[start] * lrs[end]))

    def suggestions(self, skip_begin=10, skip_end=5, curve="centred"):
        """Every suggestion, ``{method: lr}``; label them with ``SUGGESTION_LABELS``."""
        return {method: self.suggest(method, skip_begin, skip_end, curve) for method in SUGGESTIONS}

    def bounds(self, skip_begin=10, skip_end=5, start_fraction=0.1, curve="centred"):
        """CLR bounds by Smith's reading: ``(base_lr, max_lr)``, off the same curve as :meth:`suggest`.

        ``max_lr`` is where the smoothed loss stops falling (its minimum). ``base_lr`` is where it
        has clearly started to fall: the first rate at which ``start_fraction`` (10%) of the
        total fall, from the first readable value to the minimum, has happened. A minimum at the
        very end of the readable part is no turn, and gives a warning.
        """
        lrs, smoothed = self._descent(skip_begin, skip_end, curve)
        fall = smoothed[0] - smoothed[-1]
        started = int(np.argmax(smoothed <= smoothed[0] - start_fraction * fall))
        return float(lrs[started]), float(lrs[-1])

    def plot(self, skip_begin=10, skip_end=5, ax=None, show_bounds=True):
        """Loss against learning rate (log scale): each batch's, the sweep's causal moving average
        and the centred curve that is read, with the readings marked. The y-axis fits the smoothed
        curves down to their lowest point; a lowest point at the very end (no turn up) is marked."""
        from lrcourse import plots

        _, ax = plots.new_axes(ax, width=12)
        window = self._window(skip_begin, skip_end)
        lrs, causal = np.asarray(self.lrs)[window], np.asarray(self.smoothed_losses)[window]
        _, centred = self._readable(skip_begin, skip_end, "centred")
        raw_label = "loss of each batch" if self.loss_on == "training batch" else f"loss on {self.loss_on} after each update"
        ax.plot(lrs, np.asarray(self.losses)[window], color="0.75", linewidth=1, label=raw_label)
        ax.plot(lrs, causal, linewidth=1, label=f"moving average (beta {self.beta:g}), lags")
        ax.plot(lrs, centred, linewidth=2, label="centred average (read)")
        for (method, lr), style in zip(self.suggestions(skip_begin, skip_end).items(), ("--", "-.", ":")):
            ax.axvline(lr, linestyle=style, color="black", linewidth=1, label=f"{SUGGESTION_LABELS[method]}: {lr:.2g}")
        if show_bounds:
            base, top = self.bounds(skip_begin, skip_end)
            ax.axvspan(base, top, color="tab:green", alpha=0.12, label=f"CLR bounds {base:.2g} .. {top:.2g}")
        if _lowest_at_end(centred):
            ax.plot(lrs[-1], centred[-1], "rv", label="lowest at the end: no turn up, so no max bound")
        _fit_y_axis(ax, [causal, centred])
        ax.set(xscale="log", xlabel="learning rate", ylabel=f"loss ({self.loss_on})")
        plots.legend_beside(ax)
        return ax

    def plot_accuracy(self, skip_begin=10, skip_end=5, ax=None):
        """Smith's other reading: each batch's training accuracy (raw and smoothed) against the rate.

        The bounds are where the accuracy starts to rise and where it stops rising or turns ragged.
        """
        from lrcourse import plots

        if not self.accuracies:
            raise ValueError("this test recorded no accuracy: compile the model with metrics=['accuracy'] and run it again")
        _, ax = plots.new_axes(ax, width=12)
        window = self._window(skip_begin, skip_end)
        lrs, accuracies = np.asarray(self.lrs)[window], np.asarray(self.accuracies)[window]
        causal = np.asarray(smooth(self.accuracies, self.beta))[window]
        centred = centred_average(self.accuracies)[window]
        ax.plot(lrs, accuracies, color="0.75", linewidth=1, label="accuracy of each batch")
        ax.plot(lrs, causal, linewidth=1, label=f"moving average (beta {self.beta:g}), lags")
        ax.plot(lrs, centred, linewidth=2, label="centred average")
        _fit_y_axis(ax, [causal, centred], turn=np.argmax)
        ax.set(xscale="log", xlabel="learning rate", ylabel="training accuracy")
        plots.legend_beside(ax)
        return ax

    def cost(self):
        """What the test spent (:func:`lrcourse.training.cost`): one update per batch of the sweep, and, when it read
        the validation loss, that many validation images evaluated after every update."""
        return training.cost(len(self.lrs), self.trained_images, len(self.lrs) * self.validation_examples)

    def save(self, path):
        """Write the result as JSON, atomically (to plot or read again later), and return the path."""
        return paths.write_atomically(path, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path):
        return cls(**json.loads(paths.resolve(path).read_text()))


def _longest_descent(values):
    """``(start, end)`` of the longest chain of ever lower values (a longest decreasing
    subsequence, by dynamic programming), so small bumps inside a long fall do not cut it."""
    length = np.ones(len(values), dtype=int)
    origin = np.arange(len(values))
    for i in range(1, len(values)):
        higher_before = np.flatnonzero(values[:i] > values[i])
        if higher_before.size:
            best = higher_before[np.argmax(length[higher_before])]
            length[i], origin[i] = length[best] + 1, origin[best]
    end = int(np.argmax(length))
    return int(origin[end]), end


# --- running the test -----------------------------------------------------------------------


def sweep_rates(start_lr, end_lr, num_batches, mode="exponential"):
    """The rate for each batch of the sweep; the last one is ``end_lr``.

    >>> sweep_rates(1e-4, 1.0, 5).round(6).tolist()
    [0.0001, 0.001, 0.01, 0.1, 1.0]
    """
    i = np.arange(num_batches) / (num_batches - 1)
    if mode == "linear":
        return start_lr + (end_lr - start_lr) * i
    return start_lr * (end_lr / start_lr) ** i


class LRFinder:
    """The learning-rate range test for a compiled Keras model.

    >>> finder = LRFinder(model)                                  # doctest: +SKIP
    >>> result = finder.find(x_train, y_train, start_lr=1e-6, end_lr=1, num_batches=200)  # doctest: +SKIP
    >>> base_lr, max_lr = result.bounds()                         # doctest: +SKIP
    """

    def __init__(self, model):
        if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
            raise ValueError(
                "LRFinder needs a compiled model: call model.compile(optimizer=..., loss=...) first; "
                "the test trains a copy of that optimizer"
            )
        self.model = model

    def find(self, x, y=None, *, start_lr=1e-7, end_lr=10.0, num_batches=None, epochs=None, batch_size=32,
             mode="exponential", beta=0.98, stop_factor=4.0, stop_rise=None, validation_data=None, validation_size=512,
             seed=0):
        """Run the test and return a :class:`RangeTestResult`; the model is restored afterwards.

        Args:
            x, y: NumPy arrays, or ``x`` alone as a ``tf.data.Dataset`` or ``keras.utils.PyDataset``
                of ``(inputs, targets)`` batches. Arrays are shuffled once with ``seed``.
            num_batches / epochs: the length of the sweep (one of them; default 100 batches).
            mode: ``"exponential"`` or ``"linear"``.
            stop_factor, stop_rise: stop once the smoothed loss passes ``stop_factor`` times its best,
                or (when ``stop_rise`` is given) once it has climbed back ``stop_rise`` of the way from its
                best to its first value
                (from batch ``MIN_BATCHES`` on, after falling by at least a tenth of that first value).
            validation_data: ``(x_val, y_val)``: record the loss on (up to ``validation_size``
                examples of) these after every update instead of the training batch's loss.
        """
        start_lr = _checks.positive("start_lr", start_lr)
        end_lr = _checks.positive("end_lr", end_lr)
        if start_lr >= end_lr:
            raise ValueError(f"start_lr must be < end_lr; got start_lr={start_lr!r}, end_lr={end_lr!r}")
        _checks.choice("mode", mode, ("exponential", "linear"))
        beta = _checks.number("beta", beta, "a number in [0, 1)")
        if not 0 <= beta < 1:
            raise ValueError(f"beta must be in [0, 1); got {beta!r}")
        stop_factor = _checks.number("stop_factor", stop_factor, "a number > 1")
        if stop_factor <= 1:
            raise ValueError(f"stop_factor must be > 1; got {stop_factor!r}")
        if stop_rise is not None and not _checks.number("stop_rise", stop_rise, "a number > 0") > 0:
            raise ValueError(f"stop_rise must be > 0; got {stop_rise!r}")
        batches, per_epoch = _batch_stream(x, y, batch_size, seed)
        if num_batches is not None and epochs is not None:
            raise ValueError("give num_batches or epochs, not both")
        if epochs is not None:
            if per_epoch is None:
                raise ValueError("this data set has no known length: give num_batches instead of epochs")
            num_batches = _checks.count("epochs", epochs) * per_epoch
        num_batches = _checks.count("num_batches", 100 if num_batches is None else num_batches)
        if num_batches < MIN_BATCHES:
            raise ValueError(f"num_batches must be at least {MIN_BATCHES} for a readable curve; got {num_batches}")
        validation = None if validation_data is None else _validation_subset(validation_data, validation_size, seed)

        rates = sweep_rates(start_lr, end_lr, num_batches, mode)
        result = RangeTestResult([], [], [], start_lr=start_lr, end_lr=end_lr, mode=mode, num_batches=num_batches,
                                 beta=beta, stop_factor=stop_factor, stop_rise=stop_rise,
                                 loss_on="training batch" if validation is None else "validation data",
                                 validation_examples=0 if validation is None else len(validation[1]))
        with _restored(self.model) as sweep_optimizer:
            self._sweep(batches, rates, sweep_optimizer, validation, result)
        return result

    def _sweep(self, batches, rates, optimizer, validation, result):
        best, average, first = math.inf, 0.0, None
        for i, (lr, (xb, yb)) in enumerate(zip(rates, batches)):
            optimizer.learning_rate = lr
            logs = self.model.train_on_batch(xb, yb, return_dict=True)
            result.trained_images += len(yb)
            loss = logs["loss"]
            if validation is not None:
                loss = self.model.test_on_batch(*validation, return_dict=True)["loss"]
            accuracy = next((v for k, v in logs.items() if "acc" in k), None)
            average, smoothed = _smoothing_step(average, loss, i, result.beta)
            result.lrs.append(float(keras.ops.convert_to_numpy(optimizer.learning_rate)))
            result.training_losses.append(float(logs["loss"]))
            result.losses.append(float(loss))
            result.smoothed_losses.append(float(smoothed))
            if accuracy is not None:
                result.accuracies.append(float(accuracy))
            if not math.isfinite(loss):
                result.stopped_early = f"the loss was not finite at batch {i} (lr {lr:.3g})"
                return
            first = smoothed if first is None else first
            best = min(best, smoothed)
            if smoothed > result.stop_factor * best:
                result.stopped_early = (f"the smoothed loss passed {result.stop_factor:g} x its best at batch {i} "
                                        f"(lr {lr:.3g})")
                return
            fall = first - best
            if result.stop_rise and i >= MIN_BATCHES and fall >= 0.1 * abs(first) and smoothed - best >= result.stop_rise * fall:
                result.stopped_early = (f"the smoothed loss climbed back {result.stop_rise:.0%} of its fall at batch "
                                        f"{i} (lr {lr:.3g})")
                return


class _restored:
    """Swap in a fresh copy of the model's optimizer for the sweep; afterwards, whatever
    happened, put back the model's optimizer, its compiled step and every variable's value."""

    def __init__(self, model):
        self.model = model

    def __enter__(self):
        model = self.model
        self.saved_values = [keras.ops.convert_to_numpy(v).copy() for v in model.variables]
        self.saved = (model.optimizer, model.train_function, getattr(model, "stop_training", False))
        sweep = _fresh_copy(model.optimizer)
        model.optimizer = sweep
        model.train_function = None  # the next step is compiled for the sweep optimizer
        return sweep.inner_optimizer if isinstance(sweep, keras.optimizers.LossScaleOptimizer) else sweep

    def __exit__(self, *exc_info):
        model = self.model
        model.optimizer, model.train_function, model.stop_training = self.saved
        for variable, value in zip(model.variables, self.saved_values):
            variable.assign(value)
        return False


def _fresh_copy(optimizer):
    """An optimizer of the same class and settings, at a plain float learning rate, with new state."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return keras.optimizers.LossScaleOptimizer(_fresh_copy(optimizer.inner_optimizer))
    config = {**optimizer.get_config(), "learning_rate": 1e-3}
    return type(optimizer).from_config(config)


def _batch_stream(x, y, batch_size, seed):
    """An endless iterator of ``(inputs, targets)`` batches and the batches in one pass (or None)."""
    if isinstance(x, keras.utils.PyDataset):
        if len(x) == 0:
            raise ValueError("the data set is empty: it has no batches")
        return _cycle(lambda: (x[i][:2] for i in range(len(x)))), len(x)
    if hasattr(x, "as_numpy_iterator"):  # a tf.data.Dataset
        first = next(iter(x.as_numpy_iterator()), None)
        if first is None:
            raise ValueError("the data set is empty: it has no batches")
        cardinality = int(x.cardinality())
        return _cycle(lambda: (batch[:2] for batch in x.as_numpy_iterator())), cardinality if cardinality > 0 else None
    if y is None:
        raise ValueError("give targets y with array inputs x (or a data set of (inputs, targets) batches)")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) == 0:
        raise ValueError("the data is empty: x has no examples")
    if len(x) != len(y):
        raise ValueError(f"x and y must have as many examples; got {len(x)} and {len(y)}")
    batch_size = _checks.count("batch_size", batch_size)
    order = np.random.default_rng(seed).permutation(len(x))

    def one_pass():
        for start in range(0, len(x), batch_size):
            keep = order[start:start + batch_size]
            yield x[keep], y[keep]

    return _cycle(one_pass), math.ceil(len(x) / batch_size)


def _cycle(make_pass):
    while True:
        yield from make_pass()


def _validation_subset(validation_data, size, seed):
    x_val, y_val = (np.asarray(part) for part in validation_data)
    if len(x_val) == 0:
        raise ValueError("validation_data is empty")
    keep = np.random.default_rng(seed).permutation(len(x_val))[:size]
    return x_val[keep], y_val[keep]


# --- how far the readings can be trusted ----------------------------------------------------


def score_readings(problems, within=3.0):
    """How close each reading came to the best of a grid of constant rates, over every problem and
    seed of ``problems`` (the records ``benchmarks/range_test_vs_grid.py`` writes). One row per
    reading, the closest to the grid's best first (the smallest ``off``):

    * ``tests``, ``readings``: the range tests, and how many of them gave this reading at all;
    * ``off``: the factor by which a reading typically misses the grid's best rate, above or below
      (``10 ** mean(|log10(reading / best)|)``; 1 is a hit), which orders the rows;
    * ``ratio`` (with ``ratio_low``, ``ratio_high``, ``ratio_min``, ``ratio_max``): the reading over
      the grid's best rate, its geometric mean over the tests with the 95% interval of that mean
      (near 1 when misses above and below cancel out: read it with ``off``), and its range;
      ``within``: the share of readings within a factor ``within`` of the best;
    * ``gap`` (with ``gap_low``, ``gap_high``, ``gap_worst``): the test accuracy of a run at the
      reading minus that of the grid's best run with the same seed: mean, 95% interval, worst.
    """
    pairs = {}
    for problem in problems:
        for seed in problem["seeds"]:
            for name, reading in seed["readings"].items():
                pairs.setdefault(name, []).append(None if reading is None else (
                    reading["rate"] / problem["best_rate"], reading["test_accuracy"] - seed["best_test_accuracy"]))
    rows = {}
    for name, tests in pairs.items():
        got = [pair for pair in tests if pair is not None]
        log_ratios = np.log10([ratio for ratio, _ in got])
        gaps = np.array([gap for _, gap in got])
        (ratio_low, ratio_high), (gap_low, gap_high) = confidence_interval(log_ratios), confidence_interval(gaps)
        rows[name] = {
            "tests": len(tests), "readings": len(got),
            "off": 10 ** np.abs(log_ratios).mean(),
            "ratio": 10 ** log_ratios.mean(), "ratio_low": 10 ** ratio_low, "ratio_high": 10 ** ratio_high,
            "ratio_min": 10 ** log_ratios.min(), "ratio_max": 10 ** log_ratios.max(),
            "within": float(np.mean(np.abs(log_ratios) <= np.log10(within) + 1e-12)),
            "gap": gaps.mean(), "gap_low": gap_low, "gap_high": gap_high, "gap_worst": gaps.min(),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    return table.sort_values("off")


def readable_scores(scores, within=3.0):
    """:func:`score_readings`' table as a reader wants it: each estimate beside its interval."""
    return pd.DataFrame({
        "readings": [f"{r.readings} of {r.tests}" for r in scores.itertuples()],
        "typically off by": [f"{r.off:.2g}x" for r in scores.itertuples()],
        "rate / grid best": [f"{r.ratio:.2g} ({r.ratio_low:.2g} .. {r.ratio_high:.2g})" for r in scores.itertuples()],
        "range": [f"{r.ratio_min:.2g} .. {r.ratio_max:.2g}" for r in scores.itertuples()],
        f"within {within:g}x": [f"{r.within:.0%}" for r in scores.itertuples()],
        "test accuracy - grid best's": [f"{r.gap:+.3f} ({r.gap_low:+.3f} .. {r.gap_high:+.3f})" for r in scores.itertuples()],
        "worst": [f"{r.gap_worst:+.3f}" for r in scores.itertuples()],
    }, index=scores.index)


def reading_findings(scores, within=3.0):
    """What :func:`score_readings`' table says, as Markdown sentences that follow its numbers: the
    reading closest to the grid's best; the readings whose runs cannot be told from the grid's best
    in test accuracy (the 95% interval of the gap includes 0) and those shown to do worse; those
    whose run ever fell more than 0.5 below the grid best's; the worst single case; and whether any
    reading is safe to use without a grid."""
    closest = scores.iloc[0]
    tests = int(scores["tests"].max())
    held = scores[scores["gap_high"] >= 0].sort_values("gap", ascending=False)
    worse = scores[scores["gap_high"] < 0].sort_values("gap", ascending=False)
    worst = scores["gap_worst"].idxmin()
    lines = [
        f"* Closest to the grid's best rate: {in_words(scores.index[:1])}, typically a factor {closest.off:.2g} off "
        f"(on average {closest.ratio:.2g} x the best, 95% interval {closest.ratio_low:.2g} .. {closest.ratio_high:.2g}), "
        f"within a factor {within:g} in {closest.within:.0%} of {closest.readings:.0f} tests.",
    ]
    if len(held):
        lines.append(f"* A run at {in_words(held.index)} reached a test accuracy that cannot be told from the grid best's "
                     f"(the 95% interval of the gap includes 0; the closest, {in_words(held.index[:1])}, "
                     f"{held.iloc[0].gap:+.3f} on average).")
    if len(worse):
        lines.append(f"* A run at {in_words(worse.index)} did worse than the grid's best, by "
                     f"{-worse.iloc[0].gap:.3f} to {-worse.iloc[-1].gap:.3f} on average.")
    fell = scores[scores["gap_worst"] < -0.5].index
    if len(fell):
        lines.append(f"* A run at {in_words(fell)} fell more than 0.5 below the grid best's test accuracy at least "
                     f"once: a mean gap hides such failures, the worst case shows them.")
    lines.append(f"* The worst single case: {in_words([worst])}, {scores.loc[worst, 'gap_worst']:+.3f} against the grid best's run "
                 f"with the same seed.")
    safe = scores[(scores["within"] == 1.0) & (scores["readings"] == scores["tests"])]
    if len(safe):
        lines.append(f"* {in_words(safe.index)} landed within a factor {within:g} of the grid's best in all {tests} tests.")
    else:
        best_share = scores["within"].idxmax()
        lines.append(f"* No reading landed within a factor {within:g} of the grid's best in every test; the most often "
                     f"was {in_words([best_share])}, in {scores.loc[best_share, 'within']:.0%} of them: a reading is where to "
                     f"centre a small grid, not a replacement for one.")
    return "\n".join(lines)


def measured_readings(path=MEASURED_READINGS):
    """The benchmark of readings shipped with the course: ``(score_readings table, problems, provenance)``."""
    saved = json.loads(paths.resolve(path).read_text())
    return score_readings(saved["problems"]), saved["problems"], saved["provenance"]


def show_measured_readings(path=MEASURED_READINGS):
    """Display the shipped benchmark in a notebook: where it was measured, its problems, the
    readable scores and :func:`reading_findings`; returns the scores."""
    from IPython.display import display

    scores, problems, source = measured_readings(path)
    print(f"Source: {source['what']}, measured {source['date']} on {source['machine']}; {source['versions']}; "
          f"{source['settings']}. Not this notebook's run.")
    display(pd.DataFrame(problems)[["model", "dataset", "optimizer", "batch_size", "best_rate", "interior"]]
            .rename(columns={"best_rate": "grid's best rate", "interior": "inside the grid"}))
    display(readable_scores(scores))
    show_markdown(f"*Written from the benchmark's table ({len(problems)} problems, {int(scores['tests'].max())} range "
                  f"tests), not from this notebook's run.*\n\n" + reading_findings(scores))
    return scores
