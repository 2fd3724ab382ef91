"""Train a model with a learning-rate schedule and keep an honest record of the run.

:func:`train` compiles and fits, records the learning rate the optimizer actually applied at
every update, watches the validation split after every epoch, evaluates the test split once at
the end (accuracy, loss and scikit-learn's classification report), and writes a JSON record of
the parameters, the device and the results: an experiment log. Validation numbers are for
choosing (a schedule, a rate, an epoch count); the test numbers only report the choice.

On a GPU it is fast with no extra code: ``device.setup`` turns on mixed precision (bfloat16 on
Ampere and later GPUs; float16 on older ones, where Keras wraps the optimizer in a loss-scaling
one), Keras compiles the step (with XLA where it can, ``jit_compile="auto"``), and NumPy arrays
reach the GPU through Keras' own input pipeline (``tf.data`` on TensorFlow, which gathers batches
in parallel and prefetches them; Keras' array iterator on JAX and torch).
"""

import json
import math
import time
from dataclasses import asdict, dataclass, field

import keras
import numpy as np

from lrcourse import _checks, device, paths
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
    val_loss: float
    val_accuracy: float
    test_loss: float
    test_accuracy: float
    report: dict
    report_text: str
    seconds: float
    steps_per_epoch: int
    device: dict
    params: dict = field(default_factory=dict)

    def save(self, path):
        """Write the record as JSON to ``path`` (atomically: whole or not at all) and return the path."""
        return paths.write_atomically(path, json.dumps(asdict(self), indent=1, default=jsonable))

    def cost(self):
        """What the run spent, as :func:`cost` counts it: its updates, each epoch's training images, and the
        validation split after every epoch plus the test split twice at the end (evaluated, then predicted)."""
        epochs, sizes = self.params["epochs"], self.params
        return cost(len(self.iterations), epochs * sizes["train_examples"],
                    epochs * sizes["validation_examples"] + 2 * sizes["test_examples"])

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


def jsonable(value):
    """A NumPy number or array as plain JSON; anything else as its text (for `json.dumps(default=...)`)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


OPTIMIZERS = ("sgd", "adam")


def cost(updates, trained_images, evaluated_images):
    """A training's cost in work a reader can compare: optimizer updates, images passed forward and
    back while training, and images passed forward only to measure a loss or an accuracy (each of
    those costs about a third of a trained one, as a backward pass costs about two forward ones), and
    the total in forward passes of one image on that reckoning. The range test and a training run
    both count this way.

    >>> cost(10, 320, 5120)["forward passes (trained x 3 + evaluated)"]
    6080
    """
    return {"updates": int(updates), "images trained on (forward + backward)": int(trained_images),
            "images evaluated (forward only)": int(evaluated_images),
            "forward passes (trained x 3 + evaluated)": 3 * int(trained_images) + int(evaluated_images)}


def make_optimizer(name, learning_rate, momentum=0.9):
    """``"sgd"`` (with ``momentum``) or ``"adam"``, at a float rate or a schedule."""
    choice("optimizer", name, OPTIMIZERS)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum)


def steps_per_epoch(data, batch_size):
    """Optimizer updates in one epoch over ``data``'s training split (the last batch may be short)."""
    return math.ceil(len(data.x_train) / batch_size)


def compile_model(model, optimizer):
    """Compile ``model`` as every run of the course is: cross-entropy on integer labels, accuracy."""
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def is_compiled_with(model, optimizer):
    """Whether ``model`` is compiled with ``optimizer`` (or a loss-scaling wrapper of it)."""
    compiled = getattr(model, "optimizer", None)
    return getattr(model, "compiled", False) and getattr(compiled, "inner_optimizer", compiled) is optimizer


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
    params=None,
    callbacks=(),
    verbose=0,
):
    """Compile ``model`` (SGD unless ``optimizer`` is given; cross-entropy and accuracy) and fit it on ``data``.

    ``data`` is a :class:`lrcourse.data.Dataset`; its validation split is evaluated after every
    epoch and its test split once, at the end.

    Args:
        learning_rate: a float (constant) or a :class:`~lrcourse.schedules.LearningRateDecay`.
        schedule_as: ``"optimizer"`` evaluates the schedule inside the compiled step at every
            update; ``"callback"`` sets it once per epoch with a ``LearningRateScheduler``.
        optimizer: a ready optimizer to use instead of SGD(learning_rate, momentum); then
            ``learning_rate`` must be left out. A model already compiled with this optimizer is
            trained as it is, with its compiled step.
        params: extra values to store in the record, such as the run's specification.

    Save the returned record with ``result.save(path)``; :mod:`lrcourse.experiments` names the
    files so that runs never overwrite each other.
    """
    choice("schedule_as", schedule_as, ("optimizer", "callback"))
    updates_per_epoch = steps_per_epoch(data, batch_size)
    callbacks = list(callbacks)
    if isinstance(learning_rate, LearningRateDecay):
        if learning_rate.steps_per_epoch is None:
            learning_rate = learning_rate.with_steps_per_epoch(updates_per_epoch)
        if schedule_as == "callback":
            callbacks.append(learning_rate.epoch_callback())
            learning_rate = learning_rate.at_epoch(0)
    if (optimizer is None) == (learning_rate is None):
        raise ValueError("pass exactly one of learning_rate=... (for SGD) or optimizer=...")
    if optimizer is None:
        optimizer = make_optimizer("sgd", learning_rate, momentum)

    if not is_compiled_with(model, optimizer):  # compiling again would trace the training step again
        compile_model(model, optimizer)
    recorder = LearningRateRecorder()
    start = time.perf_counter()
    history = model.fit(
        data.x_train,
        data.y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(data.x_val, data.y_val),
        callbacks=[*callbacks, recorder],
        verbose=verbose,
    )
    seconds = time.perf_counter() - start

    # the test split is read once, here, after training
    test = model.evaluate(data.x_test, data.y_test, batch_size=batch_size, verbose=0, return_dict=True)
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
        val_loss=float(history.history["val_loss"][-1]),
        val_accuracy=float(history.history["val_accuracy"][-1]),
        test_loss=float(test["loss"]),
        test_accuracy=float(np.mean(predicted == data.y_test)),
        report=classification_report(output_dict=True, **report_args),
        report_text=classification_report(**report_args),
        seconds=seconds,
        steps_per_epoch=updates_per_epoch,
        device=device.describe(),
        params={
            "epochs": epochs,
            "batch_size": batch_size,
            "dataset": data.name,
            "data_source": getattr(data, "source", data.name),
            "train_examples": len(data.x_train),
            "validation_examples": len(data.x_val),
            "test_examples": len(data.x_test),
            "model": model.name,
            "optimizer": _describe(optimizer),
            "schedule_as": schedule_as,
            **(params or {}),
        },
    )
    return result


def measure_applied_learning_rates(learning_rate, steps, steps_per_execution=1, callbacks=(), jit_compile="auto"):
    """Measure the learning rate Keras really applied at each of ``steps`` updates.

    A probe model makes every update reveal its rate: one weight per update, all starting at
    0, and at update ``k`` the loss is weight ``k`` itself, so its gradient is 1 there and 0
    elsewhere. Plain SGD then sets ``w_k = -lr_k``, and the weights read after training are
    the applied rates, whatever set them (a schedule in the step, a callback, both) and however
    the steps were grouped (``steps_per_execution``, ``jit_compile``).
    """
    steps_per_execution = _checks.steps_per_execution(steps_per_execution)
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
