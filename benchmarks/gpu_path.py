"""The GPU path, measured: seconds per epoch by precision, XLA and steps_per_execution, and the
CLR article's protocol on full Fashion-MNIST.

Made for the lent H200 machine, which has JAX but no TensorFlow, no Keras and no network: carry
wheels of keras, namex and optree for its Python (see the device tool's README), run from the
repository root with ``PYTHONPATH=.`` and ``KERAS_BACKEND=jax``, and carry the data file that
``python scripts/build_datasets.py fashion_mnist_full`` builds (``build/data``, 31 MB;
``LRCOURSE_DATA`` points at another folder). Try it on a CPU first with tiny sizes, then once on
the GPU for a minute, so that GPU minutes go to measuring only::

    KERAS_BACKEND=jax python benchmarks/gpu_path.py speed --models small_cnn --dataset digits \\
        --batches 8 --eager-batches 2 --steps-per-execution 1 4
    KERAS_BACKEND=jax python benchmarks/gpu_path.py clr --model small_cnn --dataset digits --epochs 2
    KERAS_BACKEND=jax python benchmarks/gpu_path.py lessons --params ci

``benchmarks/gpu_session.sh`` runs all three in order within one call's time on the device machine.

``speed``: for each model, precision (``float32``, ``mixed_float16``, ``mixed_bfloat16``), XLA on
or off (``jit_compile``) and ``steps_per_execution`` (1, 32), a fresh model is compiled, trained
for ``--warmup-batches`` updates (compilation; 2 without XLA), then timed over ``--batches``
updates (``--eager-batches`` without XLA, where every op is dispatched on its own, at
``steps_per_execution`` 1 only). Seconds per epoch are the measured time an update times the
updates of one epoch of the training split, so a slow configuration costs seconds, not an hour.
On JAX, ``steps_per_execution`` only calls the callbacks less often (Keras 3 loops over the same
one-step jitted function in Python), unlike TensorFlow, which compiles the steps into one call:
expect 1 and 32 to be close there.

``clr``: the CLR article's run (MiniGoogLeNet, SGD with momentum 0.9, batches of 64, triangular
CLR from 1e-7 to 1e-2 with a step size of 8 epochs: 6 cycles in 96 epochs, mean subtraction,
shifts and flips) on the data set's training split (its validation split held out) with XLA. It
prints each epoch's seconds as it goes, then the wall time, the median epoch (the first one
compiles) and the test accuracy. The article took 96 s an epoch on CIFAR-10 (50,000 images of
32x32x3) on its GPU: a different data set, so compare orders of magnitude only.

``lessons``: each lesson's default run (the values in its parameters cell; ``--params ci`` takes
``notebooks/params/NN_ci.yaml`` instead), executed as ``lrcourse run`` executes it, with its wall
time. The lessons run side by side (``--side-by-side``, default all four at once: one GPU, and
16 CPU cores on the device machine), each in its own process with JAX allocating GPU memory as it
needs it (``XLA_PYTHON_CLIENT_PREALLOCATE=false``: four processes that each took 75% would not
fit); a lesson alone can only be faster. A lesson still running at ``--time-limit`` is stopped and
reported as not finished.

Each stops cleanly past ``--time-limit`` seconds, keeping what it measured, and rewrites its JSON
(``--output``, default ``$OUT/gpu_path_<command>.json`` when ``$OUT`` is set, as on the device
machine, else ``build/``) after every row or epoch, so a run cut short still leaves its figures.
"""

import argparse
import concurrent.futures
import json
import math
import os
import statistics
import subprocess
import time
from pathlib import Path

import lrcourse

lrcourse.quiet_tensorflow()

import keras  # noqa: E402
import pandas as pd  # noqa: E402

from lrcourse import batch, data, device, models, paths, training  # noqa: E402
from lrcourse.schedules import CyclicalLearningRate  # noqa: E402

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
ARTICLE_SECONDS_PER_EPOCH = 96  # the CLR article's MiniGoogLeNet on CIFAR-10, on its GPU
EAGER_WARMUP_BATCHES = 2
LESSONS = sorted(paths.resolve("notebooks").glob("0*.ipynb"))


class Report:
    """The rows measured so far, printed and written as JSON after each one."""

    def __init__(self, path, setting):
        self.path, self.setting, self.rows = Path(path), setting, []
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, row):
        self.rows.append(row)
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
        self.write()

    def write(self, **extra):
        self.setting.update(extra)
        self.path.write_text(json.dumps({**self.setting, "rows": self.rows}, indent=1, default=str))


