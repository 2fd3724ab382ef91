import pytest

from lrcourse import exercises


def test_unanswered_exercise_only_says_so(capsys):
    exercises.check("Exercise 1", None, 0.00625)
    assert capsys.readouterr().out == "Exercise 1: not answered yet (replace None with your answer)\n"


def test_right_answers_within_tolerance(capsys):
    exercises.check("Exercise 1", 0.00625, 0.1 * 0.5**4)
    exercises.check("Exercise 2", 4000, 4000.0000001)
    exercises.check("Exercise 3", "linear", "linear")
    assert capsys.readouterr().out.count("correct") == 3


@pytest.mark.parametrize("answer", [0.0063, "0.00625", True, 0.0])
def test_wrong_answers_raise(answer):
    with pytest.raises(AssertionError, match="not right yet"):
        exercises.check("Exercise 1", answer, 0.00625)


def test_a_bool_is_not_a_number_answer():
    with pytest.raises(AssertionError):
        exercises.check("Exercise 4", True, 1.0)
