from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2

@test_case(points=None, hidden=False)
def test_a_set_of_other_settings(real_differences, best, runs):
    assert isinstance(real_differences, set), f'real_differences is a {type(real_differences).__name__}, not a set'
    assert real_differences <= set(runs['run']) - {best}, f'{sorted(real_differences)}: only other settings can differ from {best!r}'

