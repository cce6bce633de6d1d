"""Interim tables of a campaign still under way: the runs evaluated so far, marked as such.

A paper-scale grid (``config/ptb.yaml``: hours per run) finishes over days. The workflow's
tables wait for every run of the grid; ``python -m vae_tfp interim-tables`` writes the same
tables from the runs whose evaluation is current into ``RESULTS/tables/interim/``, each
caption starting with which runs of the grid are in it and which are not yet. A run's
evaluation is current when its ``metrics.json`` (written last by evaluation, atomically)
records the run config the grid now resolves to, and no training output is newer than it
(a run retrained since keeps its old ``metrics.json`` until it is evaluated again). Run it
beside a training pipeline: it reads run folders and writes only under ``tables/interim/``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from vae_tfp.config import RunKey, iter_runs, resolve_run_config
from vae_tfp.report.aggregate import write_all_tables
from vae_tfp.report.options import table_options
from vae_tfp.report.tables import write_dataset_table
from vae_tfp.status import run_folder

INTERIM_FOLDER = Path("tables") / "interim"
# What a run folder holds of its training; one newer than metrics.json means a retraining.
TRAINING_OUTPUTS = ("checkpoint", "resume")
# The files of one per-dataset table (vae_tfp/report/tables.py: write_dataset_table).
TABLE_SUFFIXES = (".md", ".tex", ".html", ".csv")


def run_metrics_path(results: Path, key: RunKey) -> Path:
    """The run's ``metrics.json``, the evaluate rule's output
    (``workflows/rules/evaluate.smk``)."""
    return run_folder(results, key) / "metrics.json"


def evaluation_state(results: Path, config: Mapping[str, Any], key: RunKey) -> str:
    """``current``, ``missing`` (no ``metrics.json``) or ``stale`` (it records another run
    config than the grid's, or the run was trained again after it was written)."""
    path = run_metrics_path(results, key)
    if not path.is_file():
        return "missing"
    recorded = json.loads(path.read_text()).get("config")
    if recorded != json.loads(json.dumps(resolve_run_config(config, key))):
        return "stale"
    written = path.stat().st_mtime
    training = (f for name in TRAINING_OUTPUTS for f in (path.parent / name).glob("*"))
    return "stale" if any(f.stat().st_mtime > written for f in training) else "current"


def _run_names(keys: Sequence[RunKey]) -> str:
    return ", ".join(f"{k.dataset} × {k.decoder} × {k.method} seed {k.seed}" for k in keys)


def interim_note(
    evaluated: Sequence[RunKey], missing: Sequence[RunKey], stale: Sequence[RunKey] = ()
) -> str:
    """The sentences an interim table's caption starts with: how many runs of the grid it
    holds, which are not evaluated yet, and which were left out as stale (ends with a
    space; "" when the table holds every run)."""
    if not missing and not stale:
        return ""
    total = len(evaluated) + len(missing) + len(stale)
    note = f"Interim table: {len(evaluated)} of the grid's {total} runs evaluated"
    if missing:
        note += f"; not evaluated yet: {_run_names(missing)}"
    if stale:
        note += (
            "; left out, their metrics.json being from another run config or older than "
            f"their training: {_run_names(stale)}"
        )
    return note + ". Rows and their n will change when these are evaluated. "


def write_interim_tables(results: str | Path, config: Mapping[str, Any]) -> list[Path]:
    """The experiment's summary and per-dataset tables from its currently evaluated runs.

    A dataset of the grid with no such run gets no table (an older interim one is
    removed); the summary's caption names its runs among the missing.

    Args:
        results: The experiment folder, e.g. ``results/ptb-li2019``.
        config: The experiment config, whose grid says which runs are expected and whose
            ``report`` section sets order, baseline and conventions as in the workflow.

    Returns:
        The paths written, under ``RESULTS/tables/interim/`` (per-dataset tables in its
        ``datasets/``).

    Raises:
        ValueError: If no run of the grid has a current evaluation.
    """
    results = Path(results)
    grid = list(iter_runs(config))
    states = {key: evaluation_state(results, config, key) for key in grid}
    runs = {
        state: [k for k in grid if states[k] == state] for state in ("current", "missing", "stale")
    }
    evaluated = runs["current"]
    if not evaluated:
        raise ValueError(
            f"none of the {len(grid)} runs of experiment {config.get('experiment', results.name)}"
            f" has a current metrics.json under {results / 'runs'} ({len(runs['stale'])} "
            f"stale); `python -m vae_tfp status {results}` shows where each stands"
        )
    options = table_options(config)
    output = results / INTERIM_FOLDER
    written = write_all_tables(
        [run_metrics_path(results, key) for key in evaluated],
        output,
        options.order,
        options.baseline,
        options.informative_mi,
        options.code_versions,
        note=interim_note(evaluated, runs["missing"], runs["stale"]),
    )
    frame = pd.read_csv(output / "summary.csv")
    for dataset in dict.fromkeys(key.dataset for key in grid):
        of_dataset = {
            state: [k for k in keys if k.dataset == dataset] for state, keys in runs.items()
        }
        if not of_dataset["current"]:
            for suffix in TABLE_SUFFIXES:
                (output / "datasets" / dataset).with_suffix(suffix).unlink(missing_ok=True)
            continue
        written += write_dataset_table(
            frame,
            dataset,
            output / "datasets",
            options.published_conventions,
            options.protocol_differences.get(dataset, []),
            note=interim_note(of_dataset["current"], of_dataset["missing"], of_dataset["stale"]),
        )
    return written
