"""Experiments a learner can trust: a run is a value, repeated over seeds, summarised honestly.

* :class:`RunSpec` describes one training run completely (data, model, optimizer and schedule
  as Keras configs, epochs, batch size, seed), so it can be stored, compared and run again.
* :func:`run` executes a spec, checks that every learning rate the optimizer applied equals its
  schedule, and returns the record (:class:`lrcourse.training.RunResult`).
* :func:`compare` runs every spec once per seed and returns a pandas DataFrame: per spec the
  mean, standard deviation and 95% confidence interval of validation and test accuracy and
  loss, the time, the number of seeds, and whether the spec is distinguishable from the best.

The best spec is the one with the highest mean **validation** accuracy: the test split plays
no part in any choice. Whether another spec really differs from it is then asked of the
**test** accuracies, which the choice never saw, with Welch's t-test.

Records are JSON files in ``<output_dir>/runs/<name>-<hash>/seed-<seed>.json``: a readable name
plus a short hash of the whole spec, so two settings never overwrite each other, and a re-run
of a spec replaces that spec's records only.

The statistics (intervals, Welch's test, the readable table) are in :mod:`lrcourse.statistics`.
"""

import copy
import functools
import hashlib
import json
import math
import re
import shutil
import warnings
from dataclasses import asdict, dataclass, replace

import keras
import numpy as np
import pandas as pd

from lrcourse import _checks, data, models, paths
from lrcourse import callbacks as course_callbacks
from lrcourse.schedules import LearningRateDecay
# the statistics, here too so that a lesson needs one import
from lrcourse.statistics import (  # noqa: F401  (the lessons reach them here)
    METRICS, confidence_interval, readable, show_findings, summarise_runs, welch_p_value)
from lrcourse.training import RunResult, compile_model, steps_per_epoch, train


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one training run.

    ``optimizer`` is a Keras optimizer or its config (``keras.saving.serialize_keras_object``);
    it is stored as the config, with its learning-rate schedule inside. An epoch-based schedule
    without ``steps_per_epoch`` gets it from the data when the run starts. ``callbacks`` are
    extra Keras callbacks as ``{"class_name": ..., "config": {...}}`` (from ``keras.callbacks``
    or ``lrcourse.callbacks``).

    >>> spec = RunSpec("constant", keras.optimizers.SGD(0.05, momentum=0.9), model="small_cnn",
    ...                dataset="digits", epochs=3, batch_size=32)
    >>> spec.key()                                                      # doctest: +SKIP
    'constant-1f0c2a9b'
    """

    name: str
    optimizer: dict
    model: str = "mnist_cnn"
    dataset: str = "fashion_mnist_small"
    subset: int = 0  # training examples drawn at random; 0 keeps them all
    validation_size: float = 0.1
    preprocessing: str = "scale"
    augment: bool = False
    epochs: int = 10
    batch_size: int = 64
    seed: int = 0  # initial weights and the order of the batches
    data_seed: int = 0  # the validation split and the subset: the same for every seed
    callbacks: tuple = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name must be a non-empty text; got {self.name!r}")
        if isinstance(self.optimizer, keras.optimizers.Optimizer):
            object.__setattr__(self, "optimizer", keras.saving.serialize_keras_object(self.optimizer))
        if not isinstance(self.optimizer, dict) or "config" not in self.optimizer:
            raise ValueError(f"optimizer must be a Keras optimizer or its config; got {self.optimizer!r}")
        # Keras numbers optimizer names (sgd, sgd_1, ...): drop the name so equal settings are equal specs
        config = {k: v for k, v in self.optimizer["config"].items() if k != "name"}
        object.__setattr__(self, "optimizer", {**self.optimizer, "config": config})
        _checks.choice("model", self.model, tuple(models.MODELS))
        _checks.choice("dataset", self.dataset, data.DATASETS)
        _checks.choice("preprocessing", self.preprocessing, data.PREPROCESSING)
        object.__setattr__(self, "validation_size", _checks.fraction("validation_size", self.validation_size))
        for name in ("epochs", "batch_size"):
            _checks.count(name, getattr(self, name))
        for name in ("subset", "seed", "data_seed"):
            _checks.count(name, getattr(self, name), minimum=0)
        object.__setattr__(self, "callbacks", tuple(self.callbacks))
        for config in self.callbacks:
            _callback_class(config)

    def to_dict(self):
        """The spec as plain JSON values."""
        return {**asdict(self), "callbacks": list(self.callbacks)}

    def key(self):
        """``<name>-<hash>``: the same for every seed of a spec, different when anything else changes."""
        described = {k: v for k, v in self.to_dict().items() if k != "seed"}
        digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()
        return f"{_slug(self.name)}-{digest[:8]}"

    def record_path(self, output_dir):
        return paths.resolve(output_dir) / "runs" / self.key() / f"seed-{self.seed}.json"


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "run"


@functools.lru_cache(maxsize=2)
def _load_data(name, subset, validation_size, preprocessing, seed):
    return data.load(name, subset=subset or None, validation_size=validation_size, preprocessing=preprocessing,
                     seed=seed)


def load_data(spec):
    """The spec's data set (loaded once per setting and kept in memory)."""
    return _load_data(spec.dataset, spec.subset, spec.validation_size, spec.preprocessing, spec.data_seed)


