from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 1

@test_case(points=None, hidden=False)
def test_it_is_a_rate_of_the_sweep(lowest_smoothed_lr, lrs):
    import numpy as np
    assert isinstance(lowest_smoothed_lr, float), f'lowest_smoothed_lr is {lowest_smoothed_lr!r}, not a float'
    assert np.isclose(lrs, lowest_smoothed_lr).any(), "that rate is not one of the sweep's rates"

