"""Schedules joined in phases: Join, and warmup + cosine, SGDR restarts and one-cycle built from it.

Reference values: PyTorch's OneCycleLR and CosineAnnealingWarmRestarts and fastai's fit_one_cycle
(COURSE.md section 12), and Keras' own CosineDecay and CosineDecayRestarts, computed here.
"""

import keras
import numpy as np
import pytest

from lrcourse.schedules import (Anneal, Constant, CosineRestarts, CyclicalLearningRate, Join, OneCycle, StepDecay,
                                TimeBasedDecay, WarmupCosine)

STEPS = [0, 100, 299, 500, 650, 999]
# max_lr 0.01, T = 1000: (rate, momentum) at STEPS, from PyTorch 2.14 and fastai (COURSE.md section 12)
ONE_CYCLE_REFERENCE = {
    "default": [(4.0e-4, 0.95), (2.81457e-3, 0.924848), (1.0e-2, 0.85), (8.09988e-3, 0.869001),
                (4.97758e-3, 0.900224), (4.0e-8, 0.95)],
    "three_phase": [(4.0e-4, 0.95), (2.81457e-3, 0.924848), (1.0e-2, 0.85), (2.72758e-3, 0.925754),
                    (3.83633e-4, 0.95), (4.0e-8, 0.95)],
    "linear": [(4.0e-4, 0.95), (3.61070e-3, 0.916555), (1.0e-2, 0.85), (7.12858e-3, 0.878714),
               (4.98573e-3, 0.900143), (4.0e-8, 0.95)],
    "fastai": [(4.0e-4, 0.95), (3.71672e-3, 0.915451), (9.89505e-3, 0.851050), (7.50003e-3, 0.875),
               (4.47741e-3, 0.905226), (1.43864e-7, 0.95)],
}
ONE_CYCLES = {
    "default": OneCycle(0.01, 1000),
    "three_phase": OneCycle(0.01, 1000, three_phase=True),
    "linear": OneCycle(0.01, 1000, anneal_strategy="linear"),
    "fastai": OneCycle.fastai(0.01, 1000),
}


def _in_graph(schedule, steps):
    """The schedule as the optimizer evaluates it: keras.ops on a float tensor of update counts."""
    return keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(np.asarray(steps, "int64"))))


def _one_by_one(keras_schedule, steps):
    """A Keras built-in schedule at each step (they take one step at a time)."""
    return np.array([float(keras.ops.convert_to_numpy(keras_schedule(int(k)))) for k in steps])


@pytest.mark.parametrize("variant", ONE_CYCLE_REFERENCE)
def test_one_cycle_matches_pytorch_and_fastai(variant):
    schedule = ONE_CYCLES[variant]
    rates, momenta = np.array(ONE_CYCLE_REFERENCE[variant]).T
    np.testing.assert_allclose(schedule(STEPS), rates, rtol=2e-5)
    np.testing.assert_allclose(schedule.momentum_schedule()(STEPS), momenta, rtol=2e-6)
    np.testing.assert_allclose(_in_graph(schedule, STEPS), rates, rtol=2e-5)
    np.testing.assert_allclose(_in_graph(schedule.momentum_schedule(), STEPS), momenta, rtol=2e-6)


def test_one_cycle_peaks_where_each_convention_says_and_holds_its_end_past_total_steps():
    k = np.arange(1000)
    assert np.argmax(ONE_CYCLES["default"](k)) == 299 and np.argmax(ONE_CYCLES["fastai"](k)) == 250
    assert np.argmin(ONE_CYCLES["default"].momentum_schedule()(k)) == 299
    for schedule in ONE_CYCLES.values():
        end = schedule(schedule.total_steps)
        assert schedule(5000) == end and schedule(10**6) == end
        assert schedule.momentum_schedule()(5000) == pytest.approx(0.95)


def test_one_cycle_rate_and_momentum_move_against_each_other():
    schedule = OneCycle(0.1, 400)
    rate, momentum = schedule(np.arange(400)), schedule.momentum_schedule()(np.arange(400))
    assert np.all(np.sign(np.diff(rate)) == -np.sign(np.diff(momentum)))


def test_warmup_cosine_equals_keras_cosine_decay_with_warmup():
    k = np.arange(0, 1201, 3)
    keras_schedule = keras.optimizers.schedules.CosineDecay(0.0, 900, warmup_target=0.1, warmup_steps=100)
    np.testing.assert_allclose(WarmupCosine(0.1, 100, 900)(k), _one_by_one(keras_schedule, k), rtol=1e-5, atol=1e-8)
    ours = WarmupCosine(0.2, 50, 450, initial_lr=0.01, alpha=0.05)
    theirs = keras.optimizers.schedules.CosineDecay(0.01, 450, alpha=0.05, warmup_target=0.2, warmup_steps=50)
    np.testing.assert_allclose(ours(k), _one_by_one(theirs, k), rtol=1e-5, atol=1e-8)
    assert [WarmupCosine(0.1, 100, 900)(s) for s in (0, 50, 100, 1000)] == pytest.approx([0.0, 0.05, 0.1, 0.0])
    assert WarmupCosine(0.1, 100, 900)(550) == pytest.approx(0.05)


