"""The categorical log-likelihood of the text decoders (vae_tfp.models.tokens
.categorical_log_prob): log softmax at the label, its gradient softmax - one-hot and its
second derivative diag(p) - p p^T, against float64 closed forms, with op determinism on (the
train loop's setting) and the same bits on every call."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.framework import config as tf_framework_config

from vae_tfp.models.tokens import categorical_log_prob

ROWS, CLASSES = 48, 700
# float32 against float64: log-sums of 700 terms of logits up to ~30 in size.
TOL = {"rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(params=[True, False], ids=["deterministic", "nondeterministic"])
def determinism(request):
    was_on = tf_framework_config.is_op_determinism_enabled()
    if request.param:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_framework_config.disable_op_determinism()
    yield request.param
    if was_on:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_framework_config.disable_op_determinism()


def _case(seed: int = 0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 8.0, (ROWS, CLASSES))
    labels = rng.integers(0, CLASSES, ROWS)
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    return logits.astype(np.float32), labels.astype(np.int32), log_p


def test_value_and_gradient_are_the_log_softmax_at_the_label_and_softmax_minus_one_hot(
    determinism,
):
    logits, labels, log_p = _case()
    weights = np.random.default_rng(1).normal(size=ROWS).astype(np.float32)
    x = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(x)
        got = categorical_log_prob(x, tf.constant(labels))
        total = tf.reduce_sum(weights * got)
    np.testing.assert_allclose(got.numpy(), log_p[np.arange(ROWS), labels], **TOL)
    one_hot = np.eye(CLASSES)[labels]
    want_gradient = weights[:, None] * (one_hot - np.exp(log_p))
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), want_gradient, **TOL)


def test_second_derivative_is_the_softmax_jacobian(determinism):
    """SA-VAE differentiates through gradient steps: d/dlogits of (v . grad) must be
    -(diag(p) - p p^T) v per row."""
    logits, labels, log_p = _case(seed=2)
    v = np.random.default_rng(3).normal(size=(ROWS, CLASSES)).astype(np.float32)
    x = tf.constant(logits)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            total = tf.reduce_sum(categorical_log_prob(x, tf.constant(labels)))
        directional = tf.reduce_sum(inner.gradient(total, x) * v)
    p = np.exp(log_p)
    want = -(p * v - p * (p * v).sum(-1, keepdims=True))
    np.testing.assert_allclose(outer.gradient(directional, x).numpy(), want, **TOL)


def test_repeated_calls_give_the_same_bits(determinism):
    logits, labels, _ = _case(seed=4)
    x = tf.constant(np.tile(logits, (8, 1)))  # rows enough for the threads to share
    labels = tf.constant(np.tile(labels, 8))

    @tf.function
    def value_and_gradient():
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(categorical_log_prob(x, labels))
        return total, tape.gradient(total, x)

    first = [t.numpy() for t in value_and_gradient()]
    for _ in range(3):
        for a, b in zip(first, value_and_gradient(), strict=True):
            np.testing.assert_array_equal(a, b.numpy())
