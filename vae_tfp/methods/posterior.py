"""Posterior transforms: methods that reshape q(z|x) itself rather than the objective.

A transform is a ``tf.Module`` called as ``transform(loc, log_var, training) -> (loc,
log_var)`` between the encoder and every use of q(z|x) (training, validation, evaluation),
so its constraint holds for the distribution the metrics are computed on.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras

from vae_tfp.methods.bounds import committed_variance


class BatchNormMeans(tf.Module):
    """BN-VAE (Zhu et al. 2020, "A Batch Normalized Inference Network Keeps the KL Vanishing
    Away", eq. 6): batch normalization of the posterior means with a fixed scale gamma and a
    learned shift beta_i,

        mu'_i = gamma * (mu_i - mean_batch mu_i) / sqrt(var_batch mu_i + eps) + beta_i.

    Over a training batch each mu'_i has mean beta_i and variance gamma^2 (up to eps), so
    E_batch[mu'_i^2] = gamma^2 + beta_i^2 and, since sigma^2 - log sigma^2 - 1 >= 0, the
    batch-mean KL of every dimension is at least gamma^2 / 2 (Zhu et al., eq. 7). Outside
    training (validation, evaluation) the moving averages of the training batches' statistics
    are used: Keras BatchNormalization with momentum ``momentum``, updated inside the
    compiled train step as m <- momentum m + (1 - momentum) batch statistic
    (tests/test_method_training.py checks both).

    The bound holds only while Var_batch(mu_i) is large against eps: the normalized means
    have variance gamma^2 Var / (Var + eps), so an encoder that shrinks the spread of its raw
    means below eps escapes it. This happens on markov_mixture x lstm (config/full.yaml):
    the training KL falls from 0.25-0.32 to 0.005 nats against the bound 4 x 0.18, and the
    runs collapse (docs/methods.md, "Methods side by side").

    Args:
        latent_dim: Dimension of z.
        gamma: The fixed scale (> 0).
        momentum: Momentum of the moving statistics used outside training (the method's
            declared hyper-parameter; 0.99 by default).
    """

    def __init__(self, latent_dim: int, gamma: float, momentum: float = 0.99):
        super().__init__(name="bn_means")
        self.gamma = float(gamma)
        self.normalize = tf_keras.layers.BatchNormalization(
            momentum=momentum, epsilon=1e-5, center=False, scale=False
        )
        self.shift = tf.Variable(tf.zeros(latent_dim), name="beta")
        self.normalize(tf.zeros((1, latent_dim)), training=False)  # create the statistics

    def __call__(
        self, loc: tf.Tensor, log_var: tf.Tensor, training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor]:
        return self.gamma * self.normalize(loc, training=training) + self.shift, log_var


class CommittedRate(tf.Module):
    """delta-VAE committed rate for a factorized Gaussian posterior and N(0, 1) prior
    (Razavi et al. 2019, "Preventing Posterior Collapse with delta-VAEs", Sec. 3.1).

    Each posterior variance is squashed into [min_variance, v_delta] with
    v_delta = :func:`committed_variance` (delta), so every dimension's KL is at least delta
    for every input, whatever the mean:

        var = min_variance + (v_delta - min_variance) * sigmoid(raw log-variance output).

    Args:
        delta: The committed rate per dimension, nats (> 0).
        min_variance: Lower end of the interval (numerical floor, < v_delta).
    """

    def __init__(self, delta: float, min_variance: float = 1e-4):
        super().__init__(name="committed_rate")
        self.max_variance = committed_variance(delta)
        if not 0 < min_variance < self.max_variance:
            raise ValueError(
                f"min_variance must be in (0, {self.max_variance:.4g}) for delta={delta}, "
                f"got {min_variance}"
            )
        self.min_variance = float(min_variance)

    def __call__(
        self, loc: tf.Tensor, log_var: tf.Tensor, training: bool = False
    ) -> tuple[tf.Tensor, tf.Tensor]:
        del training
        span = self.max_variance - self.min_variance
        return loc, tf.math.log(self.min_variance + span * tf.sigmoid(log_var))
