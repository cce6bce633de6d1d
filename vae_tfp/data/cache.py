"""The download cache of the real datasets: pooch downloads, verifies and caches; this module
adds what pooch does not do.

Every file of a downloaded dataset is declared by a
:class:`~vae_tfp.data.remote_files.RemoteFile`: its path inside the cache, its canonical
public URLs (mirrors, tried in order) and the SHA-256 digest that identifies its content
(the declaration, the digest computation and the cache's errors are in
:mod:`vae_tfp.data.remote_files`). :meth:`DataCache.fetch_file` hands the file to a
``pooch.Pooch`` rooted at the cache folder (https://www.fatiando.org/pooch): pooch downloads
a missing file into a temporary file in its folder, checks it against the known hash and only
then moves it into place; a present file whose hash matches is returned without writing
anything, so a read-only, pre-filled cache works; a present file whose hash differs is
rejected, never re-downloaded over (``allow_updates=False``).

What this module adds to pooch:

- **Content digests.** The digest is taken over one of three byte streams, whichever the
  dataset's publishers give (see ``docs/datasets.md``): ``"file"``, the bytes as stored (pooch
  checks it itself); ``"gunzip"``, the decompressed bytes of a ``.gz`` file (mirrors recompress
  the gzip wrapper without changing the data); ``"mat:NAME"``,
  ``np.ascontiguousarray(X).tobytes()`` of the variable ``NAME`` of a MATLAB v5 file (its
  header holds a creation date that differs between copies). Content digests are checked on
  the downloaded temporary file (so a bad download never lands in the cache) and, by a pooch
  processor, on every later use of the cached file.
- **Pins.** Files without a published digest (Omniglot's ``chardata.mat``, Yahoo, Yelp) are
  pinned on first use: their SHA-256 is written to ``<file>.sha256`` beside them (when the
  cache is writable) and becomes pooch's known hash from then on. This detects later
  corruption, not a bad first copy; the log says so.
- **Mirrors**: pooch fetches from one URL; the URLs are tried in order.
- **The cache folder** (:func:`resolve_cache_dir`), highest precedence first: the environment
  variable ``VAE_TFP_DATA_CACHE`` (CI points it at ``../shared/data``); the ``data_cache`` key
  of the experiment config (``python -m vae_tfp prepare --data-cache``); pooch's per-user
  cache folder ``vae_tfp`` (``$XDG_CACHE_HOME/vae_tfp``, else ``~/.cache/vae_tfp`` on Linux).
  The environment wins so that one machine-wide setting (a shared, pre-filled cache on a
  cluster, or CI) applies to every experiment without editing configs. Relative paths are
  taken relative to the current working directory (where Snakemake runs).
- **Errors that say what to do**: a damaged file names the dataset, both digests and the
  remedy (:class:`ChecksumMismatchError`); a file that is absent and cannot be downloaded
  names the file, the full path to place it at and where to get it
  (:class:`DatasetFileMissingError`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pooch
from pooch.downloaders import choose_downloader

from vae_tfp.data.remote_files import (
    ChecksumMismatchError,
    DatasetFileMissingError,
    RemoteFile,
    compute_digest,
)

log = logging.getLogger(__name__)

ENV_VAR = "VAE_TFP_DATA_CACHE"

# A pooch downloader: ``downloader(url, output_file, pooch)`` writes the resource to a file.
Downloader = Callable[[str, str, "pooch.Pooch | None"], None]


def default_cache_dir() -> Path:
    """pooch's per-user cache folder for ``vae_tfp`` (``~/.cache/vae_tfp`` or the XDG one)."""
    return Path(pooch.os_cache("vae_tfp"))


