"""The fast LSTM path (vae_tfp.models.recurrent, and the sequence encoder and decoder that
use it) computes what the tf_keras LSTM and the masked Categorical likelihood compute: the
same values and gradients on small batches, with dropout on, with skip, under XLA, and
whatever a row holds after its EOS."""

import re

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from vae_tfp.data.store import BOS_ID, EOS_ID, PAD_ID
from vae_tfp.models import build_vae
from vae_tfp.models.recurrent import lstm_states
from vae_tfp.models.sequence import drop_words
from vae_tfp.models.tokens import cut_to_longest, token_log_prob, valid_positions

LATENT, VOCAB, WIDTH = 3, 11, 8
TOL = {"rtol": 2e-5, "atol": 2e-5}


def _sentences(seed: int = 0, n: int = 6, garbage: bool = True) -> np.ndarray:
    """n rows of width WIDTH: words, EOS, then PAD (or random ids, ``garbage``); the longest
    sentence shorter than the width, so a batch is cut."""
    rng, noise = np.random.default_rng(seed), np.random.default_rng(seed + 100)
    rows = np.full((n, WIDTH), PAD_ID, np.int32)
    for row, length in zip(rows, rng.integers(1, WIDTH, n), strict=True):
        row[: length - 1] = rng.integers(3, VOCAB, length - 1)
        row[length - 1] = EOS_ID
        if garbage:
            row[length:] = noise.integers(0, VOCAB, WIDTH - length)
    return rows


def _vae(encoder_parameterization="keras", encoder_reads_start_token=False, **decoder_options):
    tf_keras.utils.set_random_seed(0)
    return build_vae(
        {
            "latent_dim": LATENT,
            "encoder_embedding_size": 5,
            "encoder_hidden_size": 7,
            "encoder_parameterization": encoder_parameterization,
            "encoder_reads_start_token": encoder_reads_start_token,
        },
        {"type": "lstm", "hidden_size": 6, "embedding_size": 4, **decoder_options},
        (WIDTH,),
        "tokens",
        vocab_size=VOCAB,
    )


def reference_encoder(encoder, x):
    """The tf_keras LSTM reading the embedded tokens under the sentence mask."""
    valid = valid_positions(x)
    h = encoder.lstm(encoder.embedding(tf.where(valid, x, PAD_ID)), mask=valid)
    return tf.split(encoder.head(h), 2, axis=-1)


def reference_logits(decoder, x, z, noise_seed=None):
    """The decoder's logits by its tf_keras layers at every position (no cut)."""
    valid = valid_positions(x)
    inputs = tf.concat([tf.fill([tf.shape(x)[0], 1], BOS_ID), x[:, :-1]], axis=1)
    inputs = tf.where(valid, inputs, PAD_ID)
    seeds = None if noise_seed is None else tf.random.experimental.stateless_split(noise_seed, 3)
    if seeds is not None and decoder.word_dropout > 0:
        inputs = drop_words(inputs, decoder.word_dropout, seeds[0])
    embedded = decoder.embedding(inputs)
    if seeds is not None and decoder.dropout > 0:
        embedded = tf.nn.experimental.stateless_dropout(embedded, decoder.dropout, seeds[1])
    z_steps = tf.tile(z[:, None, :], [1, x.shape[1], 1])
    out = decoder.lstm(tf.concat([embedded, z_steps], -1), initial_state=decoder._state0(z))
    if seeds is not None and decoder.dropout > 0:
        out = tf.nn.experimental.stateless_dropout(out, decoder.dropout, seeds[2])
    if decoder.skip:
        out = tf.concat([out, z_steps], axis=-1)
    return decoder.head(out) + (0.0 if decoder._blocked is None else decoder._blocked)


