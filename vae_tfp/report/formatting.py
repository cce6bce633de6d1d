"""One formatter for every table: the cells, their marks and bold.

The summary, per-dataset, statistics and LaTeX tables all format through this module, so a
number looks and is marked the same everywhere (the caption sentences that state these rules
are in :mod:`vae_tfp.report.caption_rules`):

- A cell is the mean over seeds "± std" (sample standard deviation, ddof 1); a single seed
  shows "(n = 1)" and no ± (its spread is unknown, not 0).
- ``mi`` is the mixture estimate over the N test examples, a lower bound on I_q(x; z) that
  cannot exceed log N; ``mi_upper`` is the leave-one-out upper bound of Poole et al. 2019
  (arXiv:1905.06922; :func:`vae_tfp.metrics.aggregate_posterior_metrics`). Where the bracket
  [mi, mi_upper] is wide -- wider than :data:`BRACKET_WIDTH` nats, or ``mi`` within
  :data:`MI_CEILING_MARGIN` nat of log N (marked †) -- ``mi`` is shown as the bracket
  [mi, min(mi_upper, kl)] and ``marginal_kl`` as [kl - min(mi_upper, kl), kl - mi] (the
  rate bounds I(x; z) too; each end per seed, then averaged), never as a point. Runs
  evaluated before ``mi_upper`` existed show "≥ mi" and "≤ kl - mi" there.
- Bold: the best mean of a ranked column (:data:`BEST`), only where the paired difference
  with the runner-up (seed k with seed k) has a 95% Student-t interval that excludes 0;
  never a column value shown as a bound.
- Paired comparisons are starred where the Holm-adjusted p-value over the table's tested
  comparisons is below 0.05 (:func:`vae_tfp.report.statistics.holm_adjust`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from vae_tfp.report.statistics import CONFIDENCE, t_interval

DECIMALS = 2
# The columns of every mean ± std table (summary, per dataset), in order; absent ones skipped.
METRICS = [
    "elbo",
    "nll_iw",
    "exact_nll",
    "rec",
    "kl",
    "mi",
    "marginal_kl",
    "au",
    "informative_units",
    "exact_active_units",
]
# Columns with a best value: the direction that is better.
BEST: dict[str, Callable] = {"elbo": max, "nll_iw": min, "mi": max, "informative_units": max}
# ``mi`` within this many nats of log N says more about N than about I(x; z): marked †.
MI_CEILING_MARGIN = 1.0
# A bracket [mi, mi_upper] wider than this (nats) is shown as a bracket, never as a point.
# Both ends are within a few hundredths of the truth at a small rate (pPCA, N = 2,000:
# -0.013 and +0.014, width 0.03; tests/test_metrics.py), so 0.1 keeps such points points.
BRACKET_WIDTH = 0.1
SATURATION_MARK = "†"
SINGLE_SEED = "(n = 1)"
SIGNIFICANCE = 0.05


@dataclasses.dataclass(frozen=True)
class MiStatus:
    """How one row's ``mi`` and ``marginal_kl`` may be shown.

    Attributes:
        saturated: Mean ``mi`` within :data:`MI_CEILING_MARGIN` nat of log N (†).
        bound: Shown as a bound or bracket, not a point.
        mi: Mean over seeds of ``mi``.
        mi_upper: Mean of min(``mi_upper``, ``kl``) (:func:`_tightest_upper`); NaN when a
            run lacks ``mi_upper``.
        marginal_kl: Mean of ``kl - mi`` (the bracket's upper end).
        marginal_kl_lower: Mean of max(``kl - mi_upper``, 0) = kl - min(``mi_upper``, kl),
            the same tightened upper end as ``mi_upper`` (:func:`_tightest_marginal_kl_lower`);
            NaN when a run lacks it.
    """

    saturated: bool
    bound: bool
    mi: float
    mi_upper: float
    marginal_kl: float
    marginal_kl_lower: float


def _mean(runs: pd.DataFrame, column: str) -> float:
    """Mean over seeds, NaN if the column is absent or any run lacks it."""
    if column not in runs or runs[column].isna().any():
        return float("nan")
    return float(runs[column].mean())


def log_n(runs: pd.DataFrame) -> float:
    """log N of the runs' test sets (the smallest N if they differ); NaN if unknown."""
    if "n_test" in runs and runs["n_test"].notna().any():
        return float(np.log(runs["n_test"].min()))
    if "mi_ceiling" in runs and runs["mi_ceiling"].notna().any():
        return float(runs["mi_ceiling"].min())
    return float("nan")


def _tightest_upper(runs: pd.DataFrame) -> float:
    """Mean over seeds of min(mi_upper, kl): the rate is itself an upper bound on I(x; z),
    kl = I(x; z) + KL(q(z) || p(z)) with the KL >= 0, and at rates far above log N it is the
    tighter one. NaN if a run lacks ``mi_upper``."""
    if "mi_upper" not in runs or runs["mi_upper"].isna().any():
        return float("nan")
    if "kl" not in runs or runs["kl"].isna().any():
        return float(runs["mi_upper"].mean())
    return float(np.minimum(runs["mi_upper"], runs["kl"]).mean())


def _tightest_marginal_kl_lower(runs: pd.DataFrame) -> float:
    """Mean over seeds of max(kl - mi_upper, 0), i.e. kl - min(mi_upper, kl): the lower end
    of the marginal KL that mirrors :func:`_tightest_upper` seed by seed (a KL is >= 0).
    NaN if a run lacks ``marginal_kl_lower``."""
    if "marginal_kl_lower" not in runs or runs["marginal_kl_lower"].isna().any():
        return float("nan")
    return float(np.maximum(runs["marginal_kl_lower"], 0.0).mean())


def mi_status(runs: pd.DataFrame) -> MiStatus:
    """Whether the runs of one row show ``mi`` and ``marginal_kl`` as points or bounds."""
    mi, upper = _mean(runs, "mi"), _tightest_upper(runs)
    saturated = bool(mi > log_n(runs) - MI_CEILING_MARGIN)
    bound = saturated or bool(upper - mi > BRACKET_WIDTH)
    return MiStatus(
        saturated=saturated,
        bound=bound,
        mi=mi,
        mi_upper=upper,
        marginal_kl=_mean(runs, "marginal_kl"),
        marginal_kl_lower=_tightest_marginal_kl_lower(runs),
    )


def point_text(mean: float, std: float, n: int, decimals: int = DECIMALS) -> str:
    """ "mean ± std" over n seeds; "mean (n = 1)" for one seed; "" without a value."""
    if n < 1 or np.isnan(mean):
        return ""
    if n == 1:
        return f"{mean:.{decimals}f} {SINGLE_SEED}"
    return f"{mean:.{decimals}f} ± {std:.{decimals}f}"


def interval_text(mean: float, low: float, high: float, n: int, decimals: int = DECIMALS) -> str:
    """ "mean [low, high]" (a confidence interval over n replications); one shows (n = 1)."""
    if n < 2:
        return f"{mean:.{decimals}f} {SINGLE_SEED}"
    return f"{mean:.{decimals}f} [{low:.{decimals}f}, {high:.{decimals}f}]"


def _bracket(low: float, high: float, decimals: int) -> str:
    return f"[{low:.{decimals}f}, {high:.{decimals}f}]"


def bound_texts(status: MiStatus, decimals: int = DECIMALS) -> dict[str, str]:
    """The ``mi`` and ``marginal_kl`` cells of a row shown as bounds (``status.bound``)."""
    mark = f" {SATURATION_MARK}" if status.saturated else ""
    if np.isnan(status.mi_upper) or np.isnan(status.marginal_kl_lower):
        return {
            "mi": f"≥ {status.mi:.{decimals}f}{mark}",
            "marginal_kl": f"≤ {status.marginal_kl:.{decimals}f}",
        }
    return {
        "mi": _bracket(status.mi, status.mi_upper, decimals) + mark,
        "marginal_kl": _bracket(status.marginal_kl_lower, status.marginal_kl, decimals),
    }


def row_cells(
    runs: pd.DataFrame, metrics: Sequence[str], decimals: int = DECIMALS
) -> dict[str, str]:
    """The display text of every metric of one row (the seeds of one table row).

    Args:
        runs: One row per seed.
        metrics: Columns to format; ``mi`` and ``marginal_kl`` follow :func:`mi_status`.
        decimals: Decimals shown.
    """
    cells = {}
    for metric in metrics:
        interval = t_interval(runs[metric])
        cells[metric] = point_text(interval["mean"], interval["std"], interval["n"], decimals)
    if "mi" in metrics and runs["mi"].notna().any():
        status = mi_status(runs)
        if status.bound:
            bounds = bound_texts(status, decimals)
            cells.update({m: text for m, text in bounds.items() if m in metrics})
            if len(runs) == 1:
                cells.update({m: f"{cells[m]} {SINGLE_SEED}" for m in bounds if m in metrics})
    return cells


def _paired_interval(best: pd.DataFrame, other: pd.DataFrame, metric: str) -> dict[str, float]:
    """The 95% interval of best - other over the seeds both rows have."""
    a, b = best.set_index("seed")[metric], other.set_index("seed")[metric]
    seeds = sorted(set(a.dropna().index) & set(b.dropna().index))
    return t_interval((a.loc[seeds] - b.loc[seeds]).to_numpy(), CONFIDENCE)


def best_row(groups: Sequence[pd.DataFrame], metric: str, best: Callable) -> int | None:
    """The index of the row to set in bold in ``metric``'s column, or None.

    The row with the best mean (unrounded) is bold only if its paired difference with the
    runner-up (seed k with seed k) has a 95% Student-t interval that excludes 0; ``mi`` is
    never bold when the best or the runner-up is shown as a bound.

    Args:
        groups: The runs of each table row, in row order.
        metric: The column.
        best: ``max`` or ``min``, the better direction.
    """
    means = [g[metric].mean() if metric in g else np.nan for g in groups]
    ranked = [i for i in np.argsort(means) if not np.isnan(means[i])]
    if len(ranked) < 2:
        return None
    if best is max:
        ranked = ranked[::-1]
    first, second = ranked[0], ranked[1]
    if metric == "mi" and any(mi_status(groups[i]).bound for i in (first, second)):
        return None
    interval = _paired_interval(groups[first], groups[second], metric)
    if interval["n"] < 2 or not (interval["low"] > 0 or interval["high"] < 0):
        return None
    return int(first)


def bold(text: str) -> str:
    """``**text**``, which the Markdown, LaTeX and HTML writers set in bold."""
    return f"**{text}**" if text else text


def is_marked(display: pd.DataFrame) -> bool:
    """Whether a display table carries the † mark in its ``mi`` column."""
    return "mi" in display and display["mi"].astype(str).str.contains(SATURATION_MARK).any()


def format_rows(
    frame: pd.DataFrame,
    keys: Sequence[str],
    metrics: Sequence[str] = METRICS,
    ranked: Mapping[str, Callable] | None = None,
    decimals: int = DECIMALS,
) -> pd.DataFrame:
    """The display table of ``frame``: one row per ``keys`` group, n, and a cell per metric.

    Args:
        frame: One row per run, in display order.
        keys: The columns that identify a table row (their first-seen order is kept).
        metrics: Candidate columns; those absent or all-NaN are left out.
        ranked: Columns with a best value to set in bold (:func:`best_row`); None for none.
        decimals: Decimals shown.
    """
    metrics = [m for m in metrics if m in frame and frame[m].notna().any()]
    groups = [group for _, group in frame.groupby(list(keys), sort=False)]
    rows = []
    for group in groups:
        row = {key: group[key].iloc[0] for key in keys}
        row["n"] = len(group)
        row.update(row_cells(group, metrics, decimals))
        rows.append(row)
    display = pd.DataFrame(rows, columns=[*keys, "n", *metrics])
    for metric, best in (ranked or {}).items():
        if metric in metrics:
            winner = best_row(groups, metric, best)
            if winner is not None:
                display.loc[winner, metric] = bold(display.loc[winner, metric])
    return display
