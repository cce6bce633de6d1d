"""Where a number came from: package versions, git commit, machine and device, and the
version of the suite's own code at training and at evaluation.

A *code version* (:func:`code_version`) is the git commit, whether the tree had uncommitted
changes, the package version and :func:`source_hash`, the SHA-256 of the package's Python
source. The source hash is what identifies the code: two runs with the same hash ran the
same package code whatever their commits, and a dirty tree's commit does not identify it.

The train command records the code version of each training session
(:func:`start_training_session`) and, when training finishes, puts them next to the
checkpoint (``checkpoint/code_version.json``, :func:`finish_training_sessions`); a run resumed
under another source hash says so (``across_versions``). Evaluation copies that record into
``metrics.json`` beside its own code version.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from vae_tfp.io import read_json, write_json
from vae_tfp.run_files import checkpoint_path, has_resume_state

log = logging.getLogger(__name__)

PACKAGES = (
    "vae_tfp",
    "tensorflow",
    "tensorflow-probability",
    "tf-keras",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "snakemake",
)


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that determine the numbers (None if absent)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(path: Path | None = None) -> dict[str, Any]:
    """The commit of the source tree holding the package, and whether it has local changes.

    Returns ``{"commit": None, ...}`` when the package is not inside a git work tree.
    """
    path = path or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(path), *args], capture_output=True, text=True, timeout=20
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def source_hash(package_dir: Path | None = None) -> tuple[str, int]:
    """SHA-256 of the package's Python source files, and how many there are.

    The hash is taken over the lines ``<sha256 of the file>  <path>\\n`` of every
    ``**/*.py`` file under the package folder, paths relative to it and sorted, which is
    what ``cd vae_tfp && find . -name '*.py' -printf '%P\\n' | LC_ALL=C sort | xargs
    sha256sum | sha256sum`` prints.

    Args:
        package_dir: The package folder (default: the one this module is in).

    Returns:
        The hex digest and the number of files hashed.
    """
    package_dir = package_dir or Path(__file__).resolve().parent
    paths = sorted(
        (path.relative_to(package_dir).as_posix(), path)
        for path in package_dir.rglob("*.py")
        if "__pycache__" not in path.parts
    )
    digest = hashlib.sha256()
    for relative, path in paths:
        digest.update(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {relative}\n".encode())
    return digest.hexdigest(), len(paths)


def code_version(package_dir: Path | None = None) -> dict[str, Any]:
    """The version of the suite's code running now.

    Args:
        package_dir: The package folder (default: the one this module is in).

    Returns:
        ``commit`` and ``dirty`` (:func:`git_state`; None outside a git work tree),
        ``package_version``, ``source_hash`` and ``source_files`` (:func:`source_hash`).
    """
    package_dir = package_dir or Path(__file__).resolve().parent
    digest, n_files = source_hash(package_dir)
    return {
        **git_state(package_dir),
        "package_version": package_versions()["vae_tfp"],
        "source_hash": digest,
        "source_files": n_files,
    }


# The fields of a code version that tables carry (source_files is a check on the hash).
CODE_VERSION_FIELDS = ("commit", "dirty", "package_version", "source_hash")
# The file beside a run's checkpoint that holds :func:`training_code_record`.
TRAINING_CODE_VERSION = "code_version.json"


def training_session(resumes: bool, package_dir: Path | None = None) -> dict[str, Any]:
    """The code version of one train command, when it started and whether it resumed.

    Args:
        resumes: Whether the command found a resume state to continue from.
        package_dir: The package folder (default: the one this module is in).
    """
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return {**code_version(package_dir), "started": now, "resumed": resumes}


def training_code_record(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``checkpoint/code_version.json`` holds: the code version of the session that
    finished training, every session's, and whether their source hashes differ.

    Args:
        sessions: The :func:`training_session` records of the train commands that built
            the checkpoint, oldest first (one unless training was resumed).

    Returns:
        The last session's :data:`CODE_VERSION_FIELDS`, ``across_versions`` (True when a
        session resumed under another source hash than an earlier one) and ``sessions``.

    Raises:
        ValueError: If ``sessions`` is empty.
    """
    if not sessions:
        raise ValueError("no training session to record")
    last = sessions[-1]
    return {
        **{field: last.get(field) for field in CODE_VERSION_FIELDS},
        "across_versions": len({s.get("source_hash") for s in sessions}) > 1,
        "sessions": list(sessions),
    }


def read_training_code_record(checkpoint_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The :func:`training_code_record` beside a checkpoint, or None for a run trained
    before the suite recorded it."""
    path = Path(checkpoint_dir) / TRAINING_CODE_VERSION
    return json.loads(path.read_text()) if path.exists() else None


# The code versions of the train commands of a run not yet finished (a resumed run has more
# than one); when training finishes they go to checkpoint/code_version.json.
TRAINING_SESSIONS = "training_sessions.json"


def start_training_session(run_dir: Path, config_hash: str | None = None) -> list[dict[str, Any]]:
    """Appends this command's code version to the run's unfinished training sessions.

    A command that finds a resume state (``resume/state-*.json``) of its training config
    continues the sessions recorded before; one that finds none starts the list anew.

    Args:
        run_dir: The run folder.
        config_hash: :func:`vae_tfp.run_files.training_config_hash` of the run's training
            config (None: a state of any config counts, which can list a session too many,
            never too few).

    Returns:
        The sessions so far, this one last.
    """
    ledger = run_dir / TRAINING_SESSIONS
    resumes = has_resume_state(run_dir, config_hash)
    sessions = read_json(ledger) if resumes and ledger.exists() else []
    sessions.append(training_session(resumes))
    write_json(ledger, sessions)
    if len({s["source_hash"] for s in sessions}) > 1:
        log.warning(
            "resuming %s under another code version than it was started with "
            "(source hashes %s): checkpoint/code_version.json will say so",
            run_dir,
            ", ".join(dict.fromkeys(s["source_hash"][:12] for s in sessions)),
        )
    return sessions


def finish_training_sessions(run_dir: Path, sessions: list[dict[str, Any]]) -> None:
    """Writes ``checkpoint/code_version.json`` beside the trained checkpoint
    (:func:`training_code_record`) and drops the unfinished list."""
    record = training_code_record(sessions)
    write_json(checkpoint_path(run_dir).parent / TRAINING_CODE_VERSION, record)
    (run_dir / TRAINING_SESSIONS).unlink(missing_ok=True)


def device_description() -> str:
    """The accelerators TensorFlow sees, or the CPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return ", ".join(
            tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
        )
    return f"CPU ({platform.processor() or platform.machine()})"


def provenance() -> dict[str, Any]:
    """Everything recorded in ``metrics.json`` about the software and machine, including
    each loaded plugin's module, file SHA-256 and distribution version."""
    from vae_tfp.plugins import plugin_provenance

    return {
        "packages": package_versions(),
        "plugins": plugin_provenance(),
        "python": sys.version.split()[0],
        "git": git_state(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "device": device_description(),
    }
