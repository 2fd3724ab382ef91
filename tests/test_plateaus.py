"""Plateaus and callbacks that set the rate: Keras' refusal, PlateauRestarts, and the JAX trap."""

import importlib.util

import keras
import numpy as np
import pytest

from lrcourse.backends import run_under
from lrcourse.callbacks import LearningRateRecorder, PerBatchRate, PlateauRestarts, measure_per_batch_callback

STEPS_PER_EPOCH = 4


def _probe(learning_rate):
    """One weight, loss = the weight: each SGD update lowers it by exactly the rate applied."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=lambda y_true, y_pred: y_pred[:, 0])
    return model


def _fit(model, epochs, callbacks):
    x = np.ones((STEPS_PER_EPOCH, 1), "float32")
    return model.fit(x, np.zeros(STEPS_PER_EPOCH, "float32"), batch_size=1, epochs=epochs, shuffle=False,
                     verbose=0, callbacks=callbacks)


class Script(keras.callbacks.Callback):
    """Writes a scripted value as ``logs["scripted"]`` at the end of every epoch."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["scripted"] = self.values[epoch]


class WeightTrail(keras.callbacks.Callback):
    """The probe's weight at the start and at the end of every epoch."""

    def on_train_begin(self, logs=None):
        self.weights = [float(keras.ops.convert_to_numpy(self.model.layers[0].kernel)[0, 0])]

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(float(keras.ops.convert_to_numpy(self.model.layers[0].kernel)[0, 0]))


# The Keras fact: callbacks that set the rate accept a schedule-driven optimizer, then fail when they fire.

@pytest.mark.parametrize("make_callback, fails_at_epoch", [
    (lambda: keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=1e9), 1),
    (lambda: keras.callbacks.LearningRateScheduler(lambda epoch, rate: rate * 0.5), 0),
], ids=["ReduceLROnPlateau", "LearningRateScheduler"])
def test_keras_rate_callbacks_fail_at_first_firing_with_a_schedule(make_callback, fails_at_epoch):
    model = _probe(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))  # compiles without complaint
    trail = WeightTrail()
    with pytest.raises(TypeError, match="LearningRateSchedule.*not settable"):
        _fit(model, 3, [make_callback(), trail])
    assert len(trail.weights) == 1 + fails_at_epoch  # the epochs before the first firing trained normally


# PlateauRestarts

SCRIPT = [10, 9, 9, 9, 9, 9, 9, 8, 8, 8, 12, 12, 11.99995, 11]
#  rule with patience 2, cooldown 1, restart_after 2, factor 0.5, min_delta 1e-4, from 0.8:
#  e1 improves; e2, e3 do not -> cut at 3; e4 cooldown; e5, e6 -> cut at 6; e7 cooldown (8 becomes the best);
#  e8, e9 -> third plateau after 2 cuts: restart at 9 (best forgotten); e10 cooldown, 12 the best;
#  e11 and e12 (better by less than min_delta) -> cut at 12; e13 cooldown.
EVENTS = {3: "cut", 6: "cut", 9: "restart", 12: "cut"}
RATES = [0.8] * 4 + [0.4] * 3 + [0.2] * 3 + [0.8] * 3 + [0.4]


def test_plateau_restarts_cuts_cools_down_and_restarts_at_the_predicted_epochs():
    plateaus = PlateauRestarts("scripted", factor=0.5, patience=2, cooldown=1, restart_after=2, mode="min")
    recorder, trail = LearningRateRecorder(), WeightTrail()
    history = _fit(_probe(0.8), len(SCRIPT), [Script(SCRIPT), plateaus, recorder, trail])

    frame = plateaus.to_frame()
    assert list(frame.columns) == ["epoch", "scripted", "learning_rate", "event"]
    assert frame["epoch"].tolist() == list(range(len(SCRIPT)))
    assert frame["scripted"].tolist() == SCRIPT
    assert frame["event"].tolist() == [EVENTS.get(epoch, "none") for epoch in range(len(SCRIPT))]
    np.testing.assert_allclose(frame["learning_rate"], RATES, rtol=1e-6)
    np.testing.assert_allclose(history.history["learning_rate"], RATES, rtol=1e-6)
    # the rates really applied: the recorder before every update, and the weight's fall in each epoch
    np.testing.assert_allclose(recorder.learning_rates, np.repeat(RATES, STEPS_PER_EPOCH), rtol=1e-6)
    applied = -np.diff(trail.weights) / STEPS_PER_EPOCH
    np.testing.assert_allclose(applied, RATES, rtol=1e-5)


