"""The learning-rate range test: true per-batch losses, smoothing, readings, restoration, bad input."""

import json
import warnings
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from lrcourse import widgets
from lrcourse.finder import LRFinder, RangeTestResult, centred_average, smooth, sweep_rates
from lrcourse.schedules import CyclicalLearningRate


def test_smoothing_matches_the_course_vector():
    np.testing.assert_allclose(smooth([2.0, 1.8, 1.5, 1.2, 1.0]), [2.0, 1.898990, 1.763298, 1.618177, 1.489497], atol=1e-6)


def test_centred_average_keeps_constants_and_ramps():
    np.testing.assert_allclose(centred_average(np.full(87, 2.5)), 2.5)
    ramp = 3.0 - 0.02 * np.arange(87)
    np.testing.assert_allclose(centred_average(ramp), ramp)  # no lag and no bias, even where the window shrinks
    np.testing.assert_allclose(centred_average([1.0, 2.0, 6.0, 4.0, 5.0], half_width=1), [1, 3, 4, 5, 5])


def test_centred_average_keeps_a_valley_in_place_where_the_causal_one_lags():
    valley = (np.arange(101) - 60.0) ** 2 / 100  # lowest at batch 60
    assert np.argmin(centred_average(valley)) == 60
    assert np.argmin(smooth(valley, 0.98)) > 60 + 10  # the moving average bottoms out well after it


@pytest.mark.parametrize("mode", ["exponential", "linear"])
def test_sweep_starts_and_ends_exactly_at_the_bounds(mode):
    rates = sweep_rates(1e-6, 3.0, 57, mode)
    assert rates[0] == pytest.approx(1e-6, rel=1e-12) and rates[-1] == pytest.approx(3.0, rel=1e-12)
    steps = np.diff(np.log(rates)) if mode == "exponential" else np.diff(rates)
    np.testing.assert_allclose(steps, steps[0], rtol=1e-9)


# --- the true loss of every batch ------------------------------------------------------------


class SquaresDataset(keras.utils.PyDataset):
    """Batch i has inputs 0 and targets i + 1, so a zero model's MSE on it is exactly (i + 1)**2."""

    def __init__(self, batches=12, fail_at=None, error=RuntimeError):
        super().__init__()
        self.batches, self.fail_at, self.error = batches, fail_at, error

    def __len__(self):
        return self.batches

    def __getitem__(self, i):
        if i == self.fail_at:
            raise self.error(f"batch {i} could not be read")
        return np.zeros((4, 3), "float32"), np.full((4, 1), float(i + 1), "float32")


def zero_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


def test_records_each_batch_loss_not_keras_running_mean():
    result = LRFinder(zero_model()).find(SquaresDataset(), start_lr=1e-3, end_lr=1.0, num_batches=12, stop_factor=1e6, stop_rise=1e6)
    np.testing.assert_allclose(result.losses[:5], [1, 4, 9, 16, 25])

    class ReadLogs(keras.callbacks.Callback):  # what a finder reading logs["loss"] would see
        def on_train_begin(self, logs=None):
            self.seen = []

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append(logs["loss"])

    reader = ReadLogs()
    zero_model().fit(SquaresDataset(5), epochs=1, shuffle=False, verbose=0, callbacks=[reader])
    np.testing.assert_allclose(reader.seen, [1, 2.5, 14 / 3, 7.5, 11.0], rtol=1e-6)  # running means


def test_tf_data_and_arrays_are_accepted():
    x, y = np.zeros((48, 3), "float32"), np.repeat(np.arange(1, 13, dtype="float32"), 4)[:, None]
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    from_dataset = LRFinder(zero_model()).find(dataset, num_batches=12, start_lr=1e-3, end_lr=1.0, stop_factor=1e6, stop_rise=1e6)
    np.testing.assert_allclose(from_dataset.losses[:4], [1, 4, 9, 16])
    from_arrays = LRFinder(zero_model()).find(x, y, batch_size=4, epochs=2, start_lr=1e-3, end_lr=1.0, stop_factor=1e6, stop_rise=1e6)
    assert from_arrays.num_batches == 24 and len(from_arrays.losses) == 24
    assert sorted(from_arrays.losses[:12]) != from_arrays.losses[:12]  # shuffled once, batches mixed...
    assert from_arrays.losses[12:] == from_arrays.losses[:12]  # ...then the same order again
    assert from_dataset.cost() == from_arrays.cost() | {"updates": 12, "images trained on (forward + backward)": 48,
                                                        "forward passes (trained x 3 + evaluated)": 144}
    assert from_arrays.cost() == {"updates": 24, "images trained on (forward + backward)": 96, "images evaluated (forward only)": 0,
                                  "forward passes (trained x 3 + evaluated)": 288}


