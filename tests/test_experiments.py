"""The run layer: specs as values, records that never collide, and statistics with known answers."""

import json
import math
import subprocess
import sys
from dataclasses import replace
from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lrcourse import experiments, statistics
from lrcourse.experiments import RunSpec
from lrcourse.schedules import StepDecay
from lrcourse.training import RunResult


def tiny_spec(name="constant", learning_rate=0.05, **kwargs):
    kwargs = {"model": "small_cnn", "dataset": "digits", "subset": 128, "epochs": 2, "batch_size": 32, **kwargs}
    return RunSpec(name, keras.optimizers.SGD(learning_rate, momentum=0.9), **kwargs)


def fake_record(name, seed, val_accuracy, test_accuracy, loss=0.5):
    spec = tiny_spec(name, seed=seed)
    return RunResult(name=name, history={}, iterations=[], learning_rates=[], val_loss=loss,
                     val_accuracy=val_accuracy, test_loss=loss, test_accuracy=test_accuracy, report={},
                     report_text="", seconds=1.0, steps_per_epoch=1, device={},
                     params={"spec": spec.to_dict(), "key": spec.key()})


# --- statistics on numbers with a known answer ---------------------------------------------------


def test_confidence_interval_is_mean_plus_minus_t_times_standard_error():
    # mean 3, s = sqrt(2.5), n = 5, t(0.975, 4) = 2.7764451: half-width 1.9632
    low, high = experiments.confidence_interval([1, 2, 3, 4, 5])
    assert (low, high) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-6)
    assert all(math.isnan(v) for v in experiments.confidence_interval([0.9]))


def test_welch_p_value_matches_the_hand_computation():
    # equal spreads: t = (3 - 5) / sqrt(2.5/5 + 2.5/5) = -2 with 8 degrees of freedom
    assert experiments.welch_p_value([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]) == pytest.approx(2 * stats.t.sf(2, 8))
    # unequal spreads and sizes: the Welch-Satterthwaite degrees of freedom, written out
    a, b = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0, 40.0])
    va, vb = a.var(ddof=1) / 3, b.var(ddof=1) / 4
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 3)
    assert experiments.welch_p_value(a, b) == pytest.approx(2 * stats.t.sf(abs(t), dof))


def test_welch_p_value_without_spread_and_with_too_few_values():
    assert experiments.welch_p_value([0.9, 0.9], [0.9, 0.9]) == 1.0
    assert experiments.welch_p_value([0.9, 0.9], [0.8, 0.8]) == 0.0
    assert math.isnan(experiments.welch_p_value([0.9], [0.8, 0.7]))


def _summary(**test_accuracies):
    """A summary of settings whose validation accuracy equals their test accuracy, seed by seed."""
    runs = pd.DataFrame([{"run": name, "seed": seed, "val_accuracy": value, "test_accuracy": value, "val_loss": 1.0,
                          "test_loss": 1.0, "seconds": 1.0}
                         for name, values in test_accuracies.items() for seed, value in enumerate(values)])
    return experiments.summarise_runs(runs)


def _line(text, name):
    (line,) = [line for line in text.splitlines() if line.startswith(f"* **{name}**")]
    return line


def test_findings_say_what_the_table_says_setting_by_setting():
    table = _summary(best=[0.90, 0.91, 0.92], close=[0.89, 0.91, 0.90], far=[0.50, 0.52, 0.51])
    text = statistics.findings(table, seeds=[0, 1, 2], where="a CPU")
    assert "seeds 0, 1, 2 on a CPU" in text and "another machine" in text.lower()
    assert _line(text, "best") == "* **best** had the best mean validation accuracy (0.910); its test accuracy is 0.910 ± 0.025."
    assert f"not distinguishable from the best (p = {table.loc['close', 'p_vs_best']:.2g})" in _line(text, "close")
    assert _line(text, "far").endswith(f"different from the best (p = {table.loc['far', 'p_vs_best']:.2g}): 40.0 points lower.")
    assert "No setting is shown to differ" not in text and "false *different*" not in text  # far: p far below 0.05 / 2


