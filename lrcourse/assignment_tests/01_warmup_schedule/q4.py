from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2

@test_case(points=None, hidden=False)
def test_the_run_schedule_is_a_warmup_schedule(run_schedule, WarmupExponentialDecay):
    assert isinstance(run_schedule, WarmupExponentialDecay), f'run_schedule is {run_schedule!r}'

