"""Interactive explorers: sliders that redraw a schedule.

Each explorer is a thin ``ipywidgets.interactive`` around a plain drawing function that a
normal cell (or a test) can call directly; an error inside a widget callback only shows up in
the widget, so the function is also exercised on its own. Only APIs present in both
ipywidgets 7.7 (Colab) and 8.x are used.
"""

import matplotlib.pyplot as plt
import numpy as np

from lrcourse import plots
from lrcourse.schedules import DECAY_KINDS, make_decay

def draw_decay(kind="step", initial_lr=0.1, epochs=100, factor=0.25, drop_every=15, power=5.0, decay=0.001,
               steps_per_epoch=100, log=False):
    """Draw one decay schedule over ``epochs`` epochs; returns ``(figure, learning rates per epoch)``.

    Time-based decay changes at every update, so it is drawn per update and its per-epoch values
    are those at each epoch's first update.
    """
    schedule = make_decay(kind, initial_lr, epochs, factor=factor, drop_every=drop_every, power=power, decay=decay)
    fig, ax = plots.new_axes()
    epoch_axis = np.arange(epochs)
    if schedule.unit == "iteration":
        schedule = schedule.with_steps_per_epoch(steps_per_epoch)
        steps = np.arange(epochs * steps_per_epoch)
        ax.plot(steps / steps_per_epoch, schedule(steps), label=repr(schedule))
        per_epoch = schedule(epoch_axis * steps_per_epoch)
    else:
        per_epoch = schedule(epoch_axis)
        ax.step(epoch_axis, per_epoch, where="post", label=repr(schedule))
    ax.set(xlabel="epoch", ylabel="learning rate", yscale="log" if log else "linear")
    ax.legend(fontsize=8)
    return fig, per_epoch


def decay_explorer():
    """Sliders for every decay schedule's parameters, redrawing its curve."""
    import ipywidgets as w

    def show(**kwargs):
        fig, _ = draw_decay(**kwargs)
        plt.show()

    return w.interactive(
        show,
        kind=w.Dropdown(options=DECAY_KINDS, value="step", description="schedule"),
        initial_lr=w.FloatLogSlider(value=0.1, base=10, min=-4, max=0, step=0.1, description="initial LR"),
        epochs=w.IntSlider(value=100, min=5, max=200, step=5, description="epochs"),
        factor=w.FloatSlider(value=0.25, min=0.05, max=1.0, step=0.05, description="factor"),
        drop_every=w.IntSlider(value=15, min=1, max=50, description="drop every"),
        power=w.FloatSlider(value=5.0, min=0.0, max=10.0, step=0.5, description="power"),
        decay=w.FloatLogSlider(value=1e-3, base=10, min=-6, max=-1, step=0.25, description="decay"),
        steps_per_epoch=w.IntSlider(value=100, min=1, max=500, step=1, description="steps/epoch"),
        log=w.Checkbox(value=False, description="log scale"),
    )
