"""Methods: KL weights at chosen steps, free-bits gradients, and config errors."""

import numpy as np
import pytest
import tensorflow as tf

from vae_tfp.methods import METHODS, build_method
from vae_tfp.methods.schedules import linear_warmup


@pytest.mark.parametrize(
    ("step", "beta0", "warmup", "expected"),
    [
        (0, 0.0, 1000, 0.0),
        (500, 0.0, 1000, 0.5),
        (1000, 0.0, 1000, 1.0),
        (1001, 0.0, 1000, 1.0),
        (10**7, 0.0, 1000, 1.0),
        (0, 0.2, 100, 0.2),
        (50, 0.2, 100, 0.6),
        (5, 0.3, 0, 1.0),
    ],
)
def test_linear_warmup_values(step, beta0, warmup, expected):
    assert float(linear_warmup(step, beta0, warmup)) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("options", "step", "weight"),
    [
        ({"method": "vanilla"}, 123, 1.0),
        ({"method": "beta", "beta": 0.5}, 0, 0.5),
        ({"method": "beta", "beta": 4.0}, 99, 4.0),
        ({"method": "kl_anneal", "beta0": 0.0, "warmup_steps": 10}, 5, 0.5),
        ({"method": "free_bits", "lambda": 0.25}, 7, 1.0),
    ],
)
def test_kl_weights(options, step, weight):
    assert float(build_method(options).kl_weight(step)) == pytest.approx(weight)


def test_weighted_loss_is_minus_rec_plus_weighted_kl():
    rec = tf.constant([-3.0, -5.0])
    kl_per_dim = tf.constant([[1.0, 2.0], [3.0, 0.0]])
    loss = build_method({"method": "beta", "beta": 2.0}).loss(rec, kl_per_dim, 0)
    assert float(loss) == pytest.approx(4.0 + 2.0 * 3.0)


def test_free_bits_floor_applies_to_batch_mean_kl_per_dimension():
    kl_per_dim = tf.Variable([[0.1, 2.0], [0.3, 4.0]])
    method = build_method({"method": "free_bits", "lambda": 0.5})
    with tf.GradientTape() as tape:
        term = method.kl_term(kl_per_dim, 0)
    # dim 0: batch mean 0.2 < 0.5 -> floor 0.5; dim 1: batch mean 3.0 > 0.5.
    assert float(term) == pytest.approx(0.5 + 3.0)
    grad = tape.gradient(term, kl_per_dim).numpy()
    np.testing.assert_allclose(grad[:, 0], 0.0)  # zero under the floor
    with tf.GradientTape() as tape:
        plain = build_method({"method": "vanilla"}).kl_term(kl_per_dim, 0)
    np.testing.assert_allclose(grad[:, 1], tape.gradient(plain, kl_per_dim).numpy()[:, 1])


def test_bad_method_configs_are_named():
    with pytest.raises(KeyError, match="vanila"):
        build_method({"method": "vanila"})
    with pytest.raises(TypeError, match="lamda"):
        build_method({"method": "free_bits", "lamda": 0.5})
    with pytest.raises(ValueError, match="beta must be >= 0"):
        build_method({"method": "beta", "beta": -1.0})
    with pytest.raises(ValueError, match="beta0"):
        build_method({"method": "kl_anneal", "beta0": 1.5})


def test_registry_names():
    assert set(METHODS) == {
        "vanilla", "beta", "kl_anneal", "cyclical", "free_bits", "free_bits_example",
        "kl_threshold", "aggressive", "bn_vae", "delta_vae", "pretrain_fb",
    }
