"""Collapse metrics as pure functions of arrays, in nats per example.

Inputs are the parameters of a diagonal-Gaussian posterior q(z|x_n) = N(loc_n, diag(exp(
log_var_n))) for the n = 1..N examples of an evaluation set, or importance log-weights.
Densities use TensorFlow Probability's NumPy substrate, so the estimators run on plain NumPy
arrays in float64 and can be tested and reused outside training.

The rate splits exactly (Hoffman & Johnson 2016, "ELBO surgery", eq. 2) into

    E_x KL(q(z|x) || p(z)) = I_q(x; z) + KL(q(z) || p(z)),   q(z) = E_x q(z|x),

which is why the suite reports ``kl``, ``mi`` and ``marginal_kl = kl - mi`` side by side.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from tensorflow_probability.substrates import numpy as tfp_np

tfd = tfp_np.distributions

# Elements of the [chunk, N, latent_dim] array built by mutual_information (~128 MB float64).
_MI_CHUNK_ELEMENTS = 2**24


def mean_and_standard_error(values: np.ndarray) -> tuple[float, float]:
    """Mean over examples and its standard error std / sqrt(n) (ddof=1; 0 when n = 1)."""
    values = np.asarray(values, np.float64)
    n = len(values)
    se = float(np.std(values, ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    return float(np.mean(values)), se


def gaussian_kl_per_dim(loc: np.ndarray, log_var: np.ndarray) -> np.ndarray:
    """Analytic KL(N(loc, exp(log_var)) || N(0, 1)) per example and dimension, [N, d]."""
    posterior = tfd.Normal(np.asarray(loc, np.float64), np.exp(0.5 * np.asarray(log_var, np.float64)))
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


def active_units(loc: np.ndarray, threshold: float = 0.01) -> tuple[int, np.ndarray]:
    """Active units (Burda et al. 2016, Sec. 5.2): dims with Cov_x(E_q[z_i|x]) > threshold.

    The variance over the evaluation set of each dimension's posterior mean uses ddof=1 (as
    He et al. 2019's code). The comparison is strict (``>``, Burda et al.); He et al.'s code
    uses ``>=``, which differs only for variances exactly at the threshold.

    Args:
        loc: Posterior means, [N, d].
        threshold: Variance threshold (0.01 in Burda et al.).

    Returns:
        (number of active units, per-dimension variances [d]) so other thresholds can be
        applied later.
    """
    variances = np.var(np.asarray(loc, np.float64), axis=0, ddof=1)
    return int(np.sum(variances > threshold)), variances


def _log_aggregate_posterior(z: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """log q(z) = log (1/N) sum_m q(z | x_m) for each row of z [M, d] -> [M], in chunks."""
    n, d = loc.shape
    chunk = max(1, _MI_CHUNK_ELEMENTS // (n * d))
    out = []
    for start in range(0, len(z), chunk):
        block = z[start : start + chunk, None, :]  # [c, 1, d]
        log_density = tfd.Normal(loc[None], scale[None]).log_prob(block).sum(-1)  # [c, N]
        out.append(logsumexp(log_density, axis=1) - np.log(n))
    return np.concatenate(out, axis=0)


def mutual_information(
    loc: np.ndarray,
    log_var: np.ndarray,
    n_samples: int = 10,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """I_q(x; z) with q(z) the mixture of the posteriors of the whole evaluation set.

    With x uniform over the N evaluation examples and q(z) = (1/N) sum_m q(z|x_m),

        I = (1/N) sum_n E_{z ~ q(z|x_n)} [log q(z|x_n) - log q(z)].

    Both terms are evaluated at the same ``n_samples`` draws z ~ q(z|x_n) per example (paired
    samples: the Monte Carlo error cancels where q(z|x_n) and q(z) agree, so an encoder that
    ignores x gives exactly 0), with q(z) evaluated exactly as the N-component mixture
    (log-sum-exp in chunks, so memory stays bounded). He et al. 2019 use the analytic
    entropy for the first term instead, which adds Monte Carlo noise of either sign.

    Bias: this is exactly the mutual information of the *empirical* joint (x uniform over the
    evaluation set), up to Monte Carlo error in z. As an estimate of I_q(x; z) under the data
    distribution it is the InfoNCE bound with critic log q(z|x) (van den Oord et al. 2018;
    Poole et al. 2019, eq. 12): a lower bound in expectation, never above log N, with a bias
    that shrinks as N grows. He et al. 2019 use the same formula within each minibatch (N =
    batch size), which is biased down more strongly; pass a minibatch to reproduce theirs.

    Args:
        loc: Posterior means, [N, d].
        log_var: Posterior log-variances, [N, d].
        n_samples: Draws z ~ q(z|x_n) per example.
        seed: Seed of the draws.

    Returns:
        (estimate in nats, per-example contributions [N]). The contributions share q(z), so
        they are not independent: their standard error is only indicative.
    """
    loc = np.asarray(loc, np.float64)
    log_var = np.asarray(log_var, np.float64)
    n, d = loc.shape
    scale = np.exp(0.5 * log_var)
    rng = np.random.default_rng(seed)
    z = loc[:, None, :] + scale[:, None, :] * rng.standard_normal((n, n_samples, d))
    log_qz_x = tfd.Normal(loc[:, None, :], scale[:, None, :]).log_prob(z).sum(-1)  # [N, S]
    log_qz = _log_aggregate_posterior(z.reshape(n * n_samples, d), loc, scale)
    contributions = (log_qz_x - log_qz.reshape(n, n_samples)).mean(1)
    return float(contributions.mean()), contributions
