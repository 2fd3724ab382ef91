from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 2

@test_case(points=None, hidden=False)
def test_the_config_rebuilds_the_same_schedule(WarmupExponentialDecay):
    import numpy as np
    schedule = WarmupExponentialDecay(0.2, 30, 0.25, 50)
    config = schedule.get_config()
    assert isinstance(config, dict), f'get_config returned {config!r}, not a dict'
    assert set(config) == {'peak_lr', 'warmup_steps', 'decay_rate', 'decay_steps'}, f'keys: {sorted(config)}'
    again = WarmupExponentialDecay.from_config(config)
    assert all((np.isclose(float(again(t)), float(schedule(t))) for t in (0, 15, 30, 200)))

