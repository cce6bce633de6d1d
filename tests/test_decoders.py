"""Autoregressive and sequence decoders: the autoregressive property, normalization, support,
padding invariance, skip connections and checkpoint round trips."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from vae_tfp.config import ConfigError, check_experiment_config
from vae_tfp.data.store import EOS_ID, PAD_ID
from vae_tfp.models import build_vae
from vae_tfp.models.autoregressive import image_shape_of
from vae_tfp.models.decoders import build_decoder
from vae_tfp.models.sequence import SequenceEncoder

LATENT = 3


def _made(layers: str = "all_layers", size: int = 9):
    tf_keras.utils.set_random_seed(0)
    return build_decoder(
        {"type": "made", "hidden_units": [16, 16], "conditional_input_layers": layers},
        LATENT,
        (size,),
        "binary",
    )


def _pixelcnn(size: int = 16):
    tf_keras.utils.set_random_seed(0)
    return build_decoder({"type": "pixelcnn", "num_filters": 8}, LATENT, (size,), "binary")


def _dependence(outputs_fn, size: int) -> np.ndarray:
    """|d output_i / d x_j| summed over the output's parameters: [size (i), size (j)]."""
    rng = np.random.default_rng(1)
    x = tf.constant(rng.uniform(size=(1, size)).astype(np.float32))  # generic, not {0, 1}
    z = tf.constant(rng.standard_normal((1, LATENT)).astype(np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = tf.reshape(outputs_fn(x, z), (size, -1))
    jacobian = tape.jacobian(out, x).numpy()  # [size, P, 1, size]
    return np.abs(jacobian).sum(axis=(1, 2))


@pytest.mark.parametrize("layers", ["all_layers", "first_layer"])
def test_made_logit_i_ignores_inputs_from_i_on(layers):
    decoder = _made(layers)
    dependence = _dependence(decoder.logits, 9)
    upper = np.triu(np.ones((9, 9), bool))  # j >= i
    assert np.all(dependence[upper] == 0.0)
    assert np.mean(dependence[~upper] > 0) > 0.5  # and on earlier inputs: not vacuous


def test_pixelcnn_outputs_of_pixel_i_ignore_pixels_from_i_on():
    """From initialization on, and after an Adam update (tfd.PixelCNN's kernel masks are
    Keras constraints, which the tf_keras optimizer re-applies after every update)."""
    decoder = _pixelcnn(16)  # 4x4 images, raster order
    upper = np.triu(np.ones((16, 16), bool))
    for _ in range(2):
        dependence = _dependence(decoder.network_outputs, 16)
        assert np.all(dependence[upper] == 0.0)
        assert dependence[5, 4] > 0 and dependence[5, 1] > 0  # left and above neighbours
        x = tf.constant(np.random.default_rng(0).integers(0, 2, (8, 16)), tf.float32)
        optimizer = tf_keras.optimizers.Adam(0.1)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(decoder(tf.ones((8, LATENT))).log_prob(x))
        grads = tape.gradient(loss, decoder.trainable_variables)
        optimizer.apply_gradients(zip(grads, decoder.trainable_variables, strict=True))


@pytest.mark.parametrize("make", [_made, _pixelcnn], ids=["made", "pixelcnn"])
def test_binary_autoregressive_likelihood_sums_to_one(make):
    """Over all 2^4 binary examples, sum_x p(x|z) = 1 for each z (a proper distribution)."""
    decoder = make(size=4)
    x = tf.constant(list(itertools.product([0.0, 1.0], repeat=4)), tf.float32)  # [16, 4]
    z = tf.constant(np.random.default_rng(2).standard_normal((2, LATENT)), tf.float32)
    log_p = decoder(tf.repeat(z, 16, axis=0)).log_prob(tf.tile(x, [2, 1]))
    np.testing.assert_allclose(np.exp(log_p.numpy()).reshape(2, 16).sum(-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("make", [_made, _pixelcnn], ids=["made", "pixelcnn"])
def test_samples_have_the_example_shape_and_binary_support(make):
    decoder = make(size=16)
    z = tf.constant(np.random.default_rng(3).standard_normal((3, LATENT)), tf.float32)
    sample = decoder.sample(z, seed=7).numpy()
    assert sample.shape == (3, 16)
    assert set(np.unique(sample)) <= {0.0, 1.0}
    assert decoder(z).sample(2, seed=8).shape == (2, 3, 16)
    assert np.all(np.isfinite(decoder(z).log_prob(sample).numpy()))


def test_image_shape_of_flat_examples():
    assert image_shape_of((64,)) == (8, 8, 1)
    assert image_shape_of((28, 28)) == (28, 28, 1)
    with pytest.raises(ValueError, match="not a square image"):
        image_shape_of((10,))
    with pytest.raises(ValueError, match="models binary data"):
        build_decoder({"type": "made"}, 2, (4,), "real")


# ---- token sequences -------------------------------------------------------------------

VOCAB = 7  # <pad> <bos> <eos> <unk> + 3 words
ROWS = np.array([[4, 5, 6, EOS_ID, PAD_ID, PAD_ID], [6, EOS_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID]])


def _token_vae(**decoder_options):
    tf_keras.utils.set_random_seed(0)
    return build_vae(
        {"latent_dim": LATENT, "encoder_embedding_size": 4, "encoder_hidden_size": 8},
        {"type": "lstm", "hidden_size": 8, "embedding_size": 4, **decoder_options},
        (6,),
        "tokens",
        vocab_size=VOCAB,
    )


def test_token_vae_uses_the_lstm_encoder():
    vae = _token_vae()
    assert isinstance(vae.encoder, SequenceEncoder)
    with pytest.raises(ValueError, match="token sequences"):
        build_decoder({"type": "lstm"}, 2, (64,), "binary", vocab_size=10)


@pytest.mark.parametrize("skip", [False, True])
def test_lstm_positions_after_eos_change_nothing(skip):
    """Padding, or any token after the EOS, never reaches log p(x|z) or q(z|x)."""
    vae = _token_vae(skip=skip)
    garbage = ROWS.copy()
    garbage[0, 4:] = [5, 4]
    garbage[1, 2:] = [EOS_ID, 4, 6, 3]
    z = tf.constant(np.random.default_rng(4).standard_normal((2, LATENT)), tf.float32)
    for x in (ROWS, garbage):
        x = tf.constant(x, tf.int32)
        np.testing.assert_array_equal(
            vae.decoder(z).log_prob(x).numpy(), vae.decoder(z).log_prob(ROWS).numpy()
        )
        for got, want in zip(vae.encoder.params(x), vae.encoder.params(ROWS), strict=True):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    # ... while a token before the EOS does change both.
    changed = ROWS.copy()
    changed[0, 1] = 6
    assert not np.allclose(vae.decoder(z).log_prob(changed), vae.decoder(z).log_prob(ROWS))
    assert not np.allclose(vae.encoder.params(changed)[0], vae.encoder.params(ROWS)[0])


def test_lstm_likelihood_sums_to_one_over_all_sentences():
    """Over every sentence of T = 3 tokens (words, <unk> and EOS; a row of 3 words has no
    room for its EOS and ends there), sum_x p(x|z) = 1."""
    tf_keras.utils.set_random_seed(0)
    decoder = build_decoder({"type": "lstm", "hidden_size": 8}, LATENT, (3,), "tokens", 6)
    words = [3, 4, 5]
    rows = [[EOS_ID, PAD_ID, PAD_ID]]  # the empty sentence has mass under the model too
    rows += [[w, EOS_ID, PAD_ID] for w in words]
    rows += [[a, b, EOS_ID] for a in words for b in words]
    rows += [list(r) for r in itertools.product(words, repeat=3)]
    z = tf.constant(np.random.default_rng(5).standard_normal((1, LATENT)), tf.float32)
    log_p = decoder(tf.repeat(z, len(rows), axis=0)).log_prob(tf.constant(rows, tf.int32))
    np.testing.assert_allclose(np.exp(log_p.numpy()).sum(), 1.0, rtol=1e-5)


def test_mlp_token_decoder_is_normalized_and_ignores_padding():
    """The non-autoregressive token decoder: sum_x p(x|z) = 1 over every sentence of T = 2
    tokens, and positions after the EOS do not count."""
    tf_keras.utils.set_random_seed(0)
    decoder = build_decoder({"type": "mlp", "hidden_units": [8]}, LATENT, (2,), "tokens", 6)
    rows = [[EOS_ID, PAD_ID]] + [[w, EOS_ID] for w in (3, 4, 5)]
    rows += [[a, b] for a in (3, 4, 5) for b in (3, 4, 5)]
    z = tf.constant(np.random.default_rng(7).standard_normal((1, LATENT)), tf.float32)
    log_p = decoder(tf.repeat(z, len(rows), axis=0)).log_prob(tf.constant(rows, tf.int32))
    np.testing.assert_allclose(np.exp(log_p.numpy()).sum(), 1.0, rtol=1e-5)
    z2 = tf.repeat(z, 2, axis=0)
    padded = tf.constant([[4, EOS_ID], [EOS_ID, PAD_ID]])
    garbage = tf.constant([[4, EOS_ID], [EOS_ID, 5]])
    np.testing.assert_array_equal(decoder(z2).log_prob(padded), decoder(z2).log_prob(garbage))
    samples = decoder(z2).sample(50, seed=1).numpy()
    assert samples.shape == (50, 2, 2)
    assert np.all(samples[samples[..., 0] == EOS_ID][:, 1] == PAD_ID)


def test_lstm_samples_end_with_eos_then_padding():
    vae = _token_vae()
    z = tf.constant(np.random.default_rng(6).standard_normal((20, LATENT)), tf.float32)
    samples = vae.decoder.sample(z, seed=3).numpy()
    assert samples.shape == (20, 6) and samples.dtype == np.int32
    assert np.all((samples >= 2) | (samples == PAD_ID))  # never <pad> mid-sentence, never <bos>
    for row in samples:
        if EOS_ID in row:
            end = list(row).index(EOS_ID)
            assert np.all(row[end + 1 :] == PAD_ID) and np.all(row[:end] >= 3)
        else:
            assert np.all(row >= 3)
    np.testing.assert_array_equal(samples, vae.decoder.sample(z, seed=3).numpy())


def test_lstm_dropout_acts_only_in_training_steps_and_is_seeded():
    vae = _token_vae(dropout=0.5, word_dropout=0.5)
    x, seed = tf.constant(ROWS), tf.constant([1, 2], tf.int32)
    evaluation = vae.forward(x, seed).rec.numpy()
    first = vae.forward(x, seed, training=True).rec.numpy()
    np.testing.assert_array_equal(first, vae.forward(x, seed, training=True).rec.numpy())
    assert not np.allclose(first, evaluation)
    plain = _token_vae()  # same initial weights, no dropout
    np.testing.assert_allclose(plain.forward(x, seed).rec.numpy(), evaluation, rtol=1e-6)


# ---- skip connections, checkpoints, compatibility -----------------------------------------


def test_mlp_skip_feeds_z_to_every_layer():
    plain = build_decoder({"type": "mlp", "hidden_units": [5, 6]}, LATENT, (4,), "binary")
    skip = build_decoder(
        {"type": "mlp", "hidden_units": [5, 6], "skip": True}, LATENT, (4,), "binary"
    )

    def fan_in(decoder):
        return [layer.kernel.shape[0] for layer in [*decoder.hidden, decoder.head]]

    assert fan_in(plain) == [LATENT, 5, 6]
    assert fan_in(skip) == [LATENT, 5 + LATENT, 6 + LATENT]


@pytest.mark.parametrize(
    ("options", "shape", "kind", "vocab", "x"),
    [
        ({"type": "made", "hidden_units": [8]}, (16,), "binary", None, np.eye(16)[:2]),
        ({"type": "pixelcnn", "num_filters": 4}, (16,), "binary", None, np.eye(16)[:2]),
        (
            {"type": "gated_pixelcnn", "kernel_sizes": [3, 3], "channels": 4},
            (16,),
            "binary",
            None,
            np.eye(16)[:2],
        ),
        ({"type": "lstm", "hidden_size": 4}, (6,), "tokens", VOCAB, ROWS),
    ],
    ids=["made", "pixelcnn", "gated_pixelcnn", "lstm"],
)
def test_checkpoint_round_trip_restores_every_weight(tmp_path, options, shape, kind, vocab, x):
    model_options = {"latent_dim": LATENT, "encoder_hidden_units": [4]}
    tf_keras.utils.set_random_seed(0)
    trained = build_vae(model_options, options, shape, kind, vocab_size=vocab)
    path = tf.train.Checkpoint(model=trained).write(str(tmp_path / "ckpt"))
    tf_keras.utils.set_random_seed(1)
    fresh = build_vae(model_options, options, shape, kind, vocab_size=vocab)
    tf.train.Checkpoint(model=fresh).read(path).assert_existing_objects_matched()
    assert len(fresh.variables) == len(trained.variables)
    for a, b in zip(fresh.variables, trained.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x, seed = tf.constant(x, tf.int32 if kind == "tokens" else tf.float32), tf.constant([1, 1])
    np.testing.assert_array_equal(fresh.forward(x, seed).rec, trained.forward(x, seed).rec)


def test_config_rejects_a_decoder_on_the_wrong_data_naming_both():
    config = {
        "seeds": [0],
        "datasets": {"digits": {}, "markov_mixture": {}},
        "decoders": {"seq": {"type": "lstm"}, "ar": {"type": "pixelcnn"}},
        "methods": {"vanilla": {"method": "vanilla"}},
        "grid": [{"datasets": ["digits", "markov_mixture"], "decoders": ["seq", "ar"],
                  "methods": ["vanilla"]}],
    }  # fmt: skip
    with pytest.raises(ConfigError) as error:
        check_experiment_config(config)
    message = str(error.value)
    assert "'seq' (type 'lstm') does not apply to dataset 'digits'" in message
    assert "'ar' (type 'pixelcnn') does not apply to dataset 'markov_mixture'" in message
