"""Which code made each row: the code-version columns of ``summary.csv`` and the checks on
a table's rows.

Every run row carries the suite's code version at training (``train_*``) and at evaluation
(``eval_*``): git commit, dirty flag, package version and the SHA-256 of the package source
(:func:`vae_tfp.provenance.source_hash`), plus ``train_across_versions`` for a run resumed
under another source hash. Two rows came from the same code when their source hashes are
equal; their commits may differ (a commit that changes only the docs).

A table is *mixed* (:func:`code_version_problems`) when its rows were trained or evaluated
under more than one source hash, from a tree with uncommitted changes, across versions, or
with no recorded version. The tables then carry :func:`code_version_note`; with the report
option ``code_versions: refuse`` aggregation stops instead (:func:`check_code_versions`).
docs/provenance.md says how to re-run what a code change affects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

STAGES = {"train": "trained", "eval": "evaluated"}
NOUNS = {"train": "training", "eval": "evaluation"}
FIELDS = ("commit", "dirty", "source_hash", "package_version")
CODE_COLUMNS = [
    *(f"{stage}_{field}" for stage in STAGES for field in FIELDS),
    "train_across_versions",
]
MODES = ("mark", "refuse")
DEFAULT_MODE = "mark"
# Characters of a hash or commit shown in notes.
SHORT = 12


class MixedCodeVersionsError(ValueError):
    """A table's rows come from different code versions or a dirty tree, and the report
    option ``code_versions`` is ``refuse``."""


def code_version_columns(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`CODE_COLUMNS` of one ``metrics.json``.

    A run evaluated before the suite recorded code versions has only the git commit and
    dirty flag at evaluation (``provenance.git``); the rest is None.
    """
    versions = payload.get("code_versions") or {}
    git = payload.get("provenance", {}).get("git", {})
    evaluation = versions.get("evaluation") or {
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
    }
    training = versions.get("training") or {}
    columns = {}
    for stage, record in (("train", training), ("eval", evaluation)):
        for field in FIELDS:
            columns[f"{stage}_{field}"] = record.get(field)
    columns["train_across_versions"] = training.get("across_versions")
    return columns


def _true(column: pd.Series) -> pd.Series:
    """True where a flag column is true, also as read back from a CSV (``"True"``)."""
    return column.map(lambda v: v is True or str(v).strip().lower() in {"true", "1", "1.0"})


def _known(column: pd.Series) -> pd.Series:
    """True where a hash or commit is recorded (not missing, not empty)."""
    return column.map(lambda v: bool(pd.notna(v) and str(v).strip()))


def _versions_text(runs: pd.DataFrame, stage: str) -> str:
    """``source <hash> at <commit> (k runs)`` for each source hash of a stage, most runs
    first."""
    parts = []
    counts = runs[f"{stage}_source_hash"].value_counts()
    for digest, count in counts.items():
        commits = runs.loc[runs[f"{stage}_source_hash"] == digest, f"{stage}_commit"]
        commits = sorted({str(c)[:SHORT] for c in commits if pd.notna(c)})
        at = f" at {', '.join(commits)}" if commits else ""
        parts.append(f"source {str(digest)[:SHORT]}{at} ({count} run{'s' * (count != 1)})")
    return "; ".join(parts)


def code_version_problems(frame: pd.DataFrame) -> list[str]:
    """Why a table's rows may not come from one version of the code: one sentence per
    reason, none when every row was trained and evaluated under one recorded source hash
    each, from clean trees, and no run was resumed under another version.

    Args:
        frame: Run rows (``summary.csv`` or :func:`vae_tfp.report.aggregate.collect_runs`);
            missing code-version columns count as unrecorded.
    """
    n = len(frame)
    runs = frame.reindex(columns=[*frame.columns, *(c for c in CODE_COLUMNS if c not in frame)])
    problems = []
    for stage, done in STAGES.items():
        known = _known(runs[f"{stage}_source_hash"])
        if not known.all():
            problems.append(
                f"{(~known).sum()} of {n} runs have no recorded code version at {NOUNS[stage]}"
            )
        hashes = runs.loc[known, f"{stage}_source_hash"].nunique()
        if hashes > 1:
            problems.append(
                f"runs {done} under {hashes} code versions: {_versions_text(runs[known], stage)}"
            )
        dirty = _true(runs[f"{stage}_dirty"]).sum()
        if dirty:
            problems.append(
                f"{dirty} of {n} runs {done} from a git tree with uncommitted changes "
                "(the commit does not identify their code)"
            )
    across = _true(runs["train_across_versions"]).sum()
    if across:
        problems.append(f"{across} of {n} runs resumed training under another code version")
    return problems


def code_version_note(frame: pd.DataFrame) -> str:
    """The warning a table carries when :func:`code_version_problems` finds any, else ``""``.

    It ends with a space so it can be put before a caption.
    """
    problems = code_version_problems(frame)
    if not problems:
        return ""
    return (
        "Provenance warning: " + "; ".join(problems) + ". The rows of this table may not "
        "come from one clean, recorded version of the code: see the train_* and eval_* "
        "columns of summary.csv and docs/provenance.md. "
    )


def check_code_versions(frame: pd.DataFrame, mode: str = DEFAULT_MODE) -> list[str]:
    """The problems of a table's rows; raises instead when ``mode`` is ``refuse``.

    Args:
        frame: Run rows.
        mode: ``mark`` (the tables carry a note) or ``refuse``.

    Returns:
        :func:`code_version_problems` of ``frame``.

    Raises:
        MixedCodeVersionsError: If ``mode`` is ``refuse`` and there is a problem.
        ValueError: If ``mode`` is not one of :data:`MODES`.
    """
    if mode not in MODES:
        raise ValueError(f"code_versions must be one of {MODES}, got {mode!r}")
    problems = code_version_problems(frame)
    if problems and mode == "refuse":
        raise MixedCodeVersionsError(
            "refusing to aggregate (report option code_versions: refuse): "
            + "; ".join(problems)
            + ". List the runs to re-run with `python -m vae_tfp stale-runs` (docs/provenance.md)."
        )
    return problems


def code_version_summary(frame: pd.DataFrame) -> str:
    """One paragraph for the report's landing page: the code the rows came from, and
    whether they are mixed (reStructuredText)."""
    n = len(frame)
    problems = code_version_problems(frame)
    runs = frame.reindex(columns=[*frame.columns, *(c for c in CODE_COLUMNS if c not in frame)])
    lines = []
    if problems:
        lines.append(
            f"**Warning: the {n} runs of these tables do not all come from one clean, "
            "recorded version of the code.** Every table carries this warning; "
            "docs/provenance.md says how to re-run what differs."
        )
        lines.append("")
        lines += [f"- {problem}." for problem in problems]
        lines.append("")
    for stage, done in STAGES.items():
        known = _known(runs[f"{stage}_source_hash"])
        text = _versions_text(runs[known], stage) if known.any() else "not recorded"
        lines.append(f"- {done.capitalize()} with: {text}.")
    if not problems:
        lines.insert(0, f"All {n} runs came from one version of the code, from clean trees:")
        lines.insert(1, "")
    return "\n".join(lines) + "\n"
