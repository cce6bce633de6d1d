"""The token convention on the model side: which positions count, which ids are never
predicted, and the masked categorical likelihood over a sentence.

Sequences follow :mod:`vae_tfp.data.store`: int32 rows [T] holding the words, one ``EOS``
and ``PAD`` after it; ``BOS`` is only a decoder input. A position belongs to the sentence
when no ``EOS`` comes before it (:func:`valid_positions`), and nothing a row holds after its
``EOS`` may reach a log-probability or an encoder's output.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow.python.framework import config as tf_framework_config
from tensorflow.python.ops import gen_nn_ops

from vae_tfp.data.store import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from vae_tfp.models.recurrent import in_xla_context

tfd = tfp.distributions

NEVER_PREDICTED = (PAD_ID, BOS_ID)
_BLOCKED_LOGIT = -1e9


def valid_positions(tokens: tf.Tensor) -> tf.Tensor:
    """True at the positions up to and including the first ``EOS`` of each row, [..., T]."""
    is_eos = tf.cast(tf.equal(tokens, EOS_ID), tf.int32)
    return tf.equal(tf.cumsum(is_eos, axis=-1, exclusive=True), 0)


def token_log_prob(logits: tf.Tensor, tokens: tf.Tensor) -> tf.Tensor:
    """log p(x) = sum over the sentence's positions of log Categorical(x_t | logits_t).

    ``tfd.Independent(tfd.Masked(tfd.Categorical))``: the positions after the first ``EOS``
    (:func:`valid_positions`) contribute 0, whatever they hold.

    Args:
        logits: [B, T, V].
        tokens: Token ids [B, T].

    Returns:
        [B] log-probabilities in nats.
    """
    tokens = tf.cast(tokens, tf.int32)
    valid = valid_positions(tokens)
    likelihood = tfd.Independent(
        tfd.Masked(tfd.Categorical(logits=logits), validity_mask=valid),
        reinterpreted_batch_ndims=1,
    )
    return likelihood.log_prob(tf.where(valid, tokens, PAD_ID))


def categorical_log_prob(logits: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
    """log softmax(logits)[label] of each row: ``tfd.Categorical(logits).log_prob(labels)``.

    Computed by TensorFlow's fused ``SparseSoftmaxCrossEntropyWithLogits`` kernel, which
    returns the gradient (softmax - one-hot) with the loss in one pass over the logits, and
    whose registered gradient also serves second derivatives. With op determinism on,
    ``tf.nn.sparse_softmax_cross_entropy_with_logits`` (and so TFP) bypasses that kernel for
    ``log_softmax`` + ``gather``, several passes over [N, V] in both directions, because
    the GPU kernel is not deterministic. The CPU kernel's reductions run along each row
    (repeated calls give identical bits, ``tests/test_tokens.py``), so it is used whenever
    no GPU is visible, and the bypass otherwise.

    Args:
        logits: [N, V].
        labels: Class ids [N], in [0, V).

    Returns:
        [N] log-probabilities in nats.
    """
    labels = tf.cast(labels, tf.int32)
    if tf_framework_config.is_op_determinism_enabled() and tf.config.list_logical_devices(
        "GPU"
    ):
        return -tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
    return -gen_nn_ops.sparse_softmax_cross_entropy_with_logits(logits, labels)[0]


def blocked_logits(vocab_size: int) -> tf.Tensor:
    """[V] offsets added to output logits: -1e9 for ``PAD`` and ``BOS``, 0 elsewhere."""
    return tf.scatter_nd(
        [[i] for i in NEVER_PREDICTED],
        tf.fill([len(NEVER_PREDICTED)], _BLOCKED_LOGIT),
        [int(vocab_size)],
    )


def check_tokens(name: str, event_shape: Sequence[int], kind: str, vocab_size: int | None):
    if kind != "tokens" or len(event_shape) != 1:
        raise ValueError(
            f"{name} models token sequences (kind 'tokens', example shape [T]), got kind "
            f"{kind!r} with example shape {tuple(event_shape)}"
        )
    if vocab_size is None or vocab_size <= max(BOS_ID, EOS_ID, PAD_ID, UNK_ID):
        raise ValueError(f"{name} needs the vocabulary size of the data, got {vocab_size}")


def cut_to_longest(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(x cut to its longest sentence, the sentence lengths [B]), x [B, T] token ids.

    Exact for every model here: nothing after a sentence's ``EOS`` matters. Under XLA, which
    needs static shapes, x is returned whole.
    """
    lengths = tf.reduce_sum(tf.cast(valid_positions(x), tf.int32), axis=-1)
    if in_xla_context():
        return x, lengths
    return x[:, : tf.reduce_max(lengths)], lengths


def flatten_pair(x: tf.Tensor, z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Broadcasts the batch dims of x [..., T] and z [..., d]; returns them flattened."""
    batch = tf.broadcast_dynamic_shape(tf.shape(x)[:-1], tf.shape(z)[:-1])
    x = tf.broadcast_to(x, tf.concat([batch, tf.shape(x)[-1:]], 0))
    z = tf.reshape(tf.broadcast_to(z, tf.concat([batch, tf.shape(z)[-1:]], 0)), (-1, z.shape[-1]))
    return tf.reshape(x, tf.stack([-1, tf.shape(x)[-1]])), z, batch