def test_cosine_restarts_equal_keras_within_their_cycles_and_pytorch_at_its_values():
    k = np.arange(0, 700)  # cycles of 100, 200 and 400 updates
    for m_mul in (1.0, 0.5):
        ours = CosineRestarts(0.1, 100, cycles=3, t_mul=2, m_mul=m_mul, alpha=0.01)
        theirs = keras.optimizers.schedules.CosineDecayRestarts(0.1, 100, t_mul=2, m_mul=m_mul, alpha=0.01)
        np.testing.assert_allclose(ours(k), _in_graph(theirs, k), rtol=1e-5)
    pytorch = {0: 0.1, 50: 0.0505, 99: 1.02443e-3, 100: 0.1, 150: 0.0855018, 200: 0.0505, 299: 1.00611e-3,
               300: 0.1, 500: 0.0505}  # CosineAnnealingWarmRestarts(T_0=100, T_mult=2, eta_min=0.001)
    ours = CosineRestarts(0.1, 100, cycles=3, alpha=0.01)
    assert [ours(s) for s in pytorch] == pytest.approx(list(pytorch.values()), rel=1e-5)
    assert CosineRestarts(0.1, 100, cycles=3, m_mul=0.5, alpha=0.01)(300) == pytest.approx(0.02575)
    assert ours(700) == ours(10_000) == pytest.approx(0.001)  # after its last cycle it holds the floor


def test_join_counts_each_part_from_its_own_start_and_mixes_any_update_schedules():
    clr = CyclicalLearningRate(0.01, 0.1, step_size=10)
    joined = Join([Anneal(0.0, 0.01, 20, "linear"), clr, TimeBasedDecay(0.01, 0.1)], boundaries=[20, 60])
    assert joined(10) == pytest.approx(0.005)
    assert joined(30) == pytest.approx(clr(10)) and joined(59) == pytest.approx(clr(39))
    assert joined(70) == pytest.approx(0.01 / (1 + 0.1 * 10))
    np.testing.assert_allclose(_in_graph(joined, np.arange(100)), joined(np.arange(100)), rtol=1e-6, atol=1e-9)
    assert Constant(0.3)(np.arange(3)).tolist() == [0.3, 0.3, 0.3]


@pytest.mark.parametrize("schedule", [
    *ONE_CYCLES.values(), ONE_CYCLES["default"].momentum_schedule(), WarmupCosine(0.1, 10, 90, alpha=0.1),
    CosineRestarts(0.05, 10, cycles=4, t_mul=1.5, m_mul=0.8), Constant(0.2), Anneal(0.1, 0.01, 7.5, "linear"),
    Join([Constant(0.1), CyclicalLearningRate(0.01, 0.1, 5, mode="triangular2")], boundaries=[3]),
])
def test_config_round_trip_and_the_optimizer_keeps_it(schedule):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert type(restored) is type(schedule) and restored.get_config() == schedule.get_config()
    np.testing.assert_array_equal(restored(np.arange(200)), schedule(np.arange(200)))
    optimizer = keras.optimizers.SGD.from_config(keras.optimizers.SGD(learning_rate=schedule).get_config())
    optimizer.iterations.assign(42)
    assert float(keras.ops.convert_to_numpy(optimizer.learning_rate)) == pytest.approx(schedule(42), rel=1e-5)


def test_a_model_saved_with_one_cycle_loads_with_it(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(OneCycle(0.1, 50, three_phase=True)), loss="mse")
    model.fit(np.ones((8, 2)), np.ones(8), batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "one_cycle.keras")
    loaded = keras.saving.load_model(tmp_path / "one_cycle.keras")
    assert loaded.optimizer._learning_rate.get_config() == model.optimizer._learning_rate.get_config()
    assert int(loaded.optimizer.iterations) == 2


@pytest.mark.parametrize("make, message", [
    (lambda: Join([Constant(0.1), Constant(0.2)], boundaries=[]), "Join needs one boundary fewer than schedules"),
    (lambda: Join([Constant(0.1)] * 3, boundaries=[20, 10]), "boundaries must increase"),
    (lambda: Join([Constant(0.1), StepDecay(0.1)], boundaries=[5]), "Join takes lrcourse schedules that count updates"),
    (lambda: Join([Constant(0.1), lambda k: 0.1], boundaries=[5]), "Join takes lrcourse schedules that count updates"),
    (lambda: Join([Constant(0.1)] * 2, boundaries=[0]), "each boundary must be > 0"),
    (lambda: Anneal(0.1, 0.0, 10, strategy="cosine"), "strategy must be one of 'cos', 'linear'"),
    (lambda: Anneal(0.1, 0.0, 0), "steps must be > 0"),
    (lambda: OneCycle(0.1, 100, pct_start=1.2), "pct_start must be in (0, 1)"),
    (lambda: OneCycle(0.1, 100, pct_start=0.6, three_phase=True), "pct_start must be in (0, 0.5) with three_phase"),
    (lambda: OneCycle(0.1, 3), "total_steps=3 is too short for pct_start=0.3"),
    (lambda: OneCycle(0.0, 100), "max_lr must be > 0"),
    (lambda: OneCycle(0.1, 100, max_momentum=1.5), "max_momentum must be in [0, 1]"),
    (lambda: OneCycle(0.1, 100, base_momentum=-0.1), "base_momentum must be in [0, 1]"),
    (lambda: OneCycle(0.1, 100, convention="keras"), "convention must be one of 'pytorch', 'fastai'"),
    (lambda: WarmupCosine(0.1, 0, 100), "warmup_steps must be a whole number >= 1"),
    (lambda: CosineRestarts(0.1, 100, cycles=0), "cycles must be a whole number >= 1"),
])
def test_bad_arguments_get_one_line_that_names_them(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
