"""Training batches on the device, and the compiled loops that train on a span of them.

The training split lives on the TensorFlow side: a batch is a gather by row index inside
the compiled loop, never a NumPy copy handed over per step. Dynamically binarized data
(MNIST, Omniglot) get a fresh x ~ Bernoulli(intensity) for every training batch, drawn in
the graph from their own seeded stream (part of the resumable state, so a resumed run draws
what an uninterrupted one would).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from vae_tfp.training.state import SUM_KEYS

StepFn = Callable[[tf.Tensor], dict[str, tf.Tensor]]


class BatchFeed:
    """The training split on the device, its batches, and the compiled span loops.

    Args:
        train: The training split, [N, ...].
        batch_size: Rows per batch (the last batch of an epoch may be smaller).
        dynamic_binarization: Draw x ~ Bernoulli(train[rows]) for every batch.
        binarization_seed: Seed of that stream.
        jit_compile: Compile the span loops with XLA.
    """

    def __init__(
        self,
        train: np.ndarray,
        batch_size: int,
        dynamic_binarization: bool,
        binarization_seed: int,
        jit_compile: bool,
    ):
        self.n_train = len(train)
        self.batch_size = batch_size
        self.train_data = tf.Variable(train, trainable=False)  # not an XLA constant
        self.dynamic_binarization = bool(dynamic_binarization)
        self.binarizer = tf.random.Generator.from_seed(binarization_seed)
        self.jit_compile = jit_compile
        # Example-weighted sums of the batch statistics of the epoch in progress (SUM_KEYS),
        # kept on the device in float64 and read once per span of batches.
        self.epoch_sums = tf.Variable(tf.zeros(len(SUM_KEYS), tf.float64), trainable=False)
        self.last_loss = tf.Variable(0.0, trainable=False)

    @property
    def n_batches(self) -> int:
        """Batches per epoch."""
        return -(-self.n_train // self.batch_size)

    def batch(self, rows: tf.Tensor) -> tf.Tensor:
        """The training examples at ``rows`` (any index shape), binarized afresh when the
        data are dynamically binarized: x = 1 where u < intensity, u ~ Uniform[0, 1) from
        the run's binarization stream."""
        x = tf.gather(self.train_data, rows)
        if not self.dynamic_binarization:
            return x
        return tf.cast(self.binarizer.uniform(tf.shape(x)) < x, tf.float32)

    def train_rows(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`batch` for NumPy row indices, as a NumPy array (advances the stream)."""
        return self.batch(tf.constant(rows)).numpy()

    def inner_loop_first_batch(self, plan: tf.Tensor, index: int) -> tf.Tensor:
        """Batch ``index`` of the epoch's order ``plan`` as the decoder update will train on
        it, [rows, ...], binarized now (dynamically binarized data) so that the inner loop's
        first encoder step and the decoder update see the same draw, as He et al.'s
        ``image.py`` binarizes ``batch_data`` once for both. Pass it to the span as
        ``held``."""
        rows = plan[index * self.batch_size : (index + 1) * self.batch_size]
        return self.batch(rows)

    def draw_inner_batches(
        self, rng: np.random.Generator, count: int, first: tf.Tensor | None = None
    ) -> tuple[tf.Tensor, ...]:
        """``count`` minibatches for an encoder inner loop (He et al. 2019), the arguments
        of :meth:`make_inner_window`'s function: ``first`` if given
        (:meth:`inner_loop_first_batch`), then ``batch_size`` distinct random training rows
        for each of the others, [count or count - 1, batch_size]."""
        size = min(self.batch_size, self.n_train)
        drawn = count - (first is not None)
        rows = [rng.choice(self.n_train, size=size, replace=False) for _ in range(drawn)]
        rows = tf.constant(np.stack(rows) if rows else np.zeros((0, size), np.int64))
        return (rows,) if first is None else (rows, first)

    def make_inner_window(self, step_fn: StepFn) -> Callable[..., tf.Tensor]:
        """``window(rows, first=None) -> loss per example``: ``step_fn`` on ``first``, then on
        each minibatch of rows, in one compiled call (Python stays out of the inner loop);
        the steps' losses averaged over their examples (``image.py``'s ``burn_cur_loss /
        burn_num_examples``; the first batch may be an epoch's smaller last one)."""
        drawn_rows = min(self.batch_size, self.n_train)

        @tf.function(autograph=False, reduce_retracing=True)
        def window(rows, first=None):
            # Each step's mean loss weighted by its rows over a drawn batch's (1 for those).
            total, weight = tf.constant(0.0), tf.constant(0.0)
            if first is not None:
                share = tf.cast(tf.shape(first)[0], tf.float32) / float(drawn_rows)
                total, weight = step_fn(first)["loss"] * share, share

            def body(i, total, weight):
                return i + 1, total + step_fn(self.batch(rows[i]))["loss"], weight + 1.0

            count = tf.shape(rows)[0]
            _, total, weight = tf.while_loop(
                lambda i, *_: i < count, body, (tf.constant(0), total, weight)
            )
            return total / weight

        return window

    def epoch_plan(self, seed: int, epoch: int) -> tf.Tensor:
        """The order of ``epoch``: a permutation of the training rows (int32) drawn from
        ``numpy.random.default_rng([seed, epoch])``, the same for a resumed run."""
        order = np.random.default_rng([seed, epoch]).permutation(self.n_train)
        return tf.constant(order, tf.int32)

    def record(self, stats: dict[str, tf.Tensor], rows: float | tf.Tensor) -> tf.Tensor:
        """Adds a batch's statistics (means over its ``rows`` rows) to :attr:`epoch_sums`
        weighted by ``rows``, keeps its loss in :attr:`last_loss`; True if that is finite."""
        weight = tf.cast(rows, tf.float64)
        self.epoch_sums.assign_add(
            tf.stack([tf.cast(stats[key], tf.float64) for key in SUM_KEYS]) * weight
        )
        self.last_loss.assign(stats["loss"])
        return tf.math.is_finite(stats["loss"])

    def read_sums(self) -> dict[str, float]:
        """The device-side sums of the epoch in progress, as Python floats."""
        return dict(zip(SUM_KEYS, self.epoch_sums.numpy().tolist(), strict=True))

    def make_span(self, step_fn: StepFn) -> Callable[[tf.Tensor, int, int], int]:
        """A function training on the batches ``first..last-1`` of an epoch.

        ``order`` is the epoch's permutation of the training rows (:meth:`epoch_plan`); batch i is
        ``order[i*B:(i+1)*B]``. The loop over batches runs inside one compiled function
        (XLA with ``jit_compile``): the batch statistics are added to :attr:`epoch_sums` on
        the device (weighted by batch size, in float64, in batch order), so nothing crosses
        to Python until the span ends. XLA needs static shapes, so the full batches and a
        smaller last batch run in two compiled loops. A non-finite loss stops the span
        after its step (:attr:`last_loss` holds it).

        Returns:
            ``span(order, first, last, held=None) -> int``, the index of the next batch not
            trained on. ``held`` is batch ``first`` as :meth:`inner_loop_first_batch`
            already drew it; the span then trains on it, and on it only (``last`` must be
            ``first + 1``).
        """
        size, n_train = self.batch_size, self.n_train
        n_full = n_train // size
        full = self._compiled_span(step_fn, size)
        tail = self._compiled_span(step_fn, n_train - n_full * size) if n_train % size else None

        @tf.function(autograph=False, jit_compile=self.jit_compile, reduce_retracing=True)
        def train_held(x):
            return self.record(step_fn(x), tf.shape(x)[0])

        def span(order: tf.Tensor, first: int | tf.Tensor, last: int | tf.Tensor, held=None) -> int:
            done, last = int(first), int(last)
            if held is not None:
                if last != done + 1:
                    raise ValueError(f"a held batch is one batch; got batches {done}..{last - 1}")
                train_held(held)
                return last
            if done < min(last, n_full):
                done = int(full(order, tf.constant(done), tf.constant(min(last, n_full))))
            if tail is not None and done == n_full < last:
                done = int(tail(order, tf.constant(done), tf.constant(done + 1)))
            return done

        return span

    def _compiled_span(self, step_fn: StepFn, rows_per_batch: int):
        """The compiled loop of :meth:`make_span` for batches of ``rows_per_batch`` rows."""
        size, weight = self.batch_size, float(rows_per_batch)

        def span_fn(order, first, last):
            def body(index, finite):
                rows = tf.slice(order, [index * size], [rows_per_batch])
                return index + 1, self.record(step_fn(self.batch(rows)), weight)

            done, _ = tf.while_loop(
                lambda index, finite: (index < last) & finite, body, (first, tf.constant(True))
            )
            return done

        return tf.function(
            span_fn, autograph=False, jit_compile=self.jit_compile, reduce_retracing=True
        )
