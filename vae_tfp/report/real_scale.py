"""The rate split at real-data scale: the collapse page's case of trained models whose rate
exceeds log N, read from another experiment's ``summary.csv`` (e.g. binarized MNIST).

At N test examples the whole-set ``mi`` cannot exceed log N, so for a model whose rate is
well above log N the page shows, run by run, the bracket [mi, min(mi_upper, kl)] on I(x; z)
(the rate bounds the information too, KL(q(z) ‖ p(z)) being ≥ 0) and the bracket
[kl − min(mi_upper, kl), kl − mi] on KL(q(z) ‖ p(z)): what the test set can and cannot say
about the split.
"""

from __future__ import annotations

import math

import pandas as pd

COLUMNS = ("dataset", "decoder", "method", "seed", "n_test", "kl", "mi", "mi_upper")


def real_scale_table(summary: pd.DataFrame) -> str:
    """A Markdown table, one row per run: N, log N, the rate, the MI bracket and the
    marginal-KL bracket.

    Args:
        summary: An experiment's ``summary.csv`` (one row per run).

    Raises:
        ValueError: If the runs lack ``mi_upper`` (evaluated before it was recorded), naming
            the missing runs' count, or a column of :data:`COLUMNS`.
    """
    missing = [column for column in COLUMNS if column not in summary]
    if missing:
        raise ValueError(f"summary.csv lacks {missing}: re-evaluate the runs")
    if summary["mi_upper"].isna().any():
        count = int(summary["mi_upper"].isna().sum())
        raise ValueError(f"{count} runs have no mi_upper: re-evaluate them (--forcerun evaluate)")
    rows = []
    for run in summary.itertuples():
        log_n = math.log(run.n_test)
        upper = min(run.mi_upper, run.kl)  # I(x; z) <= kl, since KL(q(z) || p(z)) >= 0
        rows.append(
            {
                "run": f"{run.dataset} × {run.decoder} × {run.method}, seed {run.seed}",
                "N (log N)": f"{int(run.n_test):,} ({log_n:.2f})",
                "kl": f"{run.kl:.2f}",
                "mi": f"[{run.mi:.2f}, {upper:.2f}]",
                "marginal_kl": f"[{run.kl - upper:.2f}, {run.kl - run.mi:.2f}]",
            }
        )
    return pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)


def real_scale_text(summary: pd.DataFrame, experiment: str) -> str:
    """The paragraph and table of the collapse page's real-data case.

    Args:
        summary: The experiment's ``summary.csv``.
        experiment: Its name, for the reader to find the runs (``results/<experiment>``).
    """
    above = int((summary["kl"] > summary["n_test"].map(math.log)).sum())
    return (
        f"At real-data scale the rate exceeds log N. The {len(summary)} runs of the "
        f"experiment `{experiment}` (`results/{experiment}`; {above} of them with a rate "
        "above log N), each evaluated on its test split:\n\n"
        + real_scale_table(summary)
        + "\n\n`mi`'s upper end is the smaller of the leave-one-out bound `mi_upper` and the "
        "rate itself. Where `mi` sits at log N, its lower end says only that the test set is "
        "too small to resolve more information, and `marginal_kl`'s upper end, kl − mi, that "
        "at most that much of the rate is a gap between q(z) and p(z); a lower end of 0 says "
        "the data cannot rule out that there is none. Neither end is the value."
    )
