import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from lrcourse import exercises

LESSONS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# Every lesson exercise's answer, worked out by hand from the question in the lesson's cell.
BY_HAND = {
    ("01", 1): 0.1 * 0.5**4,  # four drops of 0.5 before epoch 45
    ("01", 2): 0.05 * (1 - 40 / 50),
    ("01", 3): 4000,  # 1 / (1 + decay * t) = 1/2 at t = 1 / decay
    ("01", 4): 4.302652729911275 * 0.01 / 3**0.5,  # sample sd of 0.90, 0.92, 0.91 is 0.01
    ("02", 1): 0.001 + 0.009 * 0.5,  # halfway down the second cycle
    ("02", 2): 0.001 + 0.009 / 4,
    ("02", 3): 7,  # a cycle is 8 epochs; 60 // 8
    ("02", 4): False,  # Welch p = 0.22
    ("03", 1): 1e-3,  # geometric mean of 1e-5 and 1e-1
    ("03", 2): 2.0,
    ("04", 1): 0.2 / 25,
    ("04", 2): 149,  # 0.3 * 500 - 1
    ("04", 3): 0.85,
    ("04", 4): 150,  # 50 + 100
    ("04", 5): 0,
}


def test_the_answer_key_holds_every_lesson_exercise_and_agrees_with_the_hand_answers(capsys):
    key = {(lesson, n) for lesson, make in exercises.ANSWER_KEY.items() for n in make()}
    assert key == set(BY_HAND)
    for (lesson, number), value in BY_HAND.items():
        exercises.check(lesson, number, value)
        assert capsys.readouterr().out == f"Exercise {number}: correct\n", (lesson, number)


def test_lesson_04s_fifth_answer_is_what_the_resume_trap_measures():
    """The lesson reads it off its own run; the key holds the number that run gives."""
    from lrcourse import resuming
    x = np.linspace(-1, 1, 64, dtype="float32").reshape(32, 2)
    trap = resuming.compare_resume(lambda: keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]),
                                   lambda: keras.optimizers.SGD(0.01, momentum=0.9), x, x.sum(axis=1, keepdims=True),
                                   epochs=4, stop_after=2, method="weights", batch_size=8)
    assert trap.expected_iterations == 8 and BY_HAND[("04", 5)] == trap.iterations_after_loading


def test_the_lessons_check_exactly_the_exercises_of_the_key_and_never_show_an_answer():
    assert len(LESSONS) == len(exercises.ANSWER_KEY)
    for notebook in LESSONS:
        lesson = notebook.name[:2]
        code = "\n".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"]
                         if cell["cell_type"] == "code")
        calls = re.findall(r"exercises\.check\((.*)\)", code)
        assert calls == [f'"{lesson}", {n}, answer_{n}' for n in sorted(exercises.ANSWER_KEY[lesson]())], notebook


@pytest.mark.parametrize("answer", [0.00625, np.float32(0.00625), np.float64(0.00625), np.array(0.00625),
                                    keras.ops.convert_to_tensor(0.00625), 0.0062506])
def test_numbers_of_every_kind_within_the_tolerance_are_right(answer, capsys):
    exercises.check("01", 1, answer)
    assert capsys.readouterr().out == "Exercise 1: correct\n"


@pytest.mark.parametrize("answer", [7, np.int64(7), np.int32(7), 7.0, np.float32(7.0), np.array(7)])
def test_a_count_may_be_any_kind_of_whole_number(answer):
    assert exercises.exercise("02", 3).is_right(answer)


@pytest.mark.parametrize("answer", [False, np.bool_(False)])
def test_a_yes_no_answer_may_be_a_numpy_bool(answer):
    assert exercises.exercise("02", 4).is_right(answer)


@pytest.mark.parametrize("lesson, number, answer", [
    ("01", 1, 0.0063),  # 0.8% off: outside 0.01%
    ("01", 1, "0.00625"),
    ("01", 1, True),
    ("01", 1, [0.00625]),
    ("01", 1, np.array([0.00625])),
    ("02", 3, 7.5),
    ("02", 4, 0),  # a number is not a yes/no answer
    ("02", 4, "False"),
    ("04", 5, False),  # nor a bool a count
])
def test_wrong_answers_are_reported_with_the_rule_and_a_hint_but_do_not_raise(lesson, number, answer, capsys):
    exercises.check(lesson, number, answer)
    out = capsys.readouterr().out
    assert out.startswith(f"Exercise {number}: {answer!r} is not right yet (the answer is ")
    assert "hint: " in out and out.count("\n") == 1


def test_the_verdict_states_the_tolerance(capsys):
    exercises.check("01", 1, 0.1)
    exercises.check("01", 4, 0.1)
    exercises.check("02", 3, 8)
    exercises.check("02", 4, True)
    out = capsys.readouterr().out.splitlines()
    assert "a number, checked within 0.01% of the expected value" in out[0]
    assert "a number, checked within 1% of the expected value" in out[1]
    assert "a whole number, checked exactly" in out[2]
    assert "True or False" in out[3]


def test_a_wrong_answer_does_not_hide_the_next_ones(capsys):
    exercises.check("04", 1, 0.2)
    exercises.check("04", 2, None)
    exercises.check("04", 4, 150)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["Exercise 1", "Exercise 2", "Exercise 4"]
    assert "is not right yet" in out[0] and out[2] == "Exercise 4: correct"
    assert out[1] == "Exercise 2: not answered yet (replace None with your answer)"


def test_the_rounded_interval_half_width_is_accepted_within_its_stated_one_percent():
    key = exercises.exercise("01", 4)
    assert key.is_right(0.0248) and key.is_right(0.025) and not key.is_right(0.0251)


@pytest.mark.parametrize("lesson, number, message", [
    ("05", 1, "no lesson '05' has exercises; use one of 01, 02, 03, 04"),
    ("03", 3, r"lesson 03 has no exercise 3; its exercises are \[1, 2\]"),
])
def test_an_unknown_exercise_names_the_ones_that_exist(lesson, number, message):
    with pytest.raises(KeyError, match=message):
        exercises.check(lesson, number, 1.0)


def test_the_docstring_examples_run():
    import doctest
    result = doctest.testmod(exercises)
    assert result.attempted >= 2 and result.failed == 0
