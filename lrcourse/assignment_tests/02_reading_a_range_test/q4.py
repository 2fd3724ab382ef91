from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 3

@test_case(points=None, hidden=False)
def test_two_rates_inside_the_sweep_in_order(base_lr, max_lr, lrs):
    for name, value in (('base_lr', base_lr), ('max_lr', max_lr)):
        assert isinstance(value, float), f'{name} is {value!r}, not a float'
        assert lrs[0] <= value <= lrs[-1], f'{name} = {value:.3g} is outside the sweep'
    assert base_lr < max_lr, f'base_lr ({base_lr:.3g}) must be below max_lr ({max_lr:.3g})'

