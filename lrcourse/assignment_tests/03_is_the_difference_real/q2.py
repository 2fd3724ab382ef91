from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 3

@test_case(points=None, hidden=False)
def test_a_series_with_one_value_per_setting(half_widths, runs):
    import pandas as pd
    assert isinstance(half_widths, pd.Series), f'half_widths is a {type(half_widths).__name__}, not a pandas Series'
    assert set(half_widths.index) == set(runs['run']), f'indexed by {sorted(half_widths.index)}'
    assert (half_widths >= 0).all(), 'a half-width is not negative'

