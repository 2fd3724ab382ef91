"""A run stopped, saved and resumed goes on exactly as the same run done in one go, with every
schedule of the course, and ``save_weights`` + ``load_weights`` into a fresh model does not.

Tiny setting: 32 examples, batches of 8 (4 updates an epoch), 4 epochs, stopped after 2, so the
resumed run must start at update 8 of 16.
"""

import inspect

import keras
import numpy as np
import pytest

from conftest import every_schedule
from lrcourse import optimizers, resuming, schedules
from lrcourse.schedules import OneCycle, TimeBasedDecay

EPOCHS, STOP_AFTER, BATCH, EXAMPLES = 4, 2, 8, 32
PER_EPOCH = EXAMPLES // BATCH
TOTAL = EPOCHS * PER_EPOCH

SCHEDULES = every_schedule(TOTAL, PER_EPOCH)


def build_model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(EXAMPLES, 3)).astype("float32")
    return x, (x @ np.array([[1.0], [-2.0], [0.5]])).astype("float32")


def compare(xy, make_optimizer, methods=resuming.METHODS):
    return resuming.compare_methods(build_model, make_optimizer, *xy, EPOCHS, STOP_AFTER, methods,
                                    batch_size=BATCH, jit_compile=False)


def sgd_with(make_schedule):
    """Keras' SGD on the schedule, with a constant momentum 0.9 (so there are slots to lose)."""
    return lambda: keras.optimizers.SGD(make_schedule(), momentum=0.9)


def test_every_schedule_of_the_package_is_tested():
    # the schedules a user can save: the registered subclasses of LearningRateDecay
    classes = {name for name, value in inspect.getmembers(schedules, inspect.isclass)
               if issubclass(value, schedules.LearningRateDecay)
               and keras.saving.get_registered_object(keras.saving.get_registered_name(value)) is value
               and keras.saving.get_registered_name(value).startswith("lrcourse>")}
    assert classes == set(SCHEDULES)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_keras_file_resumes_on_the_same_rates_and_weights(xy, name):
    result = compare(xy, sgd_with(SCHEDULES[name]), ["keras"])["keras"]
    assert result.iterations_after_loading == STOP_AFTER * PER_EPOCH == result.expected_iterations
    np.testing.assert_allclose(result.rates_uninterrupted, SCHEDULES[name]()(np.arange(TOTAL)), rtol=1e-6, atol=1e-9)
    assert result.max_rate_difference <= 1e-9
    assert result.max_weight_difference <= 1e-7
    assert result.max_slot_difference <= 1e-7
    assert result.loading_warnings == []
    assert result.resumed_correctly


def check_every_method(results, rates, momenta=None):
    for method in ("keras", "weights_built", "backup"):
        result = results[method]
        assert result.iterations_after_loading == 8, method
        np.testing.assert_allclose(result.rates_uninterrupted, rates, rtol=1e-6, atol=1e-9)
        assert result.max_rate_difference <= 1e-9, method
        assert result.max_weight_difference <= 1e-7, method
        assert result.max_slot_difference <= 1e-7, method
        assert result.loading_warnings == [], method
        if momenta is not None:
            np.testing.assert_allclose(result.momenta_uninterrupted, momenta, rtol=1e-6)
            assert result.max_momentum_difference <= 1e-9, method
        assert result.resumed_correctly, method

    # The trap, as Keras 3.15 does it; if this fails, Keras now loads the optimizer: update the lesson.
    trap = results["weights"]
    assert trap.iterations_after_loading == 0
    assert any("Skipping variable loading for optimizer" in message for message in trap.loading_warnings)
    np.testing.assert_allclose(trap.rates_resumed[8:], rates[:8], rtol=1e-6, atol=1e-9)  # from the start again
    assert trap.max_slot_difference > 1e-4  # the momentum is lost too
    assert trap.max_weight_difference > 1e-4
    if momenta is not None:
        np.testing.assert_allclose(trap.momenta_resumed[8:], momenta[:8], rtol=1e-6)
        assert trap.max_momentum_difference > 0.05
    assert not trap.resumed_correctly


@pytest.mark.parametrize("name", ["StepDecay"])  # OneCycle: with scheduled momentum, below
def test_every_method_with_keras_sgd(xy, name):
    check_every_method(compare(xy, sgd_with(SCHEDULES[name])), SCHEDULES[name]()(np.arange(TOTAL)))


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_one_cycle_with_scheduled_momentum_resumes_with_the_same_momenta(xy, optimizer):
    def make_optimizer():
        cycle = OneCycle(0.05, total_steps=TOTAL)
        if optimizer == "SGD":
            return optimizers.SGD(learning_rate=cycle, momentum=cycle.momentum_schedule())
        return optimizers.Adam(learning_rate=cycle, beta_1=cycle.momentum_schedule())

    cycle = OneCycle(0.05, total_steps=TOTAL)
    check_every_method(compare(xy, make_optimizer), cycle(np.arange(TOTAL)),
                       cycle.momentum_schedule()(np.arange(TOTAL)))


def test_without_slots_load_weights_happens_to_restore_the_counter(xy):
    # Plain SGD on a schedule has one optimizer variable, the counter, before and after building, so
    # the counts match and Keras loads it: the trap needs slots (momentum, Adam) to show.
    result = compare(xy, lambda: keras.optimizers.SGD(TimeBasedDecay(0.1, 0.2)), ["weights"])["weights"]
    assert result.iterations_after_loading == 8
    assert result.resumed_correctly


def test_the_examples_in_the_docstrings_work():
    import doctest

    result = doctest.testmod(resuming)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="pickle"), "method must be one of 'keras', 'weights', 'weights_built', 'backup'; got 'pickle'"),
    (dict(stop_after=0), "stop_after must be a whole number >= 1; got 0"),
    (dict(stop_after=4), "stop_after must be a whole number in 1..epochs-1 = 1..3; got 4"),
    (dict(stop_after=1.5), "stop_after must be a whole number >= 1; got 1.5"),
    (dict(epochs=1, stop_after=1), "epochs must be a whole number >= 2; got 1"),
])
def test_bad_arguments_get_a_one_line_error(xy, kwargs, message):
    arguments = {**dict(epochs=4, stop_after=2, method="keras"), **kwargs}
    with pytest.raises(ValueError) as error:
        resuming.compare_resume(build_model, keras.optimizers.SGD, *xy, **arguments)
    assert str(error.value) == message
