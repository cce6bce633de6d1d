"""What a file of a downloaded dataset is and how its content is identified.

A :class:`RemoteFile` declares one file: its path inside the data cache, its public URLs and
the SHA-256 digest of its content. :func:`compute_digest` takes that digest over one of
three byte streams (see ``docs/datasets.md``): ``"file"``, the bytes as stored;
``"gunzip"``, the decompressed bytes of a ``.gz`` file; ``"mat:NAME"``,
``np.ascontiguousarray(X).tobytes()`` of the variable ``NAME`` of a MATLAB v5 file
(:func:`array_sha256`). The errors of the data cache are defined here too; the cache
itself, which fetches, verifies and pins files, is :class:`vae_tfp.data.cache.DataCache`.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import zlib

import numpy as np
import pooch

DIGEST_KINDS = ("file", "gunzip", "mat")


class DataCacheError(RuntimeError):
    """Base class of the cache's errors."""


class DatasetFileMissingError(DataCacheError, FileNotFoundError):
    """A dataset file is not in the cache and could not be downloaded."""


class ChecksumMismatchError(DataCacheError):
    """A file's content does not match its expected SHA-256 (corrupted or truncated)."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: an entry of the registry that pooch fetches from.

    Attributes:
        dataset: Registry name of the dataset the file belongs to (named in errors).
        path: Path inside the cache, ``<folder>/<file name>``, e.g. ``ptb/ptb.train.txt``.
        sha256: Expected hex digest, or None when no digest is published (pinned on first
            use, see :mod:`vae_tfp.data.cache`).
        digest: What the digest is taken over: ``"file"``, ``"gunzip"`` or ``"mat:NAME"``.
        urls: Canonical public URLs to download from, tried in order; empty when the file
            cannot be downloaded automatically.
        source: Where a person gets the file by hand (shown when it is missing).
    """

    dataset: str
    path: str
    sha256: str | None
    digest: str = "file"
    urls: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self):
        kind = self.digest.split(":", 1)[0]
        if kind not in DIGEST_KINDS or (kind == "mat") != (":" in self.digest):
            raise ValueError(f"digest must be 'file', 'gunzip' or 'mat:NAME', got {self.digest!r}")
        if self.sha256 is not None and len(self.sha256) != 64:
            raise ValueError(f"sha256 of {self.path} must be 64 hex digits, got {self.sha256!r}")


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 of ``np.ascontiguousarray(array).tobytes()`` (the published array digests)."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def compute_digest(path: str | os.PathLike, digest: str = "file") -> str:
    """Computes the SHA-256 of a file's content as ``digest`` defines it.

    Args:
        path: The file.
        digest: ``"file"``, ``"gunzip"`` or ``"mat:NAME"`` (see the module docstring).

    Returns:
        The hex digest.

    Raises:
        ChecksumMismatchError: If the file cannot be decoded (a truncated gzip stream, a
            damaged MAT file, a missing variable); the message names the file.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        if digest == "file":
            return pooch.file_hash(str(path))
        if digest == "gunzip":
            sha = hashlib.sha256()
            with gzip.open(path, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    sha.update(chunk)
            return sha.hexdigest()
        if digest.startswith("mat:"):
            name = digest.split(":", 1)[1]
            return array_sha256(loadmat(path, variable_names=[name])[name])
    except (OSError, EOFError, ValueError, KeyError, TypeError, zlib.error, MatReadError) as error:
        raise ChecksumMismatchError(
            f"{path} cannot be read as its format ({digest}): {type(error).__name__}: "
            f"{error}; the file is corrupted or truncated"
        ) from error
    raise ValueError(f"unknown digest kind {digest!r}")
