"""The collapse page's informative threshold in words: each dataset's threshold T on
``mi_per_dim`` in the summary, how it is set (fixed by the config or following the
estimator's noise at the run's N), and what the collapsed runs measure against it.
"""

from __future__ import annotations

import pandas as pd

from vae_tfp.report.collapse import INFORMATIVE_RELATIVE_STD, informative_threshold


def dataset_thresholds(summary: pd.DataFrame) -> dict[str, tuple[float, int | None, bool]]:
    """Each dataset's informative threshold in the summary: (nats, N or None, fixed?)."""
    out = {}
    for dataset, runs in summary.groupby("dataset", sort=False):
        if "informative_mi" not in runs or runs["informative_mi"].isna().all():
            continue
        fixed = "informative_mi_fixed" not in runs or bool(runs["informative_mi_fixed"].any())
        n = int(runs["n_test"].min()) if "n_test" in runs else None
        out[str(dataset)] = (float(runs["informative_mi"].max()), n, fixed)
    return out


def threshold_text(thresholds: dict[str, tuple[float, int | None, bool]]) -> str:
    """The page's statement of the informative threshold and its value per dataset."""
    values = "; ".join(
        f"{d} **{t:.3g} nats**" + (f" (N = {n:,})" if n else "")
        for d, (t, n, _) in thresholds.items()
    )
    if any(fixed for _, _, fixed in thresholds.values()):
        return f", here fixed by the config's `report.informative_mi`: {values}."
    r = INFORMATIVE_RELATIVE_STD
    return f""" that follows the estimator's noise at the run's test-set size N and samples
per example S:

    T  =  2 / (N S r²),   r = {r:.0%},

the information at which the estimate's Monte Carlo standard deviation, sqrt(2 I / (N S)) to
first order in I (`vae_tfp/report/collapse.py`), is r of the value: the estimate of a
dimension carrying T lies 1/r = {1 / r:.0f} standard deviations above 0, one carrying T/4 is
estimated above T, or one carrying 4 T below it, only {1.5 / r:.0f} standard deviations out,
whatever N. A larger test set resolves less information, so T falls as 1/N (0.056 nats at
N = 359 and S = 10, where the former fixed 0.05 was calibrated;
{informative_threshold(10000, 10):.3f} at MNIST's N = 10,000 and S = 10). Here: {values}."""


def collapsed_text(noise: dict, thresholds: dict[str, tuple[float, int | None, bool]]) -> str:
    """Each dataset's largest per-dimension estimate in collapsed runs against its T."""
    above = ", above it: such a dimension counts as informative"
    parts = [
        f"{d}: {value:.4f} against T = {thresholds[d][0]:.3g}"
        + (above if value > thresholds[d][0] else "")
        for d, value in noise.get("collapsed_max_mi_by_dataset", {}).items()
        if d in thresholds
    ]
    return f" ({'; '.join(parts)})." if parts else "."