def test_plateau_restarts_on_a_real_loss_with_min_lr_and_restart_lr():
    # min_delta this large: no epoch after the first improves, so with patience 1 every later epoch is a plateau
    plateaus = PlateauRestarts("loss", factor=0.1, patience=1, min_delta=1e9, min_lr=0.005, restart_after=3,
                               restart_lr=0.3)
    recorder = LearningRateRecorder()
    history = _fit(_probe(0.6), 7, [plateaus, recorder])
    frame = plateaus.to_frame()
    # cuts at the ends of epochs 1-3: 0.6 -> 0.06 -> 0.006 -> 0.005 (the floor); after 3 cuts, a restart at the end
    # of epoch 4 to restart_lr; the best is forgotten, so epoch 5 improves; epoch 6 is a plateau again
    expected = [0.6, 0.6, 0.06, 0.006, 0.005, 0.3, 0.3]
    assert frame["event"].tolist() == ["none", "cut", "cut", "cut", "restart", "none", "cut"]
    np.testing.assert_allclose(frame["learning_rate"], expected, rtol=1e-6)
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-6)
    np.testing.assert_allclose(recorder.learning_rates[::STEPS_PER_EPOCH], expected, rtol=1e-6)
    np.testing.assert_allclose(frame["loss"], history.history["loss"])


def _drive(callback, values, learning_rate=1.0, monitor="loss"):
    """Call ``on_epoch_end`` directly with scripted values; return the rate after each epoch."""
    model = _probe(learning_rate)
    callback.set_model(model)
    callback.on_train_begin()
    rates = []
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {monitor: value})
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
    return rates


@pytest.mark.parametrize("cooldown", [0, 1, 2])
def test_without_restarts_it_is_reduce_lr_on_plateau_whose_cooldown_counts_one_less(cooldown):
    values = [5, 4, 4, 4, 4, 3.5, 4, 4, 4, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2]
    ours = _drive(PlateauRestarts("loss", factor=0.5, patience=2, cooldown=cooldown, restart_after=None), values)
    keras_rates = _drive(keras.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=2, cooldown=cooldown + 1),
                         values)
    assert ours == keras_rates
    assert len(set(ours)) > 3  # several cuts happened
    if cooldown == 0:  # Keras' cooldown=1 does nothing: it equals cooldown=0
        assert keras_rates == _drive(keras.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=2), values)


def test_at_min_lr_without_restarts_a_plateau_changes_nothing():
    plateaus = PlateauRestarts("loss", factor=0.5, patience=1, min_lr=0.25, restart_after=None)
    assert _drive(plateaus, [1, 1, 1, 1, 1]) == [1.0, 0.5, 0.25, 0.25, 0.25]
    assert [row["event"] for row in plateaus.records] == ["none", "cut", "cut", "none", "none"]


def test_at_min_lr_with_restarts_the_next_plateau_restarts_before_restart_after_cuts():
    plateaus = PlateauRestarts("loss", factor=0.5, patience=1, min_lr=0.25, restart_after=5)
    assert _drive(plateaus, [1, 1, 1, 1, 1]) == [1.0, 0.5, 0.25, 1.0, 1.0]
    assert [row["event"] for row in plateaus.records] == ["none", "cut", "cut", "restart", "none"]


def test_the_docstring_example_sequence():
    plateaus = PlateauRestarts("val_loss", factor=0.1, patience=3, restart_after=2)
    rates = _drive(plateaus, [1.0] * 10, learning_rate=0.1, monitor="val_loss")
    np.testing.assert_allclose(rates, [0.1] * 3 + [0.01] * 3 + [0.001] * 3 + [0.1], rtol=1e-6)


