"""The importance-weighted pass over a dataset that evaluation's metrics are computed from.

For every example it keeps the parameters of q(z|x) (after the method's refinement, if
any) and reduces K importance samples to log p_K(x) (Burda et al. 2016), drawing them
``chunk`` at a time so memory stays bounded.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from vae_tfp.models import VAE

# Folded into the evaluation seed for the noise of a posterior refinement (SA-VAE).
_REFINEMENT = 7919


def _chunk_sizes(total: int, chunk: int) -> list[int]:
    """Splits ``total`` samples into chunks of at most ``chunk``."""
    return [chunk] * (total // chunk) + ([total % chunk] if total % chunk else [])


def importance_weighted_pass(
    model: VAE, x: np.ndarray, n_samples: int, chunk: int, batch_size: int, seed: int
) -> dict[str, np.ndarray]:
    """Posterior parameters, log p_K(x) and the Monte Carlo rec for every row of ``x``.

    Memory is bounded by ``batch_size * chunk`` decoder evaluations at a time: the
    log-weights of each chunk are reduced by log-sum-exp before the next chunk is drawn.

    Args:
        model: A trained VAE.
        x: Examples [N, ...].
        n_samples: K, the number of importance samples per example.
        chunk: Samples drawn at once.
        batch_size: Examples per batch.
        seed: Seed of the samples; batch b, chunk c use the stateless seed (seed, b, c), a
            posterior refinement fold_in((seed, b), 7919).

    q(z|x) is the model's posterior after its method's refinement, if any (SA-VAE: the
    refined parameters of each batch, computed once and used by every chunk).

    Returns:
        ``loc``, ``log_var`` [N, d]; ``log_px`` [N] (the importance-weighted estimate of
        log p(x)); ``log_px_mc_var`` [N] (its Monte Carlo variance by the delta method,
        estimated from the same K weights); ``rec`` [N] (mean over the K samples of
        log p(x|z_k)); ``encoder_loc`` [N, d] (the encoder's means before a refinement,
        :meth:`vae_tfp.models.VAE.encoder_params`; ``loc`` itself without one).
    """

    @tf.function(reduce_retracing=True)
    def params_pass(xb, stateless_seed):
        return model.posterior_params(xb, seed=stateless_seed)

    @tf.function(reduce_retracing=True)
    def encoder_pass(xb):
        return model.encoder_params(xb)[0]

    @tf.function(reduce_retracing=True)
    def chunk_pass(xb, loc, log_var, n, stateless_seed):
        # q(z|x) from parameters computed once per batch: a refined one is the same in
        # every chunk.
        log_w, log_px_z = model.log_weights(xb, loc, log_var, n, stateless_seed)
        return (
            tf.reduce_logsumexp(log_w, axis=0),
            tf.reduce_logsumexp(2.0 * log_w, axis=0),
            tf.reduce_sum(log_px_z, axis=0),
        )

    out: dict[str, list[np.ndarray]] = {
        "loc": [],
        "log_var": [],
        "log_px": [],
        "log_px_mc_var": [],
        "rec": [],
        "encoder_loc": [],
    }
    for b, start in enumerate(range(0, len(x), batch_size)):
        xb = tf.constant(x[start : start + batch_size])
        refinement_seed = tf.random.experimental.stateless_fold_in([seed, b], _REFINEMENT)
        loc, log_var = params_pass(xb, refinement_seed)
        # The encoder's means, before a refinement (He et al. 2019 count AU on these).
        refined = model.posterior_refinement is not None
        out["encoder_loc"].append(encoder_pass(xb).numpy() if refined else loc.numpy())
        lse_parts, lse2_parts, rec_sum = [], [], 0.0
        for c, n in enumerate(_chunk_sizes(n_samples, chunk)):
            stateless_seed = tf.constant([seed, b * 100003 + c], tf.int32)
            lse, lse2, rec_part = chunk_pass(xb, loc, log_var, tf.constant(n), stateless_seed)
            lse_parts.append(lse.numpy().astype(np.float64))
            lse2_parts.append(lse2.numpy().astype(np.float64))
            rec_sum = rec_sum + rec_part.numpy().astype(np.float64)
        log_mean_w = np.logaddexp.reduce(np.stack(lse_parts), axis=0) - math.log(n_samples)
        log_mean_w2 = np.logaddexp.reduce(np.stack(lse2_parts), axis=0) - math.log(n_samples)
        # Delta method: Var[log mean_k w_k] ~= (E[w^2] / E[w]^2 - 1) / K.
        relative_var = np.expm1(np.maximum(log_mean_w2 - 2.0 * log_mean_w, 0.0))
        out["log_px_mc_var"].append(relative_var / n_samples)
        log_px = log_mean_w
        out["loc"].append(loc.numpy())
        out["log_var"].append(log_var.numpy())
        out["log_px"].append(log_px)
        out["rec"].append(rec_sum / n_samples)
    return {key: np.concatenate(parts, axis=0) for key, parts in out.items()}
