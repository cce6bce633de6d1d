"""Length-aware batches for token data: each batch holds sentences of one length (or bucket).

Padding every batch to the corpus's longest sentence (83 tokens on Penn Treebank, against a
mean of 22) spends most of a text VAE's step on positions that are masked out. The text-VAE
code of He et al. 2019 and Li et al. 2019 instead batches sentences of equal length: the
corpus is grouped by length, each length group is cut into batches of at most
``batch_size`` sentences, and only the order of the batches is shuffled from epoch to epoch.
:func:`length_batches` builds that plan for one epoch, as a pure function of the lengths,
the batch size, a seed and the epoch, so a run that stops mid-epoch recomputes the same plan
and resumes at the index of the next batch.

With ``boundaries`` the groups are buckets instead: a sentence of length l joins the first
bucket whose boundary b >= l, and the bucket's batches are padded to b, so a compiled step
sees one shape per boundary (:func:`bucket_boundaries` picks the boundaries that pad
least). Padding never changes a sentence's loss: every model ignores the positions
after a sentence's ``EOS`` (:func:`vae_tfp.data.store.sequence_mask`).

Lengths count the words and the ``EOS`` (:func:`vae_tfp.data.store.token_counts`), so a
batch of length L is ``tokens[rows, :L]``.

A run chooses its batching with ``training.batching`` (:data:`BATCHINGS`): ``padded`` (the
default: shuffled rows, each batch as long as the split's rows), ``length`` (equal lengths)
or ``buckets`` (``training.n_buckets`` boundaries from :func:`bucket_boundaries` on the
training lengths). Validation and test batches never shuffle (:func:`split_batches`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# The values of ``training.batching`` (token data only; padded is the default) and the number
# of buckets when ``training.n_buckets`` is not given.
BATCHINGS = ("padded", "length", "buckets")
DEFAULT_N_BUCKETS = 8


@dataclasses.dataclass(frozen=True)
class LengthBatch:
    """One batch of an epoch's plan.

    Attributes:
        rows: Row indices into the split (int64, ascending).
        length: The batch's padded length: the common length of its sentences, or its
            bucket's boundary.
    """

    rows: np.ndarray
    length: int

    def tokens(self, data: np.ndarray) -> np.ndarray:
        """The batch's token ids, ``data[rows, :length]`` ([len(rows), length])."""
        return data[self.rows, : self.length]


