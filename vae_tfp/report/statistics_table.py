"""``statistics.{md,tex,csv,html}``: 95% Student-t intervals over seeds, and paired
comparisons of each method with the baseline on the same dataset x decoder (seed k with
seed k), starred after Holm's correction over the table's comparisons
(:mod:`vae_tfp.report.statistics` computes them; :mod:`vae_tfp.report.formatting` formats
the cells)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from vae_tfp.io import atomic_write
from vae_tfp.report.caption_rules import bound_condition
from vae_tfp.report.code_versions import code_version_note
from vae_tfp.report.display import html_table, latex_table
from vae_tfp.report.formatting import (
    MI_CEILING_MARGIN,
    SATURATION_MARK,
    SIGNIFICANCE,
    MiStatus,
    interval_text,
    mi_status,
)
from vae_tfp.report.statistics import (
    CELL,
    CONFIDENCE,
    confidence_intervals,
    holm_adjust,
    paired_differences,
)

STATISTICS_METRICS = ["nll_iw", "kl", "mi", "au", "informative_units"]
PAIRED_METRICS = ["nll_iw", "mi"]


def statistics_tables(frame: pd.DataFrame, baseline: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The 95% intervals of :data:`STATISTICS_METRICS` and the paired differences of
    :data:`PAIRED_METRICS` against ``baseline`` (long format, numbers)."""
    return (
        confidence_intervals(frame, STATISTICS_METRICS),
        paired_differences(frame, baseline, PAIRED_METRICS),
    )


def _mi_statuses(frame: pd.DataFrame) -> dict[tuple, MiStatus]:
    """The :class:`vae_tfp.report.formatting.MiStatus` of each (dataset, decoder, method)."""
    if "mi" not in frame:
        return {}
    return {
        cell: mi_status(runs)
        for cell, runs in frame.groupby(CELL, sort=False)
        if runs["mi"].notna().any()
    }


def _interval_texts(intervals: pd.DataFrame, statuses: dict[tuple, MiStatus]) -> list[str]:
    """The cells of the intervals table; an ``mi`` the other tables show as a bound is
    "≥ ..." (and † within 1 nat of log N)."""
    texts = []
    for _, row in intervals.iterrows():
        text = interval_text(row["mean"], row["low"], row["high"], row["n"])
        status = statuses.get(tuple(row[CELL]))
        if row["metric"] == "mi" and status is not None and status.bound:
            text = f"≥ {text}" + (f" {SATURATION_MARK}" if status.saturated else "")
        texts.append(text)
    return texts


def _paired_texts(
    paired: pd.DataFrame, statuses: dict[tuple, MiStatus], baseline: str
) -> pd.DataFrame:
    """The paired table's cells with Holm-adjusted stars over its tested comparisons.

    A Δmi with either side shown as a bound is a difference of bounds: set apart
    ("(bounds)") and not tested, so it does not count in the Holm family.

    Returns:
        ``paired`` with ``bounds`` (bool), ``p_holm`` and ``text``.
    """
    bound = {cell: status.bound for cell, status in statuses.items()}
    bounds = [
        row["metric"] == "mi"
        and (bound.get(tuple(row[CELL]), False)
             or bound.get((row["dataset"], row["decoder"], baseline), False))
        for _, row in paired.iterrows()
    ]  # fmt: skip
    p = paired["p_value"].where(~np.asarray(bounds, bool))
    adjusted = holm_adjust(p.to_numpy())
    texts = [
        interval_text(row["mean"], row["low"], row["high"], row["n_pairs"])
        + (" (bounds)" if is_bound else " *" if p_holm < SIGNIFICANCE else "")
        for (_, row), is_bound, p_holm in zip(paired.iterrows(), bounds, adjusted, strict=True)
    ]
    return paired.assign(bounds=bounds, p_holm=adjusted, text=texts)


