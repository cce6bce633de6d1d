"""Where a run folder keeps the files its commands share (imports no TensorFlow).

Training writes the best-validation checkpoint under :func:`checkpoint_path` with its
summary beside it (``checkpoint/best.json``) and the code version that trained it
(``checkpoint/code_version.json``, :mod:`vae_tfp.provenance`); evaluation reads them. An
unfinished training keeps its resume states in ``resume/`` (:mod:`vae_tfp.training.state`).
"""

from __future__ import annotations

from pathlib import Path

CHECKPOINT_PREFIX = "best"


def checkpoint_path(run_dir: str | Path) -> Path:
    """The prefix of the best-validation checkpoint inside a run folder."""
    return Path(run_dir) / "checkpoint" / CHECKPOINT_PREFIX


def has_resume_state(run_dir: str | Path) -> bool:
    """Whether a train command in ``run_dir`` finds a resume state (``resume/state-*.json``,
    of any training config) to continue from."""
    return any((Path(run_dir) / "resume").glob("state-*.json"))
