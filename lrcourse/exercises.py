"""Self-checking exercises: the student writes an answer, the package knows the right one.

The lessons never show the expected answers: they live here, keyed by lesson and exercise
number, and most are computed by the same package code the lesson teaches. A lesson's
exercise cell only names its exercise::

    answer_1 = None
    exercises.check("01", 1, answer_1)

``check`` prints one verdict and never raises, so every exercise in a cell is checked on its own
and a lesson with unanswered exercises (``None``) still runs top to bottom in batch and in CI.

How answers are compared:

* a number may be a Python ``int`` or ``float``, a NumPy number (``np.float32(0.0055)``,
  ``np.int64(7)``) or any 0-d array or tensor; ``True``/``False`` are not numbers;
* a count (an update, a number of cycles) must be exact;
* any other number must lie within the exercise's stated relative tolerance (0.01% unless the
  exercise says otherwise), so ``0.00625`` and ``np.float32(0.00625)`` are both right;
* a yes/no answer must be ``True`` or ``False`` (a NumPy bool too).
"""

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Exercise:
    """The right answer to one exercise, how close an answer must be, and a hint for a wrong one."""

    expected: Callable[[], object]  # computed on demand, from the package code the lesson teaches
    rel: float = 1e-4  # relative tolerance for a number that is not a count
    hint: str = ""

    def is_right(self, answer):
        """Whether ``answer`` matches the expected answer, as the module docstring describes."""
        expected = self.expected()
        kind = _kind(expected)
        if kind == "yes/no":
            return isinstance(answer, (bool, np.bool_)) and bool(answer) == bool(expected)
        number = _as_number(answer)
        if number is None:
            return False
        if kind == "count":
            return number == _as_number(expected)
        return math.isclose(number, _as_number(expected), rel_tol=self.rel, abs_tol=1e-12)

    def rule(self):
        """What the answer is and how it is checked, in words."""
        kind = _kind(self.expected())
        if kind == "number":
            return f"a number, checked within {self.rel:.2%} of the expected value".replace(".00%", "%")
        return {"yes/no": "True or False", "count": "a whole number, checked exactly"}[kind]


def _lesson_01():
    from lrcourse.schedules import PolynomialDecay, StepDecay
    return {
        1: Exercise(lambda: StepDecay(0.1, factor=0.5, drop_every=10).at_epoch(45),
                    hint="count the drops that happened before epoch 45"),
        2: Exercise(lambda: PolynomialDecay(50, 0.05, power=1).at_epoch(40),
                    hint="with power 1 the rate falls in a straight line to 0 at epoch 50"),
        3: Exercise(lambda: round(1 / (0.01 / 40)),
                    hint="solve 1 / (1 + decay * t) = 1/2 for t"),
        4: Exercise(lambda: _half_width([0.90, 0.92, 0.91]), rel=1e-2,
                    hint="t times the sample standard deviation (ddof=1) over the square root of 3"),
    }


def _lesson_02():
    from lrcourse.schedules import CyclicalLearningRate, plan_cycles
    from lrcourse.statistics import welch_p_value
    return {
        1: Exercise(lambda: CyclicalLearningRate(0.001, 0.01, 100)(250),
                    hint="a cycle is 200 updates; where in its second cycle is update 250?"),
        2: Exercise(lambda: CyclicalLearningRate(0.001, 0.01, 100, mode="triangular2")(500),
                    hint="triangular2 halves the height of the triangle every cycle"),
        3: Exercise(lambda: plan_cycles(4, math.ceil(45_000 / 128), 60).full_cycles,
                    hint="one full cycle is two step sizes"),
        4: Exercise(lambda: bool(welch_p_value([0.88, 0.90, 0.86], [0.89, 0.91, 0.90]) < 0.05),
                    hint="compute the p-value of Welch's t-test and compare it with 0.05"),
    }


def _lesson_03():
    from lrcourse.finder import sweep_rates
    return {
        1: Exercise(lambda: float(sweep_rates(1e-5, 1e-1, 101)[50]),
                    hint="halfway through an exponential sweep is the geometric mean of its ends"),
        2: Exercise(lambda: float(np.mean([3, 1, 2])),
                    hint="Keras reports the mean of the epoch's batch losses so far"),
    }


def _lesson_04():
    from lrcourse.schedules import CosineRestarts, OneCycle
    return {
        1: Exercise(lambda: OneCycle(0.2, 500)(0), hint="the first rate is max_lr / div_factor"),
        2: Exercise(lambda: int(np.argmax(OneCycle(0.2, 500)(np.arange(500)))),
                    hint="the peak is at update pct_start * total_steps - 1"),
        3: Exercise(lambda: OneCycle(0.2, 500).momentum_schedule()(149),
                    hint="momentum moves against the rate"),
        4: Exercise(lambda: int(CosineRestarts(0.1, 50, cycles=4, t_mul=2).boundaries[1]),
                    hint="the cycles last 50, 100, 200, ... updates"),
        5: Exercise(lambda: 0, hint="the file holds the optimizer's state, but a fresh optimizer has no momentum "
                                    "buffers yet, so Keras skips loading it"),
    }


ANSWER_KEY = {"01": _lesson_01, "02": _lesson_02, "03": _lesson_03, "04": _lesson_04}


def _half_width(values):
    from lrcourse.statistics import confidence_interval
    low, high = confidence_interval(values)
    return (high - low) / 2


def exercise(lesson, number):
    """The :class:`Exercise` behind exercise ``number`` of lesson ``lesson`` ("01" .. "04")."""
    if lesson not in ANSWER_KEY:
        raise KeyError(f"no lesson {lesson!r} has exercises; use one of {', '.join(ANSWER_KEY)}")
    exercises = ANSWER_KEY[lesson]()
    if number not in exercises:
        raise KeyError(f"lesson {lesson} has no exercise {number!r}; its exercises are {sorted(exercises)}")
    return exercises[number]


def _as_number(answer):
    """``answer`` as a float if it is a real number (Python, NumPy, 0-d array or tensor), else None."""
    if isinstance(answer, (bool, np.bool_, str, bytes)):
        return None
    try:
        array = np.asarray(answer)
    except Exception:
        return None
    if array.ndim != 0 or array.dtype.kind not in "iuf":
        return None
    return float(array)


def _kind(expected):
    if isinstance(expected, (bool, np.bool_)):
        return "yes/no"
    return "count" if np.asarray(expected).dtype.kind in "iu" else "number"


def check(lesson, number, answer):
    """Print whether ``answer`` is the right one to exercise ``number`` of ``lesson``.

    It prints one line and returns nothing (so a notebook cell shows only the verdict), and it
    never raises on a wrong answer, so the other exercises of the cell are still checked.

    >>> check("01", 1, None)
    Exercise 1: not answered yet (replace None with your answer)
    >>> check("01", 1, np.float32(0.00625))
    Exercise 1: correct
    >>> check("01", 1, 0.0063)
    Exercise 1: 0.0063 is not right yet (the answer is a number, checked within 0.01% of the expected value); hint: count the drops that happened before epoch 45
    """
    key = exercise(lesson, number)
    if answer is None:
        print(f"Exercise {number}: not answered yet (replace None with your answer)")
    elif key.is_right(answer):
        print(f"Exercise {number}: correct")
    else:
        hint = f"; hint: {key.hint}" if key.hint else ""
        print(f"Exercise {number}: {answer!r} is not right yet (the answer is {key.rule()}){hint}")
