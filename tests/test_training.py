import json

import keras
import numpy as np
import pytest

from lrcourse import callbacks, data, training
from lrcourse.schedules import PolynomialDecay, StepDecay, TimeBasedDecay


@pytest.fixture(scope="module")
def tiny_data():
    # 200 training examples, batch 32 -> 7 updates per epoch (the last batch is short)
    return data.load("synthetic", subset=200, seed=1)


def tiny_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])


def fit(tiny_data, **kwargs):
    kwargs.setdefault("epochs", 3)
    return training.train(tiny_model(), tiny_data, batch_size=32, **kwargs)


def test_records_the_rate_the_optimizer_applied_at_every_update(tiny_data):
    schedule = StepDecay(0.2, factor=0.5, drop_every=1)  # halves every epoch
    run = fit(tiny_data, learning_rate=schedule)
    assert run.steps_per_epoch == 7
    assert run.iterations == list(range(21))
    expected = [0.2 * 0.5 ** ((1 + k // 7) // 1) for k in range(21)]
    np.testing.assert_allclose(run.learning_rates, expected, rtol=1e-6)


def test_update_based_schedule_changes_within_the_epoch(tiny_data):
    run = fit(tiny_data, learning_rate=TimeBasedDecay(0.1, decay=0.05), epochs=2)
    np.testing.assert_allclose(run.learning_rates, [0.1 / (1 + 0.05 * k) for k in range(14)], rtol=1e-6)


@pytest.mark.parametrize(
    "schedule",
    [StepDecay(0.1, factor=0.5, drop_every=2), PolynomialDecay(4, 0.1, power=2.0), TimeBasedDecay(0.1, 0.02)],
)
def test_in_graph_and_callback_give_the_same_rate_each_epoch(tiny_data, schedule):
    in_graph = fit(tiny_data, learning_rate=schedule, epochs=4)
    callback = fit(tiny_data, learning_rate=schedule, epochs=4, schedule_as="callback")
    first_update_of_epoch = slice(None, None, 7)
    np.testing.assert_allclose(
        callback.learning_rates[first_update_of_epoch], in_graph.learning_rates[first_update_of_epoch], rtol=1e-6
    )
    if schedule.unit == "epoch":  # constant within an epoch, so every update agrees
        np.testing.assert_allclose(callback.learning_rates, in_graph.learning_rates, rtol=1e-6)


def test_a_model_saved_mid_training_resumes_with_the_right_rate(tiny_data, tmp_path):
    schedule = StepDecay(0.2, factor=0.5, drop_every=2)
    straight = fit(tiny_data, learning_rate=schedule, epochs=5)

    model = tiny_model()
    training.train(model, tiny_data, learning_rate=schedule, epochs=2, batch_size=32)
    model.save(tmp_path / "half.keras")
    resumed = keras.saving.load_model(tmp_path / "half.keras")
    assert isinstance(resumed.optimizer._learning_rate, StepDecay)
    recorder = callbacks.LearningRateRecorder()
    resumed.fit(tiny_data.x_train, tiny_data.y_train, batch_size=32, epochs=3, callbacks=[recorder], verbose=0)
    assert recorder.iterations == straight.iterations[14:]
    np.testing.assert_allclose(recorder.learning_rates, straight.learning_rates[14:], rtol=1e-6)


def test_record_is_written_and_read_back(tiny_data, tmp_path):
    run = fit(tiny_data, learning_rate=0.05, epochs=1, name="constant", params={"seed": 1})
    path = run.save(tmp_path / "constant.json")
    stored = json.loads(path.read_text())
    assert stored["params"]["seed"] == 1 and stored["params"]["train_examples"] == 200
    assert stored["device"]["kind"] in ("CPU", "GPU")
    assert stored["report"]["accuracy"] == pytest.approx(run.test_accuracy)
    assert training.RunResult.load(path).learning_rates == run.learning_rates
    assert 0.0 <= run.test_accuracy <= 1.0 and "precision" in run.report_text


def test_validation_is_watched_every_epoch_and_the_test_split_read_once(tiny_data):
    run = fit(tiny_data, learning_rate=0.05, epochs=2)
    assert run.val_accuracy == run.history["val_accuracy"][-1] and run.val_loss == run.history["val_loss"][-1]
    assert run.report["accuracy"] == pytest.approx(run.test_accuracy)
    assert sum(run.report[name]["support"] for name in tiny_data.class_names) == len(tiny_data.y_test)
    assert run.params["validation_examples"] == len(tiny_data.x_val) and run.params["test_examples"] == len(tiny_data.x_test)
    # the cost: 2 epochs of 7 updates over the 200 training images; validation after each epoch, the test split twice
    evaluated = 2 * len(tiny_data.x_val) + 2 * len(tiny_data.x_test)
    assert run.cost() == {"updates": 14, "images trained on (forward + backward)": 400,
                          "images evaluated (forward only)": evaluated,
                          "forward passes (trained x 3 + evaluated)": 1200 + evaluated}


def test_optimizer_and_learning_rate_are_exclusive(tiny_data):
    with pytest.raises(ValueError, match="exactly one"):
        fit(tiny_data, learning_rate=0.1, optimizer=keras.optimizers.SGD())
    with pytest.raises(ValueError, match="exactly one"):
        fit(tiny_data)
    with pytest.raises(ValueError, match="schedule_as"):
        fit(tiny_data, learning_rate=0.1, schedule_as="batch")


def test_mixed_precision_path_records_the_same_rates(tiny_data):
    """The GPU default (mixed_float16, a loss-scaling optimizer) exercised on the CPU."""
    from lrcourse import device, models

    try:
        assert device.setup(seed=0, mixed_precision=True)["precision"] == "mixed_float16"
        model = models.build("resnet_small", tiny_data.input_shape, tiny_data.num_classes)
        run = training.train(model, tiny_data, learning_rate=StepDecay(0.1, 0.5, 1), epochs=2, batch_size=32)
    finally:
        device.setup(mixed_precision=False)
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"
    np.testing.assert_allclose(run.learning_rates, [0.05] * 7 + [0.025] * 7, rtol=1e-6)
    assert np.isfinite(run.history["loss"]).all()


def test_the_docstring_examples_hold():
    import doctest

    result = doctest.testmod(training)
    assert result.attempted >= 1 and result.failed == 0
