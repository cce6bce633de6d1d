"""The reproduction table: the suite's numbers beside the published ones they reproduce.

An experiment names, under ``reproduce:``, rows of a published-values file
(``config/published.yaml``) and the runs (dataset, decoder variant, method variant) that
reproduce each. For each row the table gives the dataset version, the metric and K, ours
(mean ± std over seeds, n), the published value (± its std when the paper gives one), the
source, the difference ours − published and whether it is within the row's tolerance
(the row's own, else the published std, else 1 nat), in the manner of pythae's
reproducibility table but computed from the run folders.

A protocol the suite set out to reproduce without success stays in the table and says
why: a published row whose number could not be confirmed has ``value: null`` and
``unconfirmed`` (what was searched), and an entry of the experiment that was not run has
``not_run`` (the reason, e.g. its measured CPU cost) instead of its runs. Neither gets a
verdict.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from vae_tfp.io import atomic_write
from vae_tfp.report.display import latex_table
from vae_tfp.report.formatting import point_text

DEFAULT_TOLERANCE = 1.0  # nats, when a row states none and the paper gives no std
ROW_FIELDS = ("dataset", "dataset_version", "metric", "estimator", "value", "std", "source")


def load_published(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The rows of a published-values file, checked for the fields the table needs.

    Raises:
        ValueError: If a row lacks a field or its value is not a finite number, naming the
            row and what is missing.
    """
    rows = yaml.safe_load(Path(path).read_text())["rows"]
    for name, row in rows.items():
        missing = [field for field in ROW_FIELDS if field not in row]
        if missing:
            raise ValueError(f"published row {name!r} in {path} lacks {missing}")
        if row["value"] is None:
            if not str(row.get("unconfirmed") or "").strip():
                raise ValueError(
                    f"published row {name!r}: value is null, so 'unconfirmed' must say why"
                )
        elif not isinstance(row["value"], int | float) or not math.isfinite(row["value"]):
            raise ValueError(
                f"published row {name!r}: value must be a finite number (or null with "
                "'unconfirmed')"
            )
    return rows


def row_tolerance(row: Mapping[str, Any]) -> float:
    """The tolerance of a published row: its own, else the published std, else 1 nat."""
    for candidate in (row.get("tolerance"), row.get("std")):
        if candidate is not None:
            return float(candidate)
    return DEFAULT_TOLERANCE


def reproduction_table(
    summary: pd.DataFrame,
    published: Mapping[str, Mapping[str, Any]],
    reproduce: Sequence[Mapping[str, Any]],
) -> pd.DataFrame:
    """One row per reproduced published value, from the per-run summary.

    Args:
        summary: One row per run (:func:`vae_tfp.report.collect_runs`).
        published: The rows of the published-values file (:func:`load_published`).
        reproduce: The experiment's ``reproduce`` entries: ``row`` and either ``dataset``,
            ``decoder``, ``method`` or ``not_run`` (why the protocol was not run).

    Returns:
        Columns ``row``, ``dataset_version``, ``metric``, ``K``, ``ours_mean``, ``ours_std``,
        ``n``, ``published``, ``published_std``, ``difference``, ``tolerance``, ``within``
        (None when no run has finished, when our nll_iw used another K than the
        published one, or when no published value was confirmed), ``published_K``,
        ``source``, ``runs`` (the run folders), ``wall_time_h`` (each run's training and
        evaluation wall time in hours, in the order of ``runs``), ``not_run`` and
        ``unconfirmed`` (the reasons, empty when they do not apply).

    Raises:
        KeyError: If an entry names a row the file does not hold.
    """
    records = []
    for entry in reproduce:
        if entry["row"] not in published:
            raise KeyError(
                f"reproduce names published row {entry['row']!r}; the file holds "
                f"{sorted(published)}"
            )
        row = published[entry["row"]]
        not_run = " ".join(str(entry.get("not_run") or "").split())
        runs = (
            summary.iloc[0:0]
            if not_run
            else summary[
                (summary["dataset"] == entry["dataset"])
                & (summary["decoder"] == entry["decoder"])
                & (summary["method"] == entry["method"])
            ]
        )
        values = runs[row["metric"]].astype(float) if row["metric"] in runs else pd.Series([])
        n = int(values.notna().sum())
        mean = float(values.mean()) if n else math.nan
        std = float(values.std(ddof=1)) if n > 1 else math.nan
        value = math.nan if row["value"] is None else float(row["value"])
        difference = mean - value
        tolerance = row_tolerance(row)
        iw_samples = sorted(set(runs["iw_samples"])) if "iw_samples" in runs else []
        published_k = (row.get("estimator") or {}).get("iw_samples")
        # An nll_iw estimated with another K is a different quantity: no verdict.
        comparable = row["metric"] != "nll_iw" or published_k in (None, *iw_samples[:1])
        comparable = comparable and len(iw_samples) <= 1 and not math.isnan(value)
        records.append(
            {
                "row": entry["row"],
                "dataset_version": " ".join(str(row["dataset_version"]).split()),
                "metric": row["metric"],
                "K": ", ".join(str(k) for k in iw_samples) if row["metric"] == "nll_iw" else "",
                "ours_mean": mean,
                "ours_std": std,
                "n": n,
                "published": value,
                "published_std": row["std"],
                "difference": difference,
                "tolerance": tolerance,
                "within": bool(abs(difference) <= tolerance) if n and comparable else None,
                "published_K": published_k if row["metric"] == "nll_iw" else None,
                "source": " ".join(
                    f"{row['source']['citation']}, {row['source']['location']}".split()
                ),
                "runs": ";".join(runs["run_dir"]) if "run_dir" in runs else "",
                "wall_time_h": ";".join(
                    f"{seconds / 3600:.2f}" for seconds in runs.get("wall_time_s", [])
                ),
                "not_run": not_run,
                "unconfirmed": " ".join(str(row.get("unconfirmed") or "").split()),
            }
        )
    return pd.DataFrame.from_records(records)


