"""Keras callbacks of the course: a learning-rate recorder, and the CLR article's callback.

A schedule set as ``optimizer.learning_rate`` is the better tool for changing the rate: it is
evaluated inside the compiled step at every update. Callbacks are here for watching (the
recorder) and for readers who bring code from the CLR article (``CyclicLR``).
"""

import keras

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
        optimizer = self.model.optimizer
        if isinstance(optimizer._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            raise ValueError("CyclicLR sets the learning rate itself: give the optimizer a plain float learning rate")
        optimizer.learning_rate = self.schedule(self.clr_iterations)

    def on_train_begin(self, logs=None):
        self._set_learning_rate()

    def on_train_batch_end(self, batch, logs=None):
        self.trn_iterations += 1
        self.clr_iterations += 1
        self.history.setdefault("lr", []).append(_current_learning_rate(self.model.optimizer))
        self.history.setdefault("iterations", []).append(self.trn_iterations)
        self._set_learning_rate()
