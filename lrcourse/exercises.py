"""Self-checking exercises: the student fills in an answer, the package knows the right one.

Answers left as ``None`` are reported as not attempted, so a lesson still runs top to bottom
(in batch and in CI) before anyone has done the exercises.
"""

import math


def check(exercise, answer, expected, rel=1e-6):
    """Compare ``answer`` with ``expected``; print the verdict, and raise on a wrong answer.

    Numbers are compared with a relative tolerance ``rel``; anything else must be equal.
    """
    if answer is None:
        print(f"{exercise}: not answered yet (replace None with your answer)")
        return
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        right = (isinstance(answer, (int, float)) and not isinstance(answer, bool)
                 and math.isclose(answer, expected, rel_tol=rel))
    else:
        right = answer == expected
    if not right:
        raise AssertionError(f"{exercise}: {answer!r} is not right yet; try again")
    print(f"{exercise}: correct")
