"""Statistics over seeds: how sure a mean is, and whether two settings really differ.

Used by :mod:`lrcourse.experiments` for the lessons' tables and by :mod:`lrcourse.sweeps` for a
sweep's summary; it needs no Keras. With ``n`` seeds, mean ``m`` and sample standard deviation ``s``:

* 95% confidence interval of the mean: ``m ± t(0.975, n - 1) * s / sqrt(n)`` (Student's t);
* two settings ``a`` and ``b``: Welch's t-test, which does not assume equal spreads,
  ``t = (m_a - m_b) / sqrt(s_a²/n_a + s_b²/n_b)`` with the Welch-Satterthwaite degrees of
  freedom; "distinguishable" means the two-sided p-value is below 0.05. With 3 seeds a test
  like this only finds large differences: "not distinguishable" means "not shown", not "equal".
"""

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
METRICS = ("val_accuracy", "test_accuracy", "val_loss", "test_loss")


def confidence_interval(values, confidence=CONFIDENCE):
    """``(low, high)`` of the t-based interval for the mean of ``values``; NaNs for one value.

    >>> [round(v, 4) for v in confidence_interval([1, 2, 3, 4, 5])]
    [1.0368, 4.9632]
    """
    values = np.asarray(values, dtype="float64")
    if len(values) < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return float(values.mean() - half), float(values.mean() + half)


def welch_p_value(a, b):
    """Two-sided p-value of Welch's t-test that ``a`` and ``b`` have the same mean.

    Two groups without any spread are the same (p = 1) if their values agree, else
    certainly different (p = 0); fewer than two values in a group give NaN.

    >>> round(welch_p_value([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]), 4)
    0.0805
    """
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    if len(a) < 2 or len(b) < 2:
        return math.nan
    if a.std() == 0 and b.std() == 0:
        return 1.0 if a.mean() == b.mean() else 0.0
    with warnings.catch_warnings():  # scipy warns when the values are nearly equal; the answer is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def summarise_runs(runs, by="run", alpha=0.05):
    """Per setting: mean, std and 95% CI of each metric, and the test against the best.

    ``runs`` has one row per training run, with the columns of :data:`METRICS` and ``seconds``;
    the rows of one group of ``by`` (a column or a list of columns) are the seeds of one setting.
    The lessons group by the run's name (:func:`lrcourse.experiments.summarise`), a sweep by the
    swept parameters and the run's name.

    Columns: ``seeds``; ``<metric>_mean``, ``_std``, ``_ci_low``, ``_ci_high`` for validation and test
    accuracy and loss; ``seconds`` (mean per run); ``best`` (highest mean validation accuracy);
    ``p_vs_best`` (Welch's test on test accuracy against the best; NaN for the best itself and
    when a setting has fewer than two seeds); ``distinguishable`` (``p_vs_best < alpha``, or None
    where there is no test).
    """
    if not isinstance(by, str) and len(by) == 1:
        by = by[0]
    groups = dict(list(runs.groupby(by, sort=False, dropna=False)))
    rows = {}
    for name, group in groups.items():
        row = {"seeds": len(group)}
        for metric in METRICS:
            values = group[metric].to_numpy()
            low, high = confidence_interval(values)
            row.update({f"{metric}_mean": values.mean(), f"{metric}_std": values.std(ddof=1) if len(values) > 1
                        else math.nan, f"{metric}_ci_low": low, f"{metric}_ci_high": high})
        row["seconds"] = group["seconds"].mean()
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = [by] if isinstance(by, str) else list(by)
    best = table["val_accuracy_mean"].idxmax()
    best_test = groups[best]["test_accuracy"]
    table["best"] = [name == best for name in table.index]
    table["p_vs_best"] = [math.nan if name == best else welch_p_value(groups[name]["test_accuracy"], best_test)
                          for name in table.index]
    table["distinguishable"] = [None if math.isnan(p) else bool(p < alpha) for p in table["p_vs_best"]]
    return table


def _mean_ci(table, metric, digits):
    mean, low, high = table[f"{metric}_mean"], table[f"{metric}_ci_low"], table[f"{metric}_ci_high"]
    return [f"{m:.{digits}f} ± {(h - l) / 2:.{digits}f}" if not math.isnan(l) else f"{m:.{digits}f}"
            for m, l, h in zip(mean, low, high)]


def readable(table, digits=3):
    """The summary as a table to show learners: mean ± half-width of the 95% CI, best first."""
    verdict = ["best (chosen on validation)" if best else
               "not tested (needs 2 seeds or more)" if dist is None else
               f"{'different from' if dist else 'not distinguishable from'} the best (p = {p:.2g})"
               for best, dist, p in zip(table["best"], table["distinguishable"], table["p_vs_best"])]
    shown = pd.DataFrame({
        "validation accuracy": _mean_ci(table, "val_accuracy", digits),
        "test accuracy": _mean_ci(table, "test_accuracy", digits),
        "test loss": _mean_ci(table, "test_loss", digits),
        "seeds": table["seeds"],
        "seconds per run": table["seconds"].round(1),
        "against the best": verdict,
    }, index=table.index)
    return shown.loc[table["val_accuracy_mean"].sort_values(ascending=False).index]


