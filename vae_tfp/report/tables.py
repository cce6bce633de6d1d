"""Tables for papers, from the per-run frame of :func:`vae_tfp.report.aggregate.collect_runs`.

- ``datasets/<dataset>.{md,tex,csv,html}``: one table per dataset, mean ± std over seeds and n,
  rows in the config's order with the baseline method first, ``mi`` and ``marginal_kl`` as
  brackets where they are bounds, bold only where the best row beats the runner-up by a
  paired interval excluding 0 (:mod:`vae_tfp.report.formatting` formats every cell), and a
  caption stating units, K, N and log N, the data version, the MI estimator and these rules.
  The CSV holds the numbers (mean, std, 95% CI half-width, n per metric).
- ``runs_long.csv``: tidy long format, one row per run x metric with its standard error.
- ``statistics.{md,tex,csv,html}``: 95% Student-t intervals over seeds, and paired comparisons
  of each method with the baseline on the same dataset x decoder (seed k with seed k),
  starred after Holm's correction over the table's comparisons.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vae_tfp.io import atomic_write
from vae_tfp.report.code_versions import code_version_note
from vae_tfp.report.collapse import threshold_rule
from vae_tfp.report.formatting import (
    BEST,
    METRICS,
    MI_CEILING_MARGIN,
    SATURATION_MARK,
    SIGNIFICANCE,
    MiStatus,
    bold_rule,
    bound_condition,
    bound_rule,
    format_rows,
    interval_text,
    is_marked,
    mi_status,
    spread_rule,
)
from vae_tfp.report.statistics import (
    CONFIDENCE,
    confidence_intervals,
    holm_adjust,
    paired_differences,
    t_interval,
)

CELL = ["dataset", "decoder", "method"]
# The numbers behind the bracket cells, kept in the per-dataset CSV.
BRACKET_METRICS = ["mi_upper", "marginal_kl_lower"]
# He et al. 2019's conventions, shown beside the suite's (``report.published_conventions``):
# each placed after the suite's metric it differs from.
PUBLISHED_CONVENTIONS = {"au_he2019": "au", "mi_minibatch": "mi"}
STATISTICS_METRICS = ["nll_iw", "kl", "mi", "au", "informative_units"]
PAIRED_METRICS = ["nll_iw", "mi"]
# Run-level columns of summary.csv that are settings or bookkeeping, not measurements.
NOT_METRICS = {
    "experiment", "dataset", "decoder", "method", "seed", "method_name", "decoder_type",
    "latent_dim", "best_epoch", "iw_samples", "mi_samples", "n_test", "mi_ceiling",
    "op_determinism", "git_commit", "run_dir", "collapse_verdict", "dataset_description",
    "informative_mi", "informative_mi_fixed", "mi_minibatch_size", "au_threshold",
}  # fmt: skip
UNITS = {
    "au": "count",
    "exact_active_units": "count",
    "informative_units": "count",
    "au_he2019": "count",
    "active_uninformative_units": "count",
    "collapsed_units": "count",
    "wall_time_s": "s",
    "nll_iw_bits_per_dim": "bits/dim",
    "nll_iw_perplexity": "perplexity",
}


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
    """The columns of a per-dataset table: :data:`METRICS`, and with ``published`` He et
    al. 2019's conventions (:data:`PUBLISHED_CONVENTIONS`) after the suite's metric each
    differs from."""
    columns = []
    for metric in METRICS:
        columns.append(metric)
        columns.extend(p for p, beside in PUBLISHED_CONVENTIONS.items() if beside == metric)
    return columns if published else list(METRICS)


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
        ``(display, numbers)``: ``display`` has decoder, method, n and a cell per metric
        (:func:`vae_tfp.report.formatting.format_rows`: mean ± std, brackets and marks, bold
        by :func:`vae_tfp.report.formatting.best_row`); ``numbers`` has mean, std, ci95
        (half-width) and n per metric, ``mi_upper`` and ``marginal_kl_lower`` included.
    """
    columns = table_metrics(published)
    display = format_rows(frame, ["decoder", "method"], columns, BEST, decimals)
    metrics = [m for m in [*columns, *BRACKET_METRICS] if m in frame and frame[m].notna().any()]
    numbers = []
    for (decoder, method), group in frame.groupby(["decoder", "method"], sort=False):
        number = {"decoder": decoder, "method": method, "n": len(group)}
        for metric in metrics:
            interval = t_interval(group[metric])
            number.update({f"{metric}_{k}": interval[k] for k in ("mean", "std", "half_width")})
        numbers.append(number)
    numbers = pd.DataFrame(numbers)
    return display, numbers.rename(columns=lambda c: c.replace("half_width", "ci95"))


