"""What the evaluate job saves for the report: image reconstructions and prior samples, greedy
sentence decodings and homotopies (vae_tfp/evaluation/samples.py)."""

import numpy as np
import tensorflow as tf
import tf_keras

from vae_tfp.data.store import EOS_ID, PAD_ID, SPECIAL_TOKENS, PreparedData
from vae_tfp.evaluation.samples import (
    HOMOTOPY_STEPS,
    N_PRIOR_SAMPLES,
    N_RECONSTRUCTIONS,
    N_SENTENCES,
    detokenize,
    write_samples,
)
from vae_tfp.models import build_vae
from vae_tfp.models.sequence import valid_positions

LATENT = 3
VOCABULARY = (*SPECIAL_TOKENS, "a", "b", "c")


def _images(n=12, side=4):
    pixels = np.random.default_rng(0).random((n, side * side)) > 0.5
    return pixels.astype(np.float32)


def _binary_data():
    x = _images()
    return PreparedData("digits", "binary", train=x, valid=x, test=x)


def _vae(decoder_options, event_shape, kind, vocab_size=None, posterior_refinement=None):
    tf_keras.utils.set_random_seed(0)
    model_options = {
        "latent_dim": LATENT,
        "encoder_hidden_units": [8],
        "encoder_embedding_size": 4,
        "encoder_hidden_size": 8,
    }
    return build_vae(
        model_options,
        decoder_options,
        event_shape,
        kind,
        vocab_size,
        posterior_refinement=posterior_refinement,
    )


def test_image_reconstructions_are_the_decoder_mean_at_the_posterior_mean(tmp_path):
    data = _binary_data()
    model = _vae({"type": "mlp", "hidden_units": [8]}, (16,), "binary")
    arrays = write_samples(model, data, seed=5, path=tmp_path / "samples.npz")
    loaded = np.load(tmp_path / "samples.npz")
    assert set(loaded.files) == set(arrays)
    np.testing.assert_array_equal(loaded["originals"], data.test[:N_RECONSTRUCTIONS])
    loc, _ = model.posterior_params(tf.constant(data.test[:N_RECONSTRUCTIONS]))
    expected = tf.sigmoid(model.decoder(loc).distribution.logits).numpy()
    np.testing.assert_allclose(loaded["reconstructions"], expected, rtol=1e-6)
    assert loaded["prior_samples"].shape == (N_PRIOR_SAMPLES, 16)
    assert loaded["image_shape"].tolist() == [4, 4]
    assert str(loaded["reconstruction_kind"]) == "mean" and str(loaded["kind"]) == "binary"
    again = write_samples(model, data, seed=5, path=tmp_path / "again.npz")
    np.testing.assert_array_equal(again["prior_samples"], arrays["prior_samples"])


def test_a_refined_posterior_is_the_one_reconstructed_and_saved(tmp_path):
    """SA-VAE refines q(z|x) with seeded SVI steps: the samples use the refined posterior,
    as the metrics do, not the encoder's, and do not fail for want of a seed."""
    from vae_tfp.evaluation.samples import _posterior_params
    from vae_tfp.methods import build_method

    data = _binary_data()
    refinement = build_method({"method": "sa_vae"}).posterior_refinement()
    model = _vae({"type": "mlp", "hidden_units": [8]}, (16,), "binary", None, refinement)
    arrays = write_samples(model, data, seed=5, path=tmp_path / "samples.npz")
    originals = data.test[:N_RECONSTRUCTIONS]
    refined, _ = _posterior_params(model, originals, seed=5)
    encoded, _ = model.encoder.params(tf.constant(originals))
    assert np.abs(refined - encoded).max() > 1e-3  # the refinement moved the means
    expected = tf.sigmoid(model.decoder(refined).distribution.logits).numpy()
    np.testing.assert_allclose(arrays["reconstructions"], expected, rtol=1e-5)
    refined_test, _ = _posterior_params(model, data.test, seed=5)
    np.testing.assert_allclose(arrays["posterior_loc"], refined_test, rtol=1e-5)


def test_autoregressive_decoders_give_binary_samples(tmp_path):
    data = _binary_data()
    model = _vae({"type": "made", "hidden_units": [8]}, (16,), "binary")
    arrays = write_samples(model, data, seed=5, path=tmp_path / "samples.npz")
    assert str(arrays["reconstruction_kind"]) == "sample"
    for key in ("reconstructions", "prior_samples"):
        assert set(np.unique(arrays[key])) <= {0.0, 1.0}


