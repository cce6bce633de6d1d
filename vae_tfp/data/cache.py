"""The download cache: where real datasets live, how they are fetched and how they are verified.

Every file of a downloaded dataset is described by a :class:`RemoteFile`: its path inside the
cache, the canonical public URLs, and the SHA-256 digest that identifies its content. The
digest is taken over one of three byte streams, whichever the dataset's documentation
publishes (see ``docs/datasets.md``):

- ``"file"``: the bytes of the file as stored;
- ``"gunzip"``: the decompressed bytes of a ``.gz`` file (the gzip wrapper itself may be
  recompressed by a mirror without changing the data);
- ``"mat:NAME"``: ``np.ascontiguousarray(X).tobytes()`` of the variable ``NAME`` of a MATLAB
  v5 file read with :func:`scipy.io.loadmat` (the header holds a creation date that differs
  between copies of the same data).

**Verified always, downloaded once.** :meth:`DataCache.fetch` verifies a cached file every
time it is asked for it (not only after a download), so a corrupted or truncated file is
never used. A file that is absent is downloaded from its URLs, in order, into a temporary
file next to its final place; only when the temporary file passes verification is it renamed
into place (``os.replace``, atomic on one file system). A download that fails verification
is deleted, so a file that looks complete in the cache is always a verified one, and a
verified file is never downloaded again.

**Files without a published digest** (Omniglot's ``chardata.mat``, Yahoo, Yelp) are pinned
on first use: their SHA-256 is written to ``<file>.sha256`` beside them (when the cache is
writable) and every later use is verified against it. This detects later corruption, not a
bad first copy; the log says so.

**Where the cache is** (:func:`resolve_cache_dir`), highest precedence first:

1. the environment variable ``VAE_TFP_DATA_CACHE`` (CI points it at ``../shared/data``);
2. the ``data_cache`` key of the experiment config (``python -m vae_tfp prepare
   --data-cache``);
3. ``$XDG_CACHE_HOME/vae_tfp`` when ``XDG_CACHE_HOME`` is set, else ``~/.cache/vae_tfp``.

The environment wins so that one machine-wide setting (a shared, pre-filled cache on a
cluster, or CI) applies to every experiment without editing configs. Relative paths are
taken relative to the current working directory (where Snakemake runs).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

ENV_VAR = "VAE_TFP_DATA_CACHE"
DIGEST_KINDS = ("file", "gunzip", "mat")
_CHUNK = 1 << 20
_TIMEOUT_S = 60


class DataCacheError(RuntimeError):
    """Base class of the cache's errors."""


class DatasetFileMissingError(DataCacheError, FileNotFoundError):
    """A dataset file is not in the cache and could not be downloaded."""


class ChecksumMismatchError(DataCacheError):
    """A file's content does not match its expected SHA-256 (corrupted or truncated)."""


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset, as stored in the cache.

    Attributes:
        dataset: Registry name of the dataset the file belongs to (named in errors).
        path: Path inside the cache, ``<folder>/<file name>``, e.g. ``ptb/ptb.train.txt``.
        sha256: Expected hex digest, or None when no digest is published (pinned on first
            use, see the module docstring).
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


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/vae_tfp``, or ``~/.cache/vae_tfp`` when XDG_CACHE_HOME is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vae_tfp"


