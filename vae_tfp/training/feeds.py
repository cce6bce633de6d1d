"""How a run batches its data (``training.batching``): the training feed, and the batches of
the validation and test splits.

- ``padded`` (the default, every kind of data): :class:`~vae_tfp.training.spans.BatchFeed`,
  batches of shuffled rows as stored (token rows padded to the split's longest sentence;
  the sequence models cut a batch to its own longest one).
- ``length`` and ``buckets`` (token data only): :class:`LengthBatchFeed`, batches of
  sentences of one length, or of one bucket padded to its boundary
  (:mod:`vae_tfp.data.buckets`), as the text VAEs of He et al. 2019
  (jxhe/vae-lagging-encoder cdc4eb9, ``data/text_data.py`` ``create_data_batch``, whose
  batches ``text.py`` visits in a fresh random order every epoch) and Li et al. 2019
  (bohanli/vae-pretraining-encoder d59f91c, the same data code) train. Validation and test
  then use unshuffled length batches too (:func:`evaluation_batches`), scored with the noise
  of the padded batches, so their numbers equal the padded ones up to float rounding.

The loop only asks the feed for an epoch's plan (:meth:`epoch_plan`), its number of batches
and spans over it; :data:`FEEDS` maps each batching to its feed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from vae_tfp.data.buckets import (
    LengthBatch,
    length_batches,
    run_boundaries,
    split_batches,
)
from vae_tfp.data.store import PreparedData, token_counts
from vae_tfp.training.spans import BatchFeed, StepFn


class LengthPlan(NamedTuple):
    """One epoch's length batches, and the same as tensors for the compiled loop.

    Attributes:
        batches: The batches in training order.
        rows: Their rows one batch after the other, int32 [N].
        starts: Where each batch starts in ``rows``, and N at the end: int32 [n + 1].
        lengths: Each batch's length, int32 [n].
    """

    batches: list[LengthBatch]
    rows: tf.Tensor
    starts: tf.Tensor
    lengths: tf.Tensor


class LengthBatchFeed(BatchFeed):
    """Training batches of sentences of one length (or one bucket), [n_rows, length].

    The plan of an epoch is :func:`vae_tfp.data.buckets.length_batches` of the training
    lengths with the run's data-order seed and the epoch: a resumed run recomputes it and
    continues at its next batch. Batches keep their members from epoch to epoch and only
    their order changes, as in He et al.'s and Li et al.'s code.

    Every distinct batch shape runs its own compiled step. Outside XLA one graph serves all
    of them: the span is one ``tf.while_loop`` over the plan that slices each batch from the
    token matrix with dynamic shapes, traced once (the sequence models' XLA-compiled LSTM
    loops compile once per shape they meet). With ``jit_compile`` (or ``per_shape``) each
    distinct (rows, length) gets its own ``tf.function`` with static shapes, called batch by
    batch. Statistics are summed as :class:`BatchFeed` sums them, weighted by the batch's
    row count; a non-finite loss stops the span after its step.

    An encoder inner loop (He et al. 2019) draws whole batches of these members, uniformly
    with replacement (:meth:`draw_inner_batches`), as their ``text.py`` draws
    ``train_data_batch[id_]``.

    Args:
        train: The training token matrix [N, T].
        batch_size: Largest number of sentences per batch.
        boundaries: Bucket boundaries; None batches equal lengths.
        binarization_seed: Seed of the (unused) binarization stream, kept in the state.
        jit_compile: Compile each step with XLA (then per shape).
        per_shape: One compiled function per shape also without XLA (default: with XLA).
    """

    def __init__(
        self,
        train: np.ndarray,
        batch_size: int,
        boundaries: tuple[int, ...] | None,
        binarization_seed: int,
        jit_compile: bool,
        per_shape: bool | None = None,
    ):
        super().__init__(train, batch_size, False, binarization_seed, jit_compile)
        self.lengths = token_counts(train)
        self.boundaries = boundaries
        self.per_shape = jit_compile if per_shape is None else bool(per_shape)
        # The batches' members, the same every epoch (only their order changes).
        self.member_batches = length_batches(self.lengths, batch_size, 0, 0, boundaries)
        self._n_batches = len(self.member_batches)
        self.batch_shapes = sorted({(len(b.rows), b.length) for b in self.member_batches})

    @property
    def n_batches(self) -> int:
        """Batches per epoch (the same every epoch)."""
        return self._n_batches

    def inner_loop_first_batch(self, plan: LengthPlan, index: int) -> LengthBatch:
        """The batch of the decoder update ``index`` of ``plan``, on which He et al.'s
        ``text.py`` takes the inner loop's first encoder step (``batch_data_enc =
        batch_data``) before drawing the others at random."""
        return plan.batches[index]

    def epoch_plan(self, seed: int, epoch: int) -> LengthPlan:
        """The batches of ``epoch`` in training order, from (``seed``, ``epoch``)."""
        return _plan(length_batches(self.lengths, self.batch_size, seed, epoch, self.boundaries))

    def draw_inner_batches(
        self, rng: np.random.Generator, count: int, first: LengthBatch | None = None
    ) -> tuple[tf.Tensor, ...]:
        """``count`` batches as the rows, starts and lengths of a :class:`LengthPlan` (the
        arguments of :meth:`make_inner_window`'s function): ``first`` if given, then member
        batches drawn uniformly with replacement for the rest."""
        drawn = rng.integers(len(self.member_batches), size=count - (first is not None))
        picks = [first] * (first is not None) + [self.member_batches[i] for i in drawn]
        plan = _plan(picks)
        return plan.rows, plan.starts, plan.lengths

    def make_inner_window(self, step_fn: StepFn) -> Callable[..., tf.Tensor]:
        """``window(rows, starts, lengths) -> loss per token``: ``step_fn`` on each drawn
        batch (one dynamic-shape loop, or one compiled function per shape as
        :meth:`make_span`), then the window's summed loss over its tokens (words and
        ``EOS``), the loss He et al.'s inner loop compares (``text.py``: ``burn_cur_loss /
        burn_num_words``), so that windows of long and short sentences compare alike."""
        if self.per_shape:

            @functools.cache  # one compiled function per batch shape
            def one_batch(n_rows: int, length: int):
                def loss(rows):
                    return step_fn(tf.gather(self.train_data, rows)[:, :length])["loss"]

                return tf.function(loss, autograph=False, jit_compile=self.jit_compile)

            def per_shape_window(rows, starts, lengths):
                total, tokens = 0.0, 0
                for i, length in enumerate(lengths.numpy().tolist()):
                    batch_rows = rows[int(starts[i]) : int(starts[i + 1])]
                    n_rows = int(batch_rows.shape[0])
                    total += float(one_batch(n_rows, length)(batch_rows)) * n_rows
                    tokens += int(self.lengths[batch_rows.numpy()].sum())
                return tf.constant(total / tokens, tf.float32)

            return per_shape_window

        row_tokens = tf.constant(self.lengths, tf.float32)

        # Any number of drawn batches and rows: one trace (a trace per row count, which
        # nearly every window has its own of, cost more than the window's steps).
        @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.int32)] * 3)
        def window(rows, starts, lengths):
            count = tf.shape(lengths)[0]

            def body(index, total, tokens):
                batch_rows = rows[starts[index] : starts[index + 1]]
                x = tf.gather(self.train_data, batch_rows)[:, : lengths[index]]
                n_rows = tf.cast(tf.shape(batch_rows)[0], tf.float32)
                total += step_fn(x)["loss"] * n_rows
                return index + 1, total, tokens + tf.reduce_sum(tf.gather(row_tokens, batch_rows))

            zero = tf.constant(0.0)
            _, total, tokens = tf.while_loop(
                lambda index, *_: index < count, body, (tf.constant(0), zero, zero)
            )
            return total / tokens

        return window

    def make_span(self, step_fn: StepFn) -> Callable[..., int]:
        """``span(plan, first, last, held=None) -> int``: trains on the plan's batches
        ``first..last-1`` and returns the index of the next batch not trained on. ``held``
        (:meth:`inner_loop_first_batch`) is the plan's batch ``first`` itself: token
        batches involve no random draw, so there is nothing to hold."""
        if self.per_shape:
            return self._per_shape_span(step_fn)

        def span_fn(rows, starts, lengths, first, last):
            def body(index, finite):
                start, stop = starts[index], starts[index + 1]
                x = tf.gather(self.train_data, rows[start:stop])[:, : lengths[index]]
                return index + 1, self.record(step_fn(x), stop - start)

            done, _ = tf.while_loop(
                lambda index, finite: (index < last) & finite, body, (first, tf.constant(True))
            )
            return done

        compiled = tf.function(span_fn, autograph=False)

        def span(plan: LengthPlan, first: int | tf.Tensor, last: int | tf.Tensor, held=None) -> int:
            first, last = tf.constant(int(first)), tf.constant(int(last))
            return int(compiled(plan.rows, plan.starts, plan.lengths, first, last))

        return span

    def _per_shape_span(self, step_fn: StepFn) -> Callable[..., int]:
        """The span as a Python loop over one compiled function per batch shape."""

        @functools.cache
        def one_batch(n_rows: int, length: int):
            def train(rows):
                x = tf.gather(self.train_data, rows)[:, :length]
                return self.record(step_fn(x), n_rows)

            return tf.function(train, autograph=False, jit_compile=self.jit_compile)

        def span(plan: LengthPlan, first: int | tf.Tensor, last: int | tf.Tensor, held=None) -> int:
            index, last = int(first), int(last)
            while index < last:
                batch = plan.batches[index]
                finite = one_batch(len(batch.rows), batch.length)(tf.constant(batch.rows, tf.int32))
                index += 1
                if not bool(finite):
                    break
            return index

        return span


def _plan(batches: list[LengthBatch]) -> LengthPlan:
    """``batches`` with their rows, starts and lengths as tensors."""
    sizes = [len(batch.rows) for batch in batches]
    return LengthPlan(
        batches,
        tf.constant(np.concatenate([batch.rows for batch in batches]), tf.int32),
        tf.constant(np.concatenate([[0], np.cumsum(sizes)]), tf.int32),
        tf.constant([batch.length for batch in batches], tf.int32),
    )


def _batching(training: Mapping[str, Any], data: PreparedData) -> str:
    """The run's ``training.batching``; raises ValueError for length batches of non-tokens."""
    batching = training.get("batching", "padded")
    if batching not in FEEDS:
        raise ValueError(f"unknown training.batching {batching!r}; allowed: {sorted(FEEDS)}")
    if batching != "padded" and data.kind != "tokens":
        raise ValueError(
            f"training.batching {batching!r} batches token data by length; dataset "
            f"{data.name!r} holds {data.kind!r} data: use padded"
        )
    return batching


