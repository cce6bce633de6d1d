"""The prepared-data file: train/valid/test arrays plus dataset-specific reference arrays."""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import numpy as np

SPLITS = ("train", "valid", "test")


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """A dataset ready for training.

    Attributes:
        name: Registry name of the dataset.
        kind: ``"binary"`` (values in {0, 1}) or ``"real"``.
        train: Array [n_train, ...] of float32.
        valid: Array [n_valid, ...] of float32.
        test: Array [n_test, ...] of float32.
        reference: Extra arrays that define exact answers (e.g. the generating parameters
            of ``linear_gaussian``); empty for real data.
        options: The options the dataset was built with (for provenance).
    """

    name: str
    kind: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    reference: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    options: dict = dataclasses.field(default_factory=dict)

    def split(self, name: str) -> np.ndarray:
        """Returns the split called ``name`` (one of train, valid, test)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; allowed: {SPLITS}")
        return getattr(self, name)

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one example."""
        return tuple(self.train.shape[1:])


def save_prepared(data: PreparedData, path: str | os.PathLike) -> None:
    """Writes ``data`` to an ``.npz`` file atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {split: data.split(split) for split in SPLITS}
    arrays.update({f"reference/{key}": value for key, value in data.reference.items()})
    meta = {"name": data.name, "kind": data.kind, "options": data.options}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_prepared(path: str | os.PathLike) -> PreparedData:
    """Reads a file written by :func:`save_prepared`.

    Raises:
        FileNotFoundError: If ``path`` does not exist, naming the command that creates it.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"prepared dataset {path} does not exist; create it with "
            "`python -m vae_tfp prepare --dataset NAME --output PATH`"
        )
    with np.load(path) as archive:
        meta = json.loads(archive["meta"].tobytes().decode())
        reference = {
            key.split("/", 1)[1]: archive[key]
            for key in archive.files
            if key.startswith("reference/")
        }
        return PreparedData(
            name=meta["name"],
            kind=meta["kind"],
            train=archive["train"],
            valid=archive["valid"],
            test=archive["test"],
            reference=reference,
            options=meta["options"],
        )
