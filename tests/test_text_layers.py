"""The text models' parameterizations (vae_tfp.models.text_layers): he2019 is He et al.'s
and Li et al.'s layers and initialisation, keras is unchanged, and a bad name is refused."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from vae_tfp.models import build_vae
from vae_tfp.models.text_layers import TEXT_PARAMETERIZATIONS, text_parameterization

LATENT, VOCAB, WIDTH, HIDDEN = 4, 600, 8, 48


def _vae(parameterization: str, seed: int = 0):
    tf_keras.utils.set_random_seed(seed)
    return build_vae(
        {
            "latent_dim": LATENT,
            "encoder_embedding_size": 40,
            "encoder_hidden_size": HIDDEN,
            "encoder_parameterization": parameterization,
        },
        {
            "type": "lstm",
            "hidden_size": HIDDEN,
            "embedding_size": 40,
            "parameterization": parameterization,
        },
        (WIDTH,),
        "tokens",
        vocab_size=VOCAB,
    )


def _short_names(module) -> dict[str, np.ndarray]:
    """Variables by layer kind and weight name ("lstm/bias"), each kind's values joined."""
    values: dict[str, list[np.ndarray]] = {}
    for v in module.trainable_variables:
        layer, weight = v.name.split("/")[0], v.name.split("/")[-1].split(":")[0]
        kind = layer.rstrip("_0123456789")
        values.setdefault(f"{kind}/{weight}", []).append(v.numpy().ravel())
    return {k: np.concatenate(v) for k, v in values.items()}


def _assert_uniform_variance(values: np.ndarray, half_width: float):
    """The sample variance equals U(-a, a)'s, a²/3, within 5 Monte Carlo standard
    deviations: Var(x²) = E x⁴ - σ⁴ = a⁴/5 - a⁴/9 = 4a⁴/45."""
    variance = half_width**2 / 3
    sd = np.sqrt(4 * half_width**4 / 45 / values.size)
    assert abs(np.mean(values**2) - variance) < 5 * sd, (np.mean(values**2), variance, sd)


def test_he2019_draws_their_initialisation_on_their_layers():
    """Li et al.'s code (bohanli/vae-pretraining-encoder d59f91c, as He et al.'s at cdc4eb9):
    every parameter U(-0.01, 0.01), embeddings U(-0.1, 0.1), bias-free z-to-state and
    output layers, and PyTorch's two LSTM biases, each drawn on its own."""
    vae = _vae("he2019")
    for module in (vae.encoder, vae.decoder):
        weights = _short_names(module)
        assert not any(name.startswith("dense/bias") for name in weights)
        assert np.abs(weights["embedding/embeddings"]).max() <= 0.1
        _assert_uniform_variance(weights["embedding/embeddings"], 0.1)
        for name in (
            "rnn/kernel",
            "rnn/recurrent_kernel",
            "rnn/bias",  # no forget-gate bias at 1
            "rnn/recurrent_bias",
            "dense/kernel",
        ):
            assert np.abs(weights[name]).max() <= 0.01, name
            _assert_uniform_variance(weights[name], 0.01)
        np.testing.assert_array_equal(
            module.lstm.cell.bias.numpy(), weights["rnn/bias"] + weights["rnn/recurrent_bias"]
        )
    assert vae.decoder.initial_state.kernel.shape == (LATENT, HIDDEN)  # one W for h_0, c_0
    assert vae.decoder.head.bias is None and vae.encoder.head.bias is None


def test_he2019_lstm_biases_both_learn_as_pytorchs_bias_ih_and_bias_hh():
    """Both bias vectors receive the gates' gradient g: one SGD step moves the gates' offset
    by -2·lr·g (twice a single bias's step), and the clipping norm counts g twice."""
    decoder = _vae("he2019").decoder
    cell = decoder.lstm.cell
    x = tf.constant(np.random.default_rng(0).integers(4, VOCAB, (5, WIDTH)), tf.int32)
    z = tf.random.stateless_normal((5, LATENT), [3, 4])
    with tf.GradientTape() as tape:
        loss = -tf.reduce_sum(decoder.log_prob(x, z))
    variables = decoder.trainable_variables
    grads = tape.gradient(loss, variables)
    by_name = {v.name.split("/")[-1]: g for v, g in zip(variables, grads, strict=True)}
    g_ih, g_hh = by_name["bias:0"], by_name["recurrent_bias:0"]  # the decoder's one LSTM
    assert float(tf.norm(g_ih)) > 0
    np.testing.assert_array_equal(g_ih.numpy(), g_hh.numpy())
    before, lr = cell.bias.numpy(), 0.5
    tf_keras.optimizers.SGD(lr).apply_gradients(zip(grads, variables, strict=True))
    np.testing.assert_allclose(cell.bias.numpy() - before, -2 * lr * g_ih.numpy(), atol=1e-6)


def test_he2019_initial_state_is_tanh_of_one_projection():
    """c_0 = W z and h_0 = tanh(c_0) (He et al.'s dec_lstm.py: trans_linear, no bias)."""
    decoder = _vae("he2019").decoder
    z = tf.random.stateless_normal((3, LATENT), [1, 2])
    h0, c0 = decoder._state0(z)
    c_want = z.numpy() @ decoder.initial_state.kernel.numpy()
    np.testing.assert_allclose(c0.numpy(), c_want, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(h0.numpy(), np.tanh(c_want), rtol=1e-5, atol=1e-7)


def test_he2019_is_reproducible_and_draws_every_weight_anew():
    """The same seed gives the same weights; no two weights share a draw (an unseeded
    tf_keras initializer object returns the same values at every call)."""
    first, again, other = _vae("he2019", 0), _vae("he2019", 0), _vae("he2019", 1)
    for a, b, c in zip(
        first.trainable_variables, again.trainable_variables, other.trainable_variables, strict=True
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not np.array_equal(a.numpy(), c.numpy())
    starts = {tuple(v.numpy().ravel()[:4]) for v in first.trainable_variables}
    assert len(starts) == len(first.trainable_variables)


def test_keras_style_keeps_keras_defaults():
    """The default style builds what the layers' defaults build: forget-gate bias 1, zero
    dense biases, separate A and B for the initial state (earlier checkpoints load)."""
    vae = _vae("keras")
    cell = vae.decoder.lstm.cell
    np.testing.assert_array_equal(cell.bias.numpy()[HIDDEN : 2 * HIDDEN], 1.0)
    np.testing.assert_array_equal(vae.decoder.head.bias.numpy(), 0.0)
    assert vae.decoder.initial_state.kernel.shape == (LATENT, 2 * HIDDEN)


def test_unknown_parameterization_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown text parameterization 'pytorch'.*he2019"):
        text_parameterization("pytorch")
    assert sorted(TEXT_PARAMETERIZATIONS) == ["he2019", "keras"]
