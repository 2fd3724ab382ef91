"""Cyclical learning rates: values, waves, saving and resuming, and the rate applied in training."""

import warnings

import keras
import numpy as np
import pytest

from conftest import grouped_steps
from lrcourse import callbacks, data, training, widgets
from lrcourse.schedules import CyclicalLearningRate, plan_cycles

# COURSE.md section 4, checked against PyTorch's CyclicLR: base 1e-3, max 6e-3, step_size 2000
VECTORS = {
    0: (0.001, 0.001, 0.001),
    500: (0.00225, 0.00225, 0.002213055825),
    1000: (0.0035, 0.0035, 0.003354407096),
    2000: (0.006, 0.006, 0.005434586218),
    3000: (0.0035, 0.0035, 0.003088164252),
    4000: (0.001, 0.001, 0.001),
    5000: (0.0035, 0.00225, 0.002852028883),
    6000: (0.006, 0.0035, 0.004488343955),
    10000: (0.006, 0.00225, 0.003744008786),
}
MODES = {"triangular": {}, "triangular2": {}, "exp_range": {"gamma": 0.99994}}


def clr(mode="triangular", **kwargs):
    return CyclicalLearningRate(1e-3, 6e-3, 2000, mode=mode, **{**MODES.get(mode, {}), **kwargs})


def at_step(schedule, k):
    return float(keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(k, dtype="int64"))))


@pytest.mark.parametrize("k", VECTORS)
@pytest.mark.parametrize("column, mode", list(enumerate(MODES)))
def test_course_vectors_as_floats_and_in_the_optimizer_step(k, column, mode):
    expected = VECTORS[k][column]
    assert clr(mode)(k) == pytest.approx(expected, rel=1e-9)
    assert clr(mode)(np.int64(k)) == pytest.approx(expected, rel=1e-9)
    assert at_step(clr(mode), k) == pytest.approx(expected, rel=2e-6)  # float32 in the compiled step
    optimizer = keras.optimizers.SGD(learning_rate=clr(mode))
    optimizer.iterations.assign(k)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(expected, rel=2e-6)


@pytest.mark.parametrize("column, mode", list(enumerate(MODES)))
def test_course_vectors_as_an_array(column, mode):
    np.testing.assert_allclose(clr(mode)(np.array(list(VECTORS))), [row[column] for row in VECTORS.values()], rtol=1e-9)


def test_at_epoch_is_the_rate_at_the_epoch_first_update():
    schedule = clr(steps_per_epoch=500)
    assert schedule.at_epoch(4) == schedule(2000) == pytest.approx(0.006)
    np.testing.assert_allclose(schedule.at_epoch(np.arange(9)), schedule(500 * np.arange(9)), rtol=1e-12)
    with pytest.raises(ValueError, match="at_epoch needs steps_per_epoch"):
        clr().at_epoch(4)


def walk_triangle(base, top, step_size, updates, halve_each_cycle=False):
    """An independent computation: walk up and down one step at a time, no closed form."""
    rates, position, direction, amplitude = [], 0, 1, top - base
    for _ in range(updates):
        rates.append(base + amplitude * position / step_size)
        position += direction
        if position == step_size:
            direction = -1
        elif position == 0:
            direction = 1
            amplitude = amplitude / 2 if halve_each_cycle else amplitude
    return np.array(rates)


@pytest.mark.parametrize("mode", ["triangular", "triangular2"])
def test_closed_form_matches_a_step_by_step_walk(mode):
    schedule = CyclicalLearningRate(0.01, 0.1, 7, mode=mode)
    walked = walk_triangle(0.01, 0.1, 7, 7 * 2 * 5, halve_each_cycle=mode == "triangular2")
    np.testing.assert_allclose(schedule(np.arange(70)), walked, rtol=1e-12)


def test_triangular2_halves_the_amplitude_every_cycle():
    schedule = CyclicalLearningRate(0.001, 0.009, 100, mode="triangular2")
    peaks = [schedule(100 + 200 * c) - 0.001 for c in range(5)]
    np.testing.assert_allclose(peaks, [0.008 / 2**c for c in range(5)], rtol=1e-12)


def test_exp_range_decays_over_all_iterations_not_within_the_cycle():
    schedule = CyclicalLearningRate(0.001, 0.009, 100, mode="exp_range", gamma=0.999)
    for peak in (100, 300, 500):
        assert schedule(peak) == pytest.approx(0.001 + 0.008 * 0.999**peak, rel=1e-12)
    assert schedule(150) == pytest.approx(0.001 + 0.008 * 0.5 * 0.999**150, rel=1e-12)