def _display(table: pd.DataFrame) -> pd.DataFrame:
    """The table as strings for Markdown and LaTeX."""

    def ours(r):
        if r["not_run"]:
            return f"not run: {r['not_run']}"
        if not r["n"]:
            return "not reached (no finished run)"
        text = point_text(r["ours_mean"], r["ours_std"], r["n"])  # one seed: "(n = 1)"
        return text if r["n"] == 1 else f"{text} (n={r['n']})"

    def published(r):
        if r["unconfirmed"]:
            return f"none confirmed: {r['unconfirmed']}"
        return f"{r['published']:.2f}" + (
            f" ± {r['published_std']:.2f}" if r["published_std"] is not None else ""
        )

    def within(r):
        if r["n"] and r["within"] is None and not r["unconfirmed"]:
            return f"– (published K = {r['published_K']})"
        if r["within"] is None:
            return "–"
        return ("yes" if r["within"] else "no") + f" (±{r['tolerance']:g})"

    return pd.DataFrame(
        {
            "row": table["row"],
            "metric": [
                f"{m} (K={k})" if k else m for m, k in zip(table["metric"], table["K"], strict=True)
            ],
            "ours": table.apply(ours, axis=1),
            "published": table.apply(published, axis=1),
            "difference": table["difference"].map(lambda d: "" if math.isnan(d) else f"{d:+.2f}"),
            "within tolerance": table.apply(within, axis=1),
            "hours per seed": table["wall_time_h"].map(
                lambda hours: ", ".join(str(hours).split(";")) if hours else ""
            ),
            "source": table["source"],
        }
    )


# row, metric, ours, published, difference, within tolerance, wall time, source: the
# reasons and the sources wrap (the table fits a landscape page, as an appendix table).
LATEX_COLUMNS = r"p{2.8cm}lp{3.3cm}p{3.3cm}rp{1.6cm}p{1.3cm}p{5.2cm}"

REPRODUCTION_NOTE = (
    "ours: mean ± std over seeds (n seeds) on the test split, nats per example (au: units); "
    "difference = ours − published; within tolerance: |difference| ≤ the row's tolerance "
    "(its own, else the published std, else 1 nat); hours per seed: wall time of training "
    "and evaluation of each seed. Dataset versions and protocols: config/published.yaml and "
    "the experiment config."
)


def write_reproduction_tables(
    table: pd.DataFrame, output_dir: str | os.PathLike
) -> dict[str, Path]:
    """Writes ``reproduction.csv``, ``.md`` and ``.tex`` atomically into ``output_dir``."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    shown = _display(table)
    paths = {
        "csv": output_dir / "reproduction.csv",
        "md": output_dir / "reproduction.md",
        "tex": output_dir / "reproduction.tex",
    }
    atomic_write(paths["csv"], lambda s: table.to_csv(s, index=False))
    atomic_write(
        paths["md"],
        lambda s: s.write(
            shown.to_markdown(index=False, disable_numparse=True) + f"\n\n{REPRODUCTION_NOTE}\n"
        ),
    )
    latex = latex_table(
        shown, REPRODUCTION_NOTE, "tab:reproduction", len(shown.columns), LATEX_COLUMNS
    )
    atomic_write(paths["tex"], lambda s: s.write(latex))
    return paths
