"""Training objectives other than the one-sample ELBO: the importance-weighted bound.

Burda, Grosse & Salakhutdinov (2016), eq. 8: with k samples z_1..z_k ~ q(z|x),

    L_k(x) = E[ log (1/k) sum_j p(x, z_j) / q(z_j|x) ],

a lower bound on log p(x) that rises with k (their Theorem 1) and equals the ELBO at k = 1.
Its gradient weights each sample's log-weight gradient by its normalized importance weight
(their code: iwae.py, gradIminibatch_srng); automatic differentiation of the bound gives
exactly that. The k = 1 case is the VAE of their code: one sample of
log p(x|z) + log p(z) - log q(z|x), i.e. the ELBO with the one-sample KL estimate
(``kl_estimator: sampled``).

Evaluation is unchanged: ``nll_iw`` uses its own K, whatever k trained the model.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from vae_tfp.declarations import hyperparameter
from vae_tfp.lazy import lazy_import
from vae_tfp.methods.base import Method

# Imported on first use: validating a config needs no TensorFlow.
tf = lazy_import("tensorflow")


def importance_weighted_bound(log_w: tf.Tensor) -> tf.Tensor:
    """log (1/k) sum_j w_j per example from log-weights [k, B] (Burda et al. 2016, eq. 8)."""
    k = tf.cast(tf.shape(log_w)[0], log_w.dtype)
    return tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(k)


@dataclasses.dataclass(frozen=True)
class IWAE(Method):
    """The importance weighted autoencoder (Burda et al. 2016, eq. 8): the training loss is
    -mean_batch L_k(x) with ``k`` samples per example (:func:`importance_weighted_bound`).

    The logged rec is the mean of log p(x|z_j) over the k samples and the logged KL the
    analytic one, so history.csv's ELBO stays the ELBO of the same q(z|x) (not L_k).
    There is no separate KL term to weight, floor or estimate: a composition with a
    ``kl_weight`` or ``kl_term`` part, or with ``kl_estimator: sampled``, is rejected.
    """

    name: ClassVar[str] = "iwae"
    role: ClassVar[str] = "objective"
    k: int = hyperparameter(
        5, description="importance samples per example in the training bound", minimum=1
    )

    def training_loss(
        self, model: Any, x: tf.Tensor, seed: tf.Tensor, step: tf.Tensor | int
    ) -> tuple[Any, tf.Tensor]:
        """The k-sample bound's loss and the one-q(z|x) quantities the loop logs."""
        from vae_tfp.models.vae import ForwardResult  # TensorFlow only when training

        del step
        refinement_seed = tf.random.experimental.stateless_fold_in(seed, 2)
        loc, log_var = model.posterior_params(x, training=True, seed=refinement_seed)
        log_w, log_px_z = model.log_weights(x, loc, log_var, self.k, seed, training=True)
        out = ForwardResult(
            rec=tf.reduce_mean(log_px_z, axis=0),
            kl_per_dim=model.kl_per_dim(loc, log_var),
            loc=loc,
            log_var=log_var,
        )
        return out, -tf.reduce_mean(importance_weighted_bound(log_w))