def test_findings_flag_a_difference_that_several_tests_could_produce_by_chance():
    table = _summary(best=[0.90, 0.91, 0.92], lead=[0.88, 0.895, 0.89], same=[0.91, 0.90, 0.91])
    p = table.loc["lead", "p_vs_best"]
    assert 0.025 <= p < 0.05, p  # between 0.05 / 2 tests and 0.05
    text = statistics.findings(table, seeds=[0, 1, 2])
    assert "about 10%" in text and "**lead** has p above 0.05/2 = 0.025: a lead to check with more seeds" in text


def test_findings_without_a_difference_or_a_test_say_so_and_name_chance_level():
    text = statistics.findings(_summary(a=[0.8, 0.9], b=[0.85, 0.8]), seeds=[3, 4])
    assert "No setting is shown to differ from the best. With 2 seeds" in text
    one_seed = statistics.findings(_summary(a=[0.8], b=[0.1]), seeds=[0], chance=0.1)
    assert "not tested against the best (it needs 2 seeds or more)" in _line(one_seed, "b")
    assert "With one seed there is no test" in one_seed and "**b** ended near chance level (0.1" in one_seed


def test_findings_point_at_the_setting_whose_seeds_disagree():
    table = _summary(a=[0.90, 0.91, 0.92], b=[0.89, 0.90, 0.91], c=[0.88, 0.89, 0.90], d=[0.40, 0.90, 0.60])
    assert "The widest spread over seeds is **d**'s" in statistics.findings(table, seeds=[0, 1, 2])


def test_summary_picks_the_best_on_validation_and_tests_the_others_on_test_data():
    records = [
        # "a" has the best validation accuracy, "b" the best test accuracy: "a" is the choice
        *(fake_record("a", s, val, test) for s, val, test in [(0, 0.95, 0.90), (1, 0.96, 0.91), (2, 0.94, 0.92)]),
        *(fake_record("b", s, val, test) for s, val, test in [(0, 0.93, 0.93), (1, 0.92, 0.92), (2, 0.91, 0.94)]),
        *(fake_record("c", s, val, test) for s, val, test in [(0, 0.50, 0.50), (1, 0.52, 0.51), (2, 0.51, 0.52)]),
    ]
    table = experiments.summarise(records)
    assert list(table.index) == ["a", "b", "c"]
    assert table.loc["a", "best"] and not table.loc["b", "best"]
    assert table.loc["a", "seeds"] == 3
    assert table.loc["a", "test_accuracy_mean"] == pytest.approx(0.91)
    low, high = experiments.confidence_interval([0.90, 0.91, 0.92])
    assert (table.loc["a", "test_accuracy_ci_low"], table.loc["a", "test_accuracy_ci_high"]) == pytest.approx((low, high))
    assert math.isnan(table.loc["a", "p_vs_best"])
    assert table.loc["b", "p_vs_best"] == pytest.approx(experiments.welch_p_value([0.93, 0.92, 0.94], [0.90, 0.91, 0.92]))
    assert not table.loc["b", "distinguishable"]  # 2 points apart with this spread: not shown
    assert table.loc["c", "distinguishable"]  # 40 points apart: real
    shown = experiments.readable(table)
    assert list(shown.index) == ["a", "b", "c"]
    assert shown.loc["a", "test accuracy"] == "0.910 ± 0.025"
    assert shown.loc["a", "against the best"].startswith("best")
    assert shown.loc["b", "against the best"].startswith("not distinguishable")


# --- specs and their records --------------------------------------------------------------------


def test_a_spec_stores_the_optimizer_and_its_schedule_as_keras_configs():
    spec = RunSpec("step", keras.optimizers.SGD(StepDecay(0.1, 0.5, 2)), dataset="digits")
    assert spec.optimizer["class_name"] == "SGD"
    assert spec.optimizer["config"]["learning_rate"]["class_name"] == "StepDecay"
    json.dumps(spec.to_dict())  # a value that can be written down


def test_keys_are_readable_and_differ_for_any_change_but_not_for_the_seed():
    base = tiny_spec("Step decay, 0.1")
    assert base.key().startswith("step-decay-0-1-")
    assert tiny_spec("Step decay, 0.1", seed=5).key() == base.key()
    assert len({base.key(), tiny_spec("Step decay, 0.1", epochs=3).key(), tiny_spec("Step decay, 0.1", 0.01).key(),
                tiny_spec("Step decay, 0.1", batch_size=16).key()}) == 4
    assert base.record_path("out") != tiny_spec("Step decay, 0.1", seed=5).record_path("out")