# --- restoration ------------------------------------------------------------------------------


@pytest.fixture
def trained_model():
    """A model with batch norm, dropout and an SGD-momentum optimizer that has state, driven by a CLR."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((8,)),
        keras.layers.Dense(16),
        keras.layers.BatchNormalization(),
        keras.layers.Activation("relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(keras.optimizers.SGD(CyclicalLearningRate(0.01, 0.1, 5), momentum=0.9),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = classification_data()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    return model


def classification_data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32") + (x[:, 1] > 1).astype("int32")


def snapshot(model):
    values = [keras.ops.convert_to_numpy(v).copy() for v in model.variables + model.optimizer.variables]
    return model.optimizer, values, float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def assert_restored(model, before):
    optimizer, values, lr = before
    assert model.optimizer is optimizer
    after = [keras.ops.convert_to_numpy(v) for v in model.variables + model.optimizer.variables]
    assert len(after) == len(values) and all(np.array_equal(a, b) for a, b in zip(after, values))
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == lr  # the schedule is not shifted


def test_restored_bit_for_bit_after_a_full_sweep(trained_model):
    before = snapshot(trained_model)
    x, y = classification_data()
    result = LRFinder(trained_model).find(x, y, batch_size=16, start_lr=1e-4, end_lr=1e-2, num_batches=20,
                                         stop_rise=1e6)  # the whole sweep, whatever the loss does
    assert result.stopped_early == "" and len(result.lrs) == 20 and len(result.accuracies) == 20
    assert len(result.plot_accuracy(skip_begin=2, skip_end=2).get_lines()) == 3  # raw, causal, centred
    assert_restored(trained_model, before)
    trained_model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # and it still trains with its own optimizer
    assert int(keras.ops.convert_to_numpy(trained_model.optimizer.iterations)) == 30


def test_restored_after_an_early_stop(trained_model):
    before = snapshot(trained_model)
    x, y = classification_data()
    result = LRFinder(trained_model).find(x, y, batch_size=16, start_lr=1e-3, end_lr=1e6, num_batches=200)
    assert result.stopped_early and len(result.lrs) < 200
    assert_restored(trained_model, before)


def test_restored_after_nan_at_the_first_batch(trained_model):
    before = snapshot(trained_model)
    x, y = classification_data()
    x[:] = np.nan
    result = LRFinder(trained_model).find(x, y, batch_size=16, num_batches=20)
    assert len(result.losses) == 1 and "not finite at batch 0" in result.stopped_early
    with pytest.raises(ValueError, match="fewer than 3 remain"):
        result.suggest()
    assert_restored(trained_model, before)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_restored_after_an_exception_or_an_interrupt(error):
    model = zero_model()
    model.fit(np.ones((8, 3), "float32"), np.ones((8, 1), "float32"), verbose=0)
    before = snapshot(model)
    with pytest.raises(error, match="batch 6 could not be read"):
        LRFinder(model).find(SquaresDataset(fail_at=6, error=error), start_lr=1e-3, end_lr=1.0, num_batches=12,
                             stop_factor=1e6, stop_rise=1e6)
    assert_restored(model, before)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"start_lr": 1.0, "end_lr": 1.0}, "start_lr must be < end_lr"),
        ({"start_lr": 1.0, "end_lr": 0.1}, "start_lr must be < end_lr"),
        ({"start_lr": 0.0}, "start_lr must be > 0"),
        ({"end_lr": -1.0}, "end_lr must be > 0"),
        ({"num_batches": 5}, "at least 10"),
        ({"num_batches": 20, "epochs": 1}, "not both"),
        ({"mode": "cosine"}, "mode must be one of"),
        ({"beta": 1.0}, r"beta must be in \[0, 1\)"),
        ({"stop_factor": 1.0}, "stop_factor must be > 1"),
    ],
)
def test_bad_arguments_leave_the_model_untouched(trained_model, kwargs, message):
    before = snapshot(trained_model)
    x, y = classification_data()
    with pytest.raises(ValueError, match=message):
        LRFinder(trained_model).find(x, y, **kwargs)
    assert_restored(trained_model, before)


@pytest.mark.parametrize(
    "data",
    [
        (np.zeros((0, 8), "float32"), np.zeros((0,), "int32")),
        (SquaresDataset(batches=0), None),
        (tf.data.Dataset.from_tensor_slices((np.zeros((0, 8), "float32"), np.zeros((0,), "int32"))).batch(4), None),
    ],
    ids=["arrays", "PyDataset", "tf.data"],
)
def test_empty_data_is_refused(trained_model, data):
    before = snapshot(trained_model)
    with pytest.raises(ValueError, match="empty"):
        LRFinder(trained_model).find(*data)
    assert_restored(trained_model, before)


def test_uncompiled_model_is_refused():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compiled model.*model.compile"):
        LRFinder(model)


# --- reading a curve ----------------------------------------------------------------------


def synthetic_curve():
    """A loss that falls fastest at lr 1e-3 (a logistic step in log10 lr), bottoms out at
    lr 1e-1 and then climbs steeply: every reading has a known answer."""
    lrs = np.logspace(-6, 0, 241)  # 40 points per decade
    z = np.log10(lrs)
    losses = 2.0 - 1.5 / (1 + np.exp(-3 * (z + 3))) + 5 * np.maximum(0, z + 1) ** 2
    return RangeTestResult(lrs=lrs.tolist(), losses=losses.tolist(), smoothed_losses=losses.tolist(), beta=0.0)


def test_suggestions_on_a_known_curve():
    """The rules, read off the stored curve itself (``curve="causal"`` reads ``smoothed_losses``,
    here the exact loss)."""
    curve = synthetic_curve()
    assert curve.suggest("steepest", 0, 0, curve="causal") == pytest.approx(1e-3, rel=0.06)  # within one grid step
    lowest = curve.lrs[int(np.argmin(curve.losses))]
    assert 10 ** -1.2 < lowest <= 1e-1  # the logistic is still falling a little where the climb begins
    assert curve.suggest("minimum", 0, 0, curve="causal") == pytest.approx(lowest / 10)
    # valley: the whole fall, from the first point to the minimum, halfway in log10 lr
    assert curve.suggest("valley", 0, 0, curve="causal") == pytest.approx(np.sqrt(1e-6 * lowest), rel=0.06)


def test_bounds_on_a_known_curve():
    curve = synthetic_curve()
    base, top = curve.bounds(0, 0, curve="causal")
    assert top == curve.lrs[int(np.argmin(curve.losses))]
    # 10% of the fall: 1.5 / (1 + exp(-3 (z + 3))) = 0.15 * total fall (about 1.5), so z = -3 - ln(9) / 3
    assert np.log10(base) == pytest.approx(-3 - np.log(9) / 3, abs=0.05)


def test_the_centred_reading_of_a_known_curve():
    """The centred average (half width round(241 / 20) = 12 points, 0.3 decade) keeps the point-symmetric
    logistic's steepest point, and its minimum can move left by at most the half width: the steep climb
    on the right pulls up the averages that reach it, so the reading errs towards the safe side."""
    curve = synthetic_curve()
    assert curve.suggest("steepest", 0, 0) == pytest.approx(1e-3, rel=0.06)
    true_lowest = int(np.argmin(curve.losses))
    read = curve.lrs.index(curve.bounds(0, 0)[1])
    assert true_lowest - 12 <= read < true_lowest


def collapsing_curve():
    """A validation loss as lesson 03 saw it with Adam: it falls from ln 10 to a minimum at lr 1e-3,
    explodes, then falls back and saturates near ln 10 once the network has collapsed. The steepest
    slope of the whole curve is that fall back, past the minimum."""
    lrs = np.logspace(-6, 0, 121)
    z = np.log10(lrs)
    fall = 2.3 - 1.7 / (1 + np.exp(-4 * (z + 4.5)))
    explosion = np.where(z > -3, 8 * np.exp(-((z + 2.4) / 0.3) ** 2) + 1.7 * (1 - np.exp(-4 * (z + 3))), 0)
    losses = fall + explosion
    return RangeTestResult(lrs=lrs.tolist(), losses=losses.tolist(), smoothed_losses=losses.tolist(), beta=0.0)


@pytest.mark.parametrize("curve", ["causal", "centred"])
def test_no_reading_lies_past_the_minimum_of_the_curve_it_reads(curve):
    result = collapsing_curve()
    lrs, values = result._readable(0, 0, curve)
    lowest = lrs[int(np.argmin(values))]
    past = lrs[int(np.argmin(values)) + 1:]
    assert np.gradient(values, np.log10(lrs)).argmin() > int(np.argmin(values))  # the trap is there
    suggestions = result.suggestions(0, 0, curve=curve)
    assert all(lr <= lowest for lr in suggestions.values()), (suggestions, lowest)
    assert suggestions["steepest"] == pytest.approx(10 ** -4.5, rel=0.25)  # the fall, not the fall back
    assert result.bounds(0, 0, curve=curve)[1] == lowest and lowest < past[0]


class ScriptedModel:
    """Stands in for a model in the sweep: each update "trains" and reports the next scripted loss."""

    def __init__(self, losses):
        self.losses = iter(losses)

    def train_on_batch(self, x, y, return_dict=True):
        return {"loss": next(self.losses)}


def scripted_sweep(losses, **options):
    finder = LRFinder.__new__(LRFinder)
    finder.model = ScriptedModel(losses)
    rates = sweep_rates(1e-6, 1.0, len(losses))
    result = RangeTestResult([], [], [], beta=0.0, **options)
    finder._sweep(((None, np.zeros(1)) for _ in rates), rates, SimpleNamespace(learning_rate=0.0), None, result)
    return result


def test_the_sweep_stops_when_a_saturating_loss_climbs_back_though_it_never_reaches_four_times_its_best():
    losses = [2.3 - 1.7 * i / 40 for i in range(41)] + [0.6 + 1.7 * i / 10 for i in range(1, 11)] + [2.3] * 50
    assert scripted_sweep(losses).stopped_early == ""  # 4 x 0.6 = 2.4: above the saturated 2.3, never reached
    result = scripted_sweep(losses, stop_factor=4.0, stop_rise=0.75)
    assert "climbed back 75% of its fall at batch 48" in result.stopped_early  # 0.6 + 0.17 * 8 >= 0.6 + 0.75 * 1.7
    assert len(result.losses) == 49
    assert scripted_sweep(losses, stop_factor=4.0, stop_rise=1.0).stopped_early.startswith("the smoothed loss climbed back 100%")


def test_noise_before_the_loss_has_fallen_a_tenth_does_not_stop_the_sweep():
    plateau = [2.3 + 0.05 * (-1) ** i for i in range(30)]  # falls and climbs back 0.1, under a tenth of 2.35
    losses = plateau + [2.3 - 0.1 * i for i in range(1, 15)]
    result = scripted_sweep(losses, stop_rise=0.75)
    assert result.stopped_early == "" and len(result.losses) == len(losses)


def test_a_curve_that_never_falls_has_no_bounds():
    rising = RangeTestResult(lrs=np.logspace(-5, 0, 30).tolist(), losses=list(range(30)), smoothed_losses=list(range(30)))
    with pytest.raises(ValueError, match="never falls"):
        rising.bounds()


def test_accuracy_plot_needs_a_recorded_accuracy():
    with pytest.raises(ValueError, match="metrics=\\['accuracy'\\]"):
        synthetic_curve().plot_accuracy()


def test_json_round_trip_and_plot(tmp_path):
    curve = synthetic_curve()
    path = curve.save(tmp_path / "range_test.json")
    again = RangeTestResult.load(path)
    assert again == curve
    np.testing.assert_array_equal(again.reading_curve(), curve.reading_curve())
    ax = again.plot(skip_begin=20, skip_end=10)
    assert len(ax.get_lines()) == 3 + 3  # raw, causal, centred, three suggestions
    assert ax.get_xscale() == "log"
    labels = ax.get_legend_handles_labels()[1]
    assert any(label.startswith("minimum / 10: ") for label in labels)
    assert not any(label.startswith("minimum:") for label in labels)


def test_a_file_from_before_the_centred_reading_still_loads(tmp_path):
    old = {"lrs": [1e-3, 1e-2, 1e-1, 1.0], "losses": [3.0, 2.0, 1.0, 5.0], "smoothed_losses": [3.0, 2.6, 2.0, 2.9],
           "accuracies": [], "training_losses": [], "start_lr": 1e-3, "end_lr": 1.0, "mode": "exponential",
           "num_batches": 4, "beta": 0.98, "stop_factor": 4.0, "stopped_early": "", "loss_on": "training batch"}
    (tmp_path / "old.json").write_text(json.dumps(old))
    result = RangeTestResult.load(tmp_path / "old.json")
    np.testing.assert_allclose(result.reading_curve(), [3.0, 2.0, 8 / 3, 5.0])


def test_plot_fits_the_smoothed_curves_not_a_raw_spike():
    curve = synthetic_curve()
    curve.losses[60] = 21.5  # one batch spikes where the curve is near 2
    curve.smoothed_losses = smooth(curve.losses, 0.98)
    ax = curve.plot(skip_begin=10, skip_end=5)
    low, high = ax.get_ylim()
    assert high < 21.5
    window = slice(10, len(curve.lrs) - 5)
    for smoothed in (np.asarray(curve.smoothed_losses)[window], curve.reading_curve()[window]):
        up_to_lowest = smoothed[: np.argmin(smoothed) + 1]  # the fall is shown whole, spike bump included
        assert low < up_to_lowest.min() and up_to_lowest.max() < high


def test_a_curve_that_has_not_turned_up_warns_and_is_marked():
    falling = RangeTestResult(lrs=np.logspace(-5, 0, 60).tolist(), losses=np.linspace(3, 1, 60).tolist(),
                              smoothed_losses=np.linspace(3, 1, 60).tolist())
    with pytest.warns(UserWarning, match="not turned up.*raise end_lr or sweep longer") as caught:
        falling.bounds()
    assert {w.filename for w in caught} == {__file__}  # the caller's line, not the package's (a notebook cell)
    with pytest.warns(UserWarning) as caught:
        falling.suggestions()
    assert {w.filename for w in caught} == {__file__}
    with pytest.warns(UserWarning, match="not turned up"):
        labels = falling.plot().get_legend_handles_labels()[1]
    assert any("no turn up" in label for label in labels)


def test_a_curve_that_turns_up_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        synthetic_curve().plot()


def test_a_loss_that_is_not_finite_is_left_out_of_the_reading():
    lrs = np.logspace(-4, 0, 40)
    losses = (np.log10(lrs) + 1.5) ** 2 + 1
    losses[-1] = np.inf  # the sweep stopped here
    result = RangeTestResult(lrs=lrs.tolist(), losses=losses.tolist(), smoothed_losses=smooth(losses))
    assert np.isnan(result.reading_curve()[-1]) and np.isfinite(result.reading_curve()[:-1]).all()
    assert result.bounds(0, 0)[1] == pytest.approx(10 ** -1.5, rel=0.3)


def test_validation_loss_instead_of_the_training_batch():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    x, y = classification_data()
    x_val, y_val = classification_data(seed=1)
    result = LRFinder(model).find(x, y, batch_size=16, num_batches=15, start_lr=1e-3, end_lr=1.0,
                                  validation_data=(x_val, y_val))
    assert result.loss_on == "validation data" and len(result.training_losses) == 15
    assert result.losses != result.training_losses
    final = model.evaluate(x_val, y_val, verbose=0)  # the model is back at its start, so this is the start loss
    assert result.losses[0] < final  # the first update already lowered the validation loss a little
    # the cost counts what each update evaluated: all 160 validation images (fewer than validation_size, 512)
    assert result.cost() == {"updates": 15, "images trained on (forward + backward)": 15 * 16,
                             "images evaluated (forward only)": 15 * 160,
                             "forward passes (trained x 3 + evaluated)": 3 * 15 * 16 + 15 * 160}


# --- the analytic check: least squares diverges past 2 / lambda_max ------------------------------


def test_early_stop_and_max_bound_agree_with_the_divergence_limit():
    """Full-batch SGD on L(w) = mean((Xw - y)^2) has Hessian H = 2 X^T X / n. For lr < 2 / lambda_max(H)
    every eigen-component of the error shrinks at every step, so the loss falls monotonically: the
    test can neither stop nor bottom out below that limit. Above it the top component grows by
    |1 - lr lambda_max| per step, but from a tiny residual (it had converged), so the blow-up shows
    only some steps later, while the sweep keeps raising lr by 2.9% a step (measured: the raw loss is
    lowest at about 1.86 x, the early stop at 2.3 x). The centred reading (half width round(269 / 20) = 13)
    can sit at most 14 steps, a factor 1.029 ** 14 = 1.5, before the raw minimum, so at >= 1.2 x; measured:
    1.36 x (the causal moving average, lagging, read 2.1 x). Tolerance: all within [1, 2.5] x the limit."""
    rng = np.random.default_rng(0)
    n, d = 256, 20
    u, _ = np.linalg.qr(rng.standard_normal((n, d)))
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    x = (u * (np.logspace(0, -1.5, d) * np.sqrt(n))) @ v.T  # eigenvalues spread over three decades
    y = x @ rng.standard_normal(d)
    limit = 2 / np.linalg.eigvalsh(2 * x.T @ x / n).max()

    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    result = LRFinder(model).find(x.astype("float32"), y.astype("float32"), batch_size=n, num_batches=400,
                                  start_lr=1e-3 * limit, end_lr=1e2 * limit)
    assert "passed 4 x its best" in result.stopped_early
    assert 1.0 <= result.lrs[-1] / limit <= 2.5
    assert 1.0 <= result.bounds(skip_begin=0, skip_end=0)[1] / limit <= 2.5
    raw = np.asarray(result.losses)
    below = np.asarray(result.lrs) < limit
    assert np.all(np.diff(raw[below]) < 0)  # monotone fall below the limit, batch by batch


# --- the explorer -----------------------------------------------------------------------------


def test_draw_bounds_and_explorer():
    curve = synthetic_curve()
    fig, schedule = widgets.draw_bounds(curve, 1e-4, 1e-2, step_size=50)
    assert (schedule.base_lr, schedule.max_lr, schedule.step_size) == (1e-4, 1e-2, 50)
    assert fig.axes[1].get_lines()[0].get_ydata().max() == pytest.approx(1e-2)
    explorer = widgets.bounds_explorer(curve)
    sliders = {child.description: child for child in explorer.children if hasattr(child, "value")}
    base, top = curve.bounds(0, 0)
    assert sliders["base LR"].value == pytest.approx(base) and sliders["max LR"].value == pytest.approx(top)
    explorer.update()


def test_mixed_precision_model_is_swept_and_restored():
    from lrcourse import device, models

    try:
        device.setup(seed=0, mixed_precision=True)
        model = models.build("small_cnn", (8, 8, 1), 10)
        model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
    finally:
        device.setup(mixed_precision=False)
    x = np.random.default_rng(0).random((64, 8, 8, 1)).astype("float32")
    y = np.arange(64) % 10
    model.fit(x, y, batch_size=16, verbose=0)
    before = snapshot(model)
    result = LRFinder(model).find(x, y, batch_size=16, num_batches=12, start_lr=1e-4, end_lr=1e-1)
    assert len(result.losses) == 12 and np.isfinite(result.losses).all()
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    assert_restored(model, before)


def test_the_raw_curve_is_labelled_with_what_was_measured():
    from dataclasses import replace

    training = [line.get_label() for line in synthetic_curve().plot().get_lines()]
    validation = [line.get_label() for line in replace(synthetic_curve(), loss_on="validation data").plot().get_lines()]
    assert "loss of each batch" in training
    assert "loss on validation data after each update" in validation and "loss of each batch" not in validation
