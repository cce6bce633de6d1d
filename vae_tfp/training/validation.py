"""The per-epoch validation pass: single-sample ELBO, whole-set MI and active units.

Its numbers go to ``history.csv`` (``valid_*`` columns), choose the checkpoint (highest
``valid_elbo``) and drive the methods that watch validation (aggressive training's switch-off,
the plateau schedule). The MI here is the whole-set estimator of
:func:`vae_tfp.metrics.mutual_information` with one sample per example and without the
per-dimension marginals, which only the test evaluation computes: about 1 s for 10,000
examples and d = 32 on two cores (``benchmarks/speed.py``).

Token data trained in length batches are scored in unshuffled length batches
(:func:`vae_tfp.training.feeds.evaluation_batches`) with the noise the consecutive batches
would draw, so their numbers equal the padded ones up to float rounding (a sentence's loss
does not depend on its padding). A method that refines q(z|x) (SA-VAE) draws the
refinement's noise per batch, so its numbers agree only in distribution.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from vae_tfp.data.buckets import LengthBatch
from vae_tfp.metrics import active_units, he2019_calc_mi, mutual_information
from vae_tfp.models import VAE
from vae_tfp.models.encoder import batch_noise, reparameterize

# Validation diagnostics in history.csv (valid_au with Burda et al.'s threshold; the test
# metrics use the evaluation settings). The batch size only bounds memory.
VALID_AU_THRESHOLD = 0.01
VALID_BATCH_SIZE = 1000

_ENCODE_PASSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_NOISE_PASSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Folded into (seed, j) for the refinement noise of length batch j (none without one).
_LENGTH_BATCH_REFINEMENT = 104729


def encode_dataset(
    model: VAE,
    x: np.ndarray,
    batch_size: int,
    seed: int,
    batches: Sequence[LengthBatch] | None = None,
) -> dict[str, np.ndarray]:
    """Single-sample rec, analytic kl_per_dim and posterior parameters for every row of x.

    The noise of batch b is the stateless seed (seed, b), so calls with the same arguments
    give the same numbers. The compiled pass is kept per model (tracing an LSTM or PixelCNN
    every epoch would cost more than the validation itself).

    Args:
        model: The VAE.
        x: The examples.
        batch_size: Rows per batch (and of the batches whose noise length batches reuse).
        seed: Seed of the noise.
        batches: Length batches of token rows covering x, or None for consecutive rows;
            row r gets the noise of consecutive batch r // batch_size either way.
    """
    if batches is not None:
        return _encode_length_batches(model, x, batch_size, seed, batches)
    batch_pass = _ENCODE_PASSES.get(model)
    if batch_pass is None:

        @tf.function(autograph=False, reduce_retracing=True)
        def batch_pass(xb, stateless_seed):
            out = model.forward(xb, stateless_seed)
            return out.rec, out.kl_per_dim, out.loc, out.log_var

        _ENCODE_PASSES[model] = batch_pass
    parts = []
    for index, start in enumerate(range(0, len(x), batch_size)):
        xb = tf.constant(x[start : start + batch_size])
        parts.append([t.numpy() for t in batch_pass(xb, tf.constant([seed, index], tf.int32))])
    rec, kl_per_dim, loc, log_var = (np.concatenate(p, axis=0) for p in zip(*parts, strict=True))
    return {"rec": rec, "kl_per_dim": kl_per_dim, "loc": loc, "log_var": log_var}


def _encode_length_batches(
    model: VAE, x: np.ndarray, batch_size: int, seed: int, batches: Sequence[LengthBatch]
) -> dict[str, np.ndarray]:
    """:func:`encode_dataset` in length batches, z from the consecutive batches' noise."""
    noise_pass = _NOISE_PASSES.get(model)
    if noise_pass is None:

        @tf.function(autograph=False, reduce_retracing=True)
        def noise_pass(xb, eps, refinement_seed):
            loc, log_var = model.posterior_params(xb, seed=refinement_seed)
            rec = model.decoder(reparameterize(loc, log_var, eps)).log_prob(xb)
            return rec, model.kl_per_dim(loc, log_var), loc, log_var

        _NOISE_PASSES[model] = noise_pass

    def batch_seed(b: int) -> tf.Tensor:  # consecutive batch b's, as in encode_dataset
        return tf.constant([seed, b], tf.int32)

    eps = batch_noise(len(x), batch_size, model.latent_dim, batch_seed).numpy()
    out = {
        "rec": np.empty(len(x), np.float32),
        "kl_per_dim": np.empty((len(x), model.latent_dim), np.float32),
        "loc": np.empty((len(x), model.latent_dim), np.float32),
        "log_var": np.empty((len(x), model.latent_dim), np.float32),
    }
    for j, batch in enumerate(batches):
        refinement_seed = tf.constant([seed, _LENGTH_BATCH_REFINEMENT + j], tf.int32)
        parts = noise_pass(tf.constant(batch.tokens(x)), eps[batch.rows], refinement_seed)
        for key, part in zip(out, parts, strict=True):
            out[key][batch.rows] = part.numpy()
    return out