def _padded_feed(training, data, binarization_seed, jit_compile) -> BatchFeed:
    return BatchFeed(
        data.train,
        int(training["batch_size"]),
        data.dynamic_binarization,
        binarization_seed,
        jit_compile,
    )


def _length_feed(training, data, binarization_seed, jit_compile) -> BatchFeed:
    boundaries = run_boundaries(training, token_counts(data.train))
    batch_size = int(training["batch_size"])
    return LengthBatchFeed(data.train, batch_size, boundaries, binarization_seed, jit_compile)


# training.batching -> feed(training, data, binarization_seed, jit_compile).
FEEDS: dict[str, Callable[..., BatchFeed]] = {
    "padded": _padded_feed,
    "length": _length_feed,
    "buckets": _length_feed,
}


def make_feed(
    training: Mapping[str, Any], data: PreparedData, binarization_seed: int, jit_compile: bool
) -> BatchFeed:
    """The training feed of a run's ``training`` settings (:data:`FEEDS`).

    Raises:
        ValueError: On an unknown batching, or length batches for data that are not tokens.
    """
    return FEEDS[_batching(training, data)](training, data, binarization_seed, jit_compile)


def evaluation_batches(
    training: Mapping[str, Any] | None, data: PreparedData, split: str, batch_size: int
) -> list[LengthBatch] | None:
    """The batches in which validation or evaluation scores ``split``: None for consecutive
    rows (``padded``), else unshuffled length batches of at most ``batch_size`` sentences
    (:func:`vae_tfp.data.buckets.split_batches`; buckets from the training lengths)."""
    if training is None or _batching(training, data) == "padded":
        return None
    boundaries = run_boundaries(training, token_counts(data.train))
    return split_batches(token_counts(data.split(split)), batch_size, boundaries)
