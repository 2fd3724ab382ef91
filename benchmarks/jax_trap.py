"""The JAX trap, measured: what a per-batch rate-setting callback does, and what writing through the model costs.

On JAX, during ``fit`` the model's and the optimizer's variables live in a state object; a
callback that writes the rate to an optimizer it kept from ``on_train_begin`` is ignored, while
one that goes through ``self.model`` works because the ``model`` property copies the state
back into the variables first (a sync), every batch. TensorFlow is fine either way.

Two parts, each under TensorFlow (in this process) and JAX (in a child process, through
``lrcourse.backends.run_under``):

1. Correctness: ``lrcourse.callbacks.measure_per_batch_callback`` on the one-weight-per-update
   probe, for a kept reference and for writing through the model: the error against the ramp
   the callback set, how many updates got the right rate, and the rate left after ``fit``.
2. Cost: a real model trained one epoch at a time with no callback, with ``PerBatchRate``
   through a kept reference and through the model, interleaved over several rounds after a
   warm-up epoch each, timed inside ``fit`` (from the end of the first update). It prints the
   median milliseconds per update and each way's ratio to no callback (median of the
   per-round ratios, with their range).

    python benchmarks/jax_trap.py [--rounds 9] [--model small_cnn] [--dataset digits]

Measured on a shared 2-core CPU machine (Keras 3.15.1, TensorFlow 2.21, JAX 0.10), batch 16:
on JAX, writing through the model cost 10.6 ms an update against 6.9 with no callback for
mini_googlenet_small (161 variables synced, x1.57) and 6.3 against 4.5 for small_cnn (32
variables, x1.4); a kept reference cost little (x1.06 to x1.17) but set no rate. TensorFlow:
within noise either way (x1.0 to x1.1).
"""

import argparse
import os
import statistics
from pathlib import Path

import lrcourse

lrcourse.quiet_tensorflow()  # before Keras loads: no TensorFlow log lines between the figures

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lrcourse import backends, data, models  # noqa: E402
from lrcourse.callbacks import PerBatchRate, UpdateClock, measure_per_batch_callback  # noqa: E402

WAYS = {"no callback": None, "kept reference": False, "through the model": True}


def time_ways(model="small_cnn", dataset="digits", batch_size=16, rounds=9):
    """Seconds per update for each way, per round, on the backend Keras runs on (JSON).

    Timed inside ``fit``, from the end of the first update to the end of training (after the
    queued work is done), so the cost of starting ``fit`` does not blur the per-update figures.
    """
    d = data.load(dataset, preprocessing="mean")
    trained = {}
    for name, through_model in WAYS.items():
        keras.utils.set_random_seed(0)
        net = models.build(model, d.input_shape, d.num_classes)
        net.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy")
        callbacks = [] if through_model is None else [PerBatchRate(lambda step: 0.01, through_model)]
        net.fit(d.x_train, d.y_train, batch_size=batch_size, epochs=1, verbose=0, callbacks=callbacks)  # warm-up
        trained[name] = (net, callbacks)
    updates = int(np.ceil(len(d.x_train) / batch_size))
    seconds = {name: [] for name in WAYS}
    for _ in range(rounds):
        for name, (net, callbacks) in trained.items():
            clock = UpdateClock()
            net.fit(d.x_train, d.y_train, batch_size=batch_size, epochs=1, verbose=0, callbacks=[*callbacks, clock])
            seconds[name].append(clock.seconds / (updates - 1))
    net = trained["no callback"][0]
    synced = sum(len(v) for v in (net.trainable_variables, net.non_trainable_variables, net.optimizer.variables,
                                  net.metrics_variables))
    return {"backend": keras.backend.backend(), "updates_per_epoch": updates, "variables_synced": synced,
            "seconds_per_update": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--model", default="small_cnn")
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20, help="updates of the correctness probe")
    args = parser.parse_args()
    os.chdir(Path(__file__).resolve().parents[1])  # the JAX child imports benchmarks.jax_trap from here

    def under(backend, function, **arguments):
        if backend == keras.backend.backend():
            return function(**arguments)
        module = "benchmarks.jax_trap" if function.__module__ == "__main__" else function.__module__
        return backends.run_under(backend, f"{module}:{function.__name__}", **arguments)

    chosen = [b for b in ("tensorflow", "jax") if backends.available(b)]
    print(f"1. Correctness: PerBatchRate sets a ramp 0.01 -> 0.1 over {args.steps} updates "
          f"(optimizer built at 0.5)")
    print(f"{'backend':11s} {'way':18s} {'max error':>10s} {'right':>6s} {'rate after fit':>15s} {'ms/update':>10s}")
    for backend in chosen:
        for name, through_model in list(WAYS.items())[1:]:
            r = under(backend, measure_per_batch_callback, through_model=through_model,
                      steps=args.steps)
            print(f"{backend:11s} {name:18s} {r['max_abs_error']:10.4f} {r['matching']:3d}/{args.steps:<2d} "
                  f"{r['rate_after_fit']:15.4f} {1e3 * r['seconds_per_update']:10.2f}")

    print(f"\n2. Cost: {args.model} on {args.dataset}, batch {args.batch_size}, {args.rounds} interleaved rounds "
          f"of one epoch after a warm-up epoch")
    print(f"{'backend':11s} {'way':18s} {'median ms/update':>17s} {'ratio to none':>14s} {'ratio range':>14s}")
    for backend in chosen:
        r = under(backend, time_ways, model=args.model, dataset=args.dataset,
                  batch_size=args.batch_size, rounds=args.rounds)
        seconds = r["seconds_per_update"]
        for name, times in seconds.items():
            ratios = [t / c for t, c in zip(times, seconds["no callback"])]
            print(f"{backend:11s} {name:18s} {1e3 * statistics.median(times):17.2f} "
                  f"{statistics.median(ratios):14.3f} {min(ratios):6.3f}..{max(ratios):.3f}")
        print(f"{'':11s} ({r['updates_per_epoch']} updates an epoch; a sync copies {r['variables_synced']} variables)")


if __name__ == "__main__":
    main()