def resolve_cache_dir(configured: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``$VAE_TFP_DATA_CACHE`` > ``configured`` > :func:`default_cache_dir`.

    Args:
        configured: The ``data_cache`` setting of the experiment config, if any.

    Returns:
        An absolute path (it need not exist yet).
    """
    chosen = os.environ.get(ENV_VAR) or configured or default_cache_dir()
    return Path(chosen).expanduser().absolute()


@dataclasses.dataclass
class DataCache:
    """A download cache rooted at one folder; pooch does the fetching.

    Args:
        root: The cache folder; :func:`resolve_cache_dir` gives the configured one.
        download: Whether missing files may be downloaded.
        downloader: A pooch downloader, ``downloader(url, output_file, pooch)``; by default
            pooch picks one from the URL's protocol (HTTP(S), FTP, SFTP, DOI).
    """

    root: Path
    download: bool = True
    downloader: Downloader | None = None

    @classmethod
    def from_config(cls, configured: str | os.PathLike | None = None, **kwargs) -> DataCache:
        """The cache that :func:`resolve_cache_dir` selects for the ``data_cache`` setting."""
        return cls(resolve_cache_dir(configured), **kwargs)

    def path_of(self, file: RemoteFile) -> Path:
        """Where ``file`` lives (or must be placed) in this cache."""
        return Path(self.root) / file.path

    def fetch_file(self, file: RemoteFile) -> Path:
        """Returns the path of ``file`` in the cache, verified; downloads it if absent.

        Raises:
            ChecksumMismatchError: If the cached copy fails verification.
            DatasetFileMissingError: If the file is absent and cannot be downloaded; the
                message names the dataset, the file, where to put it and where to get it.
        """
        path = self.path_of(file)
        if path.exists():
            try:
                return self._fetch(file, url="")  # pooch only reads: no URL is used
            except ValueError:  # pooch's hash differs and updates are disallowed
                self._check(file, path)
                raise
        reasons = []
        for url in file.urls if self.download else ():
            try:
                return self._fetch(file, url)
            except (OSError, ValueError, ChecksumMismatchError) as error:
                reasons.append(f"{url}: {error}")
                log.warning("dataset %r: download of %s failed: %s", file.dataset, url, error)
        raise DatasetFileMissingError(self._missing_message(file, path, reasons))

    def _fetch(self, file: RemoteFile, url: str) -> Path:
        """One ``Pooch.fetch`` of ``file`` from ``url``, content-checked on both sides."""
        expected = self._expected(file)
        known_hash = f"sha256:{expected}" if expected and file.digest == "file" else None
        registry = pooch.create(
            path=self.root,
            base_url="",
            registry={file.path: known_hash},
            urls={file.path: url},
            allow_updates=False,
        )
        inner = self.downloader

        def download(url: str, output_file: str, owner: pooch.Pooch | None) -> None:
            (inner or choose_downloader(url))(url, output_file, owner)
            if file.digest != "file":  # pooch checks file digests after this returns
                self._check(file, Path(output_file), origin=f"(downloaded from {url})")

        def process(fname: str, action: str, owner: pooch.Pooch | None) -> str:
            if action == "fetch" and file.digest != "file":
                self._check(file, Path(fname))
            if expected is None:
                self._pin(file, compute_digest(fname, file.digest))
            return fname

        return Path(registry.fetch(file.path, processor=process, downloader=download))

    def _pin_path(self, file: RemoteFile) -> Path:
        path = self.path_of(file)
        return path.with_name(path.name + ".sha256")

    def _expected(self, file: RemoteFile) -> str | None:
        if file.sha256 is not None:
            return file.sha256
        pin = self._pin_path(file)
        return pin.read_text().split()[0] if pin.exists() else None

    def _check(self, file: RemoteFile, path: Path, origin: str = "") -> None:
        """Raises if the digest of ``path`` differs from the expected one."""
        actual = compute_digest(path, file.digest)
        expected = self._expected(file)
        if expected is None or actual == expected:
            return
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

    def _pin(self, file: RemoteFile, actual: str) -> None:
        pin, path = self._pin_path(file), self.path_of(file)
        try:
            handle, tmp = tempfile.mkstemp(dir=pin.parent, prefix=f".{pin.name}.", suffix=".tmp")
        except OSError as error:
            log.warning(
                "dataset %r: %s has no published sha256 and the cache is not writable (%s); "
                "it is used unverified (sha256 %s)",
                file.dataset,
                path,
                error,
                actual,
            )
            return
        try:
            with os.fdopen(handle, "w") as stream:
                stream.write(f"{actual}  {path.name}\n")
            os.replace(tmp, pin)
        finally:
            Path(tmp).unlink(missing_ok=True)
        log.warning(
            "dataset %r: %s has no published sha256; pinned %s in %s on first use (later "
            "changes are detected, a bad first copy is not)",
            file.dataset,
            path,
            actual,
            pin,
        )

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
        lines.extend(f"  Download failed: {reason}" for reason in reasons)
        lines.append(
            f"  The cache folder is {self.root} (set it with the environment variable "
            f"{ENV_VAR} or the config key data_cache; see docs/datasets.md)."
        )
        return "\n".join(lines)