def write_statistics(
    frame: pd.DataFrame, output_dir: str | os.PathLike, baseline: str
) -> dict[str, Path]:
    """``statistics.csv`` (both tables, long) and ``statistics.md``/``.tex`` (wide).

    Stars mark paired comparisons whose Holm-adjusted p-value (Holm 1979, over the
    comparisons the table tests) is below 0.05; the CSV has the raw and adjusted p-values.
    """
    output_dir = Path(output_dir)
    intervals, paired = statistics_tables(frame, baseline)
    level = f"{CONFIDENCE:.0%}"
    statuses = _mi_statuses(frame)
    wide_ci = intervals.assign(text=_interval_texts(intervals, statuses)).pivot_table(
        index=CELL, columns="metric", values="text", aggfunc="first", sort=False
    )
    wide_ci = wide_ci[[m for m in STATISTICS_METRICS if m in wide_ci]].reset_index()
    ci_caption = code_version_note(frame) + (
        f"Mean over seeds and its {level} Student-t confidence interval "
        "[mean ± t(n-1) s/√n], nats per example (au, informative_units: counts); a single "
        "seed shows (n = 1) and no interval."
    )
    if any(status.bound for status in statuses.values()):
        ci_caption += (
            f" ≥: an mi the other tables show as a bound ({bound_condition(frame)}); the "
            "interval is of the lower bound mi, not of I(x; z)."
        )
    if any(status.saturated for status in statuses.values()):
        ci_caption += f" {SATURATION_MARK} mi within {MI_CEILING_MARGIN:g} nat of log N."
    sections = [("Confidence intervals over seeds", ci_caption, wide_ci, "tab:intervals")]
    if not paired.empty:
        paired = _paired_texts(paired, statuses, baseline)
        wide_paired = paired.pivot_table(
            index=[*CELL, "n_pairs"], columns="metric", values="text", aggfunc="first", sort=False
        )
        wide_paired = wide_paired[[m for m in PAIRED_METRICS if m in wide_paired]]
        wide_paired = wide_paired.rename(columns=lambda m: f"Δ{m}").reset_index()
        tested = int(paired["p_holm"].notna().sum())
        paired_caption = (
            f"Paired differences method − {baseline} on the same dataset × decoder: seed k of "
            f"the method minus seed k of {baseline}, over the n_pairs seeds both have; mean "
            f"and its {level} Student-t interval (n_pairs − 1 degrees of freedom, not "
            f"adjusted). * Holm-adjusted p < {SIGNIFICANCE:g} (paired t-test, Holm's step-down "
            f"correction over the {tested} comparisons of this table with n_pairs ≥ 2)."
        )
        if paired["bounds"].any():
            paired_caption += (
                " (bounds): a Δmi where the method's or the baseline's mi is shown as a bound "
                "(near log N or a wide bracket): a difference of lower bounds, not tested."
            )
        sections.append(
            (f"Paired comparisons with {baseline}", paired_caption, wide_paired, "tab:paired")
        )
    else:
        sections.append(
            (f"Paired comparisons with {baseline}",
             f"No dataset × decoder has runs of the baseline {baseline!r}.", None, None)
        )  # fmt: skip
    markdown, latex, html = [], [], []
    for title, caption, table, label in sections:
        markdown.append(f"## {title}\n\n{caption}\n")
        html.append(f"<h2>{title}</h2>")
        if table is not None:
            markdown.append(table.to_markdown(index=False) + "\n")
            latex.append(latex_table(table, caption, label, text_columns=len(CELL)))
            html.append(html_table(table, caption))
        else:
            html.append(f"<p>{caption}</p>")
    paths = {ext: output_dir / f"statistics.{ext}" for ext in ("md", "tex", "csv", "html")}
    atomic_write(paths["md"], lambda s: s.write("\n".join(markdown)))
    atomic_write(paths["tex"], lambda s: s.write("\n".join(latex)))
    atomic_write(paths["html"], lambda s: s.write("\n".join(html)))
    both = pd.concat([intervals.assign(kind="interval"), paired.assign(kind="paired")])
    atomic_write(paths["csv"], lambda s: both.to_csv(s, index=False))
    return paths