@pytest.mark.parametrize("wave, midway", [("triangular", 0.5), ("sinusoidal", 0.5), ("parabolic", 0.75)])
def test_every_wave_reaches_the_bounds_at_the_same_iterations(wave, midway):
    schedule = CyclicalLearningRate(0.1, 0.5, 10, wave=wave)
    for k in (0, 20, 40, 60):
        assert schedule(k) == pytest.approx(0.1, rel=1e-12)
    for k in (10, 30, 50):
        assert schedule(k) == pytest.approx(0.5, rel=1e-12)
    assert schedule(15) == pytest.approx(0.1 + 0.4 * midway, rel=1e-12)  # halfway down (x = 0.5)
    values = schedule(np.arange(60))
    assert values.min() >= 0.1 - 1e-15 and values.max() <= 0.5 + 1e-15
    np.testing.assert_allclose([at_step(schedule, k) for k in range(0, 60, 7)], values[::7], rtol=1e-6)


@keras.saving.register_keras_serializable(package="lrcourse_tests")
def third_each_cycle(cycle):
    return 1 / 3 ** (cycle - 1)


@keras.saving.register_keras_serializable(package="lrcourse_tests")
def slow_fade(iteration):
    return 1 / (1 + iteration / 100)


def test_custom_scale_functions_over_the_cycle_or_the_iteration():
    by_cycle = CyclicalLearningRate(0.01, 1.0, 10, scale_fn=third_each_cycle)
    assert by_cycle(30) == pytest.approx(0.01 + 0.99 / 3, rel=1e-12)  # cycle 2's peak
    by_iteration = CyclicalLearningRate(0.01, 1.0, 10, scale_fn=slow_fade, scale_mode="iterations")
    assert by_iteration(10) == pytest.approx(0.01 + 0.99 / 1.1, rel=1e-12)
    assert at_step(by_iteration, 10) == pytest.approx(by_iteration(10), rel=1e-6)


@pytest.mark.parametrize("scale_fn", [None, third_each_cycle])
def test_config_and_keras_saving_round_trip(scale_fn):
    schedule = CyclicalLearningRate(1e-4, 1e-2, 50, mode="exp_range", gamma=0.999, wave="parabolic", scale_fn=scale_fn)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert restored.get_config() == schedule.get_config() and restored.scale_fn is scale_fn
    np.testing.assert_allclose(restored(np.arange(300)), schedule(np.arange(300)))


def test_anonymous_or_unregistered_scale_fn_is_refused_when_saving():
    def unregistered(cycle):
        return 1.0

    for scale_fn in (lambda cycle: 1.0, unregistered):
        schedule = CyclicalLearningRate(0.001, 0.01, 10, scale_fn=scale_fn)  # usable...
        assert schedule(5) > 0.001
        with pytest.raises(ValueError, match="cannot be saved.*register_keras_serializable"):
            schedule.get_config()  # ...but refused at saving time, not at load time


def test_loading_without_the_registered_scale_fn_says_what_to_do():
    config = {**clr().get_config(), "scale_fn": "lrcourse_tests>never_defined"}
    with pytest.raises(ValueError, match="not registered.*before loading"):
        CyclicalLearningRate.from_config(config)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"base_lr": 0.01, "max_lr": 0.01}, "base_lr must be < max_lr"),
        ({"base_lr": 0.1, "max_lr": 0.01}, "base_lr must be < max_lr"),
        ({"base_lr": 0.0}, "base_lr must be > 0"),
        ({"max_lr": -1.0}, "max_lr must be > 0"),
        ({"step_size": 0}, "step_size must be a whole number >= 1"),
        ({"step_size": 2.5}, "step_size must be a whole number >= 1"),
        ({"mode": "cosine"}, "mode must be one of 'triangular', 'triangular2', 'exp_range'"),
        ({"wave": "square"}, "wave must be one of 'triangular', 'sinusoidal', 'parabolic'"),
        ({"gamma": 0.0}, r"gamma must be in \(0, 1\]"),
        ({"gamma": 1.5}, r"gamma must be in \(0, 1\]"),
        ({"scale_mode": "epoch"}, "scale_mode must be one of 'cycle', 'iterations'"),
        ({"scale_fn": 0.5}, "scale_fn must be a function"),
    ],
)
def test_bad_arguments_are_explained(kwargs, argument):
    arguments = {"base_lr": 0.001, "max_lr": 0.006, "step_size": 100, **kwargs}
    with pytest.raises(ValueError, match=f"^{argument}.*got"):
        CyclicalLearningRate(**arguments)


def test_plan_cycles_reproduces_the_seed_arithmetic():
    plan = plan_cycles(step_epochs=8, steps_per_epoch=782, epochs=96)  # 50,000 / 64 -> 782 updates
    assert (plan.step_size, plan.full_cycles, plan.leftover_epochs) == (6256, 6, 0)
    assert "6 full cycles" in str(plan)
    assert plan_cycles(4, 100, 20).full_cycles == 2 and plan_cycles(4, 100, 20).leftover_epochs == 4
    with pytest.raises(ValueError, match="step_epochs"):
        plan_cycles(0, 100, 20)


# --- the rate applied in real training ------------------------------------------------------


@pytest.fixture
def xla_allowed():
    """Keras quietly drops jit_compile=True while TensorFlow's op determinism is on (another
    test's device.setup(seed=...) may have turned it on), so switch it off for the test."""
    from tensorflow.python.framework import config  # where Keras itself looks (no public "disable")

    deterministic = config.is_op_determinism_enabled()
    config.disable_op_determinism()
    yield
    if deterministic:
        config.enable_op_determinism()


