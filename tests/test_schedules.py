import doctest
import math
import warnings

import keras
import numpy as np
import pytest

from lrcourse import schedules
from lrcourse.schedules import PolynomialDecay, StepDecay, TimeBasedDecay, make_decay


def test_docstring_examples():
    result = doctest.testmod(schedules)
    assert result.attempted >= 5 and result.failed == 0


# --- formulas: the seed's logged values and independent computations -----------------------


@pytest.mark.parametrize(
    "epoch, expected",
    # the schedules seed logs lr 0.1 in epochs 1-3 and 2.4414e-05 in epochs 98-100
    [(0, 0.1), (13, 0.1), (14, 0.025), (29, 0.00625), (97, 2.44140625e-05), (99, 2.44140625e-05)],
)
def test_step_decay_seed_values(epoch, expected):
    assert StepDecay(0.1, factor=0.25, drop_every=15)(epoch) == pytest.approx(expected, rel=1e-12)


def test_step_decay_matches_formula_everywhere():
    s = StepDecay(0.01, factor=0.5, drop_every=7)
    for e in range(60):
        assert s(e) == pytest.approx(0.01 * 0.5 ** math.floor((1 + e) / 7), rel=1e-12)


@pytest.mark.parametrize(
    "power, epoch, expected",
    # seed logs: linear 0.0990 at epoch 2, 0.0010 at epoch 100; power 5: 0.0951, 2.43e-09, 1e-11
    [(1, 1, 0.099), (1, 99, 0.001), (5, 1, 0.0950990049), (5, 97, 2.43e-09), (5, 99, 1e-11)],
)
def test_polynomial_decay_seed_values(power, epoch, expected):
    assert PolynomialDecay(100, 0.1, power=power)(epoch) == pytest.approx(expected, rel=1e-6)


def test_polynomial_decay_stays_at_zero_past_the_end():
    s = PolynomialDecay(10, 0.1, power=0.5)  # a fractional power of a negative base would be complex
    values = [s(e) for e in (10, 11, 25, 1000)]
    assert values == [0.0, 0.0, 0.0, 0.0]
    assert all(isinstance(v, float) for v in values)
    tensor_value = s.with_steps_per_epoch(3)(keras.ops.convert_to_tensor(3 * 40))
    assert float(keras.ops.convert_to_numpy(tensor_value)) == 0.0


def test_time_based_decay_is_per_update():
    s = TimeBasedDecay(0.1, decay=1e-3)
    for k in (0, 1, 391, 39099):
        assert s(k) == pytest.approx(0.1 / (1 + 1e-3 * k), rel=1e-12)


def test_plain_numbers_give_floats_and_arrays_give_arrays():
    s = StepDecay(0.1)
    assert type(s(3)) is float and type(s(np.int64(3))) is float and type(s(3.0)) is float
    values = s(np.arange(30))
    assert isinstance(values, np.ndarray) and values.shape == (30,)
    np.testing.assert_allclose(values, [s(e) for e in range(30)])


# --- inside the optimizer: the tensor path --------------------------------------------------


def _at_step(schedule, k):
    return float(keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(k, dtype="int64"))))


def test_epoch_schedules_step_down_at_epoch_boundaries():
    s = StepDecay(0.1, factor=0.5, drop_every=2, steps_per_epoch=10)
    # epoch 0 holds for k = 0..9, epoch 1 (the first drop, (1 + 1) // 2 = 1) starts at k = 10
    assert _at_step(s, 0) == pytest.approx(0.1)
    assert _at_step(s, 9) == pytest.approx(0.1)
    assert _at_step(s, 10) == pytest.approx(0.05)
    assert _at_step(s, 29) == pytest.approx(0.05)
    assert _at_step(s, 30) == pytest.approx(0.025)


