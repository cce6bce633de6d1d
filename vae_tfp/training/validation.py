"""The per-epoch validation pass: single-sample ELBO, whole-set MI and active units.

Its numbers go to ``history.csv`` (``valid_*`` columns), choose the checkpoint (highest
``valid_elbo``) and drive the methods that watch validation (aggressive training's switch-off,
the plateau schedule). The MI here is the whole-set estimator of
:func:`vae_tfp.metrics.mutual_information` with one sample per example and without the
per-dimension marginals, which only the test evaluation computes: about 1 s for 10,000
examples and d = 32 on two cores (``benchmarks/speed.py``).
"""

from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from vae_tfp.metrics import active_units, mutual_information
from vae_tfp.models import VAE

# Validation diagnostics in history.csv (valid_au with Burda et al.'s threshold; the test
# metrics use the evaluation settings). The batch size only bounds memory.
VALID_AU_THRESHOLD = 0.01
VALID_BATCH_SIZE = 1000

_ENCODE_PASSES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def encode_dataset(model: VAE, x: np.ndarray, batch_size: int, seed: int) -> dict[str, np.ndarray]:
    """Single-sample rec, analytic kl_per_dim and posterior parameters for every row of x.

    The noise of batch b is the stateless seed (seed, b), so calls with the same arguments
    give the same numbers. The compiled pass is kept per model (tracing an LSTM or PixelCNN
    every epoch would cost more than the validation itself).
    """
    batch_pass = _ENCODE_PASSES.get(model)
    if batch_pass is None:

        @tf.function(reduce_retracing=True)
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


def validation_scores(
    model: VAE, valid: np.ndarray, batch_size: int, seed: int, au_threshold: float
) -> dict[str, float]:
    """``valid_elbo``, ``valid_rec``, ``valid_kl`` (one posterior sample per example, the
    same noise every epoch), ``valid_mi`` (one sample per example) and ``valid_au``."""
    encoded = encode_dataset(model, valid, batch_size, seed)
    kl = encoded["kl_per_dim"].sum(-1)
    mi, _ = mutual_information(encoded["loc"], encoded["log_var"], n_samples=1, seed=seed)
    au, _ = active_units(encoded["loc"], au_threshold)
    return {
        "valid_elbo": float(np.mean(encoded["rec"] - kl)),
        "valid_rec": float(np.mean(encoded["rec"])),
        "valid_kl": float(np.mean(kl)),
        "valid_mi": mi,
        "valid_au": au,
    }