def _assert_close_with_gradients(fast, reference, variables, jit=False):
    """fast() and reference() agree, and so do their gradients of sum(output * w); each
    value and gradient computed in one function, compiled by XLA with ``jit``."""

    def with_gradients(fn):
        with tf.GradientTape() as tape:
            values = fn()
            weights = tf.cast(tf.range(1, tf.size(values) + 1), tf.float32) / 7.0
            loss = tf.reduce_sum(tf.reshape(values, [-1]) * tf.sin(weights))
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
        return values, grads

    (got, got_grads), (want, want_grads) = (
        tf.function(lambda f=fn: with_gradients(f), jit_compile=jit)() for fn in (fast, reference)
    )
    np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)
    for a, b in zip(got_grads, want_grads, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)


@pytest.mark.parametrize("jit", [False, True])
def test_lstm_states_equal_the_tf_keras_lstm_values_and_gradients(jit):
    tf_keras.utils.set_random_seed(1)
    layer = tf_keras.layers.LSTM(5, return_sequences=True)
    x = tf.random.stateless_normal((3, 6, 4), [1, 2])
    const = tf.random.stateless_normal((3, 2), [3, 4])
    h0, c0 = (tf.random.stateless_normal((3, 5), [i, 5]) for i in (1, 2))
    layer(tf.concat([x, tf.tile(const[:, None], [1, 6, 1])], -1), initial_state=[h0, c0])
    inputs = [x, const, h0, c0]
    variables = [*layer.trainable_variables, *(tf.Variable(v) for v in inputs)]
    x_v, const_v, h0_v, c0_v = variables[3:]

    def fast():
        states = lstm_states(layer.cell, tf.transpose(x_v, [1, 0, 2]), (h0_v, c0_v), const_v)
        return tf.transpose(states, [1, 0, 2])

    def reference():
        joined = tf.concat([x_v, tf.tile(const_v[:, None], [1, 6, 1])], -1)
        return layer(joined, initial_state=[h0_v, c0_v])

    _assert_close_with_gradients(fast, reference, variables, jit)


@pytest.mark.parametrize(
    ("parameterization", "jit"), [("keras", False), ("keras", True), ("he2019", False)]
)
def test_encoder_equals_the_masked_tf_keras_lstm(parameterization, jit):
    vae = _vae(encoder_parameterization=parameterization)
    x = tf.constant(_sentences(seed=2))
    assert int(tf.shape(cut_to_longest(x)[0])[1]) < WIDTH  # the batch is cut
    fast = lambda: tf.concat(vae.encoder.params(x), -1)  # noqa: E731
    reference = lambda: tf.concat(reference_encoder(vae.encoder, x), -1)  # noqa: E731
    _assert_close_with_gradients(fast, reference, vae.encoder.trainable_variables, jit)


@pytest.mark.parametrize(
    ("options", "jit"),
    [
        ({}, False),
        ({"dropout": 0.5, "word_dropout": 0.3}, False),
        ({"skip": True, "dropout": 0.3}, False),
        ({"dropout": 0.5, "skip": True}, True),
        ({"parameterization": "he2019", "dropout": 0.5}, False),
        ({"parameterization": "he2019", "dropout": 0.5}, True),
        ({"parameterization": "he2019", "softmax_over_all_tokens": True}, False),
        ({"parameterization": "he2019", "softmax_over_all_tokens": True}, True),
    ],
    ids=["plain", "dropout", "skip", "xla", "he2019", "he2019-xla", "all-tokens", "all-xla"],
)
def test_decoder_log_prob_equals_the_masked_categorical_of_the_tf_keras_lstm(options, jit):
    """Values and gradients, with the same dropout noise (drawn before the batch is cut;
    under XLA both sides run compiled: XLA draws other stateless random numbers)."""
    vae = _vae(**options)
    decoder = vae.decoder
    x = tf.constant(_sentences(seed=3))
    z = tf.random.stateless_normal((len(x), LATENT), [7, 7])
    seed = tf.constant([4, 2], tf.int32) if decoder.uses_training_noise else None
    fast = lambda: decoder(z, noise_seed=seed).log_prob(x)  # noqa: E731
    reference = lambda: token_log_prob(reference_logits(decoder, x, z, seed), x)  # noqa: E731
    _assert_close_with_gradients(fast, reference, decoder.trainable_variables, jit)
    if not jit:
        got, want = decoder.logits(x, z, seed), reference_logits(decoder, x, z, seed)
        np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)