def selection_score(row: Mapping[str, float], kl_weight: float | None) -> float:
    """The validation number that selects the best epoch and drives the plateau rule
    (higher is better).

    Args:
        row: An epoch's validation scores (:func:`validation_scores`).
        kl_weight: None for the validation ELBO (the suite's rule); w for the objective
            ``valid_rec - w * valid_kl``, the validation loss of Li et al. 2019's
            ``text_beta.py`` (bohanli/vae-pretraining-encoder d59f91c: ``loss_rc + beta *
            loss_kl``), which with beta 0 selects an autoencoder on its reconstruction.

    Returns:
        ``valid_elbo``, or ``valid_rec - w * valid_kl``.
    """
    if kl_weight is None:
        return row["valid_elbo"]
    return row["valid_rec"] - kl_weight * row["valid_kl"]


def score_name(kl_weight: float | None) -> str:
    """What :func:`selection_score` is, in words: ``ELBO`` or ``objective rec - w * KL``."""
    return "ELBO" if kl_weight is None else f"objective rec - {kl_weight:g} * KL"


def validation_scores(
    model: VAE,
    valid: np.ndarray,
    batch_size: int,
    seed: int,
    au_threshold: float,
    batches: Sequence[LengthBatch] | None = None,
    mi_batches: Sequence[np.ndarray] | None = None,
    mi_batch_seed: int = 0,
) -> dict[str, float]:
    """``valid_elbo``, ``valid_rec``, ``valid_kl`` (one posterior sample per example, drawn
    from ``seed``), ``valid_mi`` (one sample per example), ``valid_mi_batch`` and
    ``valid_au``.

    Args:
        model: The VAE.
        valid: The validation examples.
        batch_size: Rows per batch of the pass (memory only).
        seed: Seed of the posterior samples (the trainer's is the same every epoch unless
            ``training.validation_noise`` is ``fresh``).
        au_threshold: Variance threshold of ``valid_au``.
        batches: Length batches for token data (:func:`encode_dataset`).
        mi_batches: Row indices of the batches within which ``valid_mi_batch`` mixes q(z|x)
            (He et al.'s ``calc_mi``, :func:`vae_tfp.metrics.he2019_calc_mi`); None:
            ``valid_mi_batch`` is NaN.
        mi_batch_seed: Seed of ``valid_mi_batch``'s draws (theirs are fresh each epoch).
    """
    encoded = encode_dataset(model, valid, batch_size, seed, batches)
    kl = encoded["kl_per_dim"].sum(-1)
    mi, _ = mutual_information(encoded["loc"], encoded["log_var"], n_samples=1, seed=seed)
    mi_batch = float("nan")
    if mi_batches is not None:
        mi_batch = he2019_calc_mi(encoded["loc"], encoded["log_var"], mi_batches, mi_batch_seed)
    au, _ = active_units(encoded["loc"], au_threshold)
    return {
        "valid_elbo": float(np.mean(encoded["rec"] - kl)),
        "valid_rec": float(np.mean(encoded["rec"])),
        "valid_kl": float(np.mean(kl)),
        "valid_mi": mi,
        "valid_mi_batch": mi_batch,
        "valid_au": au,
    }
