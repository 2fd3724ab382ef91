import matplotlib.pyplot as plt
import numpy as np
import pytest

from lrcourse import plots, widgets
from lrcourse.schedules import DECAY_KINDS, make_decay
from lrcourse.training import RunResult


@pytest.mark.parametrize("kind", DECAY_KINDS)
def test_draw_decay_draws_the_schedule_it_reports(kind):
    fig, per_epoch = widgets.draw_decay(kind, initial_lr=0.05, epochs=30, steps_per_epoch=20)
    schedule = make_decay(kind, 0.05, 30, drop_every=15, decay=0.001, power=5.0)
    expected = [schedule.at_epoch(e) for e in range(30)] if kind != "time-based" else [
        schedule.with_steps_per_epoch(20).at_epoch(e) for e in range(30)]
    np.testing.assert_allclose(per_epoch, expected, rtol=1e-12)
    (line,) = fig.axes[0].get_lines()
    assert line.get_ydata()[0] == pytest.approx(0.05)


def test_draw_decay_refuses_bad_values_like_the_schedules():
    with pytest.raises(ValueError, match="factor"):
        widgets.draw_decay("step", factor=2.0)


def test_explorer_has_a_control_per_parameter_and_draws():
    explorer = widgets.decay_explorer()
    names = {getattr(child, "description", "") for child in explorer.children}
    assert {"schedule", "initial LR", "factor", "drop every", "power", "decay"} <= names
    plt.close("all")
    explorer.update()  # runs the callback once, as moving a slider would
    assert plt.get_fignums() and explorer.note is None


def every_explorer():
    from test_finder import synthetic_curve

    return {"decay": widgets.decay_explorer, "clr": widgets.clr_explorer,
            "bounds": lambda: widgets.bounds_explorer(synthetic_curve(), step_size=50),
            "one_cycle": widgets.one_cycle_explorer, "warmup_restarts": widgets.warmup_restarts_explorer}


@pytest.mark.parametrize("name", every_explorer())
def test_every_explorer_draws_a_figure_and_no_note_at_its_starting_values(name):
    explorer = every_explorer()[name]()
    plt.close("all")
    explorer.update()
    assert len(plt.get_fignums()) == 1 and explorer.note is None and explorer.error is None
    sliders = [control for control in explorer.kwargs_widgets if hasattr(control, "continuous_update")]
    assert sliders and not any(control.continuous_update for control in sliders)  # redrawn once, when let go


@pytest.mark.parametrize("name", every_explorer())
@pytest.mark.parametrize("bug", [RuntimeError("the drawing function is broken"),
                                 ValueError("operands could not be broadcast together")])  # not a refusal: a bug
def test_an_error_in_an_explorer_is_raised_not_swallowed(name, bug, monkeypatch):
    explorer = every_explorer()[name]()

    def broken(**values):
        raise bug

    monkeypatch.setattr(explorer, "draw", broken)
    with pytest.raises(type(bug), match=str(bug)):
        explorer.update()
    assert explorer.error is bug and explorer.note is None


def test_bounds_dragged_past_each_other_show_a_one_line_note_in_place_of_the_figure(capsys):
    explorer = every_explorer()["bounds"]()
    base_lr, max_lr = explorer.children[:2]
    capsys.readouterr()
    plt.close("all")
    base_lr.value = max_lr.value  # a drag ending on the max rate redraws at once, as in the browser
    assert explorer.note == f"Not drawn: base_lr must be < max_lr; got base_lr={base_lr.value!r}, max_lr={max_lr.value!r}"
    assert explorer.note in capsys.readouterr().out and "\n" not in explorer.note
    assert not plt.get_fignums() and explorer.error is None
    base_lr.value = max_lr.value / 10
    assert explorer.note is None and len(plt.get_fignums()) == 1


