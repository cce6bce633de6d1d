"""Run records: the small files of a campaign's evaluated runs, kept in the repository.

A paper-scale campaign (``config/ptb.yaml``: days of CPU) outlives the machine it runs on;
its run folders live outside the work tree and go with the machine. ``python -m vae_tfp
record-runs`` copies each run whose evaluation is current (:func:`evaluation_state`) into
``records/{experiment}/runs/...``, the same layout as ``results/{experiment}/runs/...``,
without the weights: the test metrics, the per-epoch history, the run config, the train
and evaluation logs, the training sessions (its pretraining run's too) and the samples the
report shows. ``interim-tables`` reads a records folder as it reads a results folder, so the
tables of a campaign can be built from the runs of every machine it ran on, each number
traceable to a committed ``metrics.json``; once every run of the grid is recorded
(:func:`check_run_records`), the workflow builds the final tables, figures and HTML report
from the records (config ``run_records``).
"""

from __future__ import annotations

import filecmp
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vae_tfp.config import RunKey, iter_runs
from vae_tfp.report.interim import evaluation_state
from vae_tfp.run_files import PRETRAIN_DIR
from vae_tfp.status import run_folder

# A run folder's files that a record keeps (paths inside the run folder); the rest
# (checkpoint weights, resume states) is large and only needed to train or evaluate again.
# samples.npz (evaluation's sentences or images and the test posteriors, under 1 MB for
# Penn Treebank) is what the report shows of the model.
# Nothing of checkpoint/: metrics.json already holds best.json ("training") and
# code_version.json ("code_versions"), and a checkpoint file that a git checkout writes
# after metrics.json would make evaluation_state call the record stale (a retraining).
RUN_RECORD_FILES = (
    "metrics.json",
    "run_config.json",
    "history.csv",
    "training_sessions.json",
    "train.log",
    "evaluate.log",
    "samples.npz",
)
# Evaluation's outputs, which a pretraining run (trained, never evaluated) does not have.
EVALUATION_FILES = ("metrics.json", "evaluate.log", "samples.npz")
# What the workflow's tables and report read of a run (vae_tfp/report/aggregate.py, figures).
REPORT_INPUTS = ("metrics.json", "history.csv", "samples.npz")
RECORD_FILES = RUN_RECORD_FILES + tuple(
    f"{PRETRAIN_DIR}/{name}" for name in RUN_RECORD_FILES if name not in EVALUATION_FILES
)


def _same_record(source: Path, record: Path) -> bool:
    """Whether ``record`` holds exactly the record files that ``source`` holds."""
    for name in RECORD_FILES:
        here, there = source / name, record / name
        if here.is_file() != there.is_file():
            return False
        if here.is_file() and not filecmp.cmp(here, there, shallow=False):
            return False
    return True


def _retired(record: Path) -> Path:
    """Where :func:`_copy_record` keeps an older record between its two renames."""
    return record.with_name(f".{record.name}-replaced")


def _put_back_retired(record: Path) -> None:
    """Puts back an older record that a replacement stopped between its two renames left
    retired (the record itself absent)."""
    retired = _retired(record)
    if retired.is_dir() and not record.exists():
        retired.rename(record)


def _copy_record(source: Path, record: Path) -> None:
    """Writes the record of run folder ``source`` to ``record``, replacing an older one only
    once the new one is complete (a failed copy leaves the older record as it was)."""
    record.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{record.name}-", dir=record.parent))
    try:
        for name in RECORD_FILES:
            if (source / name).is_file():
                (staging / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source / name, staging / name)
        if record.exists():
            retired = _retired(record)
            shutil.rmtree(retired, ignore_errors=True)
            record.rename(retired)
            staging.rename(record)
            shutil.rmtree(retired)
        else:
            staging.rename(record)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def record_runs(
    results: str | Path, records: str | Path, config: Mapping[str, Any]
) -> dict[str, list[RunKey]]:
    """Copies the record of every grid run evaluated under ``results`` into ``records``.

    Only runs whose ``metrics.json`` is current for the grid (the run config it records is
    the one the grid resolves to, and no training output is newer) are copied; a record
    whose run is not in ``results`` any more (another machine's) is kept as it is. An older
    record that an earlier call stopped between retiring it and renaming its replacement
    into place is put back first.

    Args:
        results: The experiment's results folder, e.g. ``results/ptb-li2019``.
        records: Its records folder, e.g. ``records/ptb-li2019``.
        config: The experiment config, whose grid says which runs to look for.

    Returns:
        The grid's runs by what happened to them: ``written`` (new or changed record),
        ``unchanged`` (the record already held these files) and ``not_current`` (no current
        evaluation under ``results``; any record of it is left alone).
    """
    results, records = Path(results), Path(records)
    outcome: dict[str, list[RunKey]] = {"written": [], "unchanged": [], "not_current": []}
    for key in iter_runs(config):
        _put_back_retired(run_folder(records, key))
        if evaluation_state(results, config, key) != "current":
            outcome["not_current"].append(key)
            continue
        source, record = run_folder(results, key), run_folder(records, key)
        if record.is_dir() and _same_record(source, record):
            outcome["unchanged"].append(key)
            continue
        _copy_record(source, record)
        outcome["written"].append(key)
    return outcome


def check_run_records(records: str | Path, config: Mapping[str, Any]) -> None:
    """Checks that ``records`` holds a current record of every run of the grid, with the
    files the workflow's tables and report read (``metrics.json``, ``history.csv``,
    ``samples.npz``).

    Args:
        records: A records folder, e.g. ``records/ptb-li2019``.
        config: The experiment config, whose grid says which runs to look for.

    Raises:
        ValueError: Naming each run without a record, with a record of another run config
            than the grid's, or with a record lacking one of those files, and what to do.
    """
    records = Path(records)
    problems = []
    for key in iter_runs(config):
        name = f"{key.dataset} × {key.decoder} × {key.method} seed {key.seed}"
        state = evaluation_state(records, config, key)
        if state != "current":
            problems.append(
                f"{name}: "
                + ("no record" if state == "missing" else "recorded under another run config")
            )
            continue
        absent = [f for f in REPORT_INPUTS if not (run_folder(records, key) / f).is_file()]
        if absent:
            problems.append(f"{name}: the record has no {', '.join(absent)}")
    if problems:
        raise ValueError(
            f"run_records: {records} does not hold every run of the grid evaluated under its "
            "current run config ("
            + "; ".join(problems)
            + "). `python -m vae_tfp record-runs RESULTS RECORDS` records the runs evaluated on "
            "a machine (again, for a record made before records kept every file); "
            "`python -m vae_tfp interim-tables RECORDS` builds the tables of the runs recorded "
            "so far."
        )