@pytest.mark.parametrize("steps_per_execution, jit_compile", [
    (1, False), pytest.param(8, False, marks=grouped_steps), pytest.param(8, True, marks=grouped_steps)])
def test_in_graph_schedule_is_exact_at_every_update(steps_per_execution, jit_compile, xla_allowed):
    schedule = CyclicalLearningRate(1e-3, 6e-3, 12, mode="triangular2")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "Model doesn't support jit_compile=True" would fail it
        applied = training.measure_applied_learning_rates(schedule, 96, steps_per_execution, jit_compile=jit_compile)
    np.testing.assert_allclose(applied, schedule(np.arange(96)), rtol=1e-6)


@grouped_steps
def test_the_per_batch_callback_lags_with_steps_per_execution():
    schedule = CyclicalLearningRate(1e-3, 6e-3, 12)
    exact = schedule(np.arange(96))
    one = training.measure_applied_learning_rates(1e-3, 96, 1, callbacks=[callbacks.CyclicLR(1e-3, 6e-3, 12)])
    np.testing.assert_allclose(one, exact, rtol=1e-6)  # fine when Keras reports every batch
    seed_callback = callbacks.CyclicLR(1e-3, 6e-3, 12)
    eight = training.measure_applied_learning_rates(1e-3, 96, 8, callbacks=[seed_callback])
    assert len(seed_callback.history["lr"]) == 96 // 8  # Keras called it once per 8 updates
    np.testing.assert_allclose(eight, np.repeat(exact[:12], 8), rtol=1e-6)  # 8 times too slow a cycle


def test_seed_callback_keeps_the_seed_history_and_refuses_a_scheduled_optimizer():
    cb = callbacks.CyclicLR(base_lr=0.001, max_lr=0.006, step_size=4, mode="triangular2")
    training.measure_applied_learning_rates(0.001, 10, callbacks=[cb])
    assert cb.history["iterations"] == list(range(1, 11))
    np.testing.assert_allclose(cb.history["lr"], cb.schedule(np.arange(10)), rtol=1e-6)
    with pytest.raises(ValueError, match="plain float learning rate"):
        training.measure_applied_learning_rates(clr(), 4, callbacks=[callbacks.CyclicLR()])


def test_resumed_run_continues_the_exact_rate_sequence(tmp_path):
    d = data.load("synthetic", subset=96, seed=2)  # 3 updates per epoch at batch 32
    schedule = CyclicalLearningRate(0.01, 0.1, 4, mode="exp_range", gamma=0.97)

    def fresh_model():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
        model.compile(keras.optimizers.SGD(schedule, momentum=0.9), "sparse_categorical_crossentropy")
        return model

    def fit(model, epochs):
        recorder = callbacks.LearningRateRecorder()
        model.fit(d.x_train, d.y_train, batch_size=32, epochs=epochs, shuffle=False, verbose=0, callbacks=[recorder])
        return recorder

    straight = fit(fresh_model(), 6)
    stopped = fresh_model()
    fit(stopped, 2)
    stopped.save(tmp_path / "clr.keras")
    resumed = fit(keras.saving.load_model(tmp_path / "clr.keras"), 4)
    assert resumed.iterations == straight.iterations[6:] == list(range(6, 18))
    np.testing.assert_allclose(resumed.learning_rates, straight.learning_rates[6:], rtol=1e-7)
    np.testing.assert_allclose(resumed.learning_rates, schedule(np.arange(6, 18)), rtol=1e-6)


# --- the explorer -----------------------------------------------------------------------------


def test_draw_clr_marks_cycles_and_peaks():
    fig, schedule = widgets.draw_clr(1e-3, 6e-3, 100, mode="triangular2", cycles=3)
    curve, peaks = fig.axes[0].get_lines()[:2]
    assert len(curve.get_xdata()) == 601
    np.testing.assert_allclose(peaks.get_ydata(), [0.006, 0.0035, 0.00225])
    assert len([line for line in fig.axes[0].get_lines() if line.get_linestyle() == ":"]) == 4  # cycle starts
    assert schedule.mode == "triangular2"


def test_clr_explorer_has_every_control():
    explorer = widgets.clr_explorer()
    names = {getattr(child, "description", "") for child in explorer.children}
    assert {"base LR", "max LR", "step size", "mode", "gamma", "wave"} <= names
    explorer.update()


def test_an_anonymous_scale_fn_trains_it_only_cannot_be_saved():
    d = data.load("synthetic", subset=64, seed=0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    schedule = CyclicalLearningRate(0.01, 0.1, 2, scale_fn=lambda cycle: 0.5 ** (cycle - 1))
    run = training.train(model, d, learning_rate=schedule, epochs=2, batch_size=16)
    np.testing.assert_allclose(run.learning_rates, schedule(np.arange(8)), rtol=1e-6)
    assert run.params["optimizer"]["learning_rate"] is not None
