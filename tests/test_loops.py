"""Hand-written training loops apply the schedules as ``fit`` does: update ``k`` uses ``schedule(k)``.

The JAX loop runs in a child process under ``KERAS_BACKEND=jax`` (``lrcourse.backends.run_under``).
"""

import keras
import numpy as np
import pytest

from conftest import every_schedule
from lrcourse import backends, loops, optimizers
from lrcourse.schedules import CyclicalLearningRate, OneCycle

EPOCHS, BATCH, EXAMPLES = 2, 16, 64  # 4 updates an epoch, 8 in all
UPDATES = EPOCHS * EXAMPLES // BATCH

SCHEDULES = every_schedule(UPDATES, EXAMPLES // BATCH)

needs_jax = pytest.mark.skipif(not backends.available("jax"), reason="jax is not installed")
on_tensorflow = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow loop")


def one_cycle(optimizer):
    """An lrcourse optimizer on one cycle, its momentum (Adam: beta_1) moving against the rate."""
    cycle = OneCycle(0.1, total_steps=UPDATES)
    if optimizer == "SGD":
        return optimizers.SGD(learning_rate=cycle, momentum=cycle.momentum_schedule())
    return optimizers.Adam(learning_rate=cycle, beta_1=cycle.momentum_schedule())


def gradient_tape(optimizer):
    x, y = loops.example_data(EXAMPLES)
    model = loops.example_model()
    return model, loops.train_with_gradient_tape(model, optimizer, x, y, epochs=EPOCHS, batch_size=BATCH)


@on_tensorflow
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_gradient_tape_loop_applies_the_schedule_at_every_update(name):
    optimizer = keras.optimizers.SGD(SCHEDULES[name](), momentum=0.9)
    _, run = gradient_tape(optimizer)
    assert run["iterations"] == list(range(UPDATES))
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == UPDATES
    np.testing.assert_allclose(run["learning_rates"], SCHEDULES[name]()(np.arange(UPDATES)), rtol=1e-6, atol=1e-9)
    assert run["momenta"] is None
    assert np.isfinite(run["final_loss"])


@on_tensorflow
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_gradient_tape_loop_schedules_the_momentum_too(optimizer):
    _, run = gradient_tape(one_cycle(optimizer))
    momenta = OneCycle(0.1, total_steps=UPDATES).momentum_schedule()(np.arange(UPDATES))
    np.testing.assert_allclose(run["momenta"], momenta, rtol=1e-6)


def optimizer_and_schedules(kind):
    """A fresh optimizer, its learning-rate schedule and its momentum schedule (None if constant)."""
    if kind == "keras SGD, CLR":
        clr = CyclicalLearningRate(0.01, 0.1, step_size=3)
        return keras.optimizers.SGD(clr, momentum=0.9), clr, None
    cycle = OneCycle(0.1, total_steps=UPDATES)
    return one_cycle(kind.split(",")[0]), cycle, cycle.momentum_schedule()


@on_tensorflow
@pytest.mark.parametrize("kind", ["keras SGD, CLR", "SGD, one cycle", "Adam, one cycle"])
def test_gradient_tape_loop_reaches_the_weights_of_fit(kind):
    model, run = gradient_tape(optimizer_and_schedules(kind)[0])
    x, y = loops.example_data(EXAMPLES)
    fitted = loops.example_model()
    fitted.compile(optimizer=optimizer_and_schedules(kind)[0], loss="mse")
    history = fitted.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    for ours, theirs in zip(model.get_weights(), fitted.get_weights()):
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
    assert np.isfinite(history.history["loss"][-1]) and np.isfinite(run["final_loss"])


@needs_jax
@pytest.mark.parametrize("kind", ["keras SGD, CLR", "Adam, one cycle"])
def test_jax_loop_advances_the_schedule_inside_jit(kind):
    optimizer, schedule, momentum = optimizer_and_schedules(kind)
    optimizer = keras.optimizers.serialize(optimizer)
    arguments = dict(epochs=EPOCHS, batch_size=BATCH, examples=EXAMPLES)
    run = backends.run_under("jax", "lrcourse.loops:run_example", loop="jax", optimizer=optimizer, **arguments)
    assert run["backend"] == "jax"
    assert run["iterations"] == list(range(UPDATES))
    np.testing.assert_allclose(run["learning_rates"], schedule(np.arange(UPDATES)), rtol=1e-6, atol=1e-9)
    if momentum is None:
        assert run["momenta"] is None
    else:
        np.testing.assert_allclose(run["momenta"], momentum(np.arange(UPDATES)), rtol=1e-6)
    # the same training with the TensorFlow loop, from the same starting weights
    tensorflow = backends.call_under("tensorflow", "lrcourse.loops:run_example", loop="gradient_tape",
                                     optimizer=optimizer, **arguments)
    for ours, theirs in zip(run["weights"], tensorflow["weights"]):
        np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert run["final_loss"] == pytest.approx(tensorflow["final_loss"], rel=1e-5)


def test_unknown_loop_is_refused():
    with pytest.raises(ValueError, match="^loop must be one of 'gradient_tape', 'jax'; got 'torch'$"):
        loops.run_example("torch", keras.optimizers.serialize(keras.optimizers.SGD(0.1)))


@on_tensorflow  # the example is the TensorFlow loop
def test_the_examples_in_the_docstrings_work():
    import doctest

    result = doctest.testmod(loops)
    assert result.attempted > 0 and result.failed == 0


@on_tensorflow
def test_the_jax_loop_needs_the_jax_backend():
    x, y = loops.example_data(EXAMPLES)
    with pytest.raises(ValueError, match="^train_with_jax needs KERAS_BACKEND=jax, and Keras runs on tensorflow"):
        loops.train_with_jax(loops.example_model(), keras.optimizers.SGD(0.1), x, y)
