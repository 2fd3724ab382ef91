from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 4

@test_case(points=None, hidden=False)
def test_the_four_values_of_the_example(WarmupExponentialDecay):
    import numpy as np
    schedule = WarmupExponentialDecay(peak_lr=0.1, warmup_steps=10, decay_rate=0.5, decay_steps=20)
    got = [float(schedule(t)) for t in (0, 5, 10, 30)]
    assert np.allclose(got, [0.0, 0.05, 0.1, 0.05], rtol=1e-05, atol=1e-09), f'rates at updates 0, 5, 10, 30: {got}'

