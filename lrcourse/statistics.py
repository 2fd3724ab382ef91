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
