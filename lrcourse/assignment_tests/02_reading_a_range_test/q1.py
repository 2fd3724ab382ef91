from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 3

@test_case(points=None, hidden=False)
def test_the_five_values_of_the_example(smooth_losses):
    import numpy as np
    got = smooth_losses([2.0, 1.8, 1.5, 1.2, 1.0])
    assert np.allclose(got, [2.0, 1.89899, 1.763298, 1.618177, 1.489497], atol=1e-06), f'got {got}'

