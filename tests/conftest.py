"""Test setup: quiet TensorFlow, a headless Matplotlib, and a private Keras cache.

KERAS_HOME must be set before Keras is imported (Keras reads it once), so the loader tests
write their tiny archives into a fresh folder and never touch the user's ~/.keras.
"""

import os
import tempfile

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
os.environ["MPLBACKEND"] = "Agg"
os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="lrcourse-keras-home-")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

ON_TORCH = keras.backend.backend() == "torch"
# Keras refuses steps_per_execution > 1 on torch (it runs one step a call), so a test of grouped steps has no meaning there.
grouped_steps = pytest.mark.skipif(ON_TORCH, reason="steps_per_execution > 1: Keras' torch backend runs one step a call")


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


def every_schedule(updates, steps_per_epoch):
    """A small example of every schedule in ``lrcourse.schedules``, as factories (a fresh object a
    call), for a run of ``updates`` optimizer updates, ``steps_per_epoch`` to an epoch."""
    from lrcourse.schedules import (Anneal, Constant, CosineRestarts, CyclicalLearningRate, Join, OneCycle,
                                    PolynomialDecay, StepDecay, TimeBasedDecay, WarmupCosine)

    epochs = updates // steps_per_epoch
    return {
        "StepDecay": lambda: StepDecay(0.1, factor=0.5, drop_every=2, steps_per_epoch=steps_per_epoch),
        "PolynomialDecay": lambda: PolynomialDecay(epochs, 0.1, power=2, steps_per_epoch=steps_per_epoch),
        "TimeBasedDecay": lambda: TimeBasedDecay(0.1, decay=0.2),
        "CyclicalLearningRate": lambda: CyclicalLearningRate(0.01, 0.1, step_size=3, mode="triangular2"),
        "Constant": lambda: Constant(0.05),
        "Anneal": lambda: Anneal(0.1, 0.001, steps=updates),
        "Join": lambda: Join([Anneal(0.0, 0.1, 5, "linear"), Constant(0.05)], boundaries=[5]),
        "WarmupCosine": lambda: WarmupCosine(0.1, warmup_steps=4, decay_steps=12),
        "CosineRestarts": lambda: CosineRestarts(0.1, first_period=3, cycles=3, alpha=0.01),
        "OneCycle": lambda: OneCycle(0.1, total_steps=updates),
    }
