"""Interactive explorers: sliders that redraw a schedule.

Each explorer is an :class:`Explorer` (an ``ipywidgets.interactive``) around a plain drawing
function that a normal cell (or a test) can also call directly. Only APIs present in both
ipywidgets 7.7 (Colab) and 8.x are used.
"""

import functools
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from ipywidgets import Checkbox, Dropdown, FloatLogSlider, FloatSlider, IntSlider, interactive

from lrcourse import plots
from lrcourse._checks import RefusedArgument
from lrcourse.schedules import (ANNEAL_STRATEGIES, CLR_MODES, CLR_WAVES, DECAY_KINDS, CosineRestarts,
                                CyclicalLearningRate, OneCycle, WarmupCosine, make_decay)


class Explorer(interactive):
    """Controls that redraw a figure: each change calls ``draw(**values)`` and shows its figure.

    Values that make no sense together (the schedule refuses them with a ``RefusedArgument``, say
    a base rate dragged up to the max rate) show that one-line message, ``note``, in place of the
    figure. Any other error is a bug and is never swallowed: in a notebook its traceback shows
    under the controls, and called from plain Python (a test, a script) ``update()`` raises it.
    ``interact`` on its own would only log it there.

    In an executed copy of a lesson (``lrcourse run``, the website) the cell keeps that first figure,
    followed by one line (the explorer's ``repr``) saying where the sliders move.

    Sliders redraw when they are let go, not at every step of a drag: a figure takes a few tenths
    of a second to draw, and in JupyterLab a fast drag could leave an intermediate figure stacked
    above the final one (seen in the browser tests).

    >>> explorer = Explorer(draw_clr, base_lr=FloatLogSlider(value=1e-3, min=-5, max=-1))
    >>> explorer.update()  # what moving the slider does
    """

    def __init__(self, draw, **controls):
        self.draw = draw
        self.note = None  # the message shown in place of the figure, if any
        self.error = None  # the last callback's error, if any
        for control in controls.values():
            if hasattr(control, "continuous_update"):
                control.continuous_update = False
        super().__init__(self._redraw, **controls)

    def _redraw(self, **values):
        self.note = self.error = None
        before = set(plt.get_fignums())
        try:
            self.draw(**values)
        except RefusedArgument as refused:
            for number in set(plt.get_fignums()) - before:  # a half-drawn figure would show under the note
                plt.close(number)
            self.note = f"Not drawn: {refused}"
            print(self.note)
            return
        except Exception as error:
            self.error = error
            raise
        plt.show()

    def __repr__(self):
        # A page that shows an executed lesson (GitHub, the website) has no kernel to run the sliders: it
        # shows this line under the figure that the explorer drew for their starting values.
        return "Explorer at its starting values: sliders move in JupyterLab and Colab."  # fits a page's code box

    def update(self, *args):
        """Redraw for the controls' current values, as a change of any control does."""
        super().update(*args)
        if self.error is not None and get_ipython() is None:
            raise self.error


def _title_with_setting(ax, schedule):
    """The schedule's whole setting (its repr) as the title, wrapped to the axes: above the curve
    rather than in a legend over it."""
    ax.set_title(textwrap.fill(repr(schedule), 100), fontsize=8)


def draw_decay(kind="step", initial_lr=0.1, epochs=100, factor=0.25, drop_every=15, power=5.0, decay=0.001,
               steps_per_epoch=100, log=False):
    """Draw one decay schedule as the optimizer applies it, update by update, over ``epochs`` epochs
    of ``steps_per_epoch`` updates; returns ``(figure, learning rates per epoch)``.

    The per-epoch rates are ``at_epoch`` values: for time-based decay, which changes at every
    update, those at each epoch's first update.
    """
    schedule = make_decay(kind, initial_lr, epochs, factor=factor, drop_every=drop_every, power=power, decay=decay)
    schedule = schedule.with_steps_per_epoch(steps_per_epoch)
    updates = np.arange(epochs * steps_per_epoch)
    fig, ax = plots.new_axes()
    ax.plot(updates / steps_per_epoch, schedule(updates))
    ax.set(xlabel="epoch", ylabel="learning rate", yscale="log" if log else "linear")
    _title_with_setting(ax, schedule)
    return fig, schedule.at_epoch(np.arange(epochs))


def decay_explorer():
    """Sliders for every decay schedule's parameters, redrawing its curve."""
    return Explorer(
        draw_decay,
        kind=Dropdown(options=DECAY_KINDS, value="step", description="schedule"),
        initial_lr=FloatLogSlider(value=0.1, base=10, min=-4, max=0, step=0.1, description="initial LR"),
        epochs=IntSlider(value=100, min=5, max=200, step=5, description="epochs"),
        factor=FloatSlider(value=0.25, min=0.05, max=1.0, step=0.05, description="factor"),
        drop_every=IntSlider(value=15, min=1, max=50, description="drop every"),
        power=FloatSlider(value=5.0, min=0.0, max=10.0, step=0.5, description="power"),
        decay=FloatLogSlider(value=1e-3, base=10, min=-6, max=-1, step=0.25, description="decay"),
        steps_per_epoch=IntSlider(value=100, min=1, max=500, step=1, description="steps/epoch"),
        log=Checkbox(value=False, description="log scale"),
    )


