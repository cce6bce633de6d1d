"""The importance-weighted pass over a dataset that evaluation's metrics are computed from.

For every example it keeps the parameters of q(z|x) (after the method's refinement, if
any) and reduces K importance samples to log p_K(x) (Burda et al. 2016), drawing them
``chunk`` at a time so memory stays bounded.

Token data trained in length batches are evaluated in unshuffled length batches
(:func:`vae_tfp.training.feeds.evaluation_batches`), each sentence with the samples its
consecutive batch would draw: the numbers equal the padded ones up to float rounding, except
for a refined posterior (SA-VAE), whose refinement noise is drawn per batch.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from vae_tfp.data.buckets import LengthBatch
from vae_tfp.models import VAE
from vae_tfp.models.encoder import batch_noise, reparameterize
from vae_tfp.progress import format_duration

log = logging.getLogger(__name__)

# Folded into the evaluation seed for the noise of a posterior refinement (SA-VAE).
_REFINEMENT = 7919
# Folded into (seed, j) for the refinement noise of length batch j.
_LENGTH_BATCHES = 104729


class _ProgressLog:
    """Logs how far a pass of ``total`` steps is, at each tenth of them: the line
    ``importance sampling: <done>/<total> <unit>, elapsed H:MM:SS, ETA H:MM:SS`` that
    ``python -m vae_tfp status`` shows for a run being evaluated (the ETA extrapolates the
    mean step so far, the first one's compilation included)."""

    def __init__(self, total: int, unit: str):
        self.total, self.unit = total, unit
        self.started, self.tenths = time.perf_counter(), 0

    def done(self, steps: int) -> None:
        """Records that ``steps`` of the ``total`` are done; logs when a tenth is crossed."""
        if steps * 10 // self.total <= self.tenths:
            return
        self.tenths = steps * 10 // self.total
        elapsed = time.perf_counter() - self.started
        log.info(
            "importance sampling: %d/%d %s, elapsed %s, ETA %s",
            *(steps, self.total, self.unit, format_duration(elapsed)),
            format_duration(elapsed * (self.total - steps) / steps),
        )


def _chunk_sizes(total: int, chunk: int) -> list[int]:
    """Splits ``total`` samples into chunks of at most ``chunk``."""
    return [chunk] * (total // chunk) + ([total % chunk] if total % chunk else [])


def _reduce(log_w: tf.Tensor, log_px_z: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """A chunk's log-sum-exp of w and of w^2 and its sum of log p(x|z_k), each [B]."""
    return (
        tf.reduce_logsumexp(log_w, axis=0),
        tf.reduce_logsumexp(2.0 * log_w, axis=0),
        tf.reduce_sum(log_px_z, axis=0),
    )


def _combine(lse: list, lse2: list, rec_sum: np.ndarray, n_samples: int) -> dict:
    """log p_K(x), its delta-method variance and the mean rec from the chunks' parts."""
    log_mean_w = np.logaddexp.reduce(np.stack(lse), axis=0) - math.log(n_samples)
    log_mean_w2 = np.logaddexp.reduce(np.stack(lse2), axis=0) - math.log(n_samples)
    # Delta method: Var[log mean_k w_k] ~= (E[w^2] / E[w]^2 - 1) / K.
    relative_var = np.expm1(np.maximum(log_mean_w2 - 2.0 * log_mean_w, 0.0))
    return {
        "log_px": log_mean_w,
        "log_px_mc_var": relative_var / n_samples,
        "rec": rec_sum / n_samples,
    }


def importance_weighted_pass(
    model: VAE,
    x: np.ndarray,
    n_samples: int,
    chunk: int,
    batch_size: int,
    seed: int,
    batches: Sequence[LengthBatch] | None = None,
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
        batches: Length batches of token rows covering x (None: consecutive rows); row r
            gets the samples of consecutive batch r // batch_size either way.

    q(z|x) is the model's posterior after its method's refinement, if any (SA-VAE: the
    refined parameters of each batch, computed once and used by every chunk).

    Returns:
        ``loc``, ``log_var`` [N, d]; ``log_px`` [N] (the importance-weighted estimate of
        log p(x)); ``log_px_mc_var`` [N] (its Monte Carlo variance by the delta method,
        estimated from the same K weights); ``rec`` [N] (mean over the K samples of
        log p(x|z_k)); ``encoder_loc`` [N, d] (the encoder's means before a refinement,
        :meth:`vae_tfp.models.VAE.encoder_params`; ``loc`` itself without one).
    """

    if batches is not None:
        return _length_batch_pass(model, x, n_samples, chunk, batch_size, seed, batches)
    params_pass, encoder_pass, chunk_pass = _passes(model)
    out: dict[str, list[np.ndarray]] = {
        "loc": [],
        "log_var": [],
        "log_px": [],
        "log_px_mc_var": [],
        "rec": [],
        "encoder_loc": [],
    }
    starts = range(0, len(x), batch_size)
    progress = _ProgressLog(len(starts), "batches")
    for b, start in enumerate(starts):
        xb = tf.constant(x[start : start + batch_size])
        refinement_seed = tf.random.experimental.stateless_fold_in([seed, b], _REFINEMENT)
        loc, log_var = params_pass(xb, refinement_seed)
        # The encoder's means, before a refinement (au_encoder_variances).
        refined = model.posterior_refinement is not None
        out["encoder_loc"].append(encoder_pass(xb).numpy() if refined else loc.numpy())
        lse_parts, lse2_parts, rec_sum = [], [], 0.0
        for c, n in enumerate(_chunk_sizes(n_samples, chunk)):
            stateless_seed = tf.constant([seed, b * 100003 + c], tf.int32)
            lse, lse2, rec_part = chunk_pass(xb, loc, log_var, tf.constant(n), stateless_seed)
            lse_parts.append(lse.numpy().astype(np.float64))
            lse2_parts.append(lse2.numpy().astype(np.float64))
            rec_sum = rec_sum + rec_part.numpy().astype(np.float64)
        for key, value in _combine(lse_parts, lse2_parts, rec_sum, n_samples).items():
            out[key].append(value)
        out["loc"].append(loc.numpy())
        out["log_var"].append(log_var.numpy())
        progress.done(b + 1)
    return {key: np.concatenate(parts, axis=0) for key, parts in out.items()}


def _passes(model: VAE):
    """The compiled passes of :func:`importance_weighted_pass`: q(z|x)'s parameters, the
    encoder's means, and one chunk of K samples reduced by log-sum-exp."""

    @tf.function(autograph=False, reduce_retracing=True)
    def params_pass(xb, stateless_seed):
        return model.posterior_params(xb, seed=stateless_seed)

    @tf.function(autograph=False, reduce_retracing=True)
    def encoder_pass(xb):
        return model.encoder_params(xb)[0]

    @tf.function(autograph=False, reduce_retracing=True)
    def chunk_pass(xb, loc, log_var, n, stateless_seed):
        # q(z|x) from parameters computed once per batch: a refined one is the same in
        # every chunk.
        return _reduce(*model.log_weights(xb, loc, log_var, n, stateless_seed))

    return params_pass, encoder_pass, chunk_pass


def _length_batch_pass(
    model: VAE,
    x: np.ndarray,
    n_samples: int,
    chunk: int,
    batch_size: int,
    seed: int,
    batches: Sequence[LengthBatch],
) -> dict[str, np.ndarray]:
    """:func:`importance_weighted_pass` in length batches: q(z|x) of every row first, then
    chunk by chunk the consecutive batches' samples (:func:`batch_noise`), [n, N, d] at a
    time, reused in the length batches."""
    params_pass, encoder_pass, _ = _passes(model)

    @tf.function(autograph=False, reduce_retracing=True)
    def noise_chunk_pass(xb, loc, log_var, eps):
        return _reduce(*model.log_weights_at(xb, loc, log_var, reparameterize(loc, log_var, eps)))

    n_rows, d = len(x), model.latent_dim
    out = {key: np.empty((n_rows, d), np.float32) for key in ("loc", "log_var", "encoder_loc")}
    tokens = [tf.constant(batch.tokens(x)) for batch in batches]
    for j, (batch, xb) in enumerate(zip(batches, tokens, strict=True)):
        refinement_seed = tf.random.experimental.stateless_fold_in([seed, j], _LENGTH_BATCHES)
        loc, log_var = params_pass(xb, refinement_seed)
        refined = model.posterior_refinement is not None
        out["encoder_loc"][batch.rows] = encoder_pass(xb).numpy() if refined else loc.numpy()
        out["loc"][batch.rows], out["log_var"][batch.rows] = loc.numpy(), log_var.numpy()
    lse_parts, lse2_parts, rec_sum = [], [], np.zeros(n_rows)
    chunks = _chunk_sizes(n_samples, chunk)
    progress = _ProgressLog(len(chunks), f"chunks of {chunk} samples")
    for c, n in enumerate(chunks):

        def chunk_seed(b: int, c: int = c) -> tf.Tensor:  # as importance_weighted_pass's
            return tf.constant([seed, b * 100003 + c], tf.int32)

        eps = batch_noise(n_rows, batch_size, d, chunk_seed, n).numpy()  # [n, N, d]
        lse, lse2 = np.empty(n_rows), np.empty(n_rows)
        for batch, xb in zip(batches, tokens, strict=True):
            rows = batch.rows
            parts = noise_chunk_pass(xb, out["loc"][rows], out["log_var"][rows], eps[:, rows])
            lse[rows], lse2[rows] = parts[0].numpy(), parts[1].numpy()
            rec_sum[rows] += parts[2].numpy().astype(np.float64)
        lse_parts.append(lse)
        lse2_parts.append(lse2)
        progress.done(c + 1)
    return {**out, **_combine(lse_parts, lse2_parts, rec_sum, n_samples)}
