"""Interim tables of a campaign still under way: the runs evaluated so far, marked as such.

A paper-scale grid (``config/ptb.yaml``: hours per run) finishes over days. The workflow's
tables wait for every run of the grid; ``python -m vae_tfp interim-tables`` writes the same
tables from the runs that already have a ``metrics.json`` (written last by evaluation,
after its samples), into ``RESULTS/tables/interim/``, each caption starting with which runs
of the grid are in it and which are not yet. Run it beside a training pipeline: it reads
run folders and writes nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from vae_tfp.config import RunKey, iter_runs
from vae_tfp.report.aggregate import write_all_tables
from vae_tfp.report.options import table_options
from vae_tfp.report.tables import write_dataset_table

INTERIM_FOLDER = Path("tables") / "interim"


def run_metrics_path(results: Path, key: RunKey) -> Path:
    """``RESULTS/runs/{dataset}/{decoder}/{method}/seed{seed}/metrics.json``, the evaluate
    rule's output (``workflows/rules/evaluate.smk``)."""
    run_dir = results / "runs" / key.dataset / key.decoder / key.method / f"seed{key.seed}"
    return run_dir / "metrics.json"


def _run_names(keys: Sequence[RunKey]) -> str:
    return ", ".join(f"{k.decoder} × {k.method} seed {k.seed}" for k in keys)


def interim_note(evaluated: Sequence[RunKey], pending: Sequence[RunKey]) -> str:
    """The sentence an interim table's caption starts with: how many runs of the grid it
    holds and which runs are not evaluated yet (ends with a space, "" when none is
    pending)."""
    if not pending:
        return ""
    total = len(evaluated) + len(pending)
    return (
        f"Interim table: {len(evaluated)} of the grid's {total} runs evaluated; not evaluated "
        f"yet: {_run_names(pending)}. Rows and their n will change when these finish. "
    )


def write_interim_tables(results: str | Path, config: Mapping[str, Any]) -> list[Path]:
    """The experiment's summary and per-dataset tables from its evaluated runs only.

    Args:
        results: The experiment folder, e.g. ``results/ptb-li2019``.
        config: The experiment config, whose grid says which runs are expected and whose
            ``report`` section sets order, baseline and conventions as in the workflow.

    Returns:
        The paths written, under ``RESULTS/tables/interim/`` (per-dataset tables in its
        ``datasets/``).

    Raises:
        ValueError: If no run of the grid has been evaluated yet.
    """
    results = Path(results)
    grid = list(iter_runs(config))
    evaluated = [key for key in grid if run_metrics_path(results, key).is_file()]
    if not evaluated:
        raise ValueError(
            f"none of the {len(grid)} runs of experiment {config.get('experiment', results.name)}"
            f" has a metrics.json under {results / 'runs'} yet; `python -m vae_tfp status "
            f"{results}` shows where each stands"
        )
    pending = [key for key in grid if key not in evaluated]
    options = table_options(config)
    output = results / INTERIM_FOLDER
    written = write_all_tables(
        [run_metrics_path(results, key) for key in evaluated],
        output,
        options.order,
        options.baseline,
        options.informative_mi,
        options.code_versions,
        note=interim_note(evaluated, pending),
    )
    frame = pd.read_csv(output / "summary.csv")
    for dataset in dict.fromkeys(key.dataset for key in evaluated):
        written += write_dataset_table(
            frame,
            dataset,
            output / "datasets",
            options.published_conventions,
            options.protocol_differences.get(dataset, []),
            note=interim_note(
                [k for k in evaluated if k.dataset == dataset],
                [k for k in pending if k.dataset == dataset],
            ),
        )
    return written
