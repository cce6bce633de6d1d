"""Model core: per-dimension KL against its closed form, shapes, likelihood types."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from vae_tfp.models import build_vae
from vae_tfp.models.decoders import build_decoder

tfd = tfp.distributions


def test_kl_per_dim_matches_closed_form_and_sums_to_kl():
    vae = build_vae(
        {"latent_dim": 3, "encoder_hidden_units": [8]},
        {"type": "mlp", "hidden_units": [8]},
        (5,),
        "binary",
    )
    x = tf.constant(np.random.default_rng(0).integers(0, 2, (4, 5)).astype(np.float32))
    out = vae.forward(x, tf.constant([1, 2], tf.int32))
    mu, log_var = out.loc.numpy(), out.log_var.numpy()
    closed_form = 0.5 * (mu**2 + np.exp(log_var) - 1.0 - log_var)
    np.testing.assert_allclose(out.kl_per_dim.numpy(), closed_form, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.kl.numpy(), out.kl_per_dim.numpy().sum(-1), rtol=1e-6)
    assert out.rec.shape == (4,) and out.kl_per_dim.shape == (4, 3)


def test_decoders_return_the_declared_likelihoods():
    z = tf.zeros((2, 3))
    binary = build_decoder({"type": "mlp"}, 3, (4,), "binary")(z)
    real = build_decoder({"type": "mlp"}, 3, (4,), "real")(z)
    linear = build_decoder({"type": "linear"}, 3, (4,), "real")(z)
    assert isinstance(binary.distribution, tfd.Bernoulli)
    assert isinstance(real.distribution, tfd.Normal) and isinstance(linear.distribution, tfd.Normal)
    for dist in (binary, real, linear):
        assert dist.event_shape == (4,) and dist.batch_shape == (2,)


def test_rec_is_the_decoder_log_prob_of_the_sample():
    """With a fixed seed, rec equals log p(x|z) at the z drawn from q(z|x) with that seed."""
    vae = build_vae({"latent_dim": 2, "encoder_hidden_units": []}, {"type": "linear"}, (3,), "real")
    x = tf.constant([[0.5, -1.0, 2.0]])
    seed = tf.constant([3, 4], tf.int32)
    out = vae.forward(x, seed)
    z = vae.encoder.posterior(x).sample(seed=seed)
    np.testing.assert_allclose(out.rec.numpy(), vae.decoder(z).log_prob(x).numpy(), rtol=1e-6)


def test_decoder_errors_name_the_problem():
    with pytest.raises(ValueError, match="linear decoder needs real-valued"):
        build_decoder({"type": "linear"}, 2, (4,), "binary")
    with pytest.raises(TypeError, match="hiden_units"):
        build_decoder({"type": "mlp", "hiden_units": [3]}, 2, (4,), "binary")
    with pytest.raises(KeyError, match="transformer"):
        build_decoder({"type": "transformer"}, 2, (4,), "binary")
