"""Tables for papers, from the per-run frame of :func:`vae_tfp.report.aggregate.collect_runs`.

- ``datasets/<dataset>.{md,tex,csv,html}``: one table per dataset, mean ± std over seeds and n,
  rows in the config's order with the baseline method first, ``mi`` and ``marginal_kl`` as
  brackets where they are bounds, bold only where the best row beats the runner-up by a
  paired interval excluding 0 (:mod:`vae_tfp.report.formatting` formats every cell), and a
  caption stating units, K, N and log N, the data version, the MI estimator and these rules.
  The CSV holds the numbers (mean, std, 95% CI half-width, n per metric).
- ``runs_long.csv``: tidy long format, one row per run x metric with its standard error.

The statistics table is :mod:`vae_tfp.report.statistics_table`; the files a display table
is written as, :mod:`vae_tfp.report.display`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import pandas as pd

from vae_tfp.io import atomic_write
from vae_tfp.report.caption_rules import EXACT_NLL_NOTE, bold_rule, bound_rule, spread_rule
from vae_tfp.report.code_versions import code_version_note
from vae_tfp.report.collapse import threshold_rule
from vae_tfp.report.display import write_display
from vae_tfp.report.formatting import BEST, METRICS, format_rows, is_marked, mi_status
from vae_tfp.report.protocol import differences_caption
from vae_tfp.report.row_columns import (
    TIME_UNITS,
    VERDICT,
    row_columns_caption,
    verdict_cells,
    with_wall_time,
)
from vae_tfp.report.statistics import CELL, t_interval

# The raw bounds behind the bracket cells, kept in the per-dataset CSV (their seed means);
# the ends the table shows, tightened by kl seed by seed, are its mi_bracket_upper and
# marginal_kl_bracket_lower columns.
BRACKET_METRICS = ["mi_upper", "marginal_kl_lower"]
# He et al. 2019's conventions, shown beside the suite's (``report.published_conventions``):
# each placed after the suite's metric it differs from.
PUBLISHED_CONVENTIONS = {"au_he2019": "au", "mi_minibatch": "mi"}
# Metrics of some datasets only (token data: perplexity), each placed after the metric it
# is computed from; the table leaves out a column no run has.
DERIVED = {"nll_iw_perplexity": "nll_iw"}
# Run-level columns of summary.csv that are settings or bookkeeping, not measurements.
NOT_METRICS = {
    "experiment", "dataset", "decoder", "method", "seed", "method_name", "decoder_type",
    "latent_dim", "best_epoch", "iw_samples", "mi_samples", "n_test", "mi_ceiling",
    "op_determinism", "git_commit", "run_dir", "collapse_verdict", "dataset_description",
    "informative_mi", "informative_mi_fixed", "mi_minibatch_size", "au_threshold",
}  # fmt: skip
UNITS = {
    "au": "count",
    "informative_units": "count",
    "exact_active_units": "count",
    "au_he2019": "count",
    "active_uninformative_units": "count",
    "collapsed_units": "count",
    "wall_time_s": "s",
    "nll_iw_bits_per_dim": "bits/dim",
    "nll_iw_perplexity": "perplexity",
    "exact_perplexity": "perplexity",
    "exact_nll_per_token": "nats/token",
}


def shows_values(frame: pd.DataFrame, column: str, shown: Collection[str] | None) -> bool:
    """Whether some run of ``frame`` has ``column`` and the table shows it (``shown``: the
    table's columns; None: any column of the runs)."""
    return (
        (shown is None or column in shown) and column in frame and frame[column].notna().any()
    )


def count_columns(frame: pd.DataFrame, shown: Collection[str] | None = None) -> list[str]:
    """The columns of unit "count" (:data:`UNITS`) that the table shows and some run has,
    for the caption sentence that names them."""
    return [c for c, unit in UNITS.items() if unit == "count" and shows_values(frame, c, shown)]


def caption_values(frame: pd.DataFrame, column: str) -> str:
    """The distinct values of a numeric setting column over the runs, for a caption
    ("unknown" if no run records it)."""
    if column not in frame:
        return "unknown"
    return ", ".join(f"{v:g}" for v in sorted(frame[column].dropna().unique()))


def ordered(frame: pd.DataFrame, order: Mapping[str, Sequence[str]], baseline: str) -> pd.DataFrame:
    """Rows sorted by the config's order of datasets, decoders and methods, baseline first.

    Args:
        frame: One row per run.
        order: ``{"dataset": [...], "decoder": [...], "method": [...]}``, the names in the
            order of the config's sections; names missing from a list go after it,
            alphabetically.
        baseline: The method placed first.
    """
    keys = {}
    for column in CELL:
        names = list(order.get(column, []))
        if column == "method" and baseline in names:
            names.remove(baseline)
            names.insert(0, baseline)
        rest = sorted(set(frame[column]) - set(names))
        rank = {name: i for i, name in enumerate([*names, *rest])}
        keys[column] = frame[column].map(rank)
    sort = pd.DataFrame(keys).assign(seed=frame["seed"])
    return frame.loc[sort.sort_values([*CELL, "seed"], kind="stable").index].reset_index(drop=True)


def table_metrics(published: bool = False) -> list[str]:
    """The columns of a per-dataset table: :data:`METRICS` with :data:`DERIVED` after the
    metric each comes from, and with ``published`` He et al. 2019's conventions
    (:data:`PUBLISHED_CONVENTIONS`) after the suite's metric each differs from."""
    beside = {**DERIVED, **(PUBLISHED_CONVENTIONS if published else {})}
    columns = []
    for metric in METRICS:
        columns.append(metric)
        columns.extend(column for column, after in beside.items() if after == metric)
    return columns


def dataset_table(
    frame: pd.DataFrame, decimals: int = 2, published: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table of one dataset's runs: display strings and the numbers behind them.

    Args:
        frame: The ordered runs of one dataset.
        decimals: Decimals shown.
        published: Also show He et al. 2019's conventions, ``au_he2019`` and
            ``mi_minibatch`` (:func:`table_metrics`).

    Returns:
        ``(display, numbers)``: ``display`` has decoder, method, n, a cell per metric
        (:func:`vae_tfp.report.formatting.format_rows`: mean ± std, brackets and marks, bold
        by :func:`vae_tfp.report.formatting.best_row`), then the runs' wall time and collapse
        verdicts (:mod:`vae_tfp.report.row_columns`) where the runs record them; ``numbers``
        has mean, std, ci95 (half-width) and n per metric, ``mi_upper`` and
        ``marginal_kl_lower`` included, the bracket ends a row shown as a bracket shows
        (``mi_bracket_upper``, ``marginal_kl_bracket_lower``; filled for every row) and the
        verdict cell.
    """
    keys = ["decoder", "method"]
    frame, time_unit = with_wall_time(frame)
    columns = [*table_metrics(published), *([time_unit] if time_unit else [])]
    display = format_rows(frame, keys, columns, BEST, decimals)
    metrics = [m for m in [*columns, *BRACKET_METRICS] if m in frame and frame[m].notna().any()]
    numbers = []
    for (decoder, method), group in frame.groupby(keys, sort=False):
        number = {"decoder": decoder, "method": method, "n": len(group)}
        for metric in metrics:
            interval = t_interval(group[metric])
            number.update({f"{metric}_{k}": interval[k] for k in ("mean", "std", "half_width")})
        if "mi_upper" in metrics:
            status = mi_status(group)
            number["mi_bracket_upper"] = status.mi_upper
            number["marginal_kl_bracket_lower"] = status.marginal_kl_lower
        numbers.append(number)
    numbers = pd.DataFrame(numbers)
    verdicts = verdict_cells(frame, keys)
    if verdicts is not None:
        display[VERDICT] = numbers[VERDICT] = verdicts
    return display, numbers.rename(columns=lambda c: c.replace("half_width", "ci95"))


def published_caption(frame: pd.DataFrame, display: pd.DataFrame) -> str:
    """The caption sentences on He et al. 2019's conventions the table shows (none if it
    shows neither)."""

    def values(column):
        return caption_values(frame, column)

    text = ""
    if "au_he2019" in display:
        text += (
            f" au_he2019: He et al. 2019's count, Var_x E_q[z_i|x] ≥ {values('au_threshold')} "
            "(their code's calc_au), where au counts >; both on the posterior the model uses "
            "(SA-VAE: the refined means, as in He et al.'s SA-VAE scripts)."
        )
    if "mi_minibatch" in display and "mi_minibatch_size" in frame:
        sizes = sorted(frame["mi_minibatch_size"].dropna().unique())
        ceiling = ", ".join(f"{math.log(b):.2f}" for b in sizes)
        text += (
            " mi_minibatch: after He et al. 2019's estimator, q(z) the mixture of q(z|x) within "
            f"consecutive test minibatches of B = {values('mi_minibatch_size')} examples "
            f"(one sample per example, its log q(z|x) at that sample where He et al. use the "
            f"closed-form entropy; on the posterior the model uses), at most log B = {ceiling}: "
            "biased further below I(x; z) than mi, comparable only with numbers of the same B."
        )
    return text


def perplexity_caption(display: pd.DataFrame) -> str:
    """The caption sentence on ``nll_iw_perplexity`` (none if the table lacks it)."""
    if "nll_iw_perplexity" not in display:
        return ""
    return (
        " nll_iw_perplexity: exp(Σ nll_iw / Σ tokens) over the test sentences, a sentence's "
        "tokens being its words and its end-of-sentence token (not the start token)."
    )


def dataset_caption(frame: pd.DataFrame, display: pd.DataFrame | None = None) -> str:
    """Units, estimator settings, data version and the table's rules for one dataset.

    Args:
        frame: The dataset's runs.
        display: Its display table, to state the † mark and the published conventions
            only when it shows them.
    """
    first = frame.iloc[0]

    def values(column):
        return caption_values(frame, column)

    marked = is_marked(display) if display is not None else False
    # A summary.csv from before the noise rule has a fixed threshold and no column saying so.
    fixed = "informative_mi" in frame and (
        "informative_mi_fixed" not in frame or bool(frame["informative_mi_fixed"].any())
    )
    rule = threshold_rule(float(frame["informative_mi"].iloc[0]) if fixed else None)
    if not fixed:
        thresholds = frame["informative_mi"].dropna() if "informative_mi" in frame else []
        here = ", ".join(f"{t:.3g}" for t in sorted(set(thresholds)))
        rule += f"; T = {here} nats here." if here else "."
    au_threshold = values("au_threshold") if "au_threshold" in frame else "0.01"
    mi_samples = values("mi_samples")
    shown = None if display is None else list(display.columns)
    counts = ", ".join(count_columns(frame, shown))
    exact = f" {EXACT_NLL_NOTE}." if shows_values(frame, "exact_nll", shown) else ""
    au = f"au: dimensions with Var_x E_q[z_i|x] > {au_threshold} (Burda et al. 2016)"
    return (
        f"{first['dataset']}: {first['dataset_description']}. Nats per example"
        f"{f' ({counts}: counts of latent dimensions)' if counts else ''}. {spread_rule()} "
        f"nll_iw: K = {values('iw_samples')} importance samples.{exact} "
        f"{bound_rule(frame, marked)} mi uses {mi_samples} "
        f"{'sample' if mi_samples == '1' else 'samples'} z ~ q(z|x) "
        f"per example. {au} on the posterior the model uses (SA-VAE: the refined means). "
        f"{rule}{_display_caption(frame, display)} "
        f"{bold_rule(shown)}"
    )


def _display_caption(frame: pd.DataFrame, display: pd.DataFrame | None) -> str:
    """The caption sentences on the columns only some tables show."""
    if display is None:
        return ""
    time_unit = next((unit for unit in TIME_UNITS if unit in display), None)
    return (
        perplexity_caption(display)
        + published_caption(frame, display)
        + row_columns_caption(time_unit, VERDICT in display)
    )


def write_dataset_table(
    frame: pd.DataFrame,
    dataset: str,
    output_dir: str | os.PathLike,
    published: bool = False,
    protocol_differences: Sequence[str] = (),
    note: str = "",
) -> list[Path]:
    """``<dataset>.md``, ``.tex``, ``.html`` and ``.csv`` from the ordered runs (with
    ``published``, He et al. 2019's conventions too: :func:`dataset_table`); the caption
    starts with ``note`` (an interim table's: :func:`vae_tfp.report.interim.interim_note`)
    and ends with the config's ``protocol_differences`` for the dataset.

    Raises:
        ValueError: If the frame has no run of ``dataset``.
    """
    runs = frame[frame["dataset"] == dataset]
    if runs.empty:
        raise ValueError(
            f"no runs of dataset {dataset!r}; datasets: {sorted(set(frame['dataset']))}"
        )
    display, numbers = dataset_table(runs, published=published)
    base = Path(output_dir) / dataset
    caption = note + code_version_note(runs) + dataset_caption(runs, display)
    caption += differences_caption(protocol_differences)
    written = write_display(display, caption, base, f"tab:{dataset}", 2)
    atomic_write(base.with_suffix(".csv"), lambda s: numbers.to_csv(s, index=False))
    return [*written, base.with_suffix(".csv")]


def long_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run x metric: value, standard error over test examples (where the metric
    has one), unit and run folder."""
    metrics = [
        column
        for column in frame.columns
        if column not in NOT_METRICS
        and not column.endswith("_se")
        and pd.api.types.is_numeric_dtype(frame[column])
    ]
    keys = [*CELL, "seed", "run_dir"]
    values = frame.melt(id_vars=keys, value_vars=metrics, var_name="metric", value_name="value")
    errors = [f"{m}_se" for m in metrics if f"{m}_se" in frame]
    se = frame.melt(id_vars=keys, value_vars=errors, var_name="metric", value_name="standard_error")
    se["metric"] = se["metric"].str.removesuffix("_se")
    long = values.merge(se, on=[*keys, "metric"], how="left").dropna(subset=["value"])
    long["unit"] = long["metric"].map(UNITS).fillna("nats")
    return long[[*CELL, "seed", "metric", "value", "standard_error", "unit", "run_dir"]]