def findings(table, seeds, where="", alpha=0.05, chance=None, digits=3):
    """What the summary ``table`` (:func:`summarise_runs`) shows, as Markdown sentences.

    The lessons state their own results with this, not in fixed text, so that the words follow
    the learner's run: which setting was best on validation and its test accuracy; for each other
    setting its test accuracy and whether it is different from the best (``p < alpha``) or not
    distinguishable; a warning when a "different" could be one of the false alarms that several
    tests at once produce; the widest spread over seeds; settings at ``chance`` level (the accuracy
    of guessing, such as 0.1 for ten classes). ``where`` says on what the run ran.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"run": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "val_accuracy": [.9, .8, .7, .6],
    ...                      "test_accuracy": [.9, .8, .7, .6], "val_loss": 1.0, "test_loss": 1.0, "seconds": 1.0})
    >>> print(findings(summarise_runs(runs), seeds=[0, 1]).splitlines()[3])
    * **b**: test accuracy 0.650 ± 0.635, not distinguishable from the best (p = 0.11).
    """
    order = table["val_accuracy_mean"].sort_values(ascending=False).index
    shown = dict(zip(table.index, _mean_ci(table, "test_accuracy", digits)))
    best = table.index[table["best"]][0]
    on = f" on {where}" if where else ""
    lines = [f"*Written from this run's table (seeds {', '.join(map(str, seeds))}{on}). Another machine or software "
             f"version can give other numbers, which is why these sentences come from the run.*", "",
             f"* **{best}** had the best mean validation accuracy "
             f"({table.loc[best, 'val_accuracy_mean']:.{digits}f}); its test accuracy is {shown[best]}."]
    tested = []
    for name in (n for n in order if n != best):
        p = table.loc[name, "p_vs_best"]
        gap = 100 * (table.loc[name, "test_accuracy_mean"] - table.loc[best, "test_accuracy_mean"])
        if math.isnan(p):
            verdict = "not tested against the best (it needs 2 seeds or more)"
        elif p < alpha:
            verdict = f"different from the best (p = {p:.2g}): {abs(gap):.1f} points {'higher' if gap > 0 else 'lower'}"
        else:
            verdict = f"not distinguishable from the best (p = {p:.2g})"
        lines.append(f"* **{name}**: test accuracy {shown[name]}, {verdict}.")
        if not math.isnan(p):
            tested.append(name)
    k = len(tested)
    different = [n for n in tested if table.loc[n, "p_vs_best"] < alpha]
    leads = [n for n in different if table.loc[n, "p_vs_best"] >= alpha / k]
    notes = []
    if not tested:
        notes.append("With one seed there is no test: run two or more to compare settings.")
    elif not different:
        notes.append(f"No setting is shown to differ from the best. With {len(seeds)} seeds a test like this finds "
                     f"only large differences: *not distinguishable* does not mean *equal*.")
    if k > 1 and leads:
        notes.append(f"{k} settings were each tested against the best at the {alpha:g} level: when nothing differs, "
                     f"the chance of at least one false *different* among them is about {1 - (1 - alpha) ** k:.0%}. "
                     f"{in_words(leads)} {'has' if len(leads) == 1 else 'have'} p above {alpha:g}/{k} = "
                     f"{alpha / k:.2g}: a lead to check with more seeds, not yet a finding.")
    half = (table["test_accuracy_ci_high"] - table["test_accuracy_ci_low"]) / 2
    if half.notna().sum() > 2 and half.max() > 2 * half.median():
        widest = half.idxmax()
        notes.append(f"The widest spread over seeds is **{widest}**'s (± {half[widest]:.{digits}f}, against a median "
                     f"of ± {half.median():.{digits}f}): its seeds disagree, which a mean alone would hide.")
    if chance is not None:
        stuck = [n for n in order if table.loc[n, "test_accuracy_mean"] < chance + 0.05]
        if stuck:
            notes.append(f"{in_words(stuck)} ended near chance level ({chance:g}, the accuracy of guessing): "
                         f"{'it' if len(stuck) == 1 else 'they'} did not learn.")
    return "\n".join(lines) + "".join(f"\n\n{note}" for note in notes)


def show_findings(table, seeds, where="", **options):
    """Display :func:`findings` as Markdown in a notebook (and return the text)."""
    return show_markdown(findings(table, seeds, where, **options))


def show_markdown(text):
    """Display ``text`` as Markdown in a notebook, and return it."""
    from IPython.display import Markdown, display

    display(Markdown(text))
    return text


def in_words(names):
    """``a``, ``a and b``, ``a, b and c``, each name in bold."""
    quoted = [f"**{n}**" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
