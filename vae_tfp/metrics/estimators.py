"""Collapse metrics as pure functions of arrays, in nats per example.

Inputs are the parameters of a diagonal-Gaussian posterior q(z|x_n) = N(loc_n, diag(exp(
log_var_n))) for the n = 1..N examples of an evaluation set, or importance log-weights.
The estimators take and return plain NumPy arrays (float64), so they can be tested and
reused outside training; they run in NumPy and TensorFlow Probability's NumPy substrate.
This module holds the closed-form and per-example estimators; the estimators of the
aggregate posterior q(z) = E_x q(z|x) (``mi``, ``mi_upper``, ``marginal_kl``) are in
:mod:`vae_tfp.metrics.aggregate_posterior`, the mixture densities they evaluate in
:mod:`vae_tfp.metrics.mixture_density`.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from tensorflow_probability.substrates import numpy as tfp_np

tfd = tfp_np.distributions


def mean_and_standard_error(values: np.ndarray) -> tuple[float, float]:
    """Mean over examples and its standard error std / sqrt(n) (ddof=1; 0 when n = 1)."""
    values = np.asarray(values, np.float64)
    n = len(values)
    se = float(np.std(values, ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    return float(np.mean(values)), se


def gaussian_kl_per_dim(loc: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """Analytic KL(N(loc, exp(log_var)) || N(0, 1)) per example and dimension, [N, d]."""
    posterior = tfd.Normal(
        np.asarray(loc, np.float64), np.exp(0.5 * np.asarray(log_var, np.float64))
    )
    return tfd.kl_divergence(posterior, tfd.Normal(0.0, 1.0))


def iw_log_likelihood(log_weights: np.ndarray) -> np.ndarray:
    """Importance-weighted estimate of log p(x) per example (Burda et al. 2016, eq. 8).

        log p_K(x) = log (1/K) sum_k exp(log w_k),  log w_k = log p(x, z_k) - log q(z_k|x),

    with z_k ~ q(z|x) i.i.d. Its expectation is a lower bound on log p(x) that increases with
    K and is exact for every K when q(z|x) = p(z|x). ``nll_iw`` is its negative.

    Args:
        log_weights: Array [N, K].

    Returns:
        Array [N].
    """
    log_weights = np.asarray(log_weights, np.float64)
    return logsumexp(log_weights, axis=1) - np.log(log_weights.shape[1])


def active_units(
    loc: np.ndarray, threshold: float = 0.01, strict: bool = True
) -> tuple[int, np.ndarray]:
    """Active units (Burda et al. 2016, Sec. 5.2): dims with Cov_x(E_q[z_i|x]) > threshold.

    The variance over the evaluation set of each dimension's posterior mean uses ddof=1 (as
    He et al. 2019's code). The comparison is strict (``>``, Burda et al.) by default; He et
    al. 2019's code counts ``>=`` (``calc_au`` in ``image.py`` and ``text.py`` of
    jxhe/vae-lagging-encoder at commit cdc4eb9d9599a026bf277db74efc2ba1ec203b15:
    ``(au_var >= delta).sum()``, ``au_var`` the ddof-1 variance of ``model.encode_stats``,
    the encoder's means), which differs only for variances exactly at the threshold. Their
    SA-VAE scripts count the refined means (``calc_au`` through ``encoder.sa_forward`` in
    ``text_sa.py`` and ``image_sa.py``, branch sa-vae, 66b3018). Which means enter is the
    caller's choice: the suite's ``au`` and ``au_he2019`` take the posterior the model uses
    (SA-VAE: the refined means; :mod:`vae_tfp.evaluation.evaluate`).

    Args:
        loc: Posterior means, [N, d].
        threshold: Variance threshold (0.01 in Burda et al. and He et al.).
        strict: Count ``variance > threshold`` (Burda et al.); False counts ``>=``
            (He et al. 2019's code).

    Returns:
        (number of active units, per-dimension variances [d]) so other thresholds can be
        applied later.
    """
    variances = np.var(np.asarray(loc, np.float64), axis=0, ddof=1)
    return count_active(variances, threshold, strict), variances


def count_active(variances: np.ndarray, threshold: float = 0.01, strict: bool = True) -> int:
    """How many per-dimension variances of :func:`active_units` pass the threshold
    (``>`` if ``strict``, Burda et al. 2016; ``>=`` otherwise, He et al. 2019's code)."""
    variances = np.asarray(variances, np.float64)
    passed = variances > threshold if strict else variances >= threshold
    return int(np.sum(passed))


def bits_per_dim(nll_nats: float, n_dims: int) -> float:
    """Converts a negative log-likelihood in nats per example to bits per data dimension."""
    return nll_nats / (n_dims * np.log(2.0))


def perplexity(nll_per_example: np.ndarray, tokens_per_example: np.ndarray) -> float:
    """Corpus perplexity exp(sum_n NLL_n / sum_n T_n) from per-sentence NLLs in nats.

    Token count convention (as in Bowman et al. 2016 and He et al. 2019): T_n counts every
    word of sentence n plus its end-of-sentence token; the start token is not predicted and
    not counted.

    Args:
        nll_per_example: Negative log-likelihood of each sentence, nats.
        tokens_per_example: T_n for each sentence.

    Raises:
        ValueError: If the token counts are not positive.
    """
    tokens = np.asarray(tokens_per_example, np.float64)
    if np.any(tokens < 1):
        raise ValueError("every example must count at least one token (its end-of-sentence)")
    return float(np.exp(np.sum(nll_per_example) / np.sum(tokens)))