@pytest.mark.parametrize("change, message", [
    ({"model": "vgg"}, "model must be one of"),
    ({"dataset": "imagenet"}, "dataset must be one of"),
    ({"epochs": 0}, "epochs must be a whole number >= 1"),
    ({"seed": -1}, "seed must be a whole number >= 0"),
    ({"name": ""}, "name must be a non-empty text"),
    ({"preprocessing": "whiten"}, "preprocessing must be one of"),
    ({"validation_size": 0.9}, r"validation_size must be a fraction in \(0, 0.5\]"),
    ({"callbacks": [{"class_name": "NoSuchCallback"}]}, "unknown callback"),
])
def test_a_bad_spec_is_refused_with_a_message_naming_the_field(change, message):
    with pytest.raises(ValueError, match=message):
        tiny_spec(**change) if "name" not in change else tiny_spec(change["name"])


def test_run_fills_steps_per_epoch_checks_the_applied_rates_and_writes_its_record(tmp_path):
    spec = RunSpec("step", keras.optimizers.SGD(StepDecay(0.1, 0.5, 1)), model="small_cnn", dataset="digits",
                   subset=128, epochs=2, batch_size=32)
    record = experiments.run(spec, tmp_path)
    assert record.steps_per_epoch == 4
    np.testing.assert_allclose(record.learning_rates, [0.05] * 4 + [0.025] * 4, rtol=1e-6)
    stored = RunResult.load(tmp_path / "runs" / spec.key() / "seed-0.json")
    assert stored.params["spec"] == spec.to_dict()
    assert 0 <= stored.val_accuracy <= 1 and 0 <= stored.test_accuracy <= 1


def test_rates_near_zero_may_differ_by_float32_roundings_of_the_peak_but_no_more(monkeypatch):
    # Seen on an H200 (JAX, XLA): a cosine's last rates, near 0, differed from NumPy's by a few
    # float32 roundings of the peak rate; a check relative to each rate alone stopped lesson 04.
    spec = tiny_spec(epochs=1)
    planned = np.array([0.1, 0.05, 1e-4, 1e-9])
    monkeypatch.setattr(experiments, "planned_learning_rate", lambda *_: planned)
    result = SimpleNamespace(iterations=[0, 1, 2, 3], learning_rates=list(planned + [0, 0, 3e-8, 3e-8]))
    experiments._check_learning_rates(spec, 4, result)  # 3e-8 is about four float32 roundings of 0.1
    result.learning_rates[1] = 0.0501  # 0.2% off, far more than float32
    with pytest.raises(RuntimeError, match="applied learning rate 0.0501 at update 1, but its schedule gives 0.05"):
        experiments._check_learning_rates(spec, 4, result)


def test_run_refuses_a_run_whose_applied_rates_differ_from_the_schedule(monkeypatch):
    monkeypatch.setattr(experiments, "planned_learning_rate", lambda spec, steps, iterations: np.full(len(iterations), 1.0))
    with pytest.raises(RuntimeError, match="applied learning rate 0.05 at update 0, but its schedule gives 1"):
        experiments.run(tiny_spec(epochs=1))


def test_compare_repeats_over_seeds_and_a_rerun_replaces_only_its_own_records(tmp_path):
    specs = [tiny_spec("fast", 0.05), tiny_spec("slow", 0.001)]
    table = experiments.compare(specs, seeds=[0, 1], output_dir=tmp_path, verbose=False)
    assert list(table.index) == ["fast", "slow"] and list(table["seeds"]) == [2, 2]
    fast_dir = tmp_path / "runs" / specs[0].key()
    assert sorted(p.name for p in fast_dir.iterdir()) == ["seed-0.json", "seed-1.json"]

    experiments.compare(specs[:1], seeds=[3], output_dir=tmp_path, verbose=False)
    assert sorted(p.name for p in fast_dir.iterdir()) == ["seed-3.json"]  # no stale seeds beside the new one
    assert len(list((tmp_path / "runs" / specs[1].key()).iterdir())) == 2  # the other spec's records are kept
    again = experiments.records_for(specs[:1], [3], tmp_path)[0]
    assert again.name == "fast" and again.params["spec"]["seed"] == 3