def published_caption(frame: pd.DataFrame, display: pd.DataFrame) -> str:
    """The caption sentences on He et al. 2019's conventions the table shows (none if it
    shows neither)."""

    def values(column):
        if column not in frame:
            return "unknown"
        return ", ".join(f"{v:g}" for v in sorted(frame[column].dropna().unique()))

    text = ""
    if "au_he2019" in display:
        text += (
            f" au_he2019: He et al. 2019's count, Var_x E_q[z_i|x] ≥ {values('au_threshold')} "
            "on the encoder's means (their code's calc_au), before any refinement of q(z|x) "
            "(SA-VAE), where au counts > on the posterior the model uses."
        )
    if "mi_minibatch" in display and "mi_minibatch_size" in frame:
        sizes = sorted(frame["mi_minibatch_size"].dropna().unique())
        ceiling = ", ".join(f"{math.log(b):.2f}" for b in sizes)
        text += (
            " mi_minibatch: He et al. 2019's estimator, q(z) the mixture of q(z|x) within "
            f"consecutive test minibatches of B = {values('mi_minibatch_size')} examples "
            f"(one sample per example), at most log B = {ceiling}: biased further below "
            "I(x; z) than mi, comparable only with numbers of the same B."
        )
    return text


def dataset_caption(frame: pd.DataFrame, display: pd.DataFrame | None = None) -> str:
    """Units, estimator settings, data version and the table's rules for one dataset.

    Args:
        frame: The dataset's runs.
        display: Its display table, to state the † mark and the published conventions
            only when it shows them.
    """
    first = frame.iloc[0]

    def values(column):
        return ", ".join(str(v) for v in sorted(frame[column].dropna().unique()))

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
    au = f"au: dimensions with Var_x E_q[z_i|x] > {au_threshold} (Burda et al. 2016)"
    return (
        f"{first['dataset']}: {first['dataset_description']}. Nats per example (au, "
        f"informative_units: counts of latent dimensions). {spread_rule()} "
        f"nll_iw: K = {values('iw_samples')} importance samples. "
        f"{bound_rule(frame, marked)} mi uses {values('mi_samples')} samples z ~ q(z|x) "
        f"per example. {au} on the posterior the model uses (SA-VAE: the refined means). "
        f"{rule}{published_caption(frame, display) if display is not None else ''} "
        f"{bold_rule()}"
    )


# Characters of names, numbers and captions that pdflatex would misread or not know.
LATEX_REPLACEMENTS = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "%": r"\%",
    "&": r"\&",
    "#": r"\#",
    "~": r"$\sim$",
    "^": r"\^{}",
    "±": r"$\pm$",
    "†": r"$^\dagger$",
    "×": r"$\times$",
    "−": r"$-$",
    "√": r"$\surd$",
    "²": r"$^2$",
    "Δ": r"$\Delta$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "‖": r"$\|$",
    "|": r"\textbar{}",  # OT1 text fonts set a bare | as an em dash,
    "<": r"$<$",  # < as an inverted exclamation mark,
    ">": r"$>$",  # and > as an inverted question mark
    "--": "-{}-",  # a command-line option, not an en dash
}
_LATEX_PATTERN = re.compile("|".join(re.escape(k) for k in LATEX_REPLACEMENTS))


