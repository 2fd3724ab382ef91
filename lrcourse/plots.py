"""Figures for the lessons, all in one style: learning rate curves and training histories."""

import matplotlib.pyplot as plt
import numpy as np

from lrcourse import paths

STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
}
LINESTYLES = ("-", "--", "-.", ":", (0, (8, 2, 1, 2, 1, 2)), (0, (1, 4)), (0, (12, 4)))  # seven runs, seven dashes
UNIT_LABELS = {"epoch": "epoch", "iteration": "iteration (optimizer update)"}


def new_axes(ax=None, ncols=1, width=6.4):
    """Reuse ``ax``, or make a new figure with ``ncols`` panels in the course style."""
    if ax is not None:
        return ax.figure, ax
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, ncols, figsize=(width, 3.6), layout="constrained")
    return fig, axes


def legend_beside(ax, fontsize=8):
    """The legend to the right of the axes, where it cannot cover a curve (the figure's constrained
    layout narrows the axes to make room for it)."""
    return ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)


def plot_lr(x, learning_rates, unit="epoch", ax=None, label=None, log=False):
    """Learning rate against epoch or iteration; returns the axes."""
    _, ax = new_axes(ax)
    ax.plot(x, learning_rates, label=label)
    ax.set_xlabel(UNIT_LABELS.get(unit, unit))
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    if label:
        ax.legend()
    return ax


def plot_history(history, title=None):
    """Loss and accuracy per epoch, training and validation, side by side; returns the figure."""
    fig, (loss_ax, acc_ax) = new_axes(ncols=2, width=10)
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, metric in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        ax.plot(epochs, history[metric], label=f"train {metric}")
        if f"val_{metric}" in history:
            ax.plot(epochs, history[f"val_{metric}"], label=f"validation {metric}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_runs(results, title=None, loss_label="training loss"):
    """Compare runs: the LR applied at every update, training loss and validation accuracy.

    Say in ``loss_label`` what the training loss contains: with weight decay (L2) layers Keras
    adds the penalty to it, so it is not the cross-entropy alone. When every run kept one
    constant rate, the rate panel would be a flat line: the rate goes into the title instead; rates
    more than a hundredfold apart are drawn on a log scale. The legend sits below the panels, where
    it covers no curve.
    """
    rates = {float(rate) for r in results for rate in r.learning_rates}
    constant = len(rates) == 1
    fig, axes = new_axes(ncols=2 if constant else 3, width=10 if constant else 14)
    loss_ax, acc_ax = axes[-2:]
    for i, r in enumerate(results):
        style = {"label": r.name, "linestyle": LINESTYLES[i % len(LINESTYLES)]}  # runs that coincide stay visible
        if not constant:
            axes[0].plot(r.iterations, r.learning_rates, **style)
        epochs = np.arange(1, len(r.history["loss"]) + 1)
        loss_ax.plot(epochs, r.history["loss"], **style)
        acc_ax.plot(epochs, r.history["val_accuracy"], **style)
    if not constant:
        spread = max(rates) / max(min(rate for rate in rates if rate > 0), 1e-300) if max(rates) > 0 else 1
        axes[0].set(xlabel=UNIT_LABELS["iteration"], ylabel="learning rate applied",
                    yscale="log" if spread > 100 else "linear")  # rates over decades: each one visible
    loss_ax.set(xlabel="epoch", ylabel=loss_label, yscale="log")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy")
    fig.legend(*acc_ax.get_legend_handles_labels(), loc="outside lower center", ncols=min(len(results), 5), fontsize=8)
    if constant:
        note = f"learning rate {rates.pop():.3g} at every update"
        title = f"{title}; {note}" if title else note
    if title:
        fig.suptitle(title)
    return fig


def plot_comparison(table, title=None):
    """Mean and 95% confidence interval of validation and test accuracy for each compared setting,
    as points with whiskers (a point encodes a position, not a length, so the axis need not start
    at 0 without exaggerating a gap, as a bar cut short would).

    ``table`` is :func:`lrcourse.experiments.summarise`'s DataFrame; the best setting (chosen on
    validation accuracy) is drawn in a darker colour, and a dotted line marks its mean.
    """
    fig, axes = new_axes(ncols=2, width=12)
    rows = table.loc[table["val_accuracy_mean"].sort_values().index]
    for ax, split in zip(axes, ("val", "test")):
        mean = rows[f"{split}_accuracy_mean"]
        half = ((rows[f"{split}_accuracy_ci_high"] - rows[f"{split}_accuracy_ci_low"]) / 2).fillna(0)
        for y, (m, h, best) in enumerate(zip(mean, half, rows["best"])):
            ax.errorbar(m, y, xerr=h, fmt="o", color="tab:blue" if best else "tab:gray", capsize=4)
        ax.axvline(mean[rows["best"]].iloc[0], color="tab:blue", linestyle=":", linewidth=1)
        ax.set_yticks(range(len(rows)), rows.index)
        ax.set(ylim=(-0.6, len(rows) - 0.4),
               xlim=(max(0.0, float((mean - half).min()) - 0.02), min(1.0, float((mean + half).max()) + 0.02)),
               xlabel=f"{'validation' if split == 'val' else 'test'} accuracy (mean, 95% CI over {rows['seeds'].min()} seeds)")
    if title:
        fig.suptitle(title)
    return fig


def save(fig, output_dir, name):
    """Save ``fig`` as ``<output_dir>/figures/<name>.png`` and return the path."""
    path = paths.resolve(output_dir) / "figures" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
