"""How good is each range-test reading? Each one checked against a grid of fixed rates. A benchmark, not a test.

A problem is a model, a data set, an optimizer and a batch size, trained for a few epochs on a subset of a
bundled data set. For each problem:

1. **The grid.** Constant rates a factor sqrt(10) apart (Adam 1e-4 .. 1e-1, SGD with momentum 0.9 1e-3 .. 1),
   each trained once per seed; the best has the highest mean validation accuracy, and the grid is widened while
   the best sits at an edge (:func:`lrcourse.experiments.tune_learning_rate`), so the best is interior.
2. **A range test per seed**, on that seed's freshly built model, with everyone's default sweep: 1e-7 .. 10,
   exponential, 100 batches. It records each training batch's loss and the validation loss after each update.
3. **The readings**, each as its own tool reads it:
   * this package (``RangeTestResult``): ``steepest``, ``minimum / 10``, ``valley`` and the CLR ``max bound``,
     read off the validation curve (lesson 03's CNN) and off the training-batch curve (cut where the package's
     sweep would have stopped: the smoothed loss past 4 x its best);
   * fastai 2.8 (from its documentation and source, re-implemented here): the bias-corrected moving average
     (beta 0.98) of the training losses, cut at 4 x its best, read on ``[n // 10 : -5]``: ``valley`` (the longest
     decreasing run, from ``start`` of length ``L``, read at ``start + L // 3 + L // 6``) and ``slide`` (walk left
     from the end in windows of 15 until the slopes at the two ends differ by at most 0.005);
   * torch-lr-finder 0.2.2: the moving average ``a_i = 0.05 loss_i + 0.95 a_{i-1}`` from ``a_0 = loss_0``, cut at
     5 x its best, read on ``[10 : -5]`` at the steepest slope, ``argmin(np.gradient(losses))``.
4. **A run at each reading**, the seed's own reading with that seed, as long as the grid's runs.

Then :func:`lrcourse.finder.score_readings` scores each reading over every problem and seed: the ratio of the
reading to the grid's best rate (geometric mean, 95% interval, range), how often it lands within a factor 3, and
the test accuracy of its run minus the grid best's at the same seed (mean, 95% interval, worst). The records go to
``lrcourse/measurements/range_test_vs_grid.json`` with where and how they were measured; lesson 03 shows them.
A problem already in that file is not run again (delete the file, or pass ``--again``, to start over).

    python benchmarks/range_test_vs_grid.py [--seeds 0 1 2] [--problems 0 1 ...] [--output FILE]

About 40 minutes on a 2-core CPU for the six problems and three seeds.
"""

import argparse
import datetime
import json
import platform
import time
from dataclasses import replace

import lrcourse

lrcourse.quiet_tensorflow()  # before Keras loads

import keras  # noqa: E402
import numpy as np  # noqa: E402

from lrcourse import experiments, finder, models, paths, training  # noqa: E402
from lrcourse.experiments import Runner, RunSpec  # noqa: E402
from lrcourse.finder import LRFinder, RangeTestResult, smooth  # noqa: E402

# (model, data set, optimizer, batch size): two models, two data sets, SGD and Adam, two batch sizes
PROBLEMS = (
    ("mnist_cnn", "fashion_mnist_small", "adam", 32),
    ("mnist_cnn", "fashion_mnist_small", "sgd", 128),
    ("mnist_cnn", "mnist_small", "sgd", 32),
    ("mlp", "mnist_small", "adam", 128),
    ("mlp", "fashion_mnist_small", "sgd", 32),
    ("mlp", "mnist_small", "adam", 32),
)
GRIDS = {"adam": np.logspace(-4, -1, 7), "sgd": np.logspace(-3, 0, 7)}
SUBSET, EPOCHS, MOMENTUM = 3000, 3, 0.9
SWEEP = dict(start_lr=1e-7, end_lr=10.0, num_batches=100)
SKIP_BEGIN, SKIP_END = 10, 5


# --- the other tools' readings, from their published descriptions -----------------------------------------