def test_tensor_path_matches_plain_numbers():
    cases = [
        (StepDecay(0.1, 0.25, 15, steps_per_epoch=7), lambda k: k // 7),
        (PolynomialDecay(20, 0.05, 2.0, steps_per_epoch=5), lambda k: k // 5),
        (TimeBasedDecay(0.1, 0.01), lambda k: k),
    ]
    for schedule, counter in cases:
        for k in (0, 1, 4, 5, 6, 34, 35, 99, 140):
            assert _at_step(schedule, k) == pytest.approx(schedule(counter(k)), rel=1e-6), (schedule, k)


def test_epoch_schedule_without_steps_per_epoch_explains_the_fix():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        StepDecay(0.1)(keras.ops.convert_to_tensor(5))


def test_at_epoch_for_an_update_based_schedule_uses_the_epoch_first_update():
    s = TimeBasedDecay(0.1, 0.01, steps_per_epoch=50)
    assert s.at_epoch(3) == pytest.approx(0.1 / (1 + 0.01 * 150))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        TimeBasedDecay(0.1, 0.01).at_epoch(3)


# --- serialisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schedule",
    [StepDecay(0.1, 0.5, 3, steps_per_epoch=11), PolynomialDecay(40, 0.2, 5.0), TimeBasedDecay(0.05, 1e-4)],
)
def test_config_round_trip(schedule):
    clone = type(schedule).from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert type(restored) is type(schedule) and restored.get_config() == schedule.get_config()
    optimizer = keras.optimizers.SGD.from_config(keras.optimizers.SGD(learning_rate=schedule).get_config())
    assert optimizer._learning_rate.get_config() == schedule.get_config()


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: StepDecay(0), "initial_lr"),
        (lambda: StepDecay(-0.1), "initial_lr"),
        (lambda: StepDecay("0.1"), "initial_lr"),
        (lambda: StepDecay(None), "initial_lr"),
        (lambda: StepDecay(True), "initial_lr"),
        (lambda: StepDecay(float("nan")), "initial_lr"),
        (lambda: StepDecay(0.1, factor=0), "factor"),
        (lambda: StepDecay(0.1, factor=1.5), "factor"),
        (lambda: StepDecay(0.1, drop_every=0), "drop_every"),
        (lambda: StepDecay(0.1, drop_every=2.5), "drop_every"),
        (lambda: StepDecay(0.1, steps_per_epoch=0), "steps_per_epoch"),
        (lambda: PolynomialDecay(0, 0.1), "max_epochs"),
        (lambda: PolynomialDecay(-5, 0.1), "max_epochs"),
        (lambda: PolynomialDecay(10, 0.0), "initial_lr"),
        (lambda: PolynomialDecay(10, 0.1, power=-1), "power"),
        (lambda: PolynomialDecay(10, 0.1, power="2"), "power"),
        (lambda: TimeBasedDecay(-1.0, 0.1), "initial_lr"),
        (lambda: TimeBasedDecay(0.1, -0.001), "decay"),
        (lambda: make_decay("cosine", 0.1, 10), "kind"),
    ],
)
def test_bad_arguments_name_the_argument(make, argument):
    with pytest.raises(ValueError) as error:
        make()
    message = str(error.value)
    assert message.startswith(argument) and "got" in message


# --- the seed's experiment menu -----------------------------------------------------------


def test_make_decay_follows_the_seed():
    assert make_decay("step", 0.1, 100).get_config()["drop_every"] == 15
    assert make_decay("linear", 0.1, 100)(99) == pytest.approx(0.001)
    assert make_decay("polynomial", 0.1, 100)(99) == pytest.approx(1e-11)
    assert make_decay("time-based", 0.1, 100).decay == pytest.approx(1e-3)  # the seed's 1e-1 / epochs


def test_keras3_ignores_the_optimizer_decay_argument():
    """The lesson's trap: if Keras ever honours or rejects decay= again, the lesson must change."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = keras.optimizers.SGD(learning_rate=0.1, decay=0.01)
    assert any("decay" in str(w.message) for w in caught)
    assert "decay" not in optimizer.get_config()
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.1)
