from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 2

@test_case(points=None, hidden=False)
def test_a_rate_inside_the_sweep(one_rate, lrs):
    assert isinstance(one_rate, float), f'one_rate is {one_rate!r}, not a float'
    assert lrs[0] <= one_rate <= lrs[-1], f'one_rate = {one_rate:.3g} is outside the sweep'

