"""SGD and Adam whose momentum (Adam: ``beta_1``) can follow a schedule, as in one-cycle.

Keras 3 lets only the learning rate follow a schedule: ``keras.optimizers.SGD(momentum=...)``
takes a Python float and bakes it into the compiled step as a constant. These two subclasses
also take any ``keras.optimizers.schedules.LearningRateSchedule`` (Keras' own or lrcourse's) as
the momentum, and evaluate it inside ``update_step`` from the optimizer's ``iterations``, with
the same convention as the learning rate: update ``k`` (``k`` updates already applied) uses
``schedule(k)``. So it runs in the compiled step, with ``steps_per_execution > 1``, with XLA,
on TensorFlow, JAX and torch, and a model saved as ``.keras`` resumes on the same schedule.
A float momentum keeps Keras' own behaviour exactly.

>>> cosine = keras.optimizers.schedules.CosineDecay(0.95, decay_steps=100, alpha=0.85 / 0.95)
>>> optimizer = SGD(learning_rate=0.01, momentum=cosine)
>>> round(optimizer.current_momentum, 6)          # the momentum of the next update
0.95

``measure_applied_momentum`` reads back, by training a probe, the momentum really applied at
every update.
"""

import numbers

import keras
import numpy as np
from keras import ops

from lrcourse import _checks

Schedule = keras.optimizers.schedules.LearningRateSchedule


def _momentum_or_schedule(name, value, upper="1]"):
    """``value`` as a float in [0, 1] (``upper="1)"``: [0, 1)) or a schedule; else a one-line ValueError."""
    if isinstance(value, Schedule):
        return value
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if is_number and (0 <= value < 1 if upper == "1)" else 0 <= value <= 1):
        return float(value)
    fix = " (a plain function cannot be traced or saved: subclass LearningRateSchedule)" if callable(value) else ""
    raise ValueError(f"{name} must be a number in [0, {upper} or a "
                     f"keras.optimizers.schedules.LearningRateSchedule{fix}; got {value!r}")


def _value_now(value, iterations):
    """A float momentum, or a schedule's value after ``iterations`` updates, as a Python float."""
    if isinstance(value, Schedule):
        value = value(iterations)
    return float(ops.convert_to_numpy(value))


def _serialize(value):
    return keras.saving.serialize_keras_object(value) if isinstance(value, Schedule) else value


def _deserialize(config, key, custom_objects=None):
    if isinstance(config.get(key), dict):
        config = {**config, key: keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)}
    return config


# The class Keras really builds for keras.optimizers.SGD(...): on torch, Keras swaps in a fused SGD of its own (only for
# that exact class, not for subclasses), so SGD below derives from it to make a float momentum's step Keras' own.
_KerasSGD = type(keras.optimizers.SGD.__new__(keras.optimizers.SGD))