def resolve_cache_dir(configured: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``$VAE_TFP_DATA_CACHE`` > ``configured`` > :func:`default_cache_dir`.

    Args:
        configured: The ``data_cache`` setting of the experiment config, if any.

    Returns:
        An absolute path (it need not exist yet).
    """
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        chosen = Path(from_env)
    elif configured:
        chosen = Path(configured)
    else:
        chosen = default_cache_dir()
    return chosen.expanduser().absolute()


def _sha256_of_stream(stream) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


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
    path = Path(path)
    from scipy.io.matlab import MatReadError

    try:
        if digest == "file":
            with open(path, "rb") as stream:
                return _sha256_of_stream(stream)
        if digest == "gunzip":
            with gzip.open(path, "rb") as stream:
                return _sha256_of_stream(stream)
        if digest.startswith("mat:"):
            from scipy.io import loadmat

            name = digest.split(":", 1)[1]
            return array_sha256(loadmat(path, variable_names=[name])[name])
    except (OSError, EOFError, ValueError, KeyError, TypeError, zlib.error, MatReadError) as error:
        raise ChecksumMismatchError(
            f"{path} cannot be read as its format ({digest}): {type(error).__name__}: "
            f"{error}; the file is corrupted or truncated"
        ) from error
    raise ValueError(f"unknown digest kind {digest!r}")


def fetch_url(url: str, destination: Path) -> None:
    """Copies the resource at ``url`` (``https://``, ``http://`` or ``file://``) to a file.

    The module-level indirection lets tests count or block downloads.
    """
    with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:
        with open(destination, "wb") as out:
            shutil.copyfileobj(response, out, _CHUNK)


@dataclasses.dataclass
class DataCache:
    """A download cache rooted at one folder.

    Args:
        root: The cache folder; :func:`resolve_cache_dir` gives the configured one.
        download: Whether missing files may be downloaded.
        fetch: ``fetch(url, destination_path)``; :func:`fetch_url` by default.
    """

    root: Path
    download: bool = True
    fetch: Callable[[str, Path], None] | None = None

    @classmethod
    def from_config(cls, configured: str | os.PathLike | None = None, **kwargs) -> DataCache:
        """The cache that :func:`resolve_cache_dir` selects for the ``data_cache`` setting."""
        return cls(resolve_cache_dir(configured), **kwargs)

    def path_of(self, file: RemoteFile) -> Path:
        """Where ``file`` lives (or must be placed) in this cache."""
        return Path(self.root) / file.path

    def _pin_path(self, file: RemoteFile) -> Path:
        path = self.path_of(file)
        return path.with_name(path.name + ".sha256")

    def _expected(self, file: RemoteFile) -> str | None:
        if file.sha256 is not None:
            return file.sha256
        pin = self._pin_path(file)
        if pin.exists():
            return pin.read_text().split()[0]
        return None

    def verify(self, file: RemoteFile, path: Path | None = None) -> None:
        """Checks the content of ``path`` (default: the cached copy) against its digest.

        A file without a published digest and without a pin gets pinned now.

        Raises:
            ChecksumMismatchError: Naming the dataset, the file, both digests and what to do.
        """
        path = self.path_of(file) if path is None else path
        actual = self._check(file, path)
        if self._expected(file) is None:
            self._pin(file, actual)

    def _check(self, file: RemoteFile, path: Path, origin: str = "") -> str:
        """Returns the digest of ``path``; raises if it differs from the expected one."""
        actual = compute_digest(path, file.digest)
        expected = self._expected(file)
        if expected is not None and actual != expected:
            what = "" if file.digest == "file" else f" ({file.digest} content)"
            where = f" {origin}" if origin else ""
            if file.sha256 is None:
                advice = (
                    f"it differs from the digest pinned on first use in {self._pin_path(file)}; "
                    f"replace the file with a good copy (get it from {file.source}), or delete "
                    "both to pin a new copy"
                )
            else:
                advice = (
                    "the file is corrupted, truncated or a different version; delete it and run "
                    "again to download it afresh"
                    + (f" from {file.urls[0]}" if file.urls else f" (get it from {file.source})")
                )
            raise ChecksumMismatchError(
                f"dataset {file.dataset!r}: {path}{where} failed verification: sha256{what} is "
                f"{actual}, expected {expected}; {advice}."
            )
        return actual

    def _pin(self, file: RemoteFile, actual: str) -> None:
        pin = self._pin_path(file)
        try:
            _atomic_write_text(pin, f"{actual}  {Path(file.path).name}\n")
        except OSError as error:
            log.warning(
                "dataset %r: %s has no published sha256 and the cache is not writable (%s); "
                "it is used unverified (sha256 %s)",
                file.dataset,
                self.path_of(file),
                error,
                actual,
            )
            return
        log.warning(
            "dataset %r: %s has no published sha256; pinned %s in %s on first use (later "
            "changes are detected, a bad first copy is not)",
            file.dataset,
            self.path_of(file),
            actual,
            pin,
        )

    def fetch_file(self, file: RemoteFile) -> Path:
        """Returns the path of ``file`` in the cache, verified; downloads it if absent.

        Raises:
            ChecksumMismatchError: If the cached copy fails verification.
            DatasetFileMissingError: If the file is absent and cannot be downloaded; the
                message names the dataset, the file, where to put it and where to get it.
        """
        path = self.path_of(file)
        if path.exists():
            self.verify(file, path)
            return path
        reasons = []
        if self.download and file.urls:
            for url in file.urls:
                try:
                    self._download(file, url, path)
                    return path
                except (OSError, urllib.error.URLError, ChecksumMismatchError) as error:
                    reasons.append(f"{url}: {error}")
                    log.warning("dataset %r: download of %s failed: %s", file.dataset, url, error)
        raise DatasetFileMissingError(self._missing_message(file, path, reasons))

    def _download(self, file: RemoteFile, url: str, path: Path) -> None:
        """Downloads into a temporary file, verifies it, then renames it into place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part"
        )
        os.close(handle)
        tmp = Path(tmp_name)
        try:
            log.info("dataset %r: downloading %s -> %s", file.dataset, url, path)
            (self.fetch or fetch_url)(url, tmp)
            actual = self._check(file, tmp, origin=f"(downloaded from {url})")
            os.replace(tmp, path)
            if self._expected(file) is None:
                self._pin(file, actual)
        finally:
            tmp.unlink(missing_ok=True)

    def _missing_message(self, file: RemoteFile, path: Path, reasons: list[str]) -> str:
        lines = [
            f"dataset {file.dataset!r} needs the file {Path(file.path).name}, which is not in "
            f"the data cache and could not be downloaded.",
            f"  Put it at: {path}",
        ]
        if file.urls:
            lines.append("  Get it from: " + " or ".join(file.urls))
        if file.source:
            lines.append(f"  Source: {file.source}")
        if file.sha256:
            what = "" if file.digest == "file" else f" of its {file.digest} content"
            lines.append(f"  Expected sha256{what}: {file.sha256}")
        if not self.download and file.urls:
            lines.append("  (downloads are switched off for this cache)")
        for reason in reasons:
            lines.append(f"  Download failed: {reason}")
        lines.append(
            f"  The cache folder is {self.root} (set it with the environment variable "
            f"{ENV_VAR} or the config key data_cache; see docs/datasets.md)."
        )
        return "\n".join(lines)


def _atomic_write_text(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
