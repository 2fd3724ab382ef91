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


def test_small_cnn_builds():
    model = models.build("small_cnn", (28, 28, 1), 10)
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
    with pytest.raises(ValueError, match="model must be one of 'resnet', 'resnet_small', 'small_cnn'"):
        models.build("vgg", (8, 8, 1), 10)
