"""Data sets for the lessons, loaded the real way, with the seeds' preprocessing.

``load(name)`` returns a :class:`Dataset` of float32 images (N, H, W, C) and integer labels.

* ``"cifar10"``, ``"mnist"``, ``"fashion_mnist"``: Keras' own loaders. They download once into
  Keras' cache (``$KERAS_HOME``, default ``~/.keras/datasets``), then read the cache.
* ``"digits"``: scikit-learn's bundled 8x8 handwritten digits (1,797 real images), offline.
* ``"synthetic"``: generated 8x8 images, ten noisy class templates; offline, any size.

A data set that was asked for and cannot be loaded raises :class:`DatasetUnavailableError`,
which names the offline choices. Nothing is ever silently replaced by another data set.
"""

from dataclasses import dataclass, replace

import numpy as np

from lrcourse import _checks

KERAS_DATASETS = ("cifar10", "mnist", "fashion_mnist")
OFFLINE_DATASETS = ("digits", "synthetic")
DATASETS = KERAS_DATASETS + OFFLINE_DATASETS
PREPROCESSING = ("scale", "mean")

CLASS_NAMES = {
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "fashion_mnist": ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"],
}


class DatasetUnavailableError(RuntimeError):
    """A data set that was asked for by name could not be loaded."""


@dataclass(frozen=True)
class Dataset:
    """Train and test splits, ready for ``model.fit``: float32 images and int labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list

    @property
    def input_shape(self):
        return self.x_train.shape[1:]

    @property
    def num_classes(self):
        return len(self.class_names)

    def summary(self):
        return (
            f"{self.name}: {len(self.x_train)} train / {len(self.x_test)} test images of "
            f"shape {self.input_shape}, {self.num_classes} classes"
        )


def load(name, subset=None, preprocessing="scale", seed=0):
    """Load a data set by name.

    Args:
        name: one of ``DATASETS``.
        subset: keep only this many training examples, drawn at random (the test set is kept
            whole, so accuracies stay comparable). ``None`` keeps everything.
        preprocessing: ``"scale"`` maps pixels to [0, 1] (the schedules seed); ``"mean"`` also
            subtracts the mean training image (the CLR seed's mean subtraction).
        seed: seeds the subset draw and the synthetic data.
    """
    _checks.choice("name", name, DATASETS)
    _checks.choice("preprocessing", preprocessing, PREPROCESSING)
    if name in KERAS_DATASETS:
        (x_train, y_train), (x_test, y_test) = _load_keras(name)
        pixel_max = 255.0
    elif name == "digits":
        (x_train, y_train), (x_test, y_test) = _load_digits()
        pixel_max = 16.0
    else:
        (x_train, y_train), (x_test, y_test) = _make_synthetic(seed)
        pixel_max = 1.0
    data = Dataset(
        name=name,
        x_train=_as_images(x_train) / pixel_max,
        y_train=np.asarray(y_train, dtype="int32").reshape(-1),
        x_test=_as_images(x_test) / pixel_max,
        y_test=np.asarray(y_test, dtype="int32").reshape(-1),
        class_names=CLASS_NAMES.get(name, [str(i) for i in range(10)]),
    )
    if subset is not None:
        data = random_subset(data, subset, seed)
    if preprocessing == "mean":
        data = subtract_mean(data)
    return data


def random_subset(data, size, seed=0):
    """The same data set with ``size`` training examples drawn at random without replacement."""
    size = _checks.count("subset", size)
    if size > len(data.x_train):
        raise ValueError(
            f"subset must be at most the {len(data.x_train)} training examples of {data.name}; got {size}"
        )
    keep = np.random.default_rng(seed).permutation(len(data.x_train))[:size]
    return replace(data, x_train=data.x_train[keep], y_train=data.y_train[keep])


def subtract_mean(data):
    """Subtract the mean training image from both splits (the CLR seed's preprocessing)."""
    mean = data.x_train.mean(axis=0)
    return replace(data, x_train=data.x_train - mean, x_test=data.x_test - mean)


def _as_images(x):
    x = np.asarray(x, dtype="float32")
    return x[..., np.newaxis] if x.ndim == 3 else x


def _load_keras(name):
    import keras

    loader = getattr(keras.datasets, name).load_data
    try:
        return loader()
    except Exception as error:  # Keras raises a bare Exception for a failed download
        raise DatasetUnavailableError(
            f"could not load {name!r} with keras.datasets.{name}.load_data(): {error}\n"
            f"It downloads once into Keras' cache ($KERAS_HOME/datasets, default ~/.keras/datasets), "
            f"so the first load needs a network connection (a damaged cached file can be deleted there "
            f"to fetch it again). Offline, choose one of {', '.join(map(repr, OFFLINE_DATASETS))} instead."
        ) from error


def _load_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    return (x_train, y_train), (x_test, y_test)


def _make_synthetic(seed, n_train=2000, n_test=500, size=8, classes=10, noise=0.35):
    """Ten random 8x8 templates; each example is its class template plus Gaussian noise,
    shifted by up to one pixel, so a small network needs a sensible learning rate to fit it."""
    rng = np.random.default_rng(seed)
    templates = rng.random((classes, size, size))

    def sample(n):
        y = rng.integers(0, classes, n)
        x = templates[y] + noise * rng.standard_normal((n, size, size))
        shifts = rng.integers(-1, 2, (n, 2))
        x = np.stack([np.roll(img, tuple(s), axis=(0, 1)) for img, s in zip(x, shifts)])
        return np.clip(x, 0.0, 1.0), y

    return sample(n_train), sample(n_test)
