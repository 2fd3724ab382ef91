"""How close does the range test's max bound come to the divergence limit? A benchmark, not a test.

Least squares with a linear model, trained by plain SGD (no momentum) on minibatches of noisy
labels. The mean squared error ``L(w) = mean((Xw - y)^2)`` has the constant Hessian
``H = 2 X^T X / n``; gradient descent on it diverges for ``lr > 2 / lambda_max(H)``, so that limit
is where the loss explodes, and the max bound (where the smoothed loss stops falling) can be no
higher. Below it, minibatch and label noise hold the loss on a floor that rises with the rate, so
the loss stops falling (and an honest reading sits) below the limit, further below in a long sweep,
which has converged at lower rates. A reading above 1 is a lagging one.

Each setting (a spectrum of ``H``: its largest eigenvalue and condition number; a batch size;
a sweep length) runs the range test from ``1e-3`` to ``1e2`` times the limit on a few seeds and
reads ``max_bound / (2 / lambda_max)`` twice: before, off the sweep's causal moving average
(beta 0.98, ``bounds(curve="causal")``), and after, off the centred curve (``bounds()``). A star
marks seeds whose lowest point was the last readable one (a warning: no turn up).

    python benchmarks/range_test_bounds.py [--seeds 3]
"""

import argparse
import itertools
import warnings

import lrcourse

lrcourse.quiet_tensorflow()  # before Keras loads: no TensorFlow log lines between the figures

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lrcourse.finder import LRFinder  # noqa: E402

SPECTRA = ((1.0, 10), (1.0, 1000), (20.0, 100))  # (lambda_max, condition number) of the Hessian
BATCH_SIZES = (8, 32, 128)
SWEEP_LENGTHS = (87, 170, 340)


def problem(lambda_max, condition, seed, n=1024, d=20, label_noise=0.5):
    """Inputs whose MSE Hessian ``2 X^T X / n`` has eigenvalues spread evenly in log from
    ``lambda_max`` down to ``lambda_max / condition``, and targets ``X w + noise`` (the noise's
    standard deviation is ``label_noise`` times the clean targets')."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((n, d)))
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eigenvalues = lambda_max * np.logspace(0, -np.log10(condition), d)
    x = (u * np.sqrt(eigenvalues * n / 2)) @ v.T  # then 2 X^T X / n = V diag(eigenvalues) V^T
    clean = x @ rng.standard_normal(d)
    y = clean + label_noise * clean.std() * rng.standard_normal(n)
    return x.astype("float32"), y.astype("float32")


def max_bound_ratio(result, limit, curve):
    """The max bound read off ``curve``, over the limit, and whether its lowest point was the last."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return result.bounds(curve=curve)[1] / limit, bool(caught)


def range_test(lambda_max, condition, batch_size, num_batches, seed):
    """One range test on a fresh problem: ``(before, after)``, each ``(ratio, no turn up)``."""
    x, y = problem(lambda_max, condition, seed)
    limit = 2 / np.linalg.eigvalsh(2 * x.T.astype(float) @ x / len(x)).max()
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(1, use_bias=False,
                                                                             kernel_initializer="zeros")])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    result = LRFinder(model).find(x, y, batch_size=batch_size, num_batches=num_batches, seed=seed,
                                  start_lr=1e-3 * limit, end_lr=1e2 * limit)
    return max_bound_ratio(result, limit, "causal"), max_bound_ratio(result, limit, "centred")


def spread(ratios):
    """Median, quartiles and range of ratios, as text."""
    q = np.percentile(ratios, [0, 25, 50, 75, 100])
    return f"median {q[2]:.2f}, quartiles {q[1]:.2f} .. {q[3]:.2f}, range {q[0]:.2f} .. {q[4]:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()

    print("max_bound / (2 / lambda_max), median over seeds (each seed's in brackets); * = no turn up")
    print(f"{'lambda_max':>10} {'condition':>9} {'batch':>5} {'sweep':>5} | {'before (causal EMA)':<28} | after (centred)")
    every = {"before": [], "after": []}
    for (lambda_max, condition), batch_size, num_batches in itertools.product(SPECTRA, BATCH_SIZES, SWEEP_LENGTHS):
        runs = [range_test(lambda_max, condition, batch_size, num_batches, seed) for seed in range(args.seeds)]
        cells = []
        for name, readings in zip(every, zip(*runs)):
            ratios = [ratio for ratio, _ in readings]
            every[name] += ratios
            seeds = " ".join(f"{ratio:.2f}{'*' if no_turn else ''}" for ratio, no_turn in readings)
            cells.append(f"{np.median(ratios):5.2f} [{seeds}]")
        print(f"{lambda_max:>10g} {condition:>9g} {batch_size:>5} {num_batches:>5} | {cells[0]:<28} | {cells[1]}")
    for name, ratios in every.items():
        print(f"{name:>6}: {spread(ratios)} ({len(ratios)} runs)")


if __name__ == "__main__":
    main()
