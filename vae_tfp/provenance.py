"""Where a number came from: package versions, git commit, machine and device."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

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
