"""The data sets: offline ones directly, Keras' real loaders on tiny archives in Keras' cache format."""

import gzip
import io
import pickle
import tarfile
import urllib.error

import numpy as np
import pytest

from lrcourse import data


def test_digits_is_real_offline_data_scaled_to_unit_range():
    d = data.load("digits")
    assert d.input_shape == (8, 8, 1) and d.num_classes == 10
    assert len(d.x_train) + len(d.x_test) == 1797
    assert d.x_train.dtype == np.float32 and d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert set(np.unique(d.y_train)) == set(range(10))


def test_synthetic_is_repeatable_and_seeded():
    a, b, c = data.load("synthetic", seed=3), data.load("synthetic", seed=3), data.load("synthetic", seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.x_train.shape == (2000, 8, 8, 1) and a.x_test.shape == (500, 8, 8, 1)
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0


def test_random_subset_keeps_the_test_set_and_pairs():
    full = data.load("digits")
    part = data.load("digits", subset=100, seed=5)
    assert len(part.x_train) == 100 and len(part.x_test) == len(full.x_test)
    for x, y in zip(part.x_train[:10], part.y_train[:10]):  # every kept image still has its own label
        match = np.flatnonzero((full.x_train == x).all(axis=(1, 2, 3)))
        assert y in full.y_train[match]
    with pytest.raises(ValueError, match="subset must be at most"):
        data.load("digits", subset=10**6)
    with pytest.raises(ValueError, match="subset"):
        data.load("digits", subset=0)


def test_mean_subtraction_centres_the_training_images():
    d = data.load("digits", preprocessing="mean")
    np.testing.assert_allclose(d.x_train.mean(axis=0), 0.0, atol=1e-5)
    scaled = data.load("digits")
    np.testing.assert_allclose(d.x_test, scaled.x_test - scaled.x_train.mean(axis=0), atol=1e-6)


@pytest.mark.parametrize("kwargs, argument", [({"name": "imagenet"}, "name"), ({"name": "digits", "preprocessing": "std"}, "preprocessing")])
def test_unknown_choices_are_refused(kwargs, argument):
    with pytest.raises(ValueError, match=f"^{argument} must be one of"):
        data.load(**kwargs)


def test_unreachable_dataset_fails_and_names_the_offline_choices(keras_cache, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr("keras.src.utils.file_utils.urlretrieve", offline)
    for name in data.KERAS_DATASETS:
        with pytest.raises(data.DatasetUnavailableError) as error:
            data.load(name)
        assert "'digits'" in str(error.value) and "'synthetic'" in str(error.value) and name in str(error.value)


# --- Keras' real loaders, reading archives the tests write in Keras' cache format -------------


def _images(n, shape, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def _idx_gz(path, array, header_bytes):
    path.write_bytes(gzip.compress(b"\0" * header_bytes + array.tobytes()))


def test_fashion_mnist_through_the_keras_loader(keras_cache):
    folder = keras_cache / "fashion-mnist"
    folder.mkdir()
    x_train, x_test = _images(12, (28, 28), 0), _images(4, (28, 28), 1)
    y_train, y_test = np.arange(12, dtype=np.uint8) % 10, np.array([9, 0, 3, 1], dtype=np.uint8)
    _idx_gz(folder / "train-labels-idx1-ubyte.gz", y_train, 8)
    _idx_gz(folder / "train-images-idx3-ubyte.gz", x_train, 16)
    _idx_gz(folder / "t10k-labels-idx1-ubyte.gz", y_test, 8)
    _idx_gz(folder / "t10k-images-idx3-ubyte.gz", x_test, 16)
    d = data.load("fashion_mnist")
    assert d.input_shape == (28, 28, 1) and d.class_names[9] == "boot"
    np.testing.assert_allclose(d.x_train[..., 0], x_train / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(d.y_test, y_test)


@pytest.fixture
def trust_cached_files(monkeypatch):
    """MNIST and CIFAR-10 check the cached file's SHA-256 against the real archive's, which a
    test archive cannot match; everything after that check is Keras' own loading code."""
    monkeypatch.setattr("keras.src.utils.file_utils.validate_file", lambda *args, **kwargs: True)


def test_mnist_through_the_keras_loader(keras_cache, trust_cached_files):
    x_train, x_test = _images(6, (28, 28), 2), _images(3, (28, 28), 3)
    y_train, y_test = np.array([1, 2, 3, 4, 5, 6], np.uint8), np.array([7, 8, 9], np.uint8)
    np.savez(keras_cache / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    d = data.load("mnist", preprocessing="mean")
    assert d.x_train.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(d.x_test[..., 0], (x_test - x_train.mean(axis=0)) / 255.0, atol=1e-5)
    np.testing.assert_array_equal(d.y_train, y_train)


def test_cifar10_through_the_keras_loader(keras_cache, trust_cached_files):
    # Keras' loader fills five batches of 10,000 rows; a one-row batch broadcasts into its slot,
    # which keeps the archive tiny while every byte still goes through the real unpickling code.
    images = _images(6, (3072,), 4)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for i, name in enumerate([f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]):
            rows = slice(i, i + 1) if i < 5 else slice(4, 6)
            payload = pickle.dumps({b"data": images[rows], b"labels": list(range(rows.start, rows.stop))}, protocol=4)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    (keras_cache / "cifar-10-batches-py-target_archive").write_bytes(archive.getvalue())
    d = data.load("cifar10", subset=20, seed=0)
    assert d.input_shape == (32, 32, 3) and d.class_names[0] == "airplane" and len(d.x_train) == 20
    np.testing.assert_array_equal(d.y_test, [4, 5])
    expected_test = images[4:6].reshape(2, 3, 32, 32).transpose(0, 2, 3, 1) / 255.0
    np.testing.assert_allclose(d.x_test, expected_test, rtol=1e-6)
