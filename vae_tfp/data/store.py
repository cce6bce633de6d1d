"""The prepared-data file: train/valid/test arrays plus dataset-specific reference arrays.

Three kinds of data (``PreparedData.kind``):

- ``"binary"``: float32 arrays with values in {0, 1} (e.g. binarized images, flattened);
- ``"real"``: float32 arrays;
- ``"tokens"``: token sequences as int32 arrays [n, T] with the convention below, and the
  vocabulary (``PreparedData.vocabulary``, id -> string) stored with the data.

Token convention (shared by every sequence dataset, encoder and decoder): ids
``PAD_ID = 0``, ``BOS_ID = 1``, ``EOS_ID = 2`` and ``UNK_ID = 3`` are reserved (their strings
are :data:`SPECIAL_TOKENS`), words start at id 4. A row holds the words of one sentence, then
one ``EOS``, then ``PAD`` up to the fixed length T (so T = longest sentence + 1). ``BOS`` is
never stored: decoders prepend it to their inputs (teacher forcing). Only the positions up to
and including the first ``EOS`` are part of the sentence (:func:`sequence_mask`); what a row
holds after it is ignored by every model. The token count of a sentence for perplexity is
its words plus the ``EOS`` (:func:`token_counts`), the convention of Bowman et al. (2016) and
He et al. (2019).
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from vae_tfp.io import atomic_write

SPLITS = ("train", "valid", "test")
KINDS = ("binary", "real", "tokens")

PAD_ID, BOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")


def sequence_mask(tokens: np.ndarray) -> np.ndarray:
    """True at the positions of each row up to and including its first ``EOS``.

    Args:
        tokens: Token ids [..., T].

    Returns:
        A boolean array of the same shape; a row without ``EOS`` is valid everywhere.
    """
    tokens = np.asarray(tokens)
    eos_before = np.cumsum(tokens == EOS_ID, axis=-1) - (tokens == EOS_ID)
    return eos_before == 0


def token_counts(tokens: np.ndarray) -> np.ndarray:
    """Tokens per sentence for perplexity: its words plus the ``EOS`` (``BOS`` not counted).

    Args:
        tokens: Token ids [n, T] in the convention of this module.

    Returns:
        int64 array [n].
    """
    return sequence_mask(tokens).sum(-1).astype(np.int64)


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """A dataset ready for training.

    Attributes:
        name: Registry name of the dataset.
        kind: ``"binary"`` (values in {0, 1}), ``"real"`` or ``"tokens"`` (see the module
            docstring).
        train: Array [n_train, ...] of float32 (int32 token ids for ``"tokens"``).
        valid: Array [n_valid, ...], same dtype.
        test: Array [n_test, ...], same dtype.
        reference: Extra arrays that define exact answers (e.g. the generating parameters
            of ``linear_gaussian``); empty for real data.
        options: The options the dataset was built with (for provenance).
        vocabulary: For ``"tokens"``: the string of every id, starting with
            :data:`SPECIAL_TOKENS`; empty otherwise.
    """

    name: str
    kind: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    reference: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    options: dict = dataclasses.field(default_factory=dict)
    vocabulary: tuple[str, ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown data kind {self.kind!r}; allowed: {KINDS}")
        if self.kind == "tokens" and tuple(self.vocabulary[:4]) != SPECIAL_TOKENS:
            raise ValueError(
                f"token data needs a vocabulary starting with {SPECIAL_TOKENS}, got "
                f"{tuple(self.vocabulary[:4])}"
            )

    def split(self, name: str) -> np.ndarray:
        """Returns the split called ``name`` (one of train, valid, test)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; allowed: {SPLITS}")
        return getattr(self, name)

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one example."""
        return tuple(self.train.shape[1:])

    @property
    def vocab_size(self) -> int | None:
        """Number of token ids for ``"tokens"`` data, else None."""
        return len(self.vocabulary) if self.kind == "tokens" else None

    @property
    def dynamic_binarization(self) -> bool:
        """True when ``train`` holds intensities in [0, 1] that the training loop binarizes
        afresh for every batch (``options["dynamic_binarization"]``; ``kind`` is then
        ``"binary"`` and the validation and test splits are already binary)."""
        return bool(self.options.get("dynamic_binarization", False))


# On disk, a split is stored in the smallest dtype that restores it exactly (checked when
# saving): float32 values k/255 (binary {0, 1} included) as uint8 k, non-negative int32
# token ids below 2**16 as uint16; anything else as it is. load_prepared undoes it.
_ENCODINGS = {"uint8/255": np.float32, "uint16": np.int32}


def _compact(array: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Returns (array to store, encoding name or None) with an exact round trip."""
    if array.dtype == np.float32 and array.size:
        levels = np.rint(array * np.float32(255))
        if levels.min() >= 0 and levels.max() <= 255:
            stored = levels.astype(np.uint8)
            if np.array_equal(_expand(stored, "uint8/255"), array):
                return stored, "uint8/255"
    if array.dtype == np.int32 and array.size and array.min() >= 0 and array.max() < 2**16:
        return array.astype(np.uint16), "uint16"
    return array, None


def _expand(stored: np.ndarray, encoding: str | None) -> np.ndarray:
    """Inverse of :func:`_compact`."""
    if encoding == "uint8/255":
        return stored.astype(np.float32) / np.float32(255)
    if encoding == "uint16":
        return stored.astype(np.int32)
    if encoding is not None:
        raise ValueError(f"unknown storage encoding {encoding!r}; known: {sorted(_ENCODINGS)}")
    return stored


def save_prepared(data: PreparedData, path: str | os.PathLike) -> None:
    """Writes ``data`` to a compressed ``.npz`` file atomically (temporary file, then rename).

    Splits are stored in a compact dtype when that round-trips exactly (uint8 for images,
    uint16 for token ids), so 70,000 MNIST images take a few megabytes, not 220.
    """
    path = Path(path)
    arrays, encodings = {}, {}
    for split in SPLITS:
        arrays[split], encodings[split] = _compact(data.split(split))
    arrays.update({f"reference/{key}": value for key, value in data.reference.items()})
    meta = {"name": data.name, "kind": data.kind, "options": data.options}
    meta["encodings"] = {split: code for split, code in encodings.items() if code}
    if data.vocabulary:
        meta["vocabulary"] = list(data.vocabulary)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    atomic_write(path, lambda stream: np.savez_compressed(stream, **arrays), mode="wb")


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
            **{
                split: _expand(archive[split], meta.get("encodings", {}).get(split))
                for split in SPLITS
            },
            reference=reference,
            options=meta["options"],
            vocabulary=tuple(meta.get("vocabulary", ())),
        )