def build_optimizer(spec, steps_per_epoch):
    """A new optimizer from the spec's config; an epoch-based schedule learns ``steps_per_epoch``."""
    optimizer = keras.saving.deserialize_keras_object(copy.deepcopy(spec.optimizer))  # Keras edits the config
    schedule = optimizer._learning_rate
    if isinstance(schedule, LearningRateDecay) and schedule.steps_per_epoch is None:
        config = {**optimizer.get_config(), "learning_rate": schedule.with_steps_per_epoch(steps_per_epoch)}
        optimizer = type(optimizer).from_config(config)
    return optimizer


RATE_RTOL, RATE_ATOL_OF_PEAK = 1e-5, 1e-6  # how close applied rates must be to the schedule


def planned_learning_rate(spec, steps_per_epoch, iterations):
    """The rate the spec's schedule gives at each update in ``iterations``, worked out apart from
    the run: from a schedule rebuilt from the spec's config, evaluated with NumPy in float64."""
    schedule = build_optimizer(spec, steps_per_epoch)._learning_rate
    iterations = np.asarray(iterations, dtype="int64")
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return np.asarray(schedule(iterations), dtype="float64") * np.ones(len(iterations))
    return np.full(len(iterations), float(spec.optimizer["config"]["learning_rate"]))


def _callback_class(config):
    name = config.get("class_name") if isinstance(config, dict) else None
    cls = getattr(course_callbacks, str(name), None) or getattr(keras.callbacks, str(name), None)
    if cls is None:
        raise ValueError(f"unknown callback {config!r}: give {{'class_name': <a class of keras.callbacks or "
                         f"lrcourse.callbacks>, 'config': {{...}}}}")
    return cls


def _build_callback(config):
    return _callback_class(config)(**config.get("config", {}))


def run(spec, output_dir=None):
    """Train the run ``spec`` describes and return its record; write it under ``output_dir`` if given.

    Raises ``RuntimeError`` if any applied learning rate differs from the schedule's value at
    that update (not checked when the spec has callbacks, which may set the rate themselves).
    """
    return Runner(spec).run(spec.seed, output_dir)


class Runner:
    """One spec's model and optimizer, built and compiled once, then trained once per seed.

    Tracing the compiled training step costs seconds (about 2 s for the MNIST CNN and 6 s for
    the small ResNet on a CPU), more than a short run itself. So for each seed the runner puts
    back what a fresh build would hold, instead of building anew: every model variable from a
    model built with that seed, and the optimizer's variables as they were before any update.
    The run is then the same computation as on a freshly built model (a test checks it).
    """

    def __init__(self, spec):
        self.spec = spec
        self.data = load_data(spec)
        self.steps_per_epoch = steps_per_epoch(self.data, spec.batch_size)
        self.optimizer = build_optimizer(spec, self.steps_per_epoch)
        self.model = self._build(spec.seed)
        compile_model(self.model, self.optimizer)
        self.model.optimizer.build(self.model.trainable_variables)
        # Build the compiled loss and metrics too. Otherwise the first fit on JAX or torch draws a batch from its
        # shuffled data to build them, which uses up one shuffle, and a reused runner would see other batches.
        self.model.evaluate(self.data.x_val[:1], self.data.y_val[:1], verbose=0)
        self.fresh_optimizer = [keras.ops.convert_to_numpy(v) for v in self.model.optimizer.variables]

    def _build(self, seed):
        keras.utils.set_random_seed(seed)
        model = models.build(self.spec.model, self.data.input_shape, self.data.num_classes)
        return models.with_augmentation(model, seed=seed) if self.spec.augment else model

    def run(self, seed, output_dir=None):
        spec = replace(self.spec, seed=seed)
        for variable, value in zip(self.model.variables, self._build(seed).variables):
            variable.assign(value)
        for variable, value in zip(self.model.optimizer.variables, self.fresh_optimizer):
            variable.assign(value)
        keras.utils.set_random_seed(seed)  # the order of the batches
        result = train(self.model, self.data, epochs=spec.epochs, batch_size=spec.batch_size, optimizer=self.optimizer,
                       name=spec.name, callbacks=[_build_callback(c) for c in spec.callbacks],
                       params={"spec": spec.to_dict(), "key": spec.key()})
        if not spec.callbacks:
            _check_learning_rates(spec, self.steps_per_epoch, result)
        if output_dir is not None:
            result.save(spec.record_path(output_dir))
        return result