def test_detokenize_stops_at_eos_and_drops_padding_and_bos():
    rows = np.array([[4, 3, 5, EOS_ID, 6], [1, 6, PAD_ID, PAD_ID, PAD_ID]])
    assert detokenize(rows, VOCABULARY) == ["a <unk> b", "c"]


def test_greedy_decoding_takes_the_most_probable_word_at_every_step(tmp_path):
    """Teacher-forcing the greedy output back through the decoder, every valid position's
    token is the argmax of its logits: the defining property of greedy decoding."""
    model = _vae({"type": "lstm", "hidden_size": 8, "embedding_size": 4}, (6,), "tokens", 7)
    z = tf.constant(np.random.default_rng(1).standard_normal((5, LATENT)), tf.float32)
    tokens = model.decoder.greedy_decode(z)
    argmax = tf.argmax(model.decoder.logits(tokens, z), axis=-1, output_type=tf.int32)
    valid = valid_positions(tokens).numpy()
    np.testing.assert_array_equal(tokens.numpy()[valid], argmax.numpy()[valid])
    assert np.all(tokens.numpy()[~valid] == PAD_ID)

    rows = np.array([[4, 5, EOS_ID, 0, 0, 0], [6, 6, 6, EOS_ID, 0, 0]] * 2, np.int32)
    data = PreparedData("ptb", "tokens", rows, rows, rows, vocabulary=VOCABULARY)
    arrays = write_samples(model, data, seed=2, path=tmp_path / "samples.npz")
    assert arrays["prior_sentences"].shape == (N_SENTENCES,)
    assert arrays["homotopy_endpoints"].tolist() == ["a b", "c c c"]
    assert arrays["homotopy_t"][0] == 0.0 and arrays["homotopy_t"][-1] == 1.0
    assert arrays["homotopy_sentences"].shape == (HOMOTOPY_STEPS,)
    # The homotopy's ends are the greedy decodings of the two posterior means.
    loc, _ = model.posterior_params(tf.constant(rows[:2]))
    ends = detokenize(model.decoder.greedy_decode(loc).numpy(), VOCABULARY)
    assert [arrays["homotopy_sentences"][0], arrays["homotopy_sentences"][-1]] == ends


def test_real_vectors_record_their_kind_and_the_test_posterior(tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    data = PreparedData("linear_gaussian", "real", x, x, x)
    model = _vae({"type": "linear"}, (4,), "real")
    arrays = write_samples(model, data, seed=0, path=tmp_path / "s.npz")
    assert set(arrays) == {"kind", "posterior_loc", "posterior_log_var"}
    loc, log_var = model.posterior_params(tf.constant(x))
    np.testing.assert_array_equal(arrays["posterior_loc"], loc.numpy())
    np.testing.assert_array_equal(arrays["posterior_log_var"], log_var.numpy())


def test_sentences_file_lists_the_prior_decodings_and_the_homotopy(tmp_path):
    from vae_tfp.report.sentences import write_sentences

    arrays = {
        "kind": np.array("tokens"),
        "prior_sentences": np.array(["a b", "a b", "c", ""]),
        "homotopy_endpoints": np.array(["a", "c c"]),
        "homotopy_t": np.array([0.0, 0.5, 1.0], np.float32),
        "homotopy_sentences": np.array(["", "a c", "c c"]),
        "decoding": np.array("greedy"),
    }
    np.savez(tmp_path / "samples.npz", **arrays)
    text = write_sentences(tmp_path / "samples.npz", tmp_path / "s.txt", "markov × lstm")
    lines = text.splitlines()
    assert lines[0] == "markov × lstm"
    assert "(greedy decoding; 3 distinct of 4):" in lines[2]
    assert lines[3:7] == ["  1. a b", "  2. a b", "  3. c", "  4. (empty: <eos> first)"]
    assert "  t = 0.00:  (empty: <eos> first)" in lines and "  t = 0.50:  a c" in lines
    assert lines[-1] == "  x_b:       c c"
    assert (tmp_path / "s.txt").read_text() == text
    assert "<pre" in (tmp_path / "s.html").read_text()
