from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2

@test_case(points=None, hidden=False)
def test_a_tensor_step_gives_a_rate(WarmupExponentialDecay):
    import keras
    import numpy as np
    schedule = WarmupExponentialDecay(0.1, 10, 0.5, 20)
    rate = float(keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(5, 'int64'))))
    assert np.isclose(rate, 0.05), f'rate at update 5: {rate}'