def _check_learning_rates(spec, steps_per_epoch, result):
    """The rates the optimizer reported before each update (its schedule run in the backend's ops
    inside training) must equal the schedule rebuilt from the spec and worked out in NumPy.

    Equal means within float32 arithmetic: 1e-5 of the rate, or 1e-6 of the schedule's largest rate
    where the rate is near 0 (a cosine's tail, a warmup's start), where a few float32 roundings of
    the larger terms it is worked out from are all that separate two correct answers (a GPU's cosine
    differs from a CPU's there)."""
    expected = planned_learning_rate(spec, steps_per_epoch, result.iterations)
    applied = np.asarray(result.learning_rates, dtype="float64")
    tolerance = RATE_RTOL * np.abs(expected) + RATE_ATOL_OF_PEAK * np.max(np.abs(expected), initial=0.0)
    excess = np.abs(applied - expected) - tolerance
    if np.any(excess > 0):
        worst = int(np.argmax(excess))
        raise RuntimeError(
            f"run {spec.name!r} applied learning rate {applied[worst]:.6g} at update "
            f"{result.iterations[worst]}, but its schedule gives {expected[worst]:.6g} there")


def run_seeds(specs, seeds, output_dir=None, verbose=True):
    """Run every spec once per seed; returns the records, grouped by spec in the given order.

    Each spec's earlier records in ``output_dir`` are removed first (a re-run replaces its own
    records and nobody else's). Names must be unique.
    """
    specs, seeds = list(specs), [_checks.count("seed", s, minimum=0) for s in seeds]
    if not specs or not seeds:
        raise ValueError("give at least one spec and one seed")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must all differ (a repeated seed repeats the same run); got {seeds}")
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"spec names must be unique, to label the results; got {names}")
    records = []
    for spec in specs:
        if output_dir is not None:
            shutil.rmtree(spec.record_path(output_dir).parent, ignore_errors=True)
        runner = Runner(spec)
        for seed in seeds:
            record = runner.run(seed, output_dir)
            if verbose:
                print(f"{spec.name:>14} seed {seed}: validation accuracy {record.val_accuracy:.4f} "
                      f"({record.seconds:.0f} s)", flush=True)
            records.append(record)
    return records


def compare(specs, seeds=(0, 1, 2), output_dir=None, verbose=True):
    """Run each spec once per seed and summarise: see :func:`summarise`."""
    return summarise(run_seeds(specs, seeds, output_dir, verbose))


def runs_table(records):
    """One row per run: name, seed, validation and test metrics, seconds, and where the record is."""
    return pd.DataFrame([{
        "run": r.name,
        "seed": r.params["spec"]["seed"],
        **{metric: getattr(r, metric) for metric in METRICS},
        "seconds": r.seconds,
        "record": f"runs/{r.params['key']}/seed-{r.params['spec']['seed']}.json",
    } for r in records])


def summarise(records, alpha=0.05):
    """Per spec, in first-seen order: :func:`lrcourse.statistics.summarise_runs` of the records."""
    return summarise_runs(runs_table(records), by="run", alpha=alpha)


def updates_to_reach(record, target, metric="val_accuracy"):
    """The updates after which ``metric``, measured at the end of each epoch, first reached
    ``target`` in the run ``record``; ``None`` if it never did. Epoch ends are the only points
    measured, so the answer is a whole number of epochs' updates.

    >>> record = RunResult("r", {"val_accuracy": [0.6, 0.8, 0.85]}, [], [], 0, 0, 0, 0, {}, "", 0, 50, {})
    >>> updates_to_reach(record, 0.8), updates_to_reach(record, 0.9)
    (100, None)
    """
    reached = np.flatnonzero(np.asarray(record.history[metric]) >= target)
    return int((reached[0] + 1) * record.steps_per_epoch) if len(reached) else None


