"""A plugin registering a dataset and a decoder (tests/test_plugins.py runs them).

``prototypes``: binary vectors, each one of K random prototype patterns with every bit
flipped with probability ``flip`` (a mixture of product Bernoullis, so z has something to
encode). ``logistic``: a decoder p(x|z) = prod_d Bernoulli(sigmoid(A z + c)_d).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from vae_tfp.data.registry import DatasetSpec, register_dataset
from vae_tfp.data.store import PreparedData
from vae_tfp.models.decoder_types import register_decoder


def build_prototypes(
    data_seed: int, n_components: int = 4, dim: int = 16, flip: float = 0.05
) -> PreparedData:
    """600/100/200 examples of noisy copies of ``n_components`` random binary prototypes."""
    rng = np.random.default_rng(data_seed)
    prototypes = rng.integers(0, 2, size=(n_components, dim))
    labels = rng.integers(0, n_components, size=900)
    noise = rng.random((900, dim)) < flip
    x = np.abs(prototypes[labels] - noise).astype(np.float32)
    return PreparedData(
        name="prototypes",
        kind="binary",
        train=x[:600],
        valid=x[600:700],
        test=x[700:],
        options={"data_seed": data_seed, "n_components": n_components, "dim": dim, "flip": flip},
    )


register_dataset(
    DatasetSpec(
        name="prototypes",
        kind="binary",
        decoders=("mlp",),
        build=build_prototypes,
        description="noisy copies of random binary prototypes (a test plugin)",
        event_shape=(16,),
    )
)


class LogisticDecoder(tf.Module):
    """p(x|z) = prod_d Bernoulli(logits = A z + c): the decoder contract of vae_tfp."""

    def __init__(self, latent_dim, event_shape, kind, init_scale: float = 1.0):
        super().__init__(name="logistic_decoder")
        self.event_shape = tuple(int(d) for d in event_shape)
        self.dense = tf_keras.layers.Dense(
            int(np.prod(self.event_shape)),
            kernel_initializer=tf_keras.initializers.RandomNormal(stddev=init_scale),
        )
        self(tf.zeros((1, int(latent_dim))))

    def __call__(self, z):
        logits = tf.reshape(self.dense(z), tf.concat([tf.shape(z)[:-1], self.event_shape], 0))
        return tfp.distributions.Independent(
            tfp.distributions.Bernoulli(logits=logits, dtype=tf.float32),
            len(self.event_shape),
        )


register_decoder("logistic", LogisticDecoder, kinds=("binary",))
