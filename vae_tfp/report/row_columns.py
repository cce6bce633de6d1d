"""Columns of a per-dataset table that are not test-set metrics: what a row's runs cost
and how each of them collapsed.

- The wall time of each run (``wall_time_s`` of its ``metrics.json``: training over all its
  sessions plus evaluation), shown as mean ± std over seeds like a metric, in hours when a run
  of the table took an hour or more and in minutes otherwise.
- The collapse verdict of each run (:func:`vae_tfp.report.collapse.run_verdict`): the row
  shows it when its seeds agree and each verdict with its count of seeds when they differ.
"""

from __future__ import annotations

import pandas as pd

VERDICT = "collapse_verdict"
# Seconds per unit of the wall-time column.
TIME_UNITS = {"hours": 3600.0, "minutes": 60.0}


def wall_time_unit(frame: pd.DataFrame) -> str | None:
    """``hours`` if a run of ``frame`` took at least an hour, else ``minutes``; None when no
    run records its wall time."""
    if "wall_time_s" not in frame or frame["wall_time_s"].isna().all():
        return None
    return "hours" if frame["wall_time_s"].max() >= TIME_UNITS["hours"] else "minutes"


def with_wall_time(frame: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """``frame`` with a column of each run's wall time in :func:`wall_time_unit` (named
    after the unit), and that name (None and ``frame`` unchanged without wall times)."""
    unit = wall_time_unit(frame)
    if unit is None:
        return frame, None
    return frame.assign(**{unit: frame["wall_time_s"] / TIME_UNITS[unit]}), unit


def verdict_cell(verdicts: pd.Series) -> str:
    """One row's collapse verdicts: the verdict when every seed has the same one, else each
    verdict with its count of seeds (``collapsed 1, partial 1``); empty when no run has one.
    """
    counts = verdicts.dropna().value_counts()
    if counts.empty:
        return ""
    if len(counts) == 1:
        return str(counts.index[0])
    return ", ".join(f"{verdict} {count}" for verdict, count in sorted(counts.items()))


def verdict_cells(frame: pd.DataFrame, keys: list[str]) -> list[str] | None:
    """:func:`verdict_cell` of each ``keys`` group of ``frame`` in first-seen order (the
    display table's rows); None when no run has a verdict."""
    if VERDICT not in frame or frame[VERDICT].isna().all():
        return None
    return [verdict_cell(group[VERDICT]) for _, group in frame.groupby(keys, sort=False)]


def row_columns_caption(unit: str | None, verdicts: bool) -> str:
    """The caption sentences on the wall-time and verdict columns a table shows."""
    text = ""
    if unit:
        text += (
            f" {unit}: wall time of each run, training (all its sessions) plus evaluation, on "
            "the machine and at the load it ran with: a cost, not a controlled benchmark"
            " (a method that starts from a separate pretraining run counts that run's too)."
        )
    if verdicts:
        text += (
            f" {VERDICT}: collapsed (no informative dimension), partial or uncollapsed (every "
            "dimension informative), by the informative_units rule; where seeds differ, each "
            "verdict with its count of seeds."
        )
    return text