def _cut_at(smoothed, factor):
    """The part of a sweep a tool keeps: up to and including the first point past ``factor`` x the best so far,
    and before any value that is not finite."""
    best = np.inf
    for i, value in enumerate(smoothed):
        if not np.isfinite(value):
            return i
        best = min(best, value)
        if value > factor * best:
            return i + 1
    return len(smoothed)


def fastai_readings(lrs, losses, num_it):
    """fastai's ``valley`` and ``slide`` on its smoothed, cut curve; ``None`` where too little is left."""
    smoothed = np.asarray(smooth(losses, 0.98))
    kept = _cut_at(smoothed, 4.0)
    lrs, smoothed = np.asarray(lrs)[:kept][num_it // 10: -5], smoothed[:kept][num_it // 10: -5]
    if len(smoothed) < 16:
        return {"fastai valley": None, "fastai slide": None}
    return {"fastai valley": _fastai_valley(lrs, smoothed), "fastai slide": _fastai_slide(lrs, smoothed)}


def _fastai_valley(lrs, losses):
    n = len(losses)
    length, max_start, max_end = [1] * n, 0, 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and length[i] < length[j] + 1:
                length[i] = length[j] + 1
            if length[max_end] < length[i]:
                max_end, max_start = i, i - length[i]
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])


def _fastai_slide(lrs, losses, lr_diff=15, threshold=0.005):
    gradient = np.gradient(losses)
    right, left = -1, -1 - lr_diff
    suggestion = lrs[left]
    while left >= -len(losses) and abs(gradient[right] - gradient[left]) > threshold:
        suggestion = lrs[left]
        right, left = right - 1, left - 1
    return float(suggestion)


def torch_lr_finder_reading(lrs, losses):
    """torch-lr-finder's suggestion: the steepest slope of its moving average, on ``[10 : -5]``."""
    averaged = [losses[0]]
    for loss in losses[1:]:
        averaged.append(0.05 * loss + 0.95 * averaged[-1])
    kept = _cut_at(averaged, 5.0)
    averaged, lrs = np.asarray(averaged[:kept])[SKIP_BEGIN:-SKIP_END], np.asarray(lrs)[:kept][SKIP_BEGIN:-SKIP_END]
    return {"torch-lr-finder steepest": float(lrs[np.argmin(np.gradient(averaged))]) if len(averaged) > 2 else None}


def package_readings(result, curve_name):
    """This package's three suggestions and the CLR max bound, ``None`` where the curve gives none."""
    readings = {}
    for method in finder.SUGGESTIONS + ("max bound",):
        try:
            rate = result.bounds()[1] if method == "max bound" else result.suggest(method)
        except ValueError:
            rate = None
        readings[f"lrcourse {finder.SUGGESTION_LABELS.get(method, method)} ({curve_name})"] = rate
    return readings


def readings(test):
    """Every reading of one range test, ``{name: rate or None}``."""
    training_losses = test.training_losses[: _cut_at(smooth(test.training_losses, test.beta), test.stop_factor)]
    on_training = RangeTestResult(test.lrs[: len(training_losses)], training_losses, smooth(training_losses, test.beta))
    found = {**package_readings(test, "validation"), **package_readings(on_training, "training")}
    found.update(fastai_readings(test.lrs, test.training_losses, SWEEP["num_batches"]))
    found.update(torch_lr_finder_reading(test.lrs, test.training_losses))
    return found


# --- one problem ---------------------------------------------------------------------------------------


def spec_for(problem, name, rate):
    model, dataset, optimizer, batch_size = problem
    return RunSpec(name, training.make_optimizer(optimizer, float(rate), MOMENTUM), model=model, dataset=dataset,
                   subset=SUBSET, epochs=EPOCHS, batch_size=batch_size)


def range_test(problem, seed):
    """The range test on the seed's fresh model, on the data the grid's runs train on."""
    model_name, _, optimizer, batch_size = problem
    data = experiments.load_data(spec_for(problem, "range test", 1e-3))
    keras.utils.set_random_seed(seed)
    model = models.build(model_name, data.input_shape, data.num_classes)
    training.compile_model(model, training.make_optimizer(optimizer, 1e-3, MOMENTUM))
    return LRFinder(model).find(data.x_train, data.y_train, batch_size=batch_size, seed=seed,
                                validation_data=(data.x_val, data.y_val), **SWEEP)


