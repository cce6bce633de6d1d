"""Diagonal-Gaussian encoder q(z|x) = N(mu(x), diag(exp(log_var(x)))) on an MLP."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

tfd = tfp.distributions


# Hidden-layer activations the MLPs accept (Keras names); the config schema lists the same.
ACTIVATIONS = ("relu", "tanh", "elu", "softplus", "sigmoid")


def check_activation(name: str) -> None:
    """Raises ValueError naming ``name`` and the allowed activations unless it is one."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; allowed: {list(ACTIVATIONS)}")


def gaussian_posterior(loc: tf.Tensor, log_var: tf.Tensor) -> tfd.Distribution:
    """Returns N(loc, diag(exp(log_var))) as ``tfd.Independent(tfd.Normal)`` over the last axis."""
    return tfd.Independent(tfd.Normal(loc=loc, scale=tf.exp(0.5 * log_var)), 1)


def batch_noise(
    n_rows: int,
    batch_size: int,
    latent_dim: int,
    seed_of_batch: Callable[[int], tf.Tensor],
    n: int | None = None,
) -> tf.Tensor:
    """The standard-normal draws behind ``gaussian_posterior(loc, log_var).sample`` for
    consecutive batches of ``batch_size`` rows, batch b with the stateless seed
    ``seed_of_batch(b)``, joined along the rows: [n_rows, d] ([n, n_rows, d] with ``n``).

    ``tfd.Normal`` draws z = eps * scale + loc, so :func:`reparameterize` at these eps gives
    row r the z that its consecutive batch drew, however the rows are batched now (token
    data in length batches are scored with the noise of the padded batches).
    """
    parts = []
    for b, start in enumerate(range(0, n_rows, batch_size)):
        zeros = tf.zeros([min(batch_size, n_rows - start), latent_dim])
        standard = gaussian_posterior(zeros, zeros)  # scale exp(0) = 1: eps * 1 + 0 = eps
        sample_shape = () if n is None else (n,)
        parts.append(standard.sample(sample_shape, seed=seed_of_batch(b)))
    return tf.concat(parts, axis=-2)


def reparameterize(loc: tf.Tensor, log_var: tf.Tensor, eps: tf.Tensor) -> tf.Tensor:
    """z = eps * exp(log_var / 2) + loc, computed as ``tfd.Normal`` samples (``_sample_n``)."""
    return eps * tf.exp(0.5 * log_var) + loc


class GaussianEncoder(tf.Module):
    """MLP from flattened x to the mean and log-variance of a diagonal Gaussian q(z|x).

    Args:
        event_shape: Shape of one example.
        latent_dim: Dimension of z.
        hidden_units: Widths of the hidden layers.
        activation: Their activation, a Keras name (:data:`ACTIVATIONS`; ``"tanh"`` as
            Burda et al. 2016, Sec. 5.1).
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        latent_dim: int,
        hidden_units: Sequence[int] = (64, 64),
        activation: str = "relu",
    ):
        check_activation(activation)
        super().__init__(name="encoder")
        self.event_shape = tuple(int(d) for d in event_shape)
        self.latent_dim = int(latent_dim)
        self.hidden = [tf_keras.layers.Dense(int(u), activation=activation) for u in hidden_units]
        self.head = tf_keras.layers.Dense(2 * self.latent_dim)
        self.params(tf.zeros((1, *self.event_shape)))  # create the weights now

    def params(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns (loc, log_var), each [batch, latent_dim]."""
        h = tf.reshape(tf.cast(x, tf.float32), (-1, int(np.prod(self.event_shape))))
        for layer in self.hidden:
            h = layer(h)
        loc, log_var = tf.split(self.head(h), 2, axis=-1)
        return loc, log_var

    def posterior(self, x: tf.Tensor) -> tfd.Distribution:
        """Returns q(z|x) with batch shape [batch] and event shape [latent_dim]."""
        return gaussian_posterior(*self.params(x))
