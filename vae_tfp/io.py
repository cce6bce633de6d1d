"""Atomic file writes: a temporary file in the same folder, then a rename.

A reader (or Snakemake) never sees a half-written ``metrics.json`` or ``history.csv``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import numpy as np


def default_file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (0o666 less the umask).

    ``tempfile.mkstemp`` creates files readable by their owner only; outputs shared on a
    cluster must get the usual permissions back before they are renamed into place.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str | os.PathLike, write: Callable[[TextIO], None], mode: str = "w") -> None:
    """Calls ``write(stream)`` on a temporary file, then renames it to ``path``.

    ``mode`` is ``"w"`` for a text stream or ``"wb"`` for a binary one (``np.savez``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode) as stream:
            write(stream)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _to_builtin(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot serialize {type(value).__name__} to JSON")


def write_json(path: str | os.PathLike, payload: Any) -> None:
    """Writes ``payload`` as indented JSON atomically (NumPy values become builtins)."""
    atomic_write(
        path,
        lambda s: (
            json.dump(payload, s, indent=2, default=_to_builtin, allow_nan=True),
            s.write("\n"),
        ),
    )


def read_json(path: str | os.PathLike) -> Any:
    """Reads a JSON file."""
    with open(path) as stream:
        return json.load(stream)
