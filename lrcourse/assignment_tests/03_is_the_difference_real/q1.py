from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=None, hidden=False)
def test_best_is_one_of_the_settings(best, runs):
    assert best in set(runs['run']), f"best is {best!r}; the settings are {sorted(set(runs['run']))}"