@dataclass
class TunedRate:
    """What :func:`tune_learning_rate` found: the best constant ``rate`` on validation accuracy,
    ``table`` (:func:`summarise` of every rate tried, from the lowest rate up), the ``specs``
    run (in the same order), and whether the best is ``interior`` (not at an edge of the grid)."""

    rate: float
    table: pd.DataFrame
    specs: list
    interior: bool

    @property
    def spec(self):
        """The spec of the best rate: compare against it, or read back its records."""
        return self.specs[list(self.table.index).index(self.table.index[self.table["best"]][0])]


def tune_learning_rate(make_spec, rates, seeds=(0, 1, 2), output_dir=None, widen=2, verbose=True):
    """Tune a learning rate (a constant rate, or the peak of a schedule) with the care a method
    compared with it gets.

    Every rate of the log grid ``rates`` (at least two) runs once per seed, and the best is the
    one with the highest mean *validation* accuracy. A best at the lowest or the highest rate
    is no best (a better one may lie beyond), so while it sits at an edge one more rate is run
    beyond that edge, a grid step further (the grid's ratio between neighbours), at most
    ``widen`` times on each side; a best still at an edge then gives a warning and
    ``interior=False``. ``make_spec(rate)`` returns the :class:`RunSpec` of a run at that rate
    (each with its own name, such as ``f"constant {rate:.3g}"``).

    >>> tuned = tune_learning_rate(lambda lr: RunSpec(f"constant {lr:.3g}", keras.optimizers.SGD(lr), ...),
    ...                            [0.01, 0.03, 0.1], seeds=[0, 1, 2])  # doctest: +SKIP
    >>> tuned.rate, tuned.interior                                       # doctest: +SKIP
    (0.03, True)
    """
    rates = sorted(_checks.positive("rate", r) for r in rates)
    if len(rates) < 2 or len(set(rates)) != len(rates):
        raise ValueError(f"give at least two different rates for the grid; got {rates}")
    step = (rates[-1] / rates[0]) ** (1 / (len(rates) - 1))
    by_rate = {rate: make_spec(rate) for rate in rates}
    records = run_seeds(by_rate.values(), seeds, output_dir, verbose)
    widened = {"low": 0, "high": 0}
    while True:
        order = sorted(by_rate)
        table = summarise(records).loc[[by_rate[r].name for r in order]]
        best = int(np.argmax(table["val_accuracy_mean"].to_numpy()))
        edge = "low" if best == 0 else "high" if best == len(order) - 1 else None
        if edge is None or widened[edge] == widen:
            break
        widened[edge] += 1
        rate = order[0] / step if edge == "low" else order[-1] * step
        by_rate[rate] = make_spec(rate)
        records += run_seeds([by_rate[rate]], seeds, output_dir, verbose)
    if edge is not None:
        warnings.warn(f"the best rate, {order[best]:.3g}, is still at the {edge} edge of the grid after widening it "
                      f"{widen} times: it is no best; widen the grid further", stacklevel=2)
    return TunedRate(order[best], table, [by_rate[r] for r in order], edge is None)


def updates_to_target(records, target, metric="val_accuracy"):
    """How many updates each setting needed to reach ``target`` (of ``metric``, measured at each
    epoch's end), over its seeds: one row per setting (a record's name, in first-seen order) with
    the updates of each seed (NaN where it never got there), how many seeds reached it, and the
    mean and 95% interval of the updates of those that did.
    """
    rows = {}
    for record in records:
        needed = updates_to_reach(record, target, metric)
        rows.setdefault(record.name, {})[record.params["spec"]["seed"]] = math.nan if needed is None else needed
    per_seed = pd.DataFrame.from_dict(rows, orient="index")
    per_seed.columns = [f"seed {seed}" for seed in per_seed.columns]
    intervals = [confidence_interval(row.dropna()) for _, row in per_seed.iterrows()]
    return per_seed.assign(**{
        "reached": [f"{k} of {per_seed.shape[1]}" for k in per_seed.notna().sum(axis=1)],
        "updates (mean)": per_seed.mean(axis=1),
        "95% CI": [f"{low:.0f} .. {high:.0f}" if not math.isnan(low) else "" for low, high in intervals],
    })


def records_for(specs, seeds, output_dir):
    """Read back the records that :func:`run_seeds` wrote for these specs and seeds."""
    return [RunResult.load(replace(spec, seed=seed).record_path(output_dir)) for spec in specs for seed in seeds]
