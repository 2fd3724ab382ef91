"""The GPU path, measured: seconds per epoch by precision, XLA and steps_per_execution, and the
CLR article's protocol on full Fashion-MNIST.

Made for the lent H200 machine, which has JAX but no TensorFlow and no network: run it with
``KERAS_BACKEND=jax`` and carry the data file that ``python scripts/build_datasets.py
fashion_mnist_full`` builds (``LRCOURSE_DATA`` points at its folder). Try it on a CPU first with
tiny sizes, so that GPU minutes go to measuring only::

    KERAS_BACKEND=jax python benchmarks/gpu_path.py speed --batches 3 --eager-batches 1 \\
        --models mini_googlenet_small --dataset digits
    KERAS_BACKEND=jax python benchmarks/gpu_path.py clr --epochs 2 --subset 512 --model mini_googlenet_small \\
        --dataset digits

``speed``: for each model, precision (``float32``, ``mixed_float16``, ``mixed_bfloat16``), XLA on
or off (``jit_compile``) and ``steps_per_execution`` (1, 32), the model is compiled and trained
for ``--warmup-batches`` (compilation), then timed over ``--batches`` updates (``--eager-batches``
without XLA, where every op is dispatched on its own). Seconds per epoch are the measured time
an update times the updates of one epoch of the data set's training split, so a slow
configuration costs seconds, not an hour. Each row says how many updates it timed.

``clr``: the CLR article's run (MiniGoogLeNet, SGD with momentum 0.9, batches of 64, triangular
CLR from 1e-7 to 1e-2 with a step size of 8 epochs: 6 cycles in 96 epochs, mean subtraction) on
the data set, with XLA and the given ``steps_per_execution`` and precision; it prints the wall
time, the seconds an epoch and the test accuracy, next to the article's 96 s an epoch on CIFAR-10.

Both print a table and write it as JSON to ``--output`` (default ``$OUT/gpu_path.json`` when
``$OUT`` is set, as on the device machine).
"""

import argparse
import json
import math
import os
import time
from pathlib import Path

import lrcourse

lrcourse.quiet_tensorflow()

import keras  # noqa: E402
import pandas as pd  # noqa: E402

from lrcourse import data, device, models, training  # noqa: E402
from lrcourse.schedules import CyclicalLearningRate  # noqa: E402

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
ARTICLE_SECONDS_PER_EPOCH = 96  # the CLR article's MiniGoogLeNet on CIFAR-10, on its GPU


def _compiled(model_name, dataset, precision, jit, steps_per_execution, optimizer):
    device.setup(seed=None, mixed_precision=precision)
    model = models.build(model_name, dataset.input_shape, dataset.num_classes)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=jit, steps_per_execution=steps_per_execution)
    return model


def _timed_fit(model, x, y, batch_size, batches):
    """Seconds for ``batches`` updates of ``fit`` (whole executions of ``steps_per_execution``)."""
    n = batches * batch_size
    start = time.perf_counter()
    model.fit(x[:n], y[:n], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - start


def speed(args):
    dataset = data.load(args.dataset, subset=args.subset or None)
    per_epoch = math.ceil(len(dataset.x_train) / args.batch_size)
    rows = []
    for model_name in args.models:
        for precision in args.precisions:
            for jit in args.jit:
                for spe in args.steps_per_execution:
                    timed = args.batches if jit else args.eager_batches
                    timed = max(spe, timed - timed % spe)  # whole executions
                    warmup = max(spe, args.warmup_batches - args.warmup_batches % spe)
                    model = _compiled(model_name, dataset, precision, jit, spe, keras.optimizers.SGD(0.01, momentum=0.9))
                    _timed_fit(model, dataset.x_train, dataset.y_train, args.batch_size, warmup)
                    seconds = _timed_fit(model, dataset.x_train, dataset.y_train, args.batch_size, timed)
                    rows.append({"model": model_name, "precision": precision, "xla": jit, "steps_per_execution": spe,
                                 "updates timed": timed, "ms per update": 1000 * seconds / timed,
                                 "s per epoch": seconds / timed * per_epoch})
                    print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    base = table.groupby("model")["s per epoch"].transform("max")
    table["speed-up vs slowest"] = base / table["s per epoch"]
    return table, {"dataset": dataset.summary(), "batch_size": args.batch_size, "updates per epoch": per_epoch}


def clr(args):
    dataset = data.load(args.dataset, subset=args.subset or None, preprocessing="mean")
    per_epoch = training.steps_per_epoch(dataset, args.batch_size)
    schedule = CyclicalLearningRate(1e-7, 1e-2, step_size=8 * per_epoch)
    optimizer = keras.optimizers.SGD(schedule, momentum=0.9)
    model = _compiled(args.model, dataset, args.precision, True, args.steps_per_execution, optimizer)
    start = time.perf_counter()
    run = training.train(model, dataset, epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer,
                         name="clr-protocol")
    seconds = time.perf_counter() - start
    table = pd.DataFrame([{
        "model": args.model, "precision": args.precision, "steps_per_execution": args.steps_per_execution,
        "epochs": args.epochs, "cycles": args.epochs / 16, "wall s": seconds, "s per epoch": seconds / args.epochs,
        "article s per epoch": ARTICLE_SECONDS_PER_EPOCH, "test accuracy": run.test_accuracy,
        "val accuracy": run.val_accuracy}])
    return table, {"dataset": dataset.summary(), "batch_size": args.batch_size, "updates per epoch": per_epoch}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dataset", default="fashion_mnist_full", choices=data.DATASETS)
    common.add_argument("--subset", type=int, default=0, help="training images to keep (0: all)")
    common.add_argument("--batch-size", type=int, default=64)
    common.add_argument("--output", default=None, help="JSON file for the table (default: $OUT/gpu_path.json)")
    s = commands.add_parser("speed", parents=[common], help="seconds per epoch by precision, XLA, steps_per_execution")
    s.add_argument("--models", nargs="+", default=["mini_googlenet", "resnet"], choices=list(models.MODELS))
    s.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    s.add_argument("--jit", nargs="+", type=lambda v: v == "on", default=[True, False], metavar="on|off")
    s.add_argument("--steps-per-execution", nargs="+", type=int, default=[1, 32])
    s.add_argument("--warmup-batches", type=int, default=64, help="updates before timing (compilation)")
    s.add_argument("--batches", type=int, default=320, help="updates timed with XLA")
    s.add_argument("--eager-batches", type=int, default=32, help="updates timed without XLA")
    c = commands.add_parser("clr", parents=[common], help="the CLR article's protocol: wall time and test accuracy")
    c.add_argument("--model", default="mini_googlenet", choices=list(models.MODELS))
    c.add_argument("--epochs", type=int, default=96)
    c.add_argument("--precision", default="mixed_bfloat16", choices=PRECISIONS)
    c.add_argument("--steps-per-execution", type=int, default=32)
    args = parser.parse_args(argv)

    info = device.describe()
    print(f"{info['name']} ({info['kind']}, compute capability {info['compute_capability']}), "
          f"Keras {keras.__version__} on {info['backend']}", flush=True)
    table, setting = speed(args) if args.command == "speed" else clr(args)
    print(setting)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    output = Path(args.output or Path(os.environ.get("OUT", "build")) / "gpu_path.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"device": info, "keras": keras.__version__, **setting,
                                  "rows": table.to_dict("records")}, indent=1, default=str))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