def test_plateau_restarts_max_mode_and_auto_mode():
    assert PlateauRestarts("val_accuracy").mode == "max"
    assert PlateauRestarts("val_loss").mode == "min"
    rising = _drive(PlateauRestarts("accuracy", factor=0.5, patience=1), [0.5, 0.6, 0.6], monitor="accuracy")
    assert rising == [1.0, 1.0, 0.5]
    with pytest.raises(ValueError, match="mode='min' or mode='max'"):
        PlateauRestarts("val_auc")


@pytest.mark.parametrize("arguments, message", [
    ({"factor": 1.0}, "factor must be in \\(0, 1\\)"),
    ({"factor": 0}, "factor must be in \\(0, 1\\)"),
    ({"factor": "0.5"}, "factor must be a finite number"),
    ({"patience": 0}, "patience must be a whole number >= 1"),
    ({"patience": 1.5}, "patience must be a whole number >= 1"),
    ({"cooldown": -1}, "cooldown must be a whole number >= 0"),
    ({"min_delta": -0.1}, "min_delta must be >= 0"),
    ({"restart_after": 0}, "restart_after must be a whole number >= 1"),
    ({"restart_lr": 0}, "restart_lr must be > 0"),
    ({"min_lr": -1}, "min_lr must be >= 0"),
    ({"min_lr": 0.1, "restart_lr": 0.1}, "restart_lr must be > min_lr"),
    ({"mode": "lowest"}, "mode must be one of"),
    ({"monitor": ""}, "monitor must be the name"),
])
def test_plateau_restarts_refuses_bad_arguments_in_one_line(arguments, message):
    with pytest.raises(ValueError, match=message) as error:
        PlateauRestarts(**arguments)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("callback", [PlateauRestarts("loss"), PerBatchRate(lambda step: 0.1)],
                         ids=["PlateauRestarts", "PerBatchRate"])
def test_rate_setting_callbacks_refuse_a_schedule_before_training_in_one_line(callback):
    model = _probe(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    trail = WeightTrail()
    with pytest.raises(ValueError, match="give the optimizer a float rate") as error:
        _fit(model, 1, [callback, trail])
    assert "\n" not in str(error.value)


def test_a_missing_monitor_is_an_error_not_a_silent_no_op():
    with pytest.raises(ValueError, match="'val_loss', which epoch 0 did not log \\(it logged loss\\): pass validation"):
        _fit(_probe(0.1), 1, [PlateauRestarts("val_loss")])
    with pytest.raises(ValueError, match="'los', which epoch 0 did not log \\(it logged loss\\): choose one of"):
        _fit(_probe(0.1), 1, [PlateauRestarts("los", mode="min")])


# The JAX trap

def _check_matches(result):
    np.testing.assert_allclose(result["applied"], result["expected"], rtol=1e-6)
    assert result["rate_after_fit"] == pytest.approx(result["expected"][-1])


@pytest.mark.parametrize("through_model", [True, False])
def test_per_batch_rate_works_either_way_on_tensorflow(through_model):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("this test is about the TensorFlow backend")
    result = measure_per_batch_callback(through_model, steps=6)
    assert result["backend"] == "tensorflow"
    assert result["matching"] == 6
    _check_matches(result)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
def test_on_jax_only_writing_through_the_model_sets_the_rate():
    kept = run_under("jax", "lrcourse.callbacks:measure_per_batch_callback", through_model=False, steps=6)
    through = run_under("jax", "lrcourse.callbacks:measure_per_batch_callback", through_model=True, steps=6)
    assert kept["backend"] == through["backend"] == "jax"
    _check_matches(through)
    # the kept reference: only the write before the epoch's first update (the state is loaded after it) counts;
    # every later write is ignored, and the end of the epoch copies the state back over the last one
    first = kept["expected"][0]
    np.testing.assert_allclose(kept["applied"], [first] * 6, rtol=1e-6)
    assert kept["rate_after_fit"] == pytest.approx(first)
    assert kept["matching"] == 1 and kept["max_abs_error"] > 0.05


def test_measure_per_batch_callback_without_a_callback_keeps_the_initial_rate():
    result = measure_per_batch_callback(None, steps=3, initial_rate=0.25)
    assert result["applied"] == pytest.approx([0.25] * 3)
    assert result["rate_after_fit"] == pytest.approx(0.25)
    assert result["seconds_per_update"] > 0
