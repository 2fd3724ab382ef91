"""The course's schedules and optimizers in a training loop written by hand.

``model.fit`` is not needed for a schedule to work: the optimizer evaluates
``learning_rate(iterations)`` at every update and adds 1 to ``iterations`` afterwards, in any
loop. :func:`train_with_gradient_tape` is the TensorFlow loop, :func:`train_with_jax` the JAX
one (run it with ``KERAS_BACKEND=jax``, or from another backend through
``lrcourse.backends.run_under("jax", "lrcourse.loops:run_example", ...)``).

Both return the same dictionary (plain numbers, so it can cross between processes):
``iterations[k]`` is the optimizer's counter when update ``k`` was made, ``learning_rates[k]`` the
rate that update used, ``momenta[k]`` its momentum when the optimizer schedules one (else
``None``), and ``final_loss`` the loss of the last batch.
"""

import math

import keras
import numpy as np


def _batches(x, y, batch_size, epochs):
    """The batches of ``epochs`` passes over ``x`` and ``y``, in order (as ``fit`` with ``shuffle=False``)."""
    for _ in range(epochs):
        for start in range(0, len(x), batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]


def _number(value):
    return float(keras.ops.convert_to_numpy(value))


def _momentum(optimizer):
    momentum = getattr(optimizer, "current_momentum", None)
    return None if momentum is None else _number(momentum)


def _needs_backend(backend, function):
    if keras.backend.backend() != backend:
        raise ValueError(f"{function} needs KERAS_BACKEND={backend}, and Keras runs on {keras.backend.backend()} "
                         f"here: use lrcourse.backends.run_under({backend!r}, 'lrcourse.loops:run_example', ...)")


def _result(iterations, rates, momenta, loss):
    return {
        "iterations": iterations,
        "learning_rates": rates,
        "momenta": None if None in momenta else momenta,
        "final_loss": float(loss),
    }


