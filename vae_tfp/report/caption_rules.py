"""The rules the table captions state, in words: bold, ``mi`` bounds and marks, ± and N.

Each sentence is built from the constants of :mod:`vae_tfp.report.formatting`, which
formats the cells, so a caption always states the rule its table's cells follow.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import pandas as pd

from vae_tfp.report.formatting import (
    BEST,
    BRACKET_WIDTH,
    MI_CEILING_MARGIN,
    SATURATION_MARK,
    SINGLE_SEED,
)
from vae_tfp.report.statistics import CONFIDENCE

# The definition of the synthetic datasets' exact_nll column, for every caption that shows it.
EXACT_NLL_NOTE = (
    "exact_nll: -log p(x) under the distribution that generated the data, in closed form"
)


def bold_rule(columns: Collection[str] | None = None) -> str:
    """The caption sentence that states when a value is bold.

    Args:
        columns: The columns the table shows; the ranked metrics it lacks are left out of
            the sentence (None: every ranked metric).
    """
    ranked = ", ".join(
        f"{m} ({'highest' if best is max else 'lowest'})"
        for m, best in BEST.items()
        if columns is None or m in columns
    )
    return (
        f"Bold: the best mean of {ranked}, only where its paired difference with the "
        f"runner-up (seed k with seed k) has a {CONFIDENCE:.0%} Student-t interval that "
        "excludes 0; no bold otherwise, and none in mi where the best or the runner-up is "
        "shown as a bound."
    )


def _test_sizes(frame: pd.DataFrame) -> pd.DataFrame:
    columns = ["dataset", "n_test"] if "dataset" in frame else ["n_test"]
    return frame[columns].dropna().drop_duplicates().sort_values(columns)


def evaluation_size_text(frame: pd.DataFrame) -> str:
    """ "N = 359 test examples, log N = 5.88", per dataset when the frame has several."""
    if "n_test" not in frame or frame["n_test"].isna().all():
        return "N test examples unknown"
    sizes = _test_sizes(frame)
    if "dataset" not in sizes or len(sizes) < 2:
        n = int(sizes["n_test"].min())
        return f"N = {n:,} test examples, log N = {math.log(n):.2f}"
    return "N test examples and log N: " + "; ".join(
        f"{d} {int(n):,}, {math.log(n):.2f}"
        for d, n in zip(sizes["dataset"], sizes["n_test"], strict=True)
    )


def bound_condition(frame: pd.DataFrame) -> str:
    """When a row's ``mi`` is a bound, in words, with N and log N."""
    return (
        f"the bracket [mi, mi_upper] wider than {BRACKET_WIDTH:g} nats, or mi within "
        f"{MI_CEILING_MARGIN:g} nat of log N; {evaluation_size_text(frame)}"
    )


def bound_rule(frame: pd.DataFrame, marked: bool) -> str:
    """The caption sentences on ``mi``, its bracket and the marks of a table of ``frame``.

    Args:
        frame: The runs the table shows (for N and log N).
        marked: Whether some ``mi`` carries the † mark.
    """
    text = (
        "mi: I(x; z) with q(z) the mixture over the whole test set "
        f"({evaluation_size_text(frame)}), a lower bound that cannot exceed log N. Where "
        "the bracket [mi, mi_upper] (mi_upper: the leave-one-out upper bound, Poole et al. "
        "2019, or kl where that is smaller, I(x; z) ≤ kl) is wider than "
        f"{BRACKET_WIDTH:g} nats or mi is within {MI_CEILING_MARGIN:g} nat of log N, mi is "
        "shown as that bracket and marginal_kl as [kl − mi_upper, kl − mi] with the same "
        "mi_upper, each end taken per seed and averaged over seeds (the per-dataset CSV's "
        "mi_bracket_upper and marginal_kl_bracket_lower), never as a point; runs "
        "without mi_upper show ≥ mi and ≤ kl − mi there."
    )
    if marked:
        text += (
            f" {SATURATION_MARK} mi within {MI_CEILING_MARGIN:g} nat of its ceiling log N: a "
            "lower bound limited by the test-set size, not an estimate of I(x; z)."
        )
    return text


def spread_rule() -> str:
    """The caption sentence on ± and single seeds."""
    return f"Mean ± std over seeds (n seeds per row); a single seed shows {SINGLE_SEED}, no ±."
