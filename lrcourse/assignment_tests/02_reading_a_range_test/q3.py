from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 1

@test_case(points=None, hidden=False)
def test_the_answer_is_one_of_the_two_words(lag_moves_readings):
    assert lag_moves_readings in ('high', 'low'), f'answer "high" or "low"; got {lag_moves_readings!r}'