def latex_escape(value: object) -> str:
    """``value`` as LaTeX text: special characters escaped, symbols in math mode."""
    return _LATEX_PATTERN.sub(lambda m: LATEX_REPLACEMENTS[m.group(0)], str(value))


def _latex_cell(value: object) -> str:
    text = latex_escape(value)
    if text.startswith("**") and text.endswith("**"):
        text = r"\textbf{" + text[2:-2] + "}"
    return text


_COMMIT_HASH = re.compile(r"\b[0-9a-f]{16,}\b")


def _breakable_hash(match: re.Match) -> str:
    digits = match.group(0)
    return r"\allowbreak{}".join(digits[i : i + 8] for i in range(0, len(digits), 8))


def _ragged_cell(text: str) -> str:
    """A wrapping cell set ragged-right, breakable after each ``/`` of a path and every 8
    digits of a commit hash (40 digits overflow any column of a page)."""
    text = _COMMIT_HASH.sub(_breakable_hash, text.replace("/", r"/\allowbreak{}"))
    return r"{\raggedright " + text + r"\par}"


def latex_table(
    display: pd.DataFrame,
    caption: str,
    label: str,
    text_columns: int,
    column_format: str | None = None,
) -> str:
    """Booktabs LaTeX of a display table (``**x**`` becomes bold), caption and label.

    The first ``text_columns`` columns are left-aligned and the rest right-aligned, unless
    ``column_format`` gives the columns (e.g. ``p{4cm}`` for text that must wrap; such
    cells are set ragged-right and may break after a ``/`` of a path, which needs no
    package beyond booktabs).
    """
    cells = display.map(_latex_cell)
    if column_format:
        kinds = re.findall(r"p\{[^}]*\}|[lrc]", column_format)
        for column, kind in zip(cells.columns, kinds, strict=True):
            if kind.startswith("p"):
                cells[column] = cells[column].map(_ragged_cell)
    return cells.rename(columns=_latex_cell).to_latex(
        index=False,
        escape=False,
        column_format=column_format
        or "l" * text_columns + "r" * (len(display.columns) - text_columns),
        caption=latex_escape(caption),
        label=label,
        position="htbp",
    )


def html_table(display: pd.DataFrame, caption: str) -> str:
    """A standalone HTML page of a display table (``**x**`` becomes bold) for the report."""
    body = display.map(lambda v: re.sub(r"^\*\*(.*)\*\*$", r"<b>\1</b>", str(v))).to_html(
        index=False, escape=False, border=0
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
        "body{font-family:sans-serif;font-size:14px}table{border-collapse:collapse}"
        "th,td{padding:3px 9px;text-align:right;white-space:nowrap}th{border-bottom:1px solid #444}"
        "td:nth-child(-n+2){text-align:left}</style></head><body>"
        f"<p>{caption}</p>{body}</body></html>\n"
    )


def write_display(
    display: pd.DataFrame,
    caption: str,
    base: Path,
    label: str,
    text_columns: int,
    heading: str = "",
) -> list[Path]:
    """``base`` + ``.md``, ``.tex`` and ``.html`` of one display table."""
    outputs = {
        ".md": f"{heading}{caption}\n\n{display.to_markdown(index=False)}\n",
        ".tex": latex_table(display, caption, label, text_columns),
        ".html": html_table(display, caption),
    }
    for suffix, text in outputs.items():
        atomic_write(base.with_suffix(suffix), lambda s, t=text: s.write(t))
    return [base.with_suffix(suffix) for suffix in outputs]


def write_dataset_table(
    frame: pd.DataFrame, dataset: str, output_dir: str | os.PathLike, published: bool = False
) -> list[Path]:
    """``<dataset>.md``, ``.tex``, ``.html`` and ``.csv`` from the ordered runs (with
    ``published``, He et al. 2019's conventions too: :func:`dataset_table`).

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
    caption = code_version_note(runs) + dataset_caption(runs, display)  # the note: provenance
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