def draw_clr(base_lr=1e-3, max_lr=6e-3, step_size=2000, mode="triangular", gamma=0.99994, wave="triangular", cycles=4):
    """Draw a cyclical schedule over ``cycles`` cycles; returns ``(figure, schedule)``.

    Dotted vertical lines mark where cycles begin; the dashed line is the cycle's peak, which
    falls with ``triangular2`` and ``exp_range``.
    """
    schedule = CyclicalLearningRate(base_lr, max_lr, step_size, mode=mode, gamma=gamma, wave=wave)
    k = np.arange(cycles * 2 * step_size + 1)
    fig, ax = plots.new_axes(width=9)
    ax.plot(k, schedule(k), label="learning rate")
    _title_with_setting(ax, schedule)
    peaks = step_size * (2 * np.arange(cycles) + 1)
    ax.plot(peaks, schedule(peaks), "--", color="gray", marker="o", label="peak of each cycle")
    for start in range(0, cycles * 2 * step_size + 1, 2 * step_size):
        ax.axvline(start, color="gray", linestyle=":", linewidth=1)
    ax.axhline(base_lr, color="gray", linewidth=0.8)
    ax.set(xlabel=plots.UNIT_LABELS["iteration"], ylabel="learning rate")
    plots.legend_beside(ax)
    return fig, schedule


def clr_explorer():
    """Sliders for a cyclical schedule's bounds, step size, mode, gamma and wave shape."""
    return Explorer(
        draw_clr,
        base_lr=FloatLogSlider(value=1e-3, base=10, min=-7, max=-1, step=0.1, description="base LR"),
        max_lr=FloatLogSlider(value=6e-3, base=10, min=-5, max=0, step=0.1, description="max LR"),
        step_size=IntSlider(value=2000, min=100, max=10000, step=100, description="step size"),
        mode=Dropdown(options=CLR_MODES, value="triangular", description="mode"),
        gamma=FloatSlider(value=0.99994, min=0.9990, max=1.0, step=0.00001, readout_format=".5f", description="gamma"),
        wave=Dropdown(options=CLR_WAVES, value="triangular", description="wave"),
        cycles=IntSlider(value=4, min=1, max=10, description="cycles"),
    )


def draw_bounds(result, base_lr, max_lr, step_size=100, cycles=2):
    """A range test's curve with chosen CLR bounds shaded, beside the schedule they give.

    Returns ``(figure, schedule)``; ``result`` is a :class:`lrcourse.finder.RangeTestResult`.
    """
    schedule = CyclicalLearningRate(base_lr, max_lr, step_size)
    fig, (curve_ax, schedule_ax) = plots.new_axes(ncols=2, width=16)
    result.plot(skip_begin=0, skip_end=0, ax=curve_ax, show_bounds=False)
    curve_ax.axvspan(base_lr, max_lr, color="tab:green", alpha=0.15, label="chosen bounds")
    plots.legend_beside(curve_ax, fontsize=7)
    k = np.arange(cycles * 2 * step_size + 1)
    schedule_ax.plot(k, schedule(k))
    schedule_ax.set(xlabel=plots.UNIT_LABELS["iteration"], ylabel="learning rate",
                    title=f"triangular CLR between {base_lr:.2g} and {max_lr:.2g}")
    return fig, schedule


def bounds_explorer(result, step_size=100):
    """Sliders over a range test's curve that choose the CLR bounds and show the schedule."""
    low, high = np.log10(result.lrs[0]), np.log10(result.lrs[-1])
    base, top = result.bounds(skip_begin=0, skip_end=0)
    slider = dict(base=10, min=low, max=high, step=(high - low) / 100)
    return Explorer(
        functools.partial(draw_bounds, result, step_size=step_size),
        base_lr=FloatLogSlider(value=base, description="base LR", **slider),
        max_lr=FloatLogSlider(value=top, description="max LR", **slider),
    )


