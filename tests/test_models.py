import keras
import numpy as np
import pytest

from lrcourse import models


def _count(model, layer_type):
    return sum(isinstance(layer, layer_type) for layer in model.layers)


def test_seed_resnet_has_the_seed_depth_and_widths():
    model = models.build("resnet", (32, 32, 3), 10)
    # stem + 27 bottleneck blocks of 3 convolutions + one projection per stage
    assert _count(model, keras.layers.Conv2D) == 1 + 27 * 3 + 3
    assert model.output_shape == (None, 10)
    widths = sorted({layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)})
    assert widths == [16, 32, 64, 128, 256]  # bottleneck f/4 widths and the stage outputs
    regularised = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.kernel_regularizer.l2 == pytest.approx(5e-4) for layer in regularised)


def test_small_resnet_trains_on_8x8_images_and_predicts_probabilities():
    model = models.build("resnet_small", (8, 8, 1), 10)
    assert _count(model, keras.layers.Add) == 3
    probabilities = model.predict(np.zeros((2, 8, 8, 1), "float32"), verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_resolution_halves_in_every_stage_after_the_first():
    model = models.preact_resnet((32, 32, 3), 10, stages=(1, 1, 1), filters=(8, 16, 32, 64))
    adds = [layer.output.shape[1:3] for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert adds == [(32, 32), (16, 16), (8, 8)]


@pytest.mark.parametrize("name", ["small_cnn", "mlp"])
def test_small_models_build(name):
    model = models.build(name, (28, 28, 1), 10)
    assert model.output_shape == (None, 10) and model.layers[-1].dtype_policy.compute_dtype == "float32"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"stages": (1, 1), "filters": (16, 16, 32, 64)}, "filters needs one entry"),
        ({"stages": (1, 1, 1), "filters": (16, 18, 32, 64)}, "divisible by 4"),
        ({"stages": (1, 1, 1), "filters": (16, 16, 32, 64), "l2": -1.0}, "l2 must be >= 0"),
    ],
)
def test_bad_resnet_settings_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.preact_resnet((8, 8, 1), 10, **kwargs)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="model must be one of 'resnet', 'resnet_small', 'mini_googlenet', 'mini_googlenet_small', 'mnist_cnn', 'mlp', 'small_cnn'"):
        models.build("vgg", (8, 8, 1), 10)


def test_mini_googlenet_at_the_seed_size():
    model = models.build("mini_googlenet", (32, 32, 3), 10)
    assert _count(model, keras.layers.Concatenate) == 10  # eight Inception and two downsample modules
    assert model.count_params() == pytest.approx(1.65e6, rel=0.01)  # the seed network's size
    assert any(isinstance(layer, keras.layers.Dropout) and layer.rate == 0.5 for layer in model.layers)


def test_small_mini_googlenet_runs_on_8x8_images():
    model = models.build("mini_googlenet_small", (8, 8, 1), 10)
    assert model.count_params() < 0.1 * models.build("mini_googlenet", (8, 8, 1), 10).count_params()
    assert model.predict(np.zeros((2, 8, 8, 1), "float32"), verbose=0).shape == (2, 10)


def test_augmentation_acts_only_in_training():
    layer = models.augmentation(shift=0.1, flip=True, seed=1)
    image = np.zeros((1, 20, 20, 1), "float32")
    image[0, 8:12, 2:6] = 1.0  # a bright square off centre
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(image, training=False)), image)
    moved = [keras.ops.convert_to_numpy(layer(image, training=True)) for _ in range(8)]
    assert any(not np.array_equal(m, image) for m in moved)
    for m in moved:  # a shift of at most 10% (2 pixels) keeps the square whole and inside a margin
        rows, cols = np.nonzero(m[0, ..., 0] > 0.5)
        assert rows.min() >= 6 and rows.max() <= 13
        assert (cols.min() >= 0 and cols.max() <= 7) or (cols.min() >= 12)  # flipped: mirrored to the right


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="XLA is turned off for augmentation on TensorFlow only")
def test_augmentation_keeps_the_model_compiled_with_xla_on_jax():
    augmented = models.with_augmentation(models.build("small_cnn", (8, 8, 1), 3), seed=0)
    augmented.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True)
    assert augmented.jit_compile is True  # Keras would fall back to running every op on its own
    x, y = np.random.default_rng(0).random((8, 8, 8, 1), dtype="float32"), np.arange(8) % 3
    assert np.isfinite(augmented.fit(x, y, batch_size=4, epochs=1, verbose=0).history["loss"][0])


def test_with_augmentation_is_transparent_at_inference():
    model = models.build("small_cnn", (8, 8, 1), 10)
    augmented = models.with_augmentation(model)
    x = np.random.default_rng(0).random((4, 8, 8, 1)).astype("float32")
    np.testing.assert_allclose(augmented.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_mnist_cnn_has_the_article_layers():
    model = models.build("mnist_cnn", (28, 28, 1), 10)
    dense = [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    convs = [layer.filters for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert convs == [32, 64] and dense == [256, 128, 10] and _count(model, keras.layers.MaxPooling2D) == 2
    assert models.build("mnist_cnn", (8, 8, 1), 10).output_shape == (None, 10)