def test_the_same_seed_gives_the_same_numbers():
    first, second = (experiments.run(tiny_spec(epochs=1, seed=4)) for _ in range(2))
    assert first.val_accuracy == second.val_accuracy and first.history == second.history


def test_compare_refuses_duplicate_names_and_empty_seed_lists():
    with pytest.raises(ValueError, match="spec names must be unique"):
        experiments.compare([tiny_spec("a"), tiny_spec("a", 0.01)], seeds=[0])
    with pytest.raises(ValueError, match="at least one spec and one seed"):
        experiments.compare([tiny_spec()], seeds=[])
    with pytest.raises(ValueError, match=r"seeds must all differ .*; got \[0, 0\]"):
        experiments.compare([tiny_spec()], seeds=[0, 0])


def test_the_rate_check_works_the_schedule_out_apart_from_the_run():
    spec = RunSpec("step", keras.optimizers.SGD(StepDecay(0.1, 0.5, 1)), dataset="digits")
    np.testing.assert_allclose(experiments.planned_learning_rate(spec, 4, [0, 3, 4, 8]), [0.05, 0.05, 0.025, 0.0125])
    constant = experiments.planned_learning_rate(tiny_spec(learning_rate=0.05), 4, [0, 9])
    np.testing.assert_allclose(constant, [0.05, 0.05], rtol=1e-6)


def test_one_seed_gives_no_verdict_instead_of_a_false_one():
    table = experiments.summarise([fake_record("a", 0, 0.9, 0.9), fake_record("b", 0, 0.8, 0.5)])
    assert table.loc["b", "distinguishable"] is None and math.isnan(table.loc["b", "p_vs_best"])
    assert experiments.readable(table).loc["b", "against the best"] == "not tested (needs 2 seeds or more)"


@pytest.mark.parametrize("model, augment", [("resnet_small", False), ("small_cnn", True)])
def test_a_runner_reused_for_the_next_seed_trains_exactly_like_a_fresh_build(model, augment):
    spec = tiny_spec("step", StepDecay(0.1, 0.5, 1), model=model, augment=augment, epochs=2)
    runner = experiments.Runner(spec)
    runner.run(0)
    reused = runner.run(1)
    fresh = experiments.run(replace(spec, seed=1))
    assert reused.history == fresh.history and reused.test_accuracy == fresh.test_accuracy
    assert reused.learning_rates == fresh.learning_rates and reused.iterations == fresh.iterations


def test_the_statistics_docstring_examples_hold():
    import doctest

    from lrcourse import statistics

    result = doctest.testmod(statistics)
    assert result.attempted >= 2 and result.failed == 0


def test_updates_to_reach_counts_whole_epochs_until_the_target_is_first_met():
    record = fake_record("r", 0, 0.9, 0.9)
    record.history = {"val_accuracy": [0.5, 0.82, 0.79, 0.9]}
    record.steps_per_epoch = 30
    assert experiments.updates_to_reach(record, 0.8) == 60
    assert experiments.updates_to_reach(record, 0.5) == 30
    assert experiments.updates_to_reach(record, 0.95) is None
    assert experiments.updates_to_reach(record, 0.6, metric="val_accuracy") == 60


REPEAT = """
import json, sys
from lrcourse import device, experiments
from tests_spec import spec
device.setup(seed=0)  # as every lesson does first: seeded, deterministic ops on TensorFlow
first, second = (experiments.run(spec(seed)) for seed in (1, 1))
other = experiments.run(spec(2))
print(json.dumps([[r.history, r.val_accuracy, r.test_accuracy, r.learning_rates] for r in (first, second, other)]))
"""