def train_with_gradient_tape(model, optimizer, x, y, *, epochs=1, batch_size=32, loss=None):
    """Train ``model`` with TensorFlow's ``GradientTape``, one batch after another.

    For each batch: compute the loss under a tape, take the gradients of the loss with respect
    to the trainable weights, and let ``optimizer.apply`` make the update. The optimizer reads its
    schedule at its ``iterations`` counter and then adds 1 to the counter, so the schedule moves
    on by itself. The step is a ``tf.function`` (compiled once, run for every batch). ``loss`` is a
    Keras loss object (mean squared error by default).

    >>> from lrcourse.schedules import TimeBasedDecay
    >>> x, y = example_data(32)
    >>> optimizer = keras.optimizers.SGD(TimeBasedDecay(0.1, decay=1.0))
    >>> run = train_with_gradient_tape(example_model(), optimizer, x, y, epochs=2, batch_size=16)
    >>> run["iterations"], [round(rate, 4) for rate in run["learning_rates"]]
    ([0, 1, 2, 3], [0.1, 0.05, 0.0333, 0.025])
    """
    _needs_backend("tensorflow", "train_with_gradient_tape")
    import tensorflow as tf

    loss_fn = loss or keras.losses.MeanSquaredError()

    @tf.function
    def step(x_batch, y_batch):
        with tf.GradientTape() as tape:
            batch_loss = loss_fn(y_batch, model(x_batch, training=True))
        gradients = tape.gradient(batch_loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        return batch_loss

    iterations, rates, momenta, batch_loss = [], [], [], math.nan
    for x_batch, y_batch in _batches(x, y, batch_size, epochs):
        iterations.append(int(_number(optimizer.iterations)))  # the counter this update will use
        rates.append(_number(optimizer.learning_rate))  # = schedule(counter)
        momenta.append(_momentum(optimizer))
        batch_loss = step(x_batch, y_batch)
    return _result(iterations, rates, momenta, batch_loss)


def train_with_jax(model, optimizer, x, y, *, epochs=1, batch_size=32, loss=None):
    """Train ``model`` on the JAX backend with ``jax.jit``, holding the state in plain arrays.

    JAX functions cannot change variables, so the loop carries the state itself: the model's
    weights and the optimizer's variables, as lists of arrays. Each step computes the loss with
    ``model.stateless_call`` and its gradients with ``jax.value_and_grad``, and returns new state
    from ``optimizer.stateless_apply``. The optimizer's first variable is its ``iterations``
    counter, so the schedule reads the right counter inside the compiled step and moves on. At the
    end the arrays are written back into the model and the optimizer. ``loss`` is a Keras loss
    object (mean squared error by default).

    With ``KERAS_BACKEND=jax`` (from another backend: ``run_example`` under ``run_under``)::

        run = train_with_jax(example_model(), optimizer, x, y, epochs=2, batch_size=16)
        run["iterations"], run["learning_rates"]     # as in the TensorFlow example
    """
    _needs_backend("jax", "train_with_jax")
    import jax

    loss_fn = loss or keras.losses.MeanSquaredError()
    optimizer.build(model.trainable_variables)

    def compute_loss(trainable, non_trainable, x_batch, y_batch):
        predictions, non_trainable = model.stateless_call(trainable, non_trainable, x_batch, training=True)
        return loss_fn(y_batch, predictions), non_trainable

    @jax.jit
    def step(state, x_batch, y_batch):
        trainable, non_trainable, optimizer_state = state
        (batch_loss, non_trainable), gradients = jax.value_and_grad(compute_loss, has_aux=True)(
            trainable, non_trainable, x_batch, y_batch)
        with keras.StatelessScope(state_mapping=list(zip(optimizer.variables, optimizer_state))):
            rate = optimizer.learning_rate  # the schedule at the counter in optimizer_state
        trainable, optimizer_state = optimizer.stateless_apply(optimizer_state, gradients, trainable)
        return batch_loss, rate, (trainable, non_trainable, optimizer_state)

    owners = (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
    state = tuple([variable.value for variable in variables] for variables in owners)
    iterations, rates, momenta, batch_loss = [], [], [], math.nan
    for x_batch, y_batch in _batches(x, y, batch_size, epochs):
        iterations.append(int(state[2][0]))  # optimizer.variables[0] is the iterations counter
        with keras.StatelessScope(state_mapping=[(optimizer.iterations, state[2][0])]):
            momenta.append(_momentum(optimizer))  # a scheduled momentum, read at the same counter
        batch_loss, rate, state = step(state, x_batch, y_batch)
        rates.append(_number(rate))

    for variables, values in zip(owners, state):  # write the final state back
        for variable, value in zip(variables, values):
            variable.assign(value)
    return _result(iterations, rates, momenta, batch_loss)


LOOPS = {"gradient_tape": train_with_gradient_tape, "jax": train_with_jax}


def example_data(examples=64, features=3, seed=0):
    """A small regression problem, ``y = x @ w + noise``, as float32 arrays."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(examples, features)).astype("float32")
    w = rng.normal(size=(features, 1))
    return x, (x @ w + 0.1 * rng.normal(size=(examples, 1))).astype("float32")


def example_model(features=3, seed=0):
    """A tiny two-layer network for :func:`example_data`, its starting weights drawn with NumPy
    (so they are the same on every backend)."""
    model = keras.Sequential([keras.Input((features,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(1)])
    rng = np.random.default_rng(seed)
    model.set_weights([0.5 * rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def run_example(loop, optimizer, epochs=2, batch_size=16, examples=64, seed=0):
    """Train :func:`example_model` on :func:`example_data` with ``loop`` (``"gradient_tape"`` or
    ``"jax"``) and ``optimizer``, given as ``keras.optimizers.serialize(optimizer)`` so that the
    call can cross to a process with another backend. Returns the loop's dictionary plus the
    final ``weights`` (lists of numbers) and the backend's name."""
    import lrcourse.optimizers  # noqa: F401  (registers the course's optimizers and schedules, to rebuild them)
    import lrcourse.schedules  # noqa: F401
    if loop not in LOOPS:
        raise ValueError(f"loop must be one of {', '.join(map(repr, LOOPS))}; got {loop!r}")
    x, y = example_data(examples, seed=seed)
    model = example_model(x.shape[1], seed=seed)
    result = LOOPS[loop](model, keras.optimizers.deserialize(optimizer), x, y, epochs=epochs, batch_size=batch_size)
    return {**result, "weights": [w.tolist() for w in model.get_weights()], "backend": keras.backend.backend()}
