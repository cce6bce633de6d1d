"""Where a run folder keeps the files its commands share (imports no TensorFlow).

Training writes the best-validation checkpoint under :func:`checkpoint_path` with its
summary beside it (``checkpoint/best.json``) and the code version that trained it
(``checkpoint/code_version.json``, :mod:`vae_tfp.provenance`); evaluation reads them. An
unfinished training keeps its resume states in ``resume/`` (:mod:`vae_tfp.training.state`),
each with a copy of the train log as it stood (:func:`save_session_log`): Snakemake deletes
a job's log before the job starts, so a resumed job puts the earlier sessions' lines back
(:func:`start_session_log`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CHECKPOINT_PREFIX = "best"
RESUME_DIR = "resume"
# The separate pretraining run of a method that starts from one (Li et al. 2019), inside
# the run folder (vae_tfp.config.pretraining_run_config).
PRETRAIN_DIR = "pretrain"
# The train log as it stood at the newest resume state, inside RESUME_DIR.
SAVED_LOG = "train.log"
# The first words of the line each train command logs when it starts (vae_tfp.cli.runs);
# vae_tfp.status reads a resumed run's log from the last of them.
SESSION_START = "training session:"


def checkpoint_path(run_dir: str | Path) -> Path:
    """The prefix of the best-validation checkpoint inside a run folder."""
    return Path(run_dir) / "checkpoint" / CHECKPOINT_PREFIX


def training_config_hash(training_config: Mapping[str, Any]) -> str:
    """The SHA-256 that ties a resume state to the training config it was saved under."""
    return hashlib.sha256(json.dumps(training_config, sort_keys=True).encode()).hexdigest()


def has_resume_state(run_dir: str | Path, config_hash: str | None = None) -> bool:
    """Whether ``run_dir/resume`` holds a resume state (``state-*.json``) saved under the
    training config of ``config_hash`` (None: under any config)."""
    for sidecar in Path(run_dir, RESUME_DIR).glob("state-*.json"):
        if config_hash is None:
            return True
        try:
            if json.loads(sidecar.read_text()).get("config_hash") == config_hash:
                return True
        except (OSError, ValueError):
            continue  # damaged: the loop skips it too
    return False


def save_session_log(log: Path, resume_dir: Path) -> None:
    """Copies the train log into ``resume_dir`` (temporary name, then rename), beside the
    resume state just saved."""
    if not log.is_file():
        return
    partial = resume_dir / f".{SAVED_LOG}.partial"
    partial.write_bytes(log.read_bytes())
    os.replace(partial, resume_dir / SAVED_LOG)


def start_session_log(log: Path, run_dir: str | Path, resumes: bool) -> None:
    """Readies a train command's log, which its stderr is appended to.

    A fresh start empties it. A resumed run whose log is empty (Snakemake deleted it before
    the job) gets back the lines saved with its resume states, so the log holds every
    session up to the state it continues from; a log that is not empty (a hand-run command
    appending to it) is kept as it is.

    Args:
        log: The log file.
        run_dir: The run folder.
        resumes: Whether the command continues from a resume state of its training config.
    """
    if not resumes:
        log.write_text("")
        return
    saved = Path(run_dir, RESUME_DIR, SAVED_LOG)
    if saved.is_file() and (not log.is_file() or log.stat().st_size == 0):
        with open(log, "ab") as stream:
            stream.write(saved.read_bytes())
