"""Train a model with a learning-rate schedule and keep an honest record of the run.

:func:`train` compiles and fits, records the learning rate the optimizer actually applied at
every update, evaluates on the test split (accuracy and scikit-learn's classification report),
and writes a JSON record of the parameters, the device and the results: an experiment log.

On a GPU it is fast with no extra code: ``device.setup`` turns on mixed precision (Keras then
wraps the optimizer in a loss-scaling one), Keras compiles the step (with XLA where it can,
``jit_compile="auto"``), and NumPy arrays reach the GPU through Keras' own ``tf.data`` pipeline,
which gathers batches in parallel and prefetches them.
"""

import json
import math
import time
from dataclasses import asdict, dataclass, field

import keras
import numpy as np

from lrcourse import device, paths
from lrcourse.callbacks import LearningRateRecorder
from lrcourse._checks import choice
from lrcourse.schedules import LearningRateDecay


@dataclass
class RunResult:
    """What one training run did and reached. ``learning_rates[i]`` was applied at ``iterations[i]``."""

    name: str
    history: dict
    iterations: list
    learning_rates: list
    test_loss: float
    test_accuracy: float
    report: dict
    report_text: str
    seconds: float
    steps_per_epoch: int
    device: dict
    params: dict = field(default_factory=dict)

    def save(self, output_dir):
        """Write the record to ``output_dir/runs/<name>.json`` and return the path."""
        path = paths.resolve(output_dir) / "runs" / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1, default=_jsonable))
        return path

    @classmethod
    def load(cls, path):
        return cls(**json.loads(paths.resolve(path).read_text()))


def _describe(optimizer):
    """The optimizer's config for the record; a schedule that cannot be serialised (an
    anonymous ``scale_fn``) is recorded by its ``repr`` instead of failing the run."""
    try:
        return optimizer.get_config()
    except ValueError:
        return {"class_name": type(optimizer).__name__, "learning_rate": repr(optimizer._learning_rate)}


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


OPTIMIZERS = ("sgd", "adam")


def make_optimizer(name, learning_rate, momentum=0.9):
    """``"sgd"`` (with ``momentum``) or ``"adam"``, at a float rate or a schedule."""
    choice("optimizer", name, OPTIMIZERS)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)


def train(
    model,
    data,
    *,
    epochs,
    batch_size,
    learning_rate=None,
    momentum=0.9,
    optimizer=None,
    schedule_as="optimizer",
    name="run",
    output_dir=None,
    params=None,
    callbacks=(),
    verbose=0,
):
    """Compile ``model`` with SGD and fit it on ``data`` (a :class:`lrcourse.data.Dataset`).

    Args:
        learning_rate: a float (constant) or a :class:`~lrcourse.schedules.LearningRateDecay`.
        schedule_as: ``"optimizer"`` evaluates the schedule inside the compiled step at every
            update; ``"callback"`` sets it once per epoch with a ``LearningRateScheduler``.
        optimizer: a ready optimizer to use instead of SGD(learning_rate, momentum); then
            ``learning_rate`` must be left out.
        output_dir: where the JSON record goes (``<output_dir>/runs/<name>.json``); None writes none.
        params: extra values to store in the record, such as the notebook's parameters.
    """
    choice("schedule_as", schedule_as, ("optimizer", "callback"))
    steps_per_epoch = math.ceil(len(data.x_train) / batch_size)
    callbacks = list(callbacks)
    if isinstance(learning_rate, LearningRateDecay):
        if learning_rate.steps_per_epoch is None:
            learning_rate = learning_rate.with_steps_per_epoch(steps_per_epoch)
        if schedule_as == "callback":
            callbacks.append(learning_rate.epoch_callback())
            learning_rate = learning_rate.at_epoch(0)
    if (optimizer is None) == (learning_rate is None):
        raise ValueError("pass exactly one of learning_rate=... (for SGD) or optimizer=...")
    if optimizer is None:
        optimizer = make_optimizer("sgd", learning_rate, momentum)

    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    recorder = LearningRateRecorder()
    start = time.perf_counter()
    history = model.fit(
        data.x_train,
        data.y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(data.x_test, data.y_test),
        callbacks=[*callbacks, recorder],
        verbose=verbose,
    )
    seconds = time.perf_counter() - start

    # the test split is the validation data, so the last epoch's validation loss is the test loss
    predicted = np.argmax(model.predict(data.x_test, batch_size=batch_size, verbose=0), axis=1)
    report_args = dict(
        y_true=data.y_test,
        y_pred=predicted,
        labels=list(range(data.num_classes)),
        target_names=data.class_names,
        zero_division=0,
    )
    from sklearn.metrics import classification_report

    result = RunResult(
        name=name,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        iterations=recorder.iterations,
        learning_rates=recorder.learning_rates,
        test_loss=history.history["val_loss"][-1],
        test_accuracy=float(np.mean(predicted == data.y_test)),
        report=classification_report(output_dict=True, **report_args),
        report_text=classification_report(**report_args),
        seconds=seconds,
        steps_per_epoch=steps_per_epoch,
        device=device.describe(),
        params={
            "epochs": epochs,
            "batch_size": batch_size,
            "dataset": data.name,
            "train_examples": len(data.x_train),
            "model": model.name,
            "optimizer": _describe(optimizer),
            "schedule_as": schedule_as,
            **(params or {}),
        },
    )
    if output_dir is not None:
        result.save(output_dir)
    return result


def results_table(results, sort=True):
    """A Markdown table of runs: test accuracy, final losses, LR at start and end, time."""
    rows = sorted(results, key=lambda r: -r.test_accuracy) if sort else list(results)
    lines = [
        "| run | test accuracy | final train loss | final val loss | first LR | last LR | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.test_accuracy:.4f} | {r.history['loss'][-1]:.4f} | "
            f"{r.history['val_loss'][-1]:.4f} | {r.learning_rates[0]:.3g} | {r.learning_rates[-1]:.3g} | "
            f"{r.seconds:.1f} |"
        )
    return "\n".join(lines)


def measure_applied_learning_rates(learning_rate, steps, steps_per_execution=1, callbacks=(), jit_compile="auto"):
    """Measure the learning rate Keras really applied at each of ``steps`` updates.

    A probe model makes every update reveal its rate: one weight per update, all starting at
    0, and at update ``k`` the loss is weight ``k`` itself, so its gradient is 1 there and 0
    elsewhere. Plain SGD then sets ``w_k = -lr_k``, and the weights read after training are
    the applied rates, whatever set them (a schedule in the step, a callback, both) and however
    the steps were grouped (``steps_per_execution``, ``jit_compile``).
    """
    one_hot = np.eye(steps, dtype="float32")
    probe = keras.Sequential([
        keras.Input((steps,)),
        keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", dtype="float32"),
    ])
    probe.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
        loss=lambda y_true, y_pred: y_pred[:, 0],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    probe.fit(one_hot, np.zeros(steps, "float32"), batch_size=1, epochs=1, shuffle=False, verbose=0,
              callbacks=list(callbacks))
    return -keras.ops.convert_to_numpy(probe.layers[0].kernel)[:, 0]
