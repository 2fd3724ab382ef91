"""benchmarks/range_test_vs_grid.py: the other tools' readings as their descriptions say, the scores the lesson
shows, and the benchmark end to end at a tiny size (the shipped measurements are read by lesson 03)."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from lrcourse import finder

ROOT = Path(__file__).resolve().parent.parent
LRS = np.logspace(-7, 1, 100)


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("range_test_vs_grid", ROOT / "benchmarks" / "range_test_vs_grid.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_tool_keeps_its_sweep_up_to_the_point_that_stopped_it(bench):
    assert bench._cut_at([3.0, 2.0, 1.0, 3.9, 4.1, 0.5], 4.0) == 5  # 4.1 > 4 x 1.0 stops it, and is kept
    assert bench._cut_at([3.0, 2.0, math.nan, 1.0], 4.0) == 2  # nothing from a loss that is not finite on
    assert bench._cut_at([3.0, 2.0, 1.0], 4.0) == 3


def test_fastai_valley_reads_two_thirds_into_the_longest_descent(bench):
    losses = np.concatenate([np.linspace(10, 1, 31), np.linspace(1.5, 10, 20)])
    # the longest decreasing run ends at 30 with length 31, so fastai's start is 30 - 31 = -1: -1 + 31 // 3 + 31 // 6
    assert bench._fastai_valley(LRS[:51], losses) == LRS[14]


def test_fastai_slide_walks_left_until_the_slopes_fifteen_apart_agree(bench):
    assert bench._fastai_slide(LRS[:60], 0.001 * np.arange(60)) == LRS[60 - 16]  # agree at once: the window's left end
    losses = np.concatenate([np.zeros(30), 0.01 * np.arange(1, 31) ** 2])  # flat, then ever steeper
    # the right end's slope (0.02 (i - 29), 0.005 at i = 29) meets the flat left end's within 0.005 at i = 29; the
    # last window that still differed ended at i = 30 and began at 15
    assert bench._fastai_slide(LRS[:60], losses) == LRS[15]


def test_torch_lr_finder_reads_the_steepest_slope_of_its_unbiased_average(bench):
    losses = [10.0] * 40 + [1.0] * 40 + [100.0] * 5  # a drop at batch 40, then an explosion that stops the sweep
    assert bench.torch_lr_finder_reading(LRS[:85], losses) == {"torch-lr-finder steepest": LRS[40]}


def test_each_reading_is_read_from_one_range_test(bench):
    losses = list(np.concatenate([np.linspace(2.3, 0.5, 70), np.linspace(0.6, 9.0, 30)]))
    test = finder.RangeTestResult(list(LRS), losses, finder.smooth(losses), training_losses=losses, trained_images=3200)
    found = bench.readings(test)
    assert len(found) == 2 * 4 + 3 and all(rate is None or LRS[0] <= rate <= LRS[-1] for rate in found.values())
    # the lowest point of the centred average: a few batches before the raw curve's (69), as the rise is steeper
    assert found["lrcourse max bound (validation)"] == pytest.approx(LRS[65], rel=0.25)
    # the training curve is cut where the package's sweep would have stopped (4 x its best), soon after its lowest point
    assert LRS[65] / 3 < found["lrcourse max bound (training)"] <= found["lrcourse max bound (validation)"]


def problem(best_rate, seeds):
    return {"best_rate": best_rate, "seeds": [{"seed": i, "best_test_accuracy": best, "readings": readings}
                                              for i, (best, readings) in enumerate(seeds)]}


def near(rate, accuracy):
    return {"rate": rate, "test_accuracy": accuracy}


PROBLEMS = [  # reading a: 2, 0.5, 1 and 1 x the best, about as accurate; b: 100 x too low, much worse, once no reading
    problem(0.01, [(0.90, {"a": near(0.02, 0.89), "b": near(0.0001, 0.50)}),
                   (0.92, {"a": near(0.005, 0.92), "b": None})]),
    problem(0.1, [(0.80, {"a": near(0.1, 0.78), "b": near(0.001, 0.30)}),
                  (0.82, {"a": near(0.1, 0.80), "b": near(0.001, 0.35)})]),
]


def test_scores_are_ratios_to_the_grid_best_and_accuracy_gaps_at_the_same_seed():
    scores = finder.score_readings(PROBLEMS)
    assert list(scores.index) == ["a", "b"]  # the closest to the grid's best first
    a, b = scores.loc["a"], scores.loc["b"]
    assert (a["tests"], a["readings"], b["tests"], b["readings"]) == (4, 4, 4, 3)
    assert a["off"] == pytest.approx(2 ** 0.5) and b["off"] == pytest.approx(100)  # |log2|: 1, 1, 0, 0
    assert a["ratio"] == pytest.approx(1.0) and (a["ratio_min"], a["ratio_max"]) == pytest.approx((0.5, 2.0))
    assert a["within"] == 1.0 and a["ratio_low"] < 1 < a["ratio_high"]  # ratios 2, 0.5, 1 and 1
    assert a["gap"] == pytest.approx(-0.0125) and a["gap_worst"] == pytest.approx(-0.02) and a["gap_low"] < 0 < a["gap_high"]
    assert b["ratio"] == pytest.approx(0.01) and b["within"] == 0.0 and b["gap_worst"] == pytest.approx(-0.5)
    assert b["gap_high"] < 0 and finder.readable_scores(scores).loc["b", "readings"] == "3 of 4"


def test_the_findings_follow_the_scores():
    text = finder.reading_findings(finder.score_readings(PROBLEMS))
    assert "Closest to the grid's best rate: **a**, typically a factor 1.4 off (on average 1 x the best" in text
    assert "A run at **a** reached a test accuracy that cannot be told from the grid best's" in text
    assert "**b**" in text.split("\n")[2] and "did worse" in text.split("\n")[2]
    assert "The worst single case: **b**, -0.500" in text and "A run at **b** fell more than 0.5 below" not in text
    assert "A run at **b** fell more than 0.5" in finder.reading_findings(finder.score_readings(
        PROBLEMS + [problem(0.1, [(0.90, {"a": near(0.1, 0.9), "b": near(0.001, 0.1)})])]))
    assert "**a** landed within a factor 3 of the grid's best in all 4 tests." in text
    far = [{**p, "best_rate": p["best_rate"] * 10} for p in PROBLEMS]  # now every reading is 10 x too low
    assert "No reading landed within a factor 3 of the grid's best in every test" in finder.reading_findings(
        finder.score_readings(far))


def test_the_course_ships_measurements_that_score(bench):
    scores, problems, provenance = finder.measured_readings()
    assert len(problems) >= 6 and {"date", "machine", "versions", "settings"} <= set(provenance)
    assert {p["model"] for p in problems} >= {"mnist_cnn", "mlp"} and {p["optimizer"] for p in problems} == {"sgd", "adam"}
    assert len({p["dataset"] for p in problems}) >= 2 and len({p["batch_size"] for p in problems}) >= 2
    assert all(p["interior"] and len(p["grid"]) >= 7 and len(p["seeds"]) >= 3 for p in problems)
    assert set(scores.index) == set(problems[0]["seeds"][0]["readings"]) and len(scores) == 11


def test_the_benchmark_runs_end_to_end_and_resumes(bench, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "SUBSET", 300)
    monkeypatch.setattr(bench, "EPOCHS", 1)
    monkeypatch.setattr(bench, "GRIDS", {"sgd": np.logspace(-2, 0, 3), "adam": np.logspace(-3, -1, 3)})
    output = tmp_path / "readings.json"
    arguments = ["--seeds", "0", "1", "--problems", "4", "--output", str(output), "--work", str(tmp_path / "work")]
    monkeypatch.setattr(sys, "argv", ["range_test_vs_grid.py", *arguments])
    bench.main()
    saved = json.loads(output.read_text())
    (record,) = saved["problems"]
    assert (record["model"], record["optimizer"], record["batch_size"]) == ("mlp", "sgd", 32)
    assert [seed["seed"] for seed in record["seeds"]] == [0, 1]
    assert min(abs(math.log10(record["best_rate"] / float(rate))) for rate in record["grid"]) < 0.01
    assert "fastai valley" in capsys.readouterr().out
    bench.main()  # resumes: the problem is there already, so nothing runs again
    assert "in " + str(output) + " already" in capsys.readouterr().out
    assert json.loads(output.read_text()) == saved