@pytest.mark.parametrize("jit", [False, True])
def test_encoder_reading_the_start_token_is_the_encoder_given_bos_as_its_first_token(jit):
    """encoder_reads_start_token: q(z|x) is the masked tf_keras LSTM over BOS, the words and
    EOS, as He et al.'s and Li et al.'s encoders read their batches."""
    vae = _vae(encoder_reads_start_token=True)
    x = tf.constant(_sentences(seed=2))
    with_bos = tf.concat([tf.fill([len(x), 1], BOS_ID), x], axis=1)
    fast = lambda: tf.concat(vae.encoder.params(x), -1)  # noqa: E731
    reference = lambda: tf.concat(reference_encoder(vae.encoder, with_bos), -1)  # noqa: E731
    _assert_close_with_gradients(fast, reference, vae.encoder.trainable_variables, jit)
    without_bos = tf.concat(reference_encoder(vae.encoder, x), -1)
    assert np.abs(fast().numpy() - without_bos.numpy()).max() > 1e-3


def test_softmax_over_all_tokens_spreads_probability_onto_pad_and_bos():
    """With the same weights, p_all(x_t) = p_words(x_t) (1 - p_all(PAD) - p_all(BOS)) at each
    of a sentence's positions, p_words the default softmax that never predicts PAD or BOS:
    log p_all(x|z) = log p_words(x|z) + sum_t log(1 - p_all(PAD or BOS at t))."""
    full = _vae(parameterization="he2019", softmax_over_all_tokens=True).decoder
    words = _vae(parameterization="he2019").decoder
    for a, b in zip(full.trainable_variables, words.trainable_variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = tf.constant(_sentences(seed=5))
    z = tf.random.stateless_normal((len(x), LATENT), [5, 5])
    log_p_all, log_p_words = full(z).log_prob(x).numpy(), words(z).log_prob(x).numpy()
    log_q = tf.nn.log_softmax(full.logits(x, z)).numpy()  # [B, T, V]
    special = np.logaddexp(log_q[..., PAD_ID], log_q[..., BOS_ID])
    valid = valid_positions(x).numpy()
    correction = np.where(valid, np.log1p(-np.exp(special)), 0.0).sum(axis=-1)
    np.testing.assert_allclose(log_p_all, log_p_words + correction, **TOL)
    # He et al.'s initialisation gives near-uniform logits: PAD and BOS take about 2 / V.
    assert np.all(correction < valid.sum(axis=-1) * np.log1p(-1.5 / VOCAB))


def test_padding_positions_do_not_reach_the_loss_or_its_gradient():
    """Rows whose padding holds other ids (or a batch padded wider) give the same loss and
    the same gradients: outputs after the EOS never enter the loss."""
    vae = _vae(dropout=0.5)
    clean = _sentences(seed=4, garbage=False)
    dirty = _sentences(seed=4, garbage=True)
    assert not np.array_equal(clean, dirty)
    np.testing.assert_array_equal(valid_positions(clean), valid_positions(dirty))
    seed = tf.constant([1, 1], tf.int32)

    def loss_and_grads(x, jit=False):
        def compute():
            with tf.GradientTape() as tape:
                value = -tf.reduce_mean(vae.forward(tf.constant(x), seed, training=True).elbo)
            grads = tape.gradient(value, vae.trainable_variables)
            return value, [tf.convert_to_tensor(g) for g in grads]

        return tf.function(compute, jit_compile=jit)()

    for jit in (False, True):  # XLA draws other random numbers: compare within each
        want, want_grads = loss_and_grads(clean, jit)
        got, got_grads = loss_and_grads(dirty, jit)
        np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)
        for a, b in zip(got_grads, want_grads, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)