def _compiled(model_name, dataset, precision, jit, steps_per_execution, optimizer, augment=False):
    keras.backend.clear_session()
    device.setup(seed=None, mixed_precision=precision)
    model = models.build(model_name, dataset.input_shape, dataset.num_classes)
    if augment:
        model = models.with_augmentation(model, shift=0.1, flip=True, seed=0)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit, steps_per_execution=steps_per_execution)
    return model


def _timed_fit(model, x, y, batch_size, batches):
    """Seconds for ``batches`` updates of ``fit``. ``fit`` turns the epoch's metrics into Python
    numbers at its end, which waits for the last update, so the time includes all of them."""
    n = batches * batch_size
    if n > len(x):
        raise ValueError(f"{batches} updates of {batch_size} need {n} training images; the data has {len(x)}: "
                         f"lower --batches / --warmup-batches or use a larger --subset or data set")
    start = time.perf_counter()
    model.fit(x[:n], y[:n], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - start


def _configurations(args):
    for model_name in args.models:
        for precision in args.precisions:
            for jit in (j == "on" for j in args.jit):
                for spe in args.steps_per_execution if jit else [1]:
                    yield model_name, precision, jit, spe


def speed(args, report):
    dataset = data.load(args.dataset, subset=args.subset or None)
    per_epoch = training.steps_per_epoch(dataset, args.batch_size)
    report.write(dataset=dataset.summary(), batch_size=args.batch_size, updates_per_epoch=per_epoch)
    start = time.perf_counter()
    for model_name, precision, jit, spe in _configurations(args):
        if report.rows and time.perf_counter() - start > args.time_limit:  # always measure one
            report.write(stopped=f"past --time-limit {args.time_limit} s, before {model_name} {precision} xla={jit}")
            print(report.setting["stopped"], flush=True)
            break
        whole = lambda n: max(spe, n - n % spe)  # noqa: E731 (whole executions of steps_per_execution)
        warmup, timed = (whole(args.warmup_batches), whole(args.batches)) if jit else (
            EAGER_WARMUP_BATCHES, args.eager_batches)
        model = _compiled(model_name, dataset, precision, jit, spe, keras.optimizers.SGD(0.01, momentum=0.9))
        _timed_fit(model, dataset.x_train, dataset.y_train, args.batch_size, warmup)
        seconds = _timed_fit(model, dataset.x_train, dataset.y_train, args.batch_size, timed)
        report.add({"model": model_name, "precision": precision, "xla": jit, "steps_per_execution": spe,
                    "updates timed": timed, "ms per update": 1000 * seconds / timed,
                    "s per epoch": seconds / timed * per_epoch})
    return pd.DataFrame(report.rows)


class EpochClock(keras.callbacks.Callback):
    """Each epoch's seconds, printed and reported as they come; stops training past the limit."""

    def __init__(self, report, limit):
        super().__init__()
        self.report, self.limit, self.seconds = report, limit, []
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.epoch_start)
        print(f"epoch {epoch + 1}: {self.seconds[-1]:.1f} s, val_accuracy {logs.get('val_accuracy', float('nan')):.4f}",
              flush=True)
        self.report.write(epoch_seconds=self.seconds)
        if time.perf_counter() - self.started > self.limit:
            self.model.stop_training = True
            self.report.write(stopped=f"past --time-limit {self.limit} s after epoch {epoch + 1}")


def clr(args, report):
    dataset = data.load(args.dataset, subset=args.subset or None, preprocessing="mean")
    per_epoch = training.steps_per_epoch(dataset, args.batch_size)
    step_size = 8 * per_epoch
    report.write(dataset=dataset.summary(), batch_size=args.batch_size, updates_per_epoch=per_epoch)
    optimizer = keras.optimizers.SGD(CyclicalLearningRate(1e-7, 1e-2, step_size=step_size), momentum=0.9)
    model = _compiled(args.model, dataset, args.precision, True, args.steps_per_execution, optimizer, args.augment)
    clock = EpochClock(report, args.time_limit)
    start = time.perf_counter()
    model.fit(dataset.x_train, dataset.y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(dataset.x_val, dataset.y_val), callbacks=[clock], verbose=0)
    wall = time.perf_counter() - start
    test = model.evaluate(dataset.x_test, dataset.y_test, batch_size=256, verbose=0, return_dict=True)
    epochs = len(clock.seconds)
    report.add({"model": args.model, "precision": args.precision, "augment": args.augment,
                "steps_per_execution": args.steps_per_execution, "epochs": epochs,
                "cycles": epochs * per_epoch / (2 * step_size), "wall s": wall,
                "median epoch s": statistics.median(clock.seconds[1:] or clock.seconds),
                "first epoch s": clock.seconds[0], "article s per epoch": ARTICLE_SECONDS_PER_EPOCH,
                "test accuracy": test["accuracy"]})
    return pd.DataFrame(report.rows)


