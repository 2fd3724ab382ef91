"""Test setup: quiet TensorFlow, a headless Matplotlib, and a private Keras cache.

KERAS_HOME must be set before Keras is imported (Keras reads it once), so the loader tests
write their tiny archives into a fresh folder and never touch the user's ~/.keras.
"""

import os
import tempfile

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["MPLBACKEND"] = "Agg"
os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="lrcourse-keras-home-")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def keras_cache():
    """The ``datasets`` folder of the private Keras cache, emptied after the test."""
    import shutil
    from pathlib import Path

    folder = Path(os.environ["KERAS_HOME"]) / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    shutil.rmtree(folder)
