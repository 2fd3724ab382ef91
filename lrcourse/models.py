"""The lessons' networks, as functional Keras 3 models.

* :func:`preact_resnet`: the schedules seed's pre-activation bottleneck ResNet (He et al. 2016,
  "Identity Mappings in Deep Residual Networks"), with its stages, filters and L2 configurable.
* :func:`mini_googlenet`: the CLR seed's MiniGoogLeNet, the small Inception network of Zhang
  et al. 2017 ("Understanding deep learning requires rethinking generalization"), with a width
  multiplier for CPU runs.
* :func:`mnist_cnn`: the MachineCurve article's MNIST CNN, used for its range test.
* :func:`small_cnn`: a small plain CNN for quick CPU runs.
* :func:`augmentation`: the seeds' on-the-fly augmentation (10% shifts, horizontal flips).

``build(name, input_shape, num_classes)`` picks one by name; ``MODELS`` lists the names. The
last layer always computes in float32, so the models also train under mixed precision.
"""

import keras
from keras import layers

from lrcourse import _checks

RESNET_SEED = {"stages": (9, 9, 9), "filters": (64, 64, 128, 256), "l2": 5e-4}
RESNET_SMALL = {"stages": (1, 1, 1), "filters": (16, 16, 32, 64), "l2": 5e-4, "stem_stride": 2}


