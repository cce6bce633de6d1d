"""Aggregation: run folders -> one pandas row per run -> summary tables.

``summary.csv`` has one row per (dataset, decoder, method, seed) with every scalar metric,
its standard error over test examples, the exact reference values where the dataset has
them, the code versions at training and evaluation (:mod:`vae_tfp.report.code_versions`)
and the run folder, so every number in a table can be traced to its run and its code.
``summary.md`` and ``summary.tex`` show mean +- standard deviation over seeds, with n, and
``mi`` and ``marginal_kl`` as brackets where they are bounds (:mod:`vae_tfp.report.formatting`).
``units.csv`` has one row per run x latent dimension (KL, MI, AU variance, collapse verdict);
:func:`write_all_tables` writes them all, and ``runs_long.csv`` (:mod:`vae_tfp.report.tables`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from vae_tfp.data.registry import DATASETS
from vae_tfp.io import atomic_write, read_json
from vae_tfp.report.caption_rules import EXACT_NLL_NOTE, bound_rule, spread_rule
from vae_tfp.report.code_versions import (
    CODE_COLUMNS,
    DEFAULT_MODE,
    check_code_versions,
    code_version_columns,
    code_version_note,
)
from vae_tfp.report.collapse import informative_threshold, unit_verdicts, verdict_counts
from vae_tfp.report.display import latex_table
from vae_tfp.report.formatting import METRICS, format_rows, is_marked
from vae_tfp.report.tables import count_columns, long_table, ordered, shows_values

KEYS = ["dataset", "decoder", "method", "seed"]
def units_note(table: pd.DataFrame, frame: pd.DataFrame) -> str:
    """The units sentence of a summary note, naming the count columns and exact_nll that
    the table shows and the runs have."""
    shown = list(table.columns)
    counts = ", ".join(count_columns(frame, shown))
    parts = [f"{counts}: counts of latent dimensions"] if counts else []
    parts += [EXACT_NLL_NOTE] if shows_values(frame, "exact_nll", shown) else []
    inner = f" ({'; '.join(parts)})" if parts else ""
    return f"All values in nats per example on the test split{inner}; n = number of seeds."


def _has_unit_metrics(payload: dict) -> bool:
    """Whether a metrics.json has what the collapse verdict reads (every evaluate job
    writes it; hand-made or older files may not)."""
    return {"mi_per_dim", "au_variances"} <= set(payload["metrics"]) and (
        "au_threshold" in payload["estimators"]
    )


def run_informative_mi(payload: dict, informative_mi: float | None = None) -> float:
    """The informative threshold of one run, nats: ``informative_mi`` if given, else
    :func:`vae_tfp.report.collapse.informative_threshold` at the run's N and S (a file
    without ``mi_samples`` counts one sample: the largest, most cautious threshold)."""
    if informative_mi is not None:
        return float(informative_mi)
    estimators = payload["estimators"]
    return informative_threshold(int(estimators["n_test"]), int(estimators.get("mi_samples", 1)))


def _verdicts(payload: dict, informative_mi: float | None) -> list[str]:
    metrics = payload["metrics"]
    return unit_verdicts(
        metrics["mi_per_dim"],
        metrics["au_variances"],
        payload["estimators"]["au_threshold"],
        run_informative_mi(payload, informative_mi),
    )


def he2019_active_units(payload: dict) -> float:
    """He et al. 2019's active-unit count of one run: >= threshold on the means of the
    posterior the model uses (:func:`vae_tfp.metrics.active_units`; their SA-VAE scripts
    count the refined means), from the recorded ``au_variances``, so that files written
    before ``au_he2019`` existed, or when it counted an SA-VAE run's encoder means (until
    2026-12-03), give the same count as new ones; ``au_he2019`` of a file without the
    variances; NaN without either."""
    metrics, estimators = payload["metrics"], payload["estimators"]
    variances = metrics.get("au_variances")
    if variances is not None and "au_threshold" in estimators:
        return float(np.sum(np.asarray(variances, np.float64) >= estimators["au_threshold"]))
    if "au_he2019" in metrics and "posterior" not in estimators:
        return float(metrics["au_he2019"])
    return float("nan")


def run_row(metrics_path: str | os.PathLike, informative_mi: float | None = None) -> dict:
    """Flattens one ``metrics.json`` into a table row, with the run's collapse verdict
    (:mod:`vae_tfp.report.collapse`: dimensions informative above ``informative_mi`` nats,
    or, if None, above the run's :func:`vae_tfp.report.collapse.informative_threshold`),
    ``au_he2019`` and ``mi_minibatch_size`` (He et al. 2019's conventions)."""
    payload = read_json(metrics_path)
    config = payload["config"]
    row = {key: payload["run"][key] for key in ("experiment", *KEYS)}
    row["method_name"] = config["method_options"]["method"]
    row["decoder_type"] = config["decoder_options"]["type"]
    row["latent_dim"] = config["model"]["latent_dim"]
    for name, value in payload["metrics"].items():
        if np.isscalar(value):
            row[name] = value
    for name, value in payload["standard_errors"].items():
        row[f"{name}_se"] = value
    row.update(payload.get("reference", {}))
    row["best_epoch"] = payload["training"]["best_epoch"]
    row["iw_samples"] = payload["estimators"]["iw_samples"]
    row["mi_samples"] = payload["estimators"].get("mi_samples")
    row["n_test"] = payload["estimators"]["n_test"]
    row["au_threshold"] = payload["estimators"].get("au_threshold")
    row["mi_minibatch_size"] = payload["estimators"].get("mi_minibatch_size")
    row["au_he2019"] = he2019_active_units(payload)
    spec = DATASETS.get(row["dataset"])
    row["dataset_description"] = spec.description if spec else row["dataset"]
    if _has_unit_metrics(payload):
        row.update(verdict_counts(_verdicts(payload, informative_mi)))
        row["informative_mi"] = run_informative_mi(payload, informative_mi)
        row["informative_mi_fixed"] = informative_mi is not None
    row["mi_ceiling"] = float(np.log(payload["estimators"]["n_test"]))
    row["wall_time_s"] = payload["wall_time_s"]
    row["op_determinism"] = bool(
        payload["training"]["op_determinism"] and payload["evaluation_op_determinism"]
    )
    row["git_commit"] = payload["provenance"]["git"]["commit"]
    row.update(code_version_columns(payload))
    row["run_dir"] = str(Path(metrics_path).parent)
    return row


def collect_runs(
    metrics_paths: Iterable[str | os.PathLike], informative_mi: float | None = None
) -> pd.DataFrame:
    """One row per run, sorted by dataset, decoder, method, seed.

    Raises:
        ValueError: If no path is given or two files describe the same run.
    """
    rows = [run_row(path, informative_mi) for path in metrics_paths]
    if not rows:
        raise ValueError("no metrics.json files to aggregate")
    frame = pd.DataFrame(rows).sort_values(KEYS, kind="stable").reset_index(drop=True)
    duplicated = frame.duplicated(KEYS)
    if duplicated.any():
        raise ValueError(f"duplicate runs: {frame.loc[duplicated, KEYS].to_dict('records')}")
    return frame


def unit_rows(
    metrics_paths: Iterable[str | os.PathLike], informative_mi: float | None = None
) -> pd.DataFrame:
    """One row per run x latent dimension: ``kl``, ``mi``, ``au_variance`` (the posterior
    the model uses), ``au_encoder_variance`` (the encoder's means, before a refinement) and
    ``verdict``."""
    rows = []
    for path in metrics_paths:
        payload = read_json(path)
        if not _has_unit_metrics(payload):
            continue
        metrics, run = payload["metrics"], payload["run"]
        verdicts = _verdicts(payload, informative_mi)
        # The encoder's means' variances, before a refinement; NaN in older files.
        encoder = metrics.get("au_encoder_variances", [float("nan")] * len(verdicts))
        for dim, verdict in enumerate(verdicts):
            rows.append(
                {
                    **{key: run[key] for key in KEYS},
                    "dim": dim,
                    "kl": metrics["kl_per_dim"][dim],
                    "mi": metrics["mi_per_dim"][dim],
                    "au_variance": metrics["au_variances"][dim],
                    "au_encoder_variance": encoder[dim],
                    "verdict": verdict,
                }
            )
    columns = [*KEYS, "dim", "kl", "mi", "au_variance", "au_encoder_variance", "verdict"]
    return pd.DataFrame(rows, columns=columns)


def summarize(frame: pd.DataFrame, decimals: int = 2) -> pd.DataFrame:
    """One row per (dataset, decoder, method) with n and the cells of
    :func:`vae_tfp.report.formatting.format_rows` (mean ± std, brackets, marks; no bold)."""
    return format_rows(frame, KEYS[:-1], METRICS, None, decimals)


def table_note(table: pd.DataFrame, frame: pd.DataFrame) -> str:
    """The note under a summary table: units, spread, N and log N, and the bound rules."""
    bounds = bound_rule(frame, is_marked(table))
    return f"{units_note(table, frame)} {spread_rule()} {bounds} No bold."


def write_tables(
    frame: pd.DataFrame, output_dir: str | os.PathLike, note: str = ""
) -> dict[str, Path]:
    """Writes ``summary.csv``, ``summary.md`` and ``summary.tex`` atomically; ``note`` (e.g.
    :func:`vae_tfp.report.interim.interim_note`) starts the caption.

    Returns:
        The paths written, by format.
    """
    output_dir = Path(output_dir)
    table = summarize(frame)
    paths = {ext: output_dir / f"summary.{ext}" for ext in ("csv", "md", "tex")}
    atomic_write(paths["csv"], lambda s: frame.to_csv(s, index=False))
    note = note + code_version_note(frame) + table_note(table, frame)
    atomic_write(paths["md"], lambda s: s.write(f"{note}\n\n{table.to_markdown(index=False)}\n"))
    latex = latex_table(table, note, "tab:summary", text_columns=3)
    atomic_write(paths["tex"], lambda s: s.write(latex))
    return paths


def write_all_tables(
    metrics_paths: Iterable[str | os.PathLike],
    output_dir: str | os.PathLike,
    order: dict[str, list[str]] | None = None,
    baseline: str = "vanilla",
    informative_mi: float | None = None,
    code_versions: str = DEFAULT_MODE,
    note: str = "",
) -> list[Path]:
    """Every table of an experiment from its ``metrics.json`` files.

    Writes ``summary.{csv,md,tex}``, ``units.csv`` and ``runs_long.csv`` under
    ``output_dir``, rows in the config's order (``summary.csv`` is what the per-dataset,
    statistics and figure steps read).

    Args:
        metrics_paths: One ``metrics.json`` per run.
        output_dir: The experiment's ``tables`` folder.
        order: The config's order of datasets, decoders and methods
            (:func:`vae_tfp.report.tables.ordered`); default alphabetical.
        baseline: The method variant listed first and compared against.
        informative_mi: Threshold of the collapse verdict, nats; None (default): each
            run's :func:`vae_tfp.report.collapse.informative_threshold` at its N and S.
        code_versions: ``mark`` the tables whose rows come from different code versions
            or a dirty tree, or ``refuse`` to write them
            (:mod:`vae_tfp.report.code_versions`).
        note: A sentence the summary's caption starts with (an interim table's, say).

    Returns:
        The paths written.

    Raises:
        MixedCodeVersionsError: If ``code_versions`` is ``refuse`` and the rows are mixed.
    """
    metrics_paths = list(metrics_paths)
    output_dir = Path(output_dir)
    frame = ordered(collect_runs(metrics_paths, informative_mi), order or {}, baseline)
    check_code_versions(frame, code_versions)
    written = list(write_tables(frame, output_dir, note).values())
    units = ordered(unit_rows(metrics_paths, informative_mi), order or {}, baseline)
    # runs_long.csv: the code versions as columns of every row, not as metrics.
    versions = frame[[*KEYS, *CODE_COLUMNS]]
    long = long_table(frame.drop(columns=CODE_COLUMNS)).merge(versions, on=KEYS, how="left")
    for name, table in {"units.csv": units, "runs_long.csv": long}.items():
        atomic_write(output_dir / name, lambda s, t=table: t.to_csv(s, index=False))
        written.append(output_dir / name)
    return written
