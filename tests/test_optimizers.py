import doctest
import os

import keras
import numpy as np
import pytest

from conftest import ON_TORCH, grouped_steps
from lrcourse import backends, optimizers, schedules, training
from lrcourse.optimizers import SGD, Adam, measure_applied_momentum
from lrcourse.schedules import CyclicalLearningRate

STEPS = 24
COSINE = keras.optimizers.schedules.CosineDecay(0.95, decay_steps=STEPS, alpha=0.85 / 0.95)


def _values(schedule, steps):
    return np.array([float(keras.ops.convert_to_numpy(schedule(k))) for k in range(steps)])


def test_docstring_examples():
    result = doctest.testmod(optimizers)
    assert result.attempted >= 4 and result.failed == 0


# --- the probe reads the momentum really applied ------------------------------------------------


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_probe_reads_a_float_momentum_as_a_constant(optimizer):
    applied = measure_applied_momentum(0.8, STEPS, optimizer)
    assert applied.shape == (STEPS,)
    np.testing.assert_allclose(applied, 0.8, rtol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("steps_per_execution", [1, pytest.param(8, marks=grouped_steps)])
def test_a_scheduled_momentum_is_applied_at_every_update(optimizer, steps_per_execution):
    applied = measure_applied_momentum(COSINE, STEPS, optimizer, steps_per_execution, jit_compile=False)
    np.testing.assert_allclose(applied, _values(COSINE, STEPS), rtol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_scheduled_momentum_is_applied_at_every_update_with_xla(optimizer):
    # in a fresh process: an earlier test may have turned on deterministic ops here, and TensorFlow
    # then compiles without XLA (the probe refuses to report that as XLA)
    applied = backends.run_under("tensorflow", "lrcourse.optimizers:measure_applied_momentum",
                                 momentum=keras.saving.serialize_keras_object(COSINE), steps=STEPS,
                                 optimizer=optimizer, steps_per_execution=8, jit_compile=True)
    np.testing.assert_allclose(applied, _values(COSINE, STEPS), rtol=1e-5)


def test_the_one_cycle_momentum_drives_sgd():
    cycled = schedules.OneCycle(0.01, STEPS).momentum_schedule()
    applied = measure_applied_momentum(cycled, STEPS, "sgd", steps_per_execution=1 if ON_TORCH else 8)
    np.testing.assert_allclose(applied, _values(cycled, STEPS), rtol=1e-5)
    assert applied[0] == pytest.approx(0.95, rel=1e-6) and applied.min() < 0.9


@pytest.mark.parametrize("backend", ["jax", "torch"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_scheduled_momentum_is_applied_under_another_backend(backend, optimizer):
    if not backends.available(backend):
        pytest.skip(f"{backend} is not installed")
    cycled = CyclicalLearningRate(0.85, 0.95, step_size=6)  # lrcourse's own schedule, in the child too
    applied = backends.run_under(backend, "lrcourse.optimizers:measure_applied_momentum",
                                 momentum=keras.saving.serialize_keras_object(cycled), steps=STEPS,
                                 optimizer=optimizer, steps_per_execution=1 if backend == "torch" else 8)
    np.testing.assert_allclose(applied, _values(cycled, STEPS), rtol=1e-5)


@pytest.mark.skipif(not ON_TORCH, reason="the check is for the torch backend, which runs one step a call")
@pytest.mark.parametrize("probe", [training.measure_applied_learning_rates, measure_applied_momentum])
def test_grouped_steps_are_refused_on_torch_in_one_line_with_the_fix(probe):
    with pytest.raises(ValueError, match=r"^steps_per_execution must be 1 on the torch backend .*; got 8: use 1, or "
                                         r"KERAS_BACKEND=tensorflow or jax to group steps$"):
        probe(0.9, 4, steps_per_execution=8)


# --- the update is Keras' formula -----------------------------------------------------------------


def _train(optimizer, steps=3):
    """Three updates of a small model from the same start; its weights after them."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizer, loss="mse")
    x = np.random.default_rng(0).normal(size=(2 * steps, 3)).astype("float32")
    model.fit(x, x[:, :2] ** 2, batch_size=2, epochs=1, shuffle=False, verbose=0)
    return [keras.ops.convert_to_numpy(w) for w in model.weights]


CONSTANT = keras.optimizers.schedules.PiecewiseConstantDecay([1000], [0.9, 0.9])
SAME_AS_KERAS = {
    "sgd": (lambda mu: SGD(0.1, momentum=mu), lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
    "nesterov": (lambda mu: SGD(0.1, momentum=mu, nesterov=True),
                 lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True)),
    "adam": (lambda mu: Adam(0.01, beta_1=mu), lambda: keras.optimizers.Adam(0.01, beta_1=0.9)),
    "amsgrad": (lambda mu: Adam(0.01, beta_1=mu, amsgrad=True),
                lambda: keras.optimizers.Adam(0.01, beta_1=0.9, amsgrad=True)),
}


def _apply(optimizer, gradients):
    """Apply ``gradients`` one by one to weights starting at 1; the weights after each update."""
    weights = keras.Variable(np.ones(np.shape(gradients)[1:], "float32"))
    optimizer.build([weights])
    after = []
    for g in gradients:
        optimizer.apply([keras.ops.convert_to_tensor(np.float32(g))], [weights])
        after.append(keras.ops.convert_to_numpy(weights))
    return np.array(after)


@pytest.mark.parametrize("kind", SAME_AS_KERAS)
def test_a_constant_schedule_updates_like_keras_with_that_float(kind):
    ours, theirs = SAME_AS_KERAS[kind]
    gradients = np.random.default_rng(0).normal(size=(4, 5))
    expected = _apply(theirs(), gradients)
    np.testing.assert_allclose(_apply(ours(CONSTANT), gradients), expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(_apply(ours(0.9), gradients), expected)  # a float: Keras' own step
    assert not np.allclose(_apply(ours(0.5), gradients), expected, rtol=1e-3)  # the momentum matters here


GRADIENTS = [[1.0], [-2.0], [0.5]]
MOMENTA = keras.optimizers.schedules.PiecewiseConstantDecay([0, 1], [0.9, 0.5, 0.7])  # at updates 0, 1, 2


def test_the_reference_momenta_change_at_every_update():
    np.testing.assert_allclose(_values(MOMENTA, 3), [0.9, 0.5, 0.7], rtol=1e-6)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_uses_the_momentum_of_each_update_in_keras_formula(nesterov):
    w, m, expected = 1.0, 0.0, []
    for mu, [g] in zip(_values(MOMENTA, 3), GRADIENTS):
        m = mu * m - 0.1 * g
        w += mu * m - 0.1 * g if nesterov else m
        expected.append(w)
    got = _apply(SGD(0.1, momentum=MOMENTA, nesterov=nesterov), GRADIENTS)[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_adam_corrects_its_bias_with_the_current_beta_1():
    w, m, v, expected = 1.0, 0.0, 0.0, []
    for t, (b1, [g]) in enumerate(zip(_values(MOMENTA, 3), GRADIENTS), start=1):
        m = m + (1 - b1) * (g - m)
        v = v + (1 - 0.999) * (g * g - v)
        w -= 0.01 * np.sqrt(1 - 0.999**t) / (1 - b1**t) * m / (np.sqrt(v) + 1e-7)
        expected.append(w)
    got = _apply(Adam(0.01, beta_1=MOMENTA), GRADIENTS)[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_current_momentum_is_the_momentum_of_the_next_update():
    cycled = CyclicalLearningRate(0.85, 0.95, step_size=4)
    for optimizer in (SGD(0.1, momentum=cycled), Adam(0.01, beta_1=cycled)):
        assert optimizer.current_momentum == pytest.approx(0.85, rel=1e-6)
        _train(optimizer, steps=3)
        assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 3
        assert optimizer.current_momentum == pytest.approx(cycled(3), rel=1e-6)
    assert SGD(momentum=0.9).current_momentum == 0.9 and Adam().current_momentum == 0.9


# --- saving and resuming ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_a_saved_model_resumes_on_the_same_momentum_schedule(kind, tmp_path):
    cycled = CyclicalLearningRate(0.85, 0.95, step_size=3)  # 4 updates in, the momentum goes down again
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=SGD(0.05, momentum=cycled) if kind == "sgd" else Adam(0.01, beta_1=cycled), loss="mse")
    x = np.random.default_rng(1).normal(size=(8, 3)).astype("float32")
    y = np.sin(x[:, :2])
    model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "model.keras")

    loaded = keras.saving.load_model(tmp_path / "model.keras")
    schedule = loaded.optimizer.momentum if kind == "sgd" else loaded.optimizer.beta_1
    assert type(loaded.optimizer) is type(model.optimizer)
    assert type(schedule) is CyclicalLearningRate and schedule.get_config() == cycled.get_config()
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == 4
    assert loaded.optimizer.current_momentum == pytest.approx(cycled(4), rel=1e-6)

    for resumed in (model, loaded):  # the uninterrupted run and the reloaded one
        resumed.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-6)
    assert loaded.optimizer.current_momentum == pytest.approx(cycled(8), rel=1e-6)


def test_the_config_keeps_a_float_momentum_as_a_float():
    config = SGD(0.1, momentum=0.9, nesterov=True).get_config()
    assert config["momentum"] == 0.9 and config["nesterov"] is True
    restored = Adam.from_config(Adam(beta_1=COSINE).get_config())
    assert isinstance(restored.beta_1, keras.optimizers.schedules.CosineDecay)
    assert restored.beta_1.get_config() == COSINE.get_config()


# --- errors -------------------------------------------------------------------------------------


def _one_line_error(make, *words):
    with pytest.raises(ValueError) as error:
        make()
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "0.9", None])
def test_a_bad_momentum_is_refused_with_the_range(bad):
    _one_line_error(lambda: SGD(momentum=bad), "momentum must be a number in [0, 1]", "LearningRateSchedule")


def test_a_plain_function_is_refused_with_the_fix():
    _one_line_error(lambda: SGD(momentum=lambda step: 0.9), "subclass LearningRateSchedule")
    _one_line_error(lambda: Adam(beta_1=lambda: 0.9), "beta_1 must be", "subclass LearningRateSchedule")


@pytest.mark.parametrize("bad", [1.0, -0.5])
def test_adam_refuses_a_beta_1_outside_0_1(bad):
    _one_line_error(lambda: Adam(beta_1=bad), "beta_1 must be a number in [0, 1)")


def test_the_probe_refuses_what_it_cannot_measure():
    _one_line_error(lambda: measure_applied_momentum(0.0, 4), "momentum must be > 0")
    _one_line_error(lambda: measure_applied_momentum(0.9, 4, optimizer="rmsprop"), "optimizer must be one of")
    _one_line_error(lambda: measure_applied_momentum(0.9, 0), "steps must be a whole number >= 1")
    _one_line_error(lambda: measure_applied_momentum(0.9, 4, steps_per_execution=0.5), "steps_per_execution must be")
    _one_line_error(lambda: measure_applied_momentum(0.1, 40), "too small to read in float32", "fewer steps")


def test_the_probe_refuses_to_call_a_run_xla_when_keras_fell_back_without_it():
    # deterministic ops cannot be turned off again in a process, so the check runs in a fresh one
    import subprocess
    import sys

    check = ("import tensorflow as tf; tf.config.experimental.enable_op_determinism()\n"
             "from lrcourse.optimizers import measure_applied_momentum\n"
             "try:\n    measure_applied_momentum(0.9, 4, jit_compile=True)\n"
             "except RuntimeError as error:\n    print(error)\n")
    process = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                             env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert process.stdout.startswith("jit_compile=True was asked for, but Keras compiles without XLA here"), \
        process.stdout + process.stderr[-2000:]