@keras.saving.register_keras_serializable(package="lrcourse")
class SGD(_KerasSGD):
    """Keras' SGD whose ``momentum`` may be a float or a ``LearningRateSchedule``.

    The update is Keras' own, with ``mu = momentum(k)`` at update ``k`` (``k = iterations``)::

        m = mu * m - lr * g
        w = w + m                      # nesterov=True: w = w + mu * m - lr * g

    ``current_momentum`` is the momentum of the next update, as a float (for prints and plots).

    >>> two_values = keras.optimizers.schedules.PiecewiseConstantDecay([2], [0.9, 0.5])
    >>> optimizer = SGD(learning_rate=0.1, momentum=two_values)
    >>> round(optimizer.current_momentum, 6)
    0.9
    >>> _ = optimizer.iterations.assign(3)      # as after 3 updates
    >>> round(optimizer.current_momentum, 6)
    0.5
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        momentum = _momentum_or_schedule("momentum", momentum)
        # The parent wants a float, and builds the momentum slots only if it is not 0.
        super().__init__(learning_rate, momentum=1.0 if isinstance(momentum, Schedule) else momentum,
                         nesterov=nesterov, **kwargs)
        self.momentum = momentum  # a float or a schedule: what was given

    @property
    def current_momentum(self):
        return _value_now(self.momentum, self.iterations)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if isinstance(self.momentum, Schedule):  # one variable at a time, through update_step below
            return keras.optimizers.Optimizer._backend_update_step(self, grads, trainable_variables, learning_rate)
        return super()._backend_update_step(grads, trainable_variables, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(self.momentum, Schedule):
            return super().update_step(gradient, variable, learning_rate)
        mu = ops.cast(self.momentum(self.iterations), variable.dtype)
        lr = ops.cast(learning_rate, variable.dtype)
        g = ops.cast(gradient, variable.dtype)
        m = self.momentums[self._get_variable_index(variable)]
        self.assign(m, ops.subtract(ops.multiply(m, mu), ops.multiply(g, lr)))
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(m, mu), ops.multiply(g, lr)))
        else:
            self.assign_add(variable, m)

    def get_config(self):
        return {**super().get_config(), "momentum": _serialize(self.momentum)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return super().from_config(_deserialize(config, "momentum", custom_objects), custom_objects)


@keras.saving.register_keras_serializable(package="lrcourse")
class Adam(keras.optimizers.Adam):
    """Keras' Adam whose ``beta_1`` may be a float or a ``LearningRateSchedule``.

    The update is Keras' own, with ``b1 = beta_1(k)`` at update ``k`` (``k = iterations``, ``t = k + 1``)::

        m = m + (1 - b1) * (g - m)
        v = v + (1 - beta_2) * (g**2 - v)
        w = w - lr * sqrt(1 - beta_2**t) / (1 - b1**t) * m / (sqrt(v) + epsilon)

    The bias correction uses the current ``b1 ** t``, as PyTorch does when ``OneCycleLR`` cycles
    Adam's beta1. ``current_momentum`` is the ``beta_1`` of the next update, as a float.

    >>> falling = keras.optimizers.schedules.CosineDecay(0.95, decay_steps=10, alpha=0.85 / 0.95)
    >>> adam = Adam(learning_rate=1e-3, beta_1=falling)
    >>> _ = adam.iterations.assign(10)          # as after 10 updates
    >>> round(adam.current_momentum, 6)
    0.85
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, **kwargs):
        beta_1 = _momentum_or_schedule("beta_1", beta_1, upper="1)")
        super().__init__(learning_rate, beta_1=beta_1, **kwargs)

    @property
    def current_momentum(self):
        return _value_now(self.beta_1, self.iterations)

    def update_step(self, gradient, variable, learning_rate):
        if not isinstance(self.beta_1, Schedule):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        b1 = ops.cast(self.beta_1(self.iterations), dtype)
        lr = ops.cast(learning_rate, dtype)
        g = ops.cast(gradient, dtype)
        t = ops.cast(self.iterations + 1, dtype)
        alpha = lr * ops.sqrt(1 - ops.power(ops.cast(self.beta_2, dtype), t)) / (1 - ops.power(b1, t))
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, ops.multiply(ops.subtract(g, m), 1 - b1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(g), v), 1 - self.beta_2))
        if self.amsgrad:
            v_hat = self._velocity_hats[self._get_variable_index(variable)]
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        self.assign_sub(variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon)))

    def get_config(self):
        return {**super().get_config(), "beta_1": _serialize(self.beta_1)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return super().from_config(_deserialize(config, "beta_1", custom_objects), custom_objects)


def measure_applied_momentum(momentum, steps, optimizer="sgd", steps_per_execution=1, jit_compile="auto"):
    """Measure the momentum (Adam: ``beta_1``) really applied at each of ``steps`` updates.

    ``momentum`` is a float, a schedule, or a schedule's ``keras.saving.serialize_keras_object``
    dict (so ``lrcourse.backends.run_under`` can pass one to another backend). Returns a NumPy
    array of ``steps`` momenta.

    The method: a probe with one weight per update, all at 0, and at update ``j`` the loss is
    weight ``j``, so its gradient is 1 there and 0 elsewhere. Each update multiplies every
    weight's momentum slot by that update's momentum, so after training, slot ``j`` holds the
    product of the momenta of all updates after ``j`` (SGD, ``lr = 1``: ``-prod_{i>j} mu_i``;
    Adam: ``(1 - b_j) prod_{i>j} b_i``). One extra weight gets no gradient and its slot starts
    at 1, so it ends at the product of all the momenta, which also reveals update 0's (that one
    multiplies an empty slot elsewhere). Each momentum is the ratio of two consecutive products.

    Limits: the momenta must be > 0 (a 0 wipes the products out), and the products are float32,
    so keep ``steps`` modest (a few hundred at 0.85-0.95; the probe refuses products under
    1e-30). The result is then exact to about 1e-6 relative.
    """
    steps = _checks.count("steps", steps)
    _checks.choice("optimizer", optimizer, ("sgd", "adam"))
    steps_per_execution = _checks.steps_per_execution(steps_per_execution)
    if isinstance(momentum, dict):
        momentum = keras.saving.deserialize_keras_object(momentum)
    if not isinstance(momentum, Schedule) and _momentum_or_schedule("momentum", momentum) == 0:
        raise ValueError("momentum must be > 0 for the probe to read it (a 0 momentum leaves nothing to measure)")
    if optimizer == "sgd":
        chosen = SGD(learning_rate=1.0, momentum=momentum)
    else:
        chosen = Adam(learning_rate=1e-3, beta_1=momentum)
    probe = keras.Sequential([
        keras.Input((steps + 1,)),
        keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", dtype="float32"),
    ])
    chosen.build(probe.trainable_variables)
    slot = (chosen.momentums if optimizer == "sgd" else chosen._momentums)[0]
    slot.assign(np.eye(steps + 1, dtype="float32")[:, [steps]])  # the extra weight's slot starts at 1
    probe.compile(optimizer=chosen, loss=lambda y_true, y_pred: y_pred[:, 0],
                  steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    if jit_compile is True and not probe.jit_compile:
        raise RuntimeError("jit_compile=True was asked for, but Keras compiles without XLA here (TensorFlow does "
                           "when deterministic ops are on): measure in a fresh process, with lrcourse.backends.run_under")
    inputs = np.eye(steps + 1, dtype="float32")[:steps]
    probe.fit(inputs, np.zeros(steps, "float32"), batch_size=1, epochs=1, shuffle=False, verbose=0)
    slots = ops.convert_to_numpy(slot)[:, 0].astype("float64")
    # products[j] = momentum_j * momentum_{j+1} * ... * momentum_{steps-1}; products[steps] is 1
    if optimizer == "sgd":
        products = np.concatenate([slots[steps:], -slots[:steps]])
    else:  # m_j = products[j+1] - products[j]
        products = slots[steps] + np.concatenate([[0.0], np.cumsum(slots[:steps])])
    if not products[0] > 1e-30:
        raise ValueError(f"the product of the {steps} momenta is {products[0]:.3g}, too small to read in float32: "
                         f"the momenta must stay above 0, and fewer steps keep the product readable")
    return products[:-1] / products[1:]
