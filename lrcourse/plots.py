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
LINESTYLES = ("-", "--", "-.", ":")
UNIT_LABELS = {"epoch": "epoch", "iteration": "iteration (optimizer update)"}


def new_axes(ax=None, ncols=1, width=6.4):
    """Reuse ``ax``, or make a new figure with ``ncols`` panels in the course style."""
    if ax is not None:
        return ax.figure, ax
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, ncols, figsize=(width, 3.6), layout="constrained")
    return fig, axes


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
    adds the penalty to it, so it is not the cross-entropy alone.
    """
    fig, (lr_ax, loss_ax, acc_ax) = new_axes(ncols=3, width=14)
    for i, r in enumerate(results):
        style = {"label": r.name, "linestyle": LINESTYLES[i % len(LINESTYLES)]}  # runs that coincide stay visible
        lr_ax.plot(r.iterations, r.learning_rates, **style)
        epochs = np.arange(1, len(r.history["loss"]) + 1)
        loss_ax.plot(epochs, r.history["loss"], **style)
        acc_ax.plot(epochs, r.history["val_accuracy"], **style)
    lr_ax.set(xlabel=UNIT_LABELS["iteration"], ylabel="learning rate applied")
    loss_ax.set(xlabel="epoch", ylabel=loss_label, yscale="log")
    acc_ax.set(xlabel="epoch", ylabel="validation accuracy")
    acc_ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_comparison(table, title=None):
    """Mean and 95% confidence interval of validation and test accuracy for each compared setting.

    ``table`` is :func:`lrcourse.experiments.summarise`'s DataFrame; the best setting (chosen on
    validation accuracy) is drawn in a darker colour.
    """
    fig, axes = new_axes(ncols=2, width=12)
    order = table["val_accuracy_mean"].sort_values().index
    for ax, split in zip(axes, ("val", "test")):
        rows = table.loc[order]
        mean = rows[f"{split}_accuracy_mean"]
        half = ((rows[f"{split}_accuracy_ci_high"] - rows[f"{split}_accuracy_ci_low"]) / 2).fillna(0)
        colours = ["tab:blue" if best else "tab:gray" for best in rows["best"]]
        ax.barh(range(len(rows)), mean, xerr=half, color=colours, alpha=0.8, capsize=4)
        ax.set_yticks(range(len(rows)), rows.index)
        low = max(0.0, float((mean - half).min()) - 0.05)
        ax.set(xlim=(low, min(1.0, float((mean + half).max()) + 0.02)),
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