def test_the_same_seed_on_the_same_machine_and_software_gives_the_same_numbers(tmp_path):
    # in a fresh process: deterministic ops cannot be turned off again in one, and earlier tests ran without them
    (tmp_path / "tests_spec.py").write_text(
        "import keras\nfrom lrcourse.experiments import RunSpec\n"
        "def spec(seed):\n"
        "    return RunSpec('r', keras.optimizers.SGD(0.05, momentum=0.9), model='small_cnn', dataset='digits',\n"
        "                   subset=128, epochs=2, batch_size=32, seed=seed)\n")
    done = subprocess.run([sys.executable, "-c", REPEAT], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second, other = json.loads(done.stdout.strip().splitlines()[-1])
    assert first == second  # every number, exactly
    assert first[0] != other[0]  # and the seed matters: another one trains differently


# --- tuning a constant rate, and the updates each setting needs ---------------------------------


def peaked_at(best_rate):
    """A stand-in for run_seeds whose validation accuracy peaks at ``best_rate`` (in log10 rate)."""
    runs = []

    def run_seeds(specs, seeds, output_dir=None, verbose=True):
        records = []
        for spec in specs:
            rate = spec.optimizer["config"]["learning_rate"]
            runs.append(rate)
            for seed in seeds:
                accuracy = 0.9 - 0.1 * (math.log10(rate) - math.log10(best_rate)) ** 2 + 0.001 * seed
                records.append(fake_record(spec.name, seed, accuracy, accuracy))
        return records

    return run_seeds, runs


def constant(rate):
    return tiny_spec(f"constant {rate:.3g}", learning_rate=rate)


def test_tuning_keeps_an_interior_best_without_widening(monkeypatch):
    fake, runs = peaked_at(0.03)
    monkeypatch.setattr(experiments, "run_seeds", fake)
    tuned = experiments.tune_learning_rate(constant, [0.1, 0.01, 0.03], seeds=[0, 1])
    assert tuned.rate == 0.03 and tuned.interior and runs == pytest.approx([0.01, 0.03, 0.1])  # float32 configs
    assert list(tuned.table.index) == ["constant 0.01", "constant 0.03", "constant 0.1"]
    assert tuned.spec.name == "constant 0.03" and list(tuned.table["best"]) == [False, True, False]


def test_tuning_widens_a_grid_whose_best_is_at_an_edge_until_it_is_interior(monkeypatch):
    fake, runs = peaked_at(1.0)
    monkeypatch.setattr(experiments, "run_seeds", fake)
    tuned = experiments.tune_learning_rate(constant, [0.01, 0.1], seeds=[0, 1], widen=3)
    assert runs == pytest.approx([0.01, 0.1, 1.0, 10.0])  # one grid step (x10) at a time, on the high side
    assert tuned.rate == pytest.approx(1.0) and tuned.interior


def test_a_best_still_at_the_edge_after_widening_is_flagged(monkeypatch):
    fake, runs = peaked_at(1e-5)
    monkeypatch.setattr(experiments, "run_seeds", fake)
    with pytest.warns(UserWarning, match="still at the low edge of the grid after widening it 2 times: it is no best"):
        tuned = experiments.tune_learning_rate(constant, [0.01, 0.03], seeds=[0, 1])
    assert runs == pytest.approx([0.01, 0.03, 0.01 / 3, 0.01 / 9]) and not tuned.interior
    with pytest.raises(ValueError, match="at least two different rates"):
        experiments.tune_learning_rate(constant, [0.01], seeds=[0, 1])


def test_updates_to_target_counts_each_seed_and_its_spread():
    def record(name, seed, curve):
        r = fake_record(name, seed, curve[-1], curve[-1])
        return replace(r, history={"val_accuracy": curve}, steps_per_epoch=10)

    records = [record("a", 0, [0.5, 0.8, 0.9]), record("a", 1, [0.8, 0.85, 0.9]), record("b", 0, [0.5, 0.6, 0.7]),
               record("b", 1, [0.6, 0.7, 0.8])]
    table = experiments.updates_to_target(records, 0.8)
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "seed 0"] == 20 and table.loc["a", "seed 1"] == 10 and math.isnan(table.loc["b", "seed 0"])
    assert list(table["reached"]) == ["2 of 2", "1 of 2"] and list(table["updates (mean)"]) == [15, 30]
    low, high = experiments.confidence_interval([20, 10])
    assert table.loc["a", "95% CI"] == f"{low:.0f} .. {high:.0f}" and table.loc["b", "95% CI"] == ""