def _lesson_row(notebook, params, time_limit, side_by_side, output):
    parameters = batch.read_params_file(paths.resolve(f"notebooks/params/{notebook.name[:2]}_ci.yaml")) if (
        params == "ci") else {}
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    start = time.perf_counter()
    outcome = batch.run_in_process(notebook, parameters, output / notebook.stem, timeout=time_limit, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = f"not finished in {time_limit:.0f} s" if outcome is None else ("ok" if outcome["ok"] else outcome["error"])
    return {"lesson": notebook.stem, "parameters": params, "side by side": side_by_side, "result": result,
            "wall s": time.perf_counter() - start}


def lessons(args, report):
    notebooks = [n for n in LESSONS if not args.lessons or n.name[:2] in args.lessons]
    side_by_side = min(args.side_by_side, len(notebooks)) if args.side_by_side > 0 else len(notebooks)
    output = paths.resolve(args.lesson_output)
    report.write(lessons=[n.stem for n in notebooks], side_by_side=side_by_side)
    with concurrent.futures.ThreadPoolExecutor(side_by_side) as pool:
        runs = [pool.submit(_lesson_row, n, args.params, args.time_limit, side_by_side, output) for n in notebooks]
        for run in concurrent.futures.as_completed(runs):
            report.add(run.result())
    return pd.DataFrame(report.rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    timed = argparse.ArgumentParser(add_help=False)
    timed.add_argument("--time-limit", type=float, default=480, help="stop cleanly after this many seconds")
    timed.add_argument("--output", default=None, help="JSON file (default: $OUT/gpu_path_<command>.json)")
    common = argparse.ArgumentParser(add_help=False, parents=[timed])
    common.add_argument("--dataset", default="fashion_mnist_full", choices=data.DATASETS)
    common.add_argument("--subset", type=int, default=0, help="training images to keep (0: all)")
    common.add_argument("--batch-size", type=int, default=64)
    s = commands.add_parser("speed", parents=[common], help="seconds per epoch by precision, XLA, steps_per_execution")
    s.add_argument("--models", nargs="+", default=["mini_googlenet", "resnet"], choices=list(models.MODELS))
    s.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    s.add_argument("--jit", nargs="+", default=["on", "off"], choices=["on", "off"], help="XLA on and/or off")
    s.add_argument("--steps-per-execution", nargs="+", type=int, default=[1, 32], help="with XLA")
    s.add_argument("--warmup-batches", type=int, default=64, help="updates before timing, with XLA (compilation)")
    s.add_argument("--batches", type=int, default=320, help="updates timed with XLA")
    s.add_argument("--eager-batches", type=int, default=16, help="updates timed without XLA")
    c = commands.add_parser("clr", parents=[common], help="the CLR article's protocol: wall time and test accuracy")
    c.add_argument("--model", default="mini_googlenet", choices=list(models.MODELS))
    c.add_argument("--epochs", type=int, default=96)
    c.add_argument("--precision", default="mixed_bfloat16", choices=PRECISIONS)
    c.add_argument("--steps-per-execution", type=int, default=32)
    c.add_argument("--augment", action=argparse.BooleanOptionalAction, default=True,
                   help="random shifts and flips, as the article (default: on)")
    n = commands.add_parser("lessons", parents=[timed], help="each lesson's default run, side by side: wall time")
    n.add_argument("--lessons", nargs="+", default=[], choices=[n.name[:2] for n in LESSONS], metavar="NN",
                   help="lesson numbers (default: all)")
    n.add_argument("--params", default="default", choices=["default", "ci"],
                   help="the lessons' own values, or notebooks/params/NN_ci.yaml")
    n.add_argument("--side-by-side", type=int, default=0, help="lessons at once (default 0: all)")
    n.add_argument("--lesson-output", default="build/gpu_lessons", help="folder for the executed lessons")
    args = parser.parse_args(argv)

    info = device.describe()
    print(f"{info['name']} ({info['kind']}, compute capability {info['compute_capability']}), "
          f"Keras {keras.__version__} on {info['backend']}", flush=True)
    output = args.output or Path(os.environ.get("OUT", "build")) / f"gpu_path_{args.command}.json"
    report = Report(output, {"command": args.command, "device": info, "keras": keras.__version__})
    try:
        table = {"speed": speed, "clr": clr, "lessons": lessons}[args.command](args, report)
    except ValueError as error:  # sizes that do not fit the data: one line, not a traceback
        parser.exit(2, f"gpu_path: error: {error}\n")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