def run_problem(problem, seeds, output_dir):
    """Grid, range tests, readings and a run at each reading: the problem's record."""
    started = time.perf_counter()
    tuned = experiments.tune_learning_rate(lambda rate: spec_for(problem, f"constant {rate:.3g}", rate),
                                           GRIDS[problem[2]], seeds, output_dir, verbose=False)
    best_runs = {r.params["spec"]["seed"]: r for r in experiments.records_for([tuned.spec], seeds, output_dir)}
    per_seed = []
    for seed in seeds:
        found = readings(range_test(problem, seed))
        runs = {}  # rate -> test accuracy: readings that agree share one run
        for rate in {rate for rate in found.values() if rate is not None}:
            runs[rate] = Runner(spec_for(problem, f"reading {rate:.3g}", rate)).run(seed).test_accuracy
        per_seed.append({
            "seed": seed,
            "best_test_accuracy": best_runs[seed].test_accuracy,
            "readings": {name: None if rate is None else {"rate": rate, "test_accuracy": runs[rate]}
                         for name, rate in found.items()},
        })
        print(f"  seed {seed}: " + ", ".join(f"{name} {rate:.2g}" for name, rate in found.items() if rate), flush=True)
    model, dataset, optimizer, batch_size = problem
    return {
        "model": model, "dataset": dataset, "optimizer": optimizer, "batch_size": batch_size,
        "best_rate": tuned.rate, "interior": tuned.interior,
        "grid": {f"{spec.optimizer['config']['learning_rate']:.3g}": {
            "val_accuracy_mean": row["val_accuracy_mean"], "test_accuracy_mean": row["test_accuracy_mean"]}
            for spec, (_, row) in zip(tuned.specs, tuned.table.iterrows())},
        "seeds": per_seed,
        "seconds": round(time.perf_counter() - started, 1),
    }


def provenance(seeds):
    return {
        "what": "range-test readings against the best of a grid of constant rates (benchmarks/range_test_vs_grid.py)",
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {platform.processor() or 'CPU'}, backend {keras.backend.backend()}",
        "versions": f"lrcourse {lrcourse.__version__}, Keras {keras.__version__}, Python {platform.python_version()}",
        "settings": f"subset {SUBSET}, {EPOCHS} epochs, SGD momentum {MOMENTUM}, seeds {list(seeds)}, "
                    f"sweep {SWEEP['start_lr']:g} .. {SWEEP['end_lr']:g} over {SWEEP['num_batches']} batches",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--problems", type=int, nargs="+", default=list(range(len(PROBLEMS))),
                        help="indices into PROBLEMS")
    parser.add_argument("--output", default=str(finder.MEASURED_READINGS))
    parser.add_argument("--work", default="build/range_test_vs_grid", help="the runs' records")
    parser.add_argument("--again", action="store_true", help="run the problems already in --output again")
    args = parser.parse_args()

    output = paths.resolve(args.output)
    saved = json.loads(output.read_text()) if output.exists() and not args.again else {"problems": []}
    done = {tuple(p[k] for k in ("model", "dataset", "optimizer", "batch_size")) for p in saved["problems"]}
    for index in args.problems:
        problem = PROBLEMS[index]
        if problem in done:
            print(f"{problem}: in {output} already", flush=True)
            continue
        print(f"{problem}: ...", flush=True)
        record = run_problem(problem, args.seeds, f"{args.work}/{index}")
        print(f"{problem}: grid best {record['best_rate']:.3g} (interior: {record['interior']}), "
              f"{record['seconds']:.0f} s", flush=True)
        saved = {"provenance": provenance(args.seeds), "problems": saved["problems"] + [record]}
        paths.write_atomically(output, json.dumps(saved, indent=1))
    print(finder.score_readings(saved["problems"]).to_string())


if __name__ == "__main__":
    main()
