from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=None, hidden=False)
def test_one_p_value_for_each_other_setting(p_values, best, runs):
    assert isinstance(p_values, dict), f'p_values is a {type(p_values).__name__}, not a dict'
    assert set(p_values) == set(runs['run']) - {best}, f'keys {sorted(p_values)}: give the settings other than {best!r}'
    assert all((0 <= p <= 1 for p in p_values.values())), f'a p-value lies in [0, 1]: {p_values}'