def test_schedule_plot_and_history_figures():
    ax = make_decay("linear", 0.1, 40).plot()
    assert len(ax.get_lines()[0].get_xdata()) == 40
    history = {"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.5, 0.8], "val_accuracy": [0.4, 0.7]}
    fig = plots.plot_history(history, title="t")
    assert [len(ax.get_lines()) for ax in fig.axes] == [2, 2]
    run = RunResult("r", history, [0, 1, 2], [0.1, 0.1, 0.05], 0.7, 0.7, 0.7, 0.7, {}, "", 1.0, 1, {})
    fig = plots.plot_runs([run, run], loss_label="training loss (cross-entropy + L2 penalty)")
    assert len(fig.axes) == 3 and all(len(ax.get_lines()) == 2 for ax in fig.axes)
    assert fig.axes[1].get_ylabel() == "training loss (cross-entropy + L2 penalty)"
    fig.canvas.draw()
    (legend,) = fig.legends  # one legend for all panels, below them, so it covers no curve
    assert legend.get_window_extent().y1 <= min(ax.get_window_extent().y0 for ax in fig.axes)
    assert fig.axes[0].get_yscale() == "linear"  # 0.05 .. 0.1: one scale shows both
    tiny = RunResult("t", history, [0, 1, 2], [1e-4, 1e-4, 1e-4], 0.7, 0.7, 0.7, 0.7, {}, "", 1.0, 1, {})
    assert plots.plot_runs([run, tiny]).axes[0].get_yscale() == "log"  # 1e-4 would be a line on 0 beside 0.1
    constant = RunResult("c", history, [0, 1, 2], [0.1, 0.1, 0.1], 0.7, 0.7, 0.7, 0.7, {}, "", 1.0, 1, {})
    fig = plots.plot_runs([constant, constant], title="t")  # a flat rate panel would say nothing
    assert len(fig.axes) == 2 and fig._suptitle.get_text() == "t; learning rate 0.1 at every update"


def test_comparison_figure_draws_each_setting_with_its_interval():
    from lrcourse import experiments
    from test_experiments import fake_record

    records = [fake_record(name, seed, val, val - 0.01) for name, base in (("a", 0.9), ("b", 0.8))
               for seed, val in enumerate((base, base + 0.02, base - 0.01))]
    fig = plots.plot_comparison(experiments.summarise(records), title="t")
    val_ax, test_ax = fig.axes
    assert [t.get_text() for t in val_ax.get_yticklabels()] == ["b", "a"]  # best at the top
    assert not val_ax.patches  # points with whiskers, not bars cut short of 0
    (b_mean,), (a_mean,) = (c.lines[0].get_xdata() for c in val_ax.containers)
    assert a_mean == pytest.approx(0.9033333) and b_mean == pytest.approx(0.8033333)
    low, high = val_ax.get_xlim()
    table = experiments.summarise(records)
    assert low <= table["val_accuracy_ci_low"].min() and high >= table["val_accuracy_ci_high"].max()


def test_save_writes_a_png(tmp_path):
    fig, _ = widgets.draw_decay("step")
    path = plots.save(fig, tmp_path, "step")
    assert path == tmp_path / "figures" / "step.png" and path.read_bytes()[:4] == b"\x89PNG"
    plt.close(fig)


def test_one_cycle_figure_draws_the_rate_and_the_momentum_it_schedules():
    fig, schedule = widgets.draw_one_cycle(max_lr=0.01, total_steps=1000)
    rate_ax, momentum_ax = fig.axes
    rate, = rate_ax.get_lines()[:1]
    momentum, = momentum_ax.get_lines()
    assert rate.get_ydata()[299] == pytest.approx(0.01) and rate.get_ydata()[0] == pytest.approx(4e-4)
    assert momentum.get_ydata()[299] == pytest.approx(0.85) and momentum.get_ydata()[-1] == pytest.approx(0.95)
    fig, schedule = widgets.draw_one_cycle(three_phase=True, pct_start=0.25, total_steps=400)
    assert len(schedule.ends) == 3


def test_warmup_and_restarts_figure_fits_whole_cycles_in_the_steps():
    fig, (warmup, restarts) = widgets.draw_warmup_and_restarts(peak_lr=0.1, warmup_steps=100, total_steps=1400,
                                                               first_period=100, t_mul=2.0)
    assert restarts.cycles == 3 and restarts.boundaries == [100, 300]  # 100 + 200 + 400 <= 1400 < + 800
    warmup_line, = fig.axes[0].get_lines()[:1]
    assert warmup_line.get_ydata()[100] == pytest.approx(0.1) and warmup_line.get_ydata()[50] == pytest.approx(0.05)
    _, (_, one) = widgets.draw_warmup_and_restarts(total_steps=200, first_period=500)
    assert one.cycles == 1


@pytest.mark.parametrize("explorer, controls", [
    (widgets.one_cycle_explorer, {"max LR", "total steps", "pct_start", "anneal", "three phases", "base momentum"}),
    (widgets.warmup_restarts_explorer, {"peak LR", "warmup", "first period", "t_mul", "m_mul", "alpha"}),
])
def test_lesson_four_explorers_have_their_controls(explorer, controls):
    widget = explorer()
    assert controls <= {getattr(child, "description", "") for child in widget.children}


def test_explorers_put_the_whole_setting_in_the_title_and_keep_legends_off_the_curves():
    fig, _ = widgets.draw_decay("step")
    assert fig.axes[0].get_title().startswith("StepDecay(") and fig.axes[0].get_legend() is None
    fig, schedule = widgets.draw_clr()
    ax = fig.axes[0]
    assert ax.get_title().replace("\n", " ") == repr(schedule)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["learning rate", "peak of each cycle"]
    fig.canvas.draw()
    legend, axes_box = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= axes_box.x1  # beside the axes, so it covers no curve



def test_a_legend_beside_the_axes_stays_inside_the_figure():
    fig, ax = plots.new_axes(width=6)
    ax.plot([0, 1], [0, 1], label="a label long enough to stick out past the figure's right edge")
    legend = plots.legend_beside(ax)
    fig.canvas.draw()
    legend_box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert legend_box.x0 >= axes_box.x1 and legend_box.x1 <= fig.bbox.x1  # the layout narrowed the axes for it