def _bottleneck(x, filters, stride, l2, project):
    """BN-ReLU-conv1x1 -> BN-ReLU-conv3x3 -> BN-ReLU-conv1x1, added to the shortcut.

    The shortcut is a strided 1x1 convolution of the pre-activated input when the block
    changes the number of channels or the resolution (``project``), else the input itself.
    """
    reg = keras.regularizers.L2(l2)
    conv = dict(use_bias=False, kernel_regularizer=reg)
    pre = layers.Activation("relu")(layers.BatchNormalization()(x))
    shortcut = layers.Conv2D(filters, 1, strides=stride, **conv)(pre) if project else x
    y = layers.Conv2D(filters // 4, 1, **conv)(pre)
    y = layers.Activation("relu")(layers.BatchNormalization()(y))
    y = layers.Conv2D(filters // 4, 3, strides=stride, padding="same", **conv)(y)
    y = layers.Activation("relu")(layers.BatchNormalization()(y))
    y = layers.Conv2D(filters, 1, **conv)(y)
    return layers.Add()([y, shortcut])


def preact_resnet(input_shape, num_classes, stages=(9, 9, 9), filters=(64, 64, 128, 256), l2=5e-4, stem_stride=1):
    """Pre-activation bottleneck ResNet.

    A 3x3 stem convolution with ``filters[0]`` channels (``stem_stride`` 2 halves the resolution
    at once: the CPU-sized ``RESNET_SMALL`` does that, so a 28x28 image costs a quarter), then one stage per entry of
    ``stages``: stage ``i`` has ``stages[i]`` bottleneck blocks with ``filters[i + 1]`` output
    channels; every stage after the first halves the resolution in its first block. Then
    BN-ReLU, global average pooling and a softmax. The seed's CIFAR-10 network is
    ``stages=(9, 9, 9), filters=(64, 64, 128, 256), l2=0.0005`` (``RESNET_SEED``).
    """
    if len(filters) != len(stages) + 1:
        raise ValueError(
            f"filters needs one entry for the stem plus one per stage ({len(stages) + 1}); got {filters!r}"
        )
    for i, f in enumerate(filters[1:], start=1):
        if f % 4:
            raise ValueError(f"filters[{i}] must be divisible by 4 (bottleneck width f/4); got {f}")
    l2 = _checks.non_negative("l2", l2)
    inputs = keras.Input(input_shape)
    x = layers.BatchNormalization()(inputs)
    x = layers.Conv2D(filters[0], 3, strides=stem_stride, padding="same", use_bias=False,
                      kernel_regularizer=keras.regularizers.L2(l2))(x)
    for i, blocks in enumerate(stages):
        stride = 1 if i == 0 else 2
        x = _bottleneck(x, filters[i + 1], stride, l2, project=True)
        for _ in range(blocks - 1):
            x = _bottleneck(x, filters[i + 1], 1, l2, project=False)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", kernel_regularizer=keras.regularizers.L2(l2))(x)
    return keras.Model(inputs, outputs, name="preact_resnet")


def mnist_cnn(input_shape, num_classes, padding="same"):
    """conv 32 - max-pool - conv 64 - max-pool - dense 256 - dense 128 - softmax (3x3 kernels, ReLU).

    ``padding="same"`` keeps 8x8 digits large enough for both poolings; the article's 28x28
    MNIST images also work with ``"valid"``.
    """
    inputs = keras.Input(input_shape)
    x = layers.MaxPooling2D()(layers.Conv2D(32, 3, padding=padding, activation="relu")(inputs))
    x = layers.MaxPooling2D()(layers.Conv2D(64, 3, padding=padding, activation="relu")(x))
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mnist_cnn")


def mlp(input_shape, num_classes):
    """flatten - dense 256 - dense 128 - softmax (ReLU): the MNIST CNN's head without its convolutions,
    a second, differently shaped problem for the same data (the range-test benchmark uses both)."""
    inputs = keras.Input(input_shape)
    x = layers.Dense(256, activation="relu")(layers.Flatten()(inputs))
    x = layers.Dense(128, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mlp")


def small_cnn(input_shape, num_classes, width=32):
    """conv(w) - conv(w) - pool - conv(2w) - global pool - dense softmax; BN after each conv."""
    inputs = keras.Input(input_shape)
    x = inputs
    for channels, pool in ((width, False), (width, True), (2 * width, False)):
        x = layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
        if pool:
            x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def _conv_bn_relu(x, filters, size, stride=1, padding="same"):
    x = layers.Conv2D(filters, size, strides=stride, padding=padding, use_bias=False)(x)
    return layers.Activation("relu")(layers.BatchNormalization()(x))


def _inception(x, filters_1x1, filters_3x3):
    """A 1x1 and a 3x3 convolution side by side, their channels concatenated."""
    return layers.Concatenate()([_conv_bn_relu(x, filters_1x1, 1), _conv_bn_relu(x, filters_3x3, 3)])


def _downsample(x, filters):
    """A strided 3x3 convolution beside a 3x3 max-pool, concatenated: half the resolution."""
    conv = _conv_bn_relu(x, filters, 3, stride=2, padding="valid")
    return layers.Concatenate()([conv, layers.MaxPooling2D(3, strides=2)(x)])


def mini_googlenet(input_shape, num_classes, width=1.0):
    """MiniGoogLeNet: conv 96, two Inception modules, downsample, four Inception modules,
    downsample, two Inception modules, global average pooling, dropout 0.5, softmax.

    ``width`` scales every channel count (1.0 is the seed's network; 0.25 trains on a CPU).
    """
    width = _checks.positive("width", width)

    def c(n):
        return max(1, round(n * width))

    inputs = keras.Input(input_shape)
    x = _conv_bn_relu(inputs, c(96), 3)
    x = _inception(x, c(32), c(32))
    x = _inception(x, c(32), c(48))
    x = _downsample(x, c(80))
    for k1, k3 in ((112, 48), (96, 64), (80, 80), (48, 96)):
        x = _inception(x, c(k1), c(k3))
    x = _downsample(x, c(96))
    x = _inception(x, c(176), c(160))
    x = _inception(x, c(176), c(160))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="mini_googlenet")


def augmentation(shift=0.1, flip=True, seed=None):
    """Random shifts of up to ``shift`` of the size and horizontal flips, as Keras layers.

    Placed at the start of a model they augment every training batch on the fly (on the GPU
    when there is one) and pass images through unchanged at evaluation and prediction.
    """
    translation = layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed)
    # Keras marks this layer as unfit for XLA (TensorFlow's image-transform op is), and one such layer
    # turns jit_compile off for the whole model. JAX's transform compiles, and without it every op of
    # every update runs on its own: keep the model compiled there.
    translation.supports_jit = translation.supports_jit or keras.backend.backend() == "jax"
    steps = [translation]
    if flip:
        steps.append(layers.RandomFlip("horizontal", seed=seed))
    return keras.Sequential(steps, name="augmentation")


def with_augmentation(model, shift=0.1, flip=True, seed=None):
    """``model`` with :func:`augmentation` in front of it."""
    inputs = keras.Input(model.input_shape[1:])
    return keras.Model(inputs, model(augmentation(shift, flip, seed)(inputs)), name=f"{model.name}_augmented")


MODELS = {
    "resnet": lambda shape, n: preact_resnet(shape, n, **RESNET_SEED),
    "resnet_small": lambda shape, n: preact_resnet(shape, n, **RESNET_SMALL),
    "mini_googlenet": mini_googlenet,
    "mini_googlenet_small": lambda shape, n: mini_googlenet(shape, n, width=0.25),
    "mnist_cnn": mnist_cnn,
    "mlp": mlp,
    "small_cnn": small_cnn,
}


def build(name, input_shape, num_classes):
    """Build the model called ``name`` (a key of ``MODELS``) for the given data shape."""
    _checks.choice("model", name, tuple(MODELS))
    return MODELS[name](tuple(input_shape), num_classes)