def draw_one_cycle(max_lr=0.1, total_steps=1000, pct_start=0.3, anneal_strategy="cos", div_factor=25.0,
                   final_div_factor=1e4, three_phase=False, base_momentum=0.85, max_momentum=0.95, log=False):
    """One-cycle's rate (left axis) and momentum (right axis) over its updates; returns ``(figure, schedule)``."""
    schedule = OneCycle(max_lr, total_steps, pct_start=pct_start, anneal_strategy=anneal_strategy,
                        div_factor=div_factor, final_div_factor=final_div_factor, three_phase=three_phase,
                        base_momentum=base_momentum, max_momentum=max_momentum)
    k = np.arange(total_steps)
    fig, rate_ax = plots.new_axes(width=9)
    rate_ax.plot(k, schedule(k), color="tab:blue", label="learning rate")
    rate_ax.set(xlabel=plots.UNIT_LABELS["iteration"], ylabel="learning rate", yscale="log" if log else "linear")
    momentum_ax = rate_ax.twinx()
    momentum_ax.plot(k, schedule.momentum_schedule()(k), color="tab:orange", linestyle="--", label="momentum")
    momentum_ax.set_ylabel("momentum (or Adam's beta_1)")
    momentum_ax.spines["right"].set_visible(True)
    for end in schedule.ends[:-1]:
        rate_ax.axvline(end, color="gray", linestyle=":", linewidth=1)
    fig.legend(loc="center", fontsize=8)  # clear of both curves and both axes
    return fig, schedule


def one_cycle_explorer():
    """Sliders for one-cycle's arguments, redrawing its rate and momentum together."""
    return Explorer(
        draw_one_cycle,
        max_lr=FloatLogSlider(value=0.1, base=10, min=-4, max=1, step=0.1, description="max LR"),
        total_steps=IntSlider(value=1000, min=100, max=10000, step=100, description="total steps"),
        pct_start=FloatSlider(value=0.3, min=0.05, max=0.45, step=0.05, description="pct_start"),
        anneal_strategy=Dropdown(options=ANNEAL_STRATEGIES, value="cos", description="anneal"),
        div_factor=FloatLogSlider(value=25, base=10, min=0, max=3, step=0.1, description="div_factor"),
        final_div_factor=FloatLogSlider(value=1e4, base=10, min=0, max=6, step=0.5, description="final_div"),
        three_phase=Checkbox(value=False, description="three phases"),
        base_momentum=FloatSlider(value=0.85, min=0.5, max=0.99, step=0.01, description="base momentum"),
        max_momentum=FloatSlider(value=0.95, min=0.5, max=0.99, step=0.01, description="max momentum"),
        log=Checkbox(value=False, description="log scale"),
    )


def draw_warmup_and_restarts(peak_lr=0.1, warmup_steps=100, total_steps=1500, first_period=100, t_mul=2.0,
                             m_mul=1.0, alpha=0.01):
    """Warmup + cosine and SGDR restarts over the same ``total_steps``; returns ``(figure, (warmup, restarts))``.

    The restarts get as many cycles as fit in ``total_steps`` (at least one).
    """
    warmup = WarmupCosine(peak_lr, warmup_steps, max(1, total_steps - warmup_steps), alpha=alpha)
    cycles, ends = 1, first_period
    while ends + first_period * t_mul ** cycles <= total_steps:
        ends += first_period * t_mul ** cycles
        cycles += 1
    restarts = CosineRestarts(peak_lr, first_period, cycles, t_mul=t_mul, m_mul=m_mul, alpha=alpha)
    k = np.arange(total_steps + 1)
    fig, (warmup_ax, restarts_ax) = plots.new_axes(ncols=2, width=13)
    warmup_ax.plot(k, warmup(k))
    warmup_ax.axvline(warmup_steps, color="gray", linestyle=":", linewidth=1)
    warmup_ax.set(title=f"warmup {warmup_steps} updates, then cosine", xlabel=plots.UNIT_LABELS["iteration"],
                  ylabel="learning rate")
    restarts_ax.plot(k, restarts(k))
    for start in restarts.boundaries:
        restarts_ax.axvline(start, color="gray", linestyle=":", linewidth=1)
    restarts_ax.set(title=f"SGDR: {cycles} cycles, each {t_mul:g}x longer", xlabel=plots.UNIT_LABELS["iteration"])
    return fig, (warmup, restarts)


def warmup_restarts_explorer():
    """Sliders for warmup + cosine and for SGDR restarts, drawn side by side."""
    return Explorer(
        draw_warmup_and_restarts,
        peak_lr=FloatLogSlider(value=0.1, base=10, min=-4, max=0, step=0.1, description="peak LR"),
        warmup_steps=IntSlider(value=100, min=1, max=1000, step=10, description="warmup"),
        total_steps=IntSlider(value=1500, min=200, max=10000, step=100, description="total steps"),
        first_period=IntSlider(value=100, min=10, max=2000, step=10, description="first period"),
        t_mul=FloatSlider(value=2.0, min=1.0, max=3.0, step=0.5, description="t_mul"),
        m_mul=FloatSlider(value=1.0, min=0.1, max=1.0, step=0.05, description="m_mul"),
        alpha=FloatLogSlider(value=0.01, base=10, min=-4, max=0, step=0.25, description="alpha"),
    )
