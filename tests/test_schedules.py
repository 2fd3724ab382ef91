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
    assert result.attempted >= 9 and result.failed == 0


# --- one contract: schedule(k) takes optimizer updates, whatever their type --------------------


def _read(rate):
    return float(keras.ops.convert_to_numpy(rate))


def test_the_issue_example_gives_the_same_rate_for_every_type():
    s = StepDecay(0.1, 0.25, 15, steps_per_epoch=391)  # update 5474 = 14 * 391 starts epoch 14
    optimizer = keras.optimizers.SGD(learning_rate=s)
    optimizer.iterations.assign(5474)
    from_optimizer = keras.ops.convert_to_numpy(optimizer.iterations)
    for k in (5474, np.int64(5474), np.array(5474), from_optimizer):
        assert s(k) == pytest.approx(0.025, rel=1e-12), type(k)
    assert type(s(5474)) is float and type(s(np.int64(5474))) is float
    values = s(np.array([0, 5473, 5474]))
    assert isinstance(values, np.ndarray)
    np.testing.assert_allclose(values, [0.1, 0.1, 0.025], rtol=1e-12)
    tensor_rate = s(keras.ops.convert_to_tensor(5474))
    assert keras.ops.is_tensor(tensor_rate) and _read(tensor_rate) == pytest.approx(0.025, rel=1e-6)
    assert _read(optimizer.learning_rate) == pytest.approx(0.025, rel=1e-6)


@pytest.mark.parametrize(
    "schedule",
    [StepDecay(0.1, 0.5, 3, steps_per_epoch=11), PolynomialDecay(20, 0.05, 2.0, steps_per_epoch=5),
     TimeBasedDecay(0.1, 0.01)],
)
def test_an_optimizer_reports_what_the_schedule_gives_for_the_same_update(schedule):
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    for k in (0, 4, 5, 10, 11, 33, 99, 140):
        optimizer.iterations.assign(k)
        assert _read(optimizer.learning_rate) == pytest.approx(schedule(k), rel=1e-6), k


@pytest.mark.parametrize("schedule", [StepDecay(0.1), PolynomialDecay(10, 0.1)])
@pytest.mark.parametrize("k", [5474, np.int64(5474), np.arange(3), keras.ops.convert_to_tensor(5474)])
def test_an_epoch_schedule_without_steps_per_epoch_refuses_an_update_and_says_what_to_do(schedule, k):
    with pytest.raises(ValueError) as error:
        schedule(k)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{type(schedule).__name__} counts epochs")
    assert "steps_per_epoch=" in message and "at_epoch(epoch)" in message and "epoch_callback()" in message


def test_at_epoch_in_both_units():
    step = StepDecay(0.1, 0.25, 15)  # epoch-based: no steps_per_epoch needed
    assert step.at_epoch(14) == 0.025 and type(step.at_epoch(np.int64(14))) is float
    np.testing.assert_allclose(step.at_epoch(np.array([0, 13, 14, 29])), [0.1, 0.1, 0.025, 0.00625], rtol=1e-12)
    assert step.with_steps_per_epoch(391).at_epoch(14) == step.at_epoch(14)
    time_based = TimeBasedDecay(0.1, 0.01, steps_per_epoch=50)  # iteration-based: the epoch's first update
    assert time_based.at_epoch(3) == pytest.approx(0.1 / (1 + 0.01 * 150)) and type(time_based.at_epoch(3)) is float
    np.testing.assert_allclose(time_based.at_epoch([0, 3]), [time_based(0), time_based(150)], rtol=1e-12)


# --- formulas: the seed's logged values and independent computations -----------------------


@pytest.mark.parametrize(
    "epoch, expected",
    # the schedules seed logs lr 0.1 in epochs 1-3 and 2.4414e-05 in epochs 98-100
    [(0, 0.1), (13, 0.1), (14, 0.025), (29, 0.00625), (97, 2.44140625e-05), (99, 2.44140625e-05)],
)
def test_step_decay_seed_values(epoch, expected):
    assert StepDecay(0.1, factor=0.25, drop_every=15).at_epoch(epoch) == pytest.approx(expected, rel=1e-12)


def test_step_decay_matches_formula_everywhere():
    s = StepDecay(0.01, factor=0.5, drop_every=7)
    for e in range(60):
        assert s.at_epoch(e) == pytest.approx(0.01 * 0.5 ** math.floor((1 + e) / 7), rel=1e-12)


@pytest.mark.parametrize(
    "power, epoch, expected",
    # seed logs: linear 0.0990 at epoch 2, 0.0010 at epoch 100; power 5: 0.0951, 2.43e-09, 1e-11
    [(1, 1, 0.099), (1, 99, 0.001), (5, 1, 0.0950990049), (5, 97, 2.43e-09), (5, 99, 1e-11)],
)
def test_polynomial_decay_seed_values(power, epoch, expected):
    assert PolynomialDecay(100, 0.1, power=power).at_epoch(epoch) == pytest.approx(expected, rel=1e-6)


def test_polynomial_decay_stays_at_zero_past_the_end():
    s = PolynomialDecay(10, 0.1, power=0.5)  # a fractional power of a negative base would be complex
    values = [s.at_epoch(e) for e in (10, 11, 25, 1000)]
    assert values == [0.0, 0.0, 0.0, 0.0]
    assert all(isinstance(v, float) for v in values)
    tensor_value = s.with_steps_per_epoch(3)(keras.ops.convert_to_tensor(3 * 40))
    assert float(keras.ops.convert_to_numpy(tensor_value)) == 0.0


def test_time_based_decay_is_per_update():
    s = TimeBasedDecay(0.1, decay=1e-3)
    for k in (0, 1, 391, 39099):
        assert s(k) == pytest.approx(0.1 / (1 + 1e-3 * k), rel=1e-12)


def test_plain_numbers_give_floats_and_arrays_give_arrays():
    s = StepDecay(0.1, steps_per_epoch=4)
    assert type(s(3)) is float and type(s(np.int64(3))) is float and type(s(3.0)) is float
    values = s(np.arange(120))
    assert isinstance(values, np.ndarray) and values.shape == (120,)
    np.testing.assert_allclose(values, [s(k) for k in range(120)])
    np.testing.assert_allclose(values, s.at_epoch(np.arange(120) // 4))


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
        StepDecay(0.1, 0.25, 15, steps_per_epoch=7),
        PolynomialDecay(20, 0.05, 2.0, steps_per_epoch=5),
        TimeBasedDecay(0.1, 0.01),
    ]
    for schedule in cases:
        for k in (0, 1, 4, 5, 6, 34, 35, 99, 140):
            assert _at_step(schedule, k) == pytest.approx(schedule(k), rel=1e-6), (schedule, k)


def test_at_epoch_of_an_update_based_schedule_needs_steps_per_epoch():
    with pytest.raises(ValueError, match=r"^TimeBasedDecay counts updates, so at_epoch needs steps_per_epoch="):
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
    assert make_decay("linear", 0.1, 100).at_epoch(99) == pytest.approx(0.001)
    assert make_decay("polynomial", 0.1, 100).at_epoch(99) == pytest.approx(1e-11)
    assert make_decay("time-based", 0.1, 100).decay == pytest.approx(1e-3)  # the seed's 1e-1 / epochs


def test_keras3_ignores_the_optimizer_decay_argument():
    """The lesson's trap: if Keras ever honours or rejects decay= again, the lesson must change."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = keras.optimizers.SGD(learning_rate=0.1, decay=0.01)
    assert any("decay" in str(w.message) for w in caught)
    assert "decay" not in optimizer.get_config()
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(0.1)