def test_lstm_layers_keep_their_weights_and_initializers():
    """The fast path reads the tf_keras layers' weights: same variables, shapes and
    initializers as the layers alone (checkpoints of earlier runs still load)."""
    vae = _vae(skip=True)
    for lstm in (vae.encoder.lstm, vae.decoder.lstm):
        cell = lstm.cell
        assert cell.kernel_initializer.__class__.__name__ == "GlorotUniform"
        assert cell.recurrent_initializer.__class__.__name__ == "Orthogonal"
        assert cell.unit_forget_bias
        units = cell.units
        np.testing.assert_array_equal(cell.bias.numpy()[units : 2 * units], 1.0)
    names = sorted(re.sub(r"_\d+/", "/", v.name) for v in vae.decoder.trainable_variables)
    assert names == sorted(
        [
            "embedding/embeddings:0",
            "dense/kernel:0",
            "dense/bias:0",
            "dense/kernel:0",
            "dense/bias:0",
            "lstm/lstm_cell/kernel:0",
            "lstm/lstm_cell/recurrent_kernel:0",
            "lstm/lstm_cell/bias:0",
        ]
    )  # named as when the layers built themselves on their first call
    assert vae.decoder.head.kernel.shape == (6 + LATENT, VOCAB)


@pytest.mark.parametrize("jit", [False, True])
def test_gradients_of_gradients_equal_the_tf_keras_lstm(jit):
    """SA-VAE differentiates through gradient steps in z: the decoder's second-order
    gradients (taken while an outer tape records) equal the reference's."""
    decoder = _vae(skip=True).decoder
    x = tf.constant(_sentences(seed=5))
    z0 = tf.random.stateless_normal((len(x), LATENT), [2, 9])

    def refined_log_prob(log_prob):
        def fn():
            with tf.GradientTape() as outer:
                with tf.GradientTape() as inner:
                    inner.watch(z0)
                    total = tf.reduce_sum(log_prob(z0))
                z1 = z0 + 0.1 * inner.gradient(total, z0)
                loss = tf.reduce_sum(log_prob(z1))
            grads = outer.gradient(loss, decoder.trainable_variables)
            return loss, [tf.convert_to_tensor(g) for g in grads]

        return tf.function(fn, jit_compile=jit)()

    got, got_grads = refined_log_prob(lambda z: decoder(z).log_prob(x))
    want, want_grads = refined_log_prob(
        lambda z: token_log_prob(reference_logits(decoder, x, z), x)
    )
    np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL)
    for a, b in zip(got_grads, want_grads, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)


def test_without_a_tape_the_states_are_the_same_and_tf_gradients_still_work():
    """Evaluation (no tape) keeps no backward-pass intermediates: same log-probabilities;
    tf.gradients, which needs no tape, still gets the tf_keras LSTM's gradients."""
    decoder = _vae(dropout=0.5).decoder
    x = tf.constant(_sentences(seed=6))
    z = tf.random.stateless_normal((len(x), LATENT), [3, 3])
    seed = tf.constant([5, 5], tf.int32)
    untaped = decoder(z, noise_seed=seed).log_prob(x)
    with tf.GradientTape():
        taped = decoder(z, noise_seed=seed).log_prob(x)
    np.testing.assert_array_equal(untaped.numpy(), taped.numpy())

    @tf.function
    def symbolic(log_prob):
        return tf.gradients(tf.reduce_sum(log_prob()), decoder.trainable_variables)

    got = symbolic(lambda: decoder(z, noise_seed=seed).log_prob(x))
    want = symbolic(lambda: token_log_prob(reference_logits(decoder, x, z, seed), x))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), **TOL)
