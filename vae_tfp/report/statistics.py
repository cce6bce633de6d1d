"""Statistics across seeds: Student-t confidence intervals and paired comparisons.

Seeds are the replications of a benchmark cell (dataset x decoder x method): each seed
changes the initialisation, data order and all sampling noise, and nothing else. With n
seeds, the 95% interval of the mean is mean +- t_{0.975, n-1} s / sqrt(n) (s the sample
standard deviation, ddof = 1). Two methods on the same dataset x decoder share their seeds'
data order and initialisation streams (``vae_tfp/seeds.py`` derives both from the seed
alone), so seed k of a method and seed k of the baseline form a pair, and the interval of the
mean paired difference d_k = m_k - b_k (t with n_pairs - 1 degrees of freedom) is narrower
than the unpaired one whenever the pairs are positively correlated.

A table of many paired comparisons stars only those that survive Holm's step-down
correction (Holm 1979) over the table's comparisons, which bounds the probability of any
false star by the level (:func:`holm_adjust`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
CELL = ["dataset", "decoder", "method"]


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> dict[str, float]:
    """Mean, sample standard deviation and Student-t confidence half-width of ``values``.

    Args:
        values: Independent replications (one per seed); NaNs are dropped.
        confidence: Coverage of the interval.

    Returns:
        ``n``, ``mean``, ``std`` (ddof 1), ``half_width``, ``low``, ``high``; the spread
        entries are NaN when fewer than 2 values remain.
    """
    x = np.asarray(values, np.float64)
    x = x[~np.isnan(x)]
    n = len(x)
    mean = float(x.mean()) if n else float("nan")
    if n < 2:
        std = half = float("nan")
    else:
        std = float(x.std(ddof=1))
        half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * std / np.sqrt(n))
    return {"n": n, "mean": mean, "std": std, "half_width": half,
            "low": mean - half, "high": mean + half}  # fmt: skip


def t_test_p_value(mean: float, std: float, n: int) -> float:
    """Two-sided p-value of the one-sample Student-t test of mean 0 (a paired t-test on the
    differences): 2 P(T_{n-1} > |mean| sqrt(n) / std). NaN for n < 2; with std 0 it is 0
    for a mean other than 0, else 1."""
    if n < 2 or np.isnan(mean):
        return float("nan")
    if std == 0:
        return 0.0 if mean != 0 else 1.0
    return float(2.0 * stats.t.sf(abs(mean) * np.sqrt(n) / std, n - 1))


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979, "A simple sequentially rejective
    multiple test procedure"): the i-th smallest of m p-values becomes
    max_{j <= i} min(1, (m - j + 1) p_(j)). A comparison is significant at level alpha over
    the whole family when its adjusted value is below alpha. NaNs are not tested: they stay
    NaN and do not count in m.
    """
    p = np.asarray(p_values, np.float64)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = len(order)
    factors = m - np.arange(m)
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(factors * p[order]))
    return adjusted


def confidence_intervals(frame: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """:func:`t_interval` over seeds for every cell and metric, one row each (long format).

    Args:
        frame: One row per run (``collect_runs``), with the ``CELL`` columns.
        metrics: Columns of ``frame`` to summarize; absent ones are skipped.
    """
    rows = []
    for cell, group in frame.groupby(CELL, sort=False):
        for metric in (m for m in metrics if m in frame.columns):
            if group[metric].notna().any():
                rows.append({**dict(zip(CELL, cell, strict=True)), "metric": metric,
                             **t_interval(group[metric])})  # fmt: skip
    return pd.DataFrame(rows)


def paired_differences(
    frame: pd.DataFrame, baseline: str, metrics: Sequence[str], confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Each method minus the baseline method on the same dataset x decoder, seed by seed.

    Args:
        frame: One row per run, with ``seed`` and the ``CELL`` columns.
        baseline: The method variant compared against (e.g. ``vanilla``).
        metrics: Metrics to compare.
        confidence: Coverage of the interval of the mean difference.

    Returns:
        One row per (dataset, decoder, method, metric) with ``baseline``, ``n_pairs`` (seeds
        both have), ``seeds``, the interval of the mean difference (``mean``, ``std``,
        ``half_width``, ``low``, ``high``) and ``excludes_zero`` (the interval lies wholly
        above or below 0) and ``p_value`` (two-sided paired t-test, unadjusted:
        :func:`t_test_p_value`). Empty when no dataset x decoder has the baseline.
    """
    rows = []
    for (dataset, decoder), setting in frame.groupby(["dataset", "decoder"], sort=False):
        reference = setting[setting["method"] == baseline].set_index("seed")
        if reference.empty:
            continue
        for method, runs in setting.groupby("method", sort=False):
            if method == baseline:
                continue
            runs = runs.set_index("seed")
            seeds = sorted(set(runs.index) & set(reference.index))
            for metric in (m for m in metrics if m in frame.columns):
                differences = runs.loc[seeds, metric] - reference.loc[seeds, metric]
                interval = t_interval(differences.to_numpy(), confidence)
                n_pairs = interval.pop("n")
                rows.append(
                    {
                        "dataset": dataset,
                        "decoder": decoder,
                        "method": method,
                        "baseline": baseline,
                        "metric": metric,
                        "seeds": " ".join(str(s) for s in seeds),
                        **interval,
                        "n_pairs": n_pairs,
                        "excludes_zero": bool(interval["low"] > 0 or interval["high"] < 0),
                        "p_value": t_test_p_value(interval["mean"], interval["std"], n_pairs),
                    }
                )
    return pd.DataFrame(rows)
