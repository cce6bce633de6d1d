"""Runs made with other code than the installed package: what a code change affects.

Snakemake does not re-run a job when the package changes (its ``code`` trigger sees the
rule's shell command, not ``vae_tfp``), and the suite does not make it: a change to a
docstring must not re-train 3,000-epoch runs. Instead each run records its code version
(:mod:`vae_tfp.provenance`) and :func:`stale_runs` lists the runs whose recorded source
hash differs from the current one, with the file that makes Snakemake re-run each, for
``snakemake --forcerun`` (docs/provenance.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from vae_tfp.provenance import TRAINING_CODE_VERSION

# Per stage: the file whose presence says the stage ran, and the target that re-runs it.
STAGE_FILES = {
    "train": ("checkpoint/best.json", "history.csv"),
    "evaluate": ("metrics.json", "metrics.json"),
}
COLUMNS = ["run_dir", "recorded_source", "recorded_commit", "reason", "target"]


def _recorded(run_dir: Path, stage: str) -> dict | None:
    """The code version a stage of a run recorded, or None."""
    if stage == "train":
        path = run_dir / "checkpoint" / TRAINING_CODE_VERSION
        return json.loads(path.read_text()) if path.exists() else None
    payload = json.loads((run_dir / "metrics.json").read_text())
    return (payload.get("code_versions") or {}).get("evaluation")


def stale_runs(
    results: str | os.PathLike, current_source_hash: str, stage: str = "train"
) -> pd.DataFrame:
    """The runs of an experiment whose ``stage`` ran with other package source.

    Args:
        results: The experiment folder (``results/<experiment>``), holding ``runs/``.
        current_source_hash: :func:`vae_tfp.provenance.source_hash` of the code now.
        stage: ``train`` or ``evaluate``.

    Returns:
        One row per stale run, in path order: ``run_dir``, ``recorded_source`` and
        ``recorded_commit`` (shortened; empty when not recorded), ``reason``, and
        ``target``, the file to pass to ``snakemake --forcerun`` (``history.csv`` re-runs
        training, and evaluation after it; ``metrics.json`` re-runs evaluation only).

    Raises:
        ValueError: If ``stage`` is not ``train`` or ``evaluate``.
    """
    if stage not in STAGE_FILES:
        raise ValueError(f"stage must be one of {sorted(STAGE_FILES)}, got {stage!r}")
    done, target = STAGE_FILES[stage]
    rows = []
    for marker in sorted(Path(results).glob(f"runs/*/*/*/seed*/{done}")):
        run_dir = marker.parent.parent if stage == "train" else marker.parent
        record = _recorded(run_dir, stage)
        if record is None or not record.get("source_hash"):
            reason = "no recorded code version"
        elif record["source_hash"] != current_source_hash:
            reason = "other source"
        elif record.get("across_versions"):
            reason = "resumed across code versions"
        else:
            continue
        record = record or {}
        rows.append(
            {
                "run_dir": str(run_dir),
                "recorded_source": (record.get("source_hash") or "")[:12],
                "recorded_commit": (record.get("commit") or "")[:12],
                "reason": reason,
                "target": str(run_dir / target),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