def length_groups(
    lengths: np.ndarray, boundaries: Sequence[int] | None = None
) -> list[tuple[int, np.ndarray]]:
    """The rows of each length (or bucket), shortest first: [(padded length, rows)].

    Args:
        lengths: Length of every sentence, [n] (words plus ``EOS``).
        boundaries: Increasing bucket boundaries, the last one at least the longest
            length; None groups equal lengths.

    Raises:
        ValueError: On lengths < 1, or boundaries that are not increasing positive integers
            covering the longest length.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.ndim != 1 or (lengths.size and lengths.min() < 1):
        raise ValueError("lengths must be a 1-D array of positive sentence lengths")
    if boundaries is None:
        keys = lengths
    else:
        edges = np.asarray(boundaries, dtype=np.int64)
        if edges.ndim != 1 or not edges.size or edges[0] < 1 or np.any(np.diff(edges) <= 0):
            raise ValueError(f"boundaries must increase from >= 1, got {list(boundaries)}")
        if lengths.size and edges[-1] < lengths.max():
            raise ValueError(
                f"the last boundary ({edges[-1]}) is shorter than the longest sentence "
                f"({lengths.max()})"
            )
        keys = edges[np.searchsorted(edges, lengths, side="left")]
    order = np.argsort(keys, kind="stable")  # rows of one group stay in ascending order
    values, starts = np.unique(keys[order], return_index=True)
    return [
        (int(value), rows) for value, rows in zip(values, np.split(order, starts[1:]), strict=True)
    ]


def length_batches(
    lengths: np.ndarray,
    batch_size: int,
    seed: int,
    epoch: int,
    boundaries: Sequence[int] | None = None,
    reshuffle_rows: bool = False,
) -> list[LengthBatch]:
    """One epoch's batches, each of sentences that share a length (or a bucket).

    Every group of :func:`length_groups` is cut into batches of ``batch_size`` consecutive
    rows (its last batch may be smaller), and the batches are put in the order of one
    permutation drawn from ``numpy.random.default_rng([seed, epoch])``. By default a
    group's rows stay in ascending order, so the batches hold the same sentences every epoch
    and only their order changes, as in He et al. 2019's and Li et al. 2019's text code;
    ``reshuffle_rows`` also permutes each group's rows every epoch (from the same stream),
    so batches mix differently from epoch to epoch.

    The plan is a pure function of its arguments: a run resuming mid-epoch recomputes it and
    continues at the index of its next batch.

    Args:
        lengths: Length of every sentence, [n] (words plus ``EOS``).
        batch_size: Largest number of sentences per batch, >= 1.
        seed: Seed of the data-order stream (the run's ``data_order`` seed).
        epoch: The epoch (any integer; epochs give independent orders).
        boundaries: Bucket boundaries (:func:`length_groups`); None batches equal lengths.
        reshuffle_rows: Draw each group's batch membership afresh every epoch.

    Returns:
        The epoch's batches; every row of ``lengths`` is in exactly one.

    Raises:
        ValueError: On ``batch_size`` < 1 or invalid lengths or boundaries.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rng = np.random.default_rng([int(seed), int(epoch)])
    batches = []
    for length, rows in length_groups(lengths, boundaries):
        if reshuffle_rows:
            rows = rng.permutation(rows)
        for start in range(0, len(rows), batch_size):
            batches.append(LengthBatch(np.sort(rows[start : start + batch_size]), length))
    return [batches[i] for i in rng.permutation(len(batches))]


def bucket_boundaries(lengths: np.ndarray, n_buckets: int) -> tuple[int, ...]:
    """The at most ``n_buckets`` boundaries that leave the fewest padding positions.

    Chooses boundaries b_1 < ... < b_k = max length (k <= n_buckets) minimizing
    sum_j b_j * (number of sentences in bucket j), the token positions an epoch computes,
    by dynamic programming over the distinct lengths. A compiled step then sees at most
    ``n_buckets`` shapes.

    Args:
        lengths: Length of every sentence, [n].
        n_buckets: Largest number of buckets, >= 1.

    Raises:
        ValueError: If ``n_buckets`` < 1 or ``lengths`` is empty.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if n_buckets < 1 or not lengths.size:
        raise ValueError("bucket_boundaries needs n_buckets >= 1 and at least one length")
    values, counts = np.unique(lengths, return_counts=True)
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    m = len(values)
    # best[k][j]: fewest positions for the first j distinct lengths in k buckets.
    best = np.full((n_buckets + 1, m + 1), np.inf)
    best[0, 0] = 0.0
    last = np.zeros((n_buckets + 1, m + 1), dtype=np.int64)
    for k in range(1, n_buckets + 1):
        for j in range(1, m + 1):
            starts = np.arange(j)  # the bucket holds distinct lengths starts..j-1
            costs = best[k - 1, starts] + (cumulative[j] - cumulative[starts]) * values[j - 1]
            last[k, j] = int(np.argmin(costs))
            best[k, j] = costs[last[k, j]]
    k = int(np.argmin(best[:, m]))
    edges, j = [], m
    while j > 0:
        edges.append(int(values[j - 1]))
        j, k = int(last[k, j]), k - 1
    return tuple(reversed(edges))


def padding_fraction(lengths: np.ndarray, batches: Sequence[LengthBatch]) -> float:
    """The fraction of a plan's token positions that are padding (0 for equal lengths)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    positions = sum(len(batch.rows) * batch.length for batch in batches)
    used = sum(int(lengths[batch.rows].sum()) for batch in batches)
    return 1.0 - used / positions if positions else 0.0


def split_batches(
    lengths: np.ndarray, batch_size: int, boundaries: Sequence[int] | None = None
) -> list[LengthBatch]:
    """A split's batches for validation or testing: no shuffling, shortest group first.

    Every group of :func:`length_groups` is cut into batches of ``batch_size`` consecutive
    rows, as He et al. 2019's ``create_data_batch`` (jxhe/vae-lagging-encoder cdc4eb9,
    ``data/text_data.py``; Li et al. 2019's bohanli/vae-pretraining-encoder keeps it)
    batches the validation and test sets. Bucket boundaries taken from the training split
    get this split's longest length appended when it is longer.

    Args:
        lengths: Length of every sentence of the split, [n].
        batch_size: Largest number of sentences per batch, >= 1.
        boundaries: Bucket boundaries; None batches equal lengths.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lengths = np.asarray(lengths, dtype=np.int64)
    if boundaries is not None and lengths.size and lengths.max() > boundaries[-1]:
        boundaries = (*boundaries, int(lengths.max()))
    return [
        LengthBatch(rows[start : start + batch_size], length)
        for length, rows in length_groups(lengths, boundaries)
        for start in range(0, len(rows), batch_size)
    ]


def run_boundaries(
    training: Mapping[str, Any], train_lengths: np.ndarray
) -> tuple[int, ...] | None:
    """The bucket boundaries of a run's ``training`` settings (None: equal lengths).

    Raises:
        ValueError: If ``training.batching`` is ``padded`` (or absent) or unknown.
    """
    batching = training.get("batching", "padded")
    if batching == "length":
        return None
    if batching == "buckets":
        return bucket_boundaries(train_lengths, int(training.get("n_buckets", DEFAULT_N_BUCKETS)))
    raise ValueError(f"batching {batching!r} has no length batches; those of length, buckets do")
