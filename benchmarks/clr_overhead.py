"""What does a cyclical learning rate cost per epoch? A benchmark, not a test.

Trains the same model four ways, side by side in one process, interleaved over several rounds
so that the machine's noise hits all of them alike:

* constant: a fixed float learning rate (the baseline);
* in-graph: ``CyclicalLearningRate`` as ``optimizer.learning_rate``, evaluated in the compiled step;
* callback: the CLR article's per-batch ``CyclicLR`` callback writing the rate after every batch;
* in-graph + recorder: the in-graph schedule with ``LearningRateRecorder``, the per-update record
  that ``training.train`` keeps (it reads the optimizer before every update).

Each variant is warmed up for one epoch (tracing and compilation), then timed for one epoch per
round (``--epochs-per-round`` epochs). It prints the median seconds per epoch and each variant's ratio to the constant baseline
(median of the per-round ratios, with their range).

    python benchmarks/clr_overhead.py [--rounds 7] [--model mini_googlenet_small] [--dataset digits]
"""

import argparse
import statistics
import time

import lrcourse

lrcourse.quiet_tensorflow()  # before Keras loads: no TensorFlow log lines between the figures

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lrcourse import callbacks, data, device, models  # noqa: E402
from lrcourse.schedules import CyclicalLearningRate  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--epochs-per-round", type=int, default=3)
    parser.add_argument("--model", default="mini_googlenet_small")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    args = parser.parse_args()

    info = device.setup(seed=0)
    d = data.load(args.dataset, preprocessing="mean")
    steps = int(np.ceil(len(d.x_train) / args.batch_size))
    clr = CyclicalLearningRate(1e-3, 0.1, step_size=2 * steps)
    variants = {
        "constant": (0.01, []),
        "in-graph": (clr, []),
        "callback": (0.01, [callbacks.CyclicLR(1e-3, 0.1, step_size=2 * steps)]),
        "in-graph + recorder": (clr, [callbacks.LearningRateRecorder()]),
    }
    trained = {}
    for name, (learning_rate, cbs) in variants.items():
        keras.utils.set_random_seed(0)
        model = models.build(args.model, d.input_shape, d.num_classes)
        model.compile(keras.optimizers.SGD(learning_rate, momentum=0.9), "sparse_categorical_crossentropy",
                      steps_per_execution=args.steps_per_execution)
        model.fit(d.x_train, d.y_train, batch_size=args.batch_size, epochs=1, verbose=0, callbacks=cbs)  # warm-up
        trained[name] = (model, cbs)

    seconds = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (model, cbs) in trained.items():
            start = time.perf_counter()
            model.fit(d.x_train, d.y_train, batch_size=args.batch_size, epochs=args.epochs_per_round, verbose=0,
                      callbacks=cbs)
            seconds[name].append((time.perf_counter() - start) / args.epochs_per_round)

    print(f"{args.model} on {d.summary()}; batch {args.batch_size}, {steps} updates per epoch, "
          f"steps_per_execution {args.steps_per_execution}; {args.rounds} rounds on {info['name']} ({info['backend']})")
    print(f"{'variant':20s} {'median s/epoch':>15s} {'ratio to constant':>18s} {'ratio range':>16s}")
    for name, times in seconds.items():
        ratios = [t / c for t, c in zip(times, seconds["constant"])]
        print(f"{name:20s} {statistics.median(times):15.3f} {statistics.median(ratios):18.3f} "
              f"{min(ratios):7.3f}..{max(ratios):.3f}")


if __name__ == "__main__":
    main()
