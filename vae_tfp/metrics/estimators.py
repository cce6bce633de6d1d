"""Collapse metrics as pure functions of arrays, in nats per example.

Inputs are the parameters of a diagonal-Gaussian posterior q(z|x_n) = N(loc_n, diag(exp(
log_var_n))) for the n = 1..N examples of an evaluation set, or importance log-weights.
The estimators take and return plain NumPy arrays (float64), so they can be tested and
reused outside training; the O(N^2) mixture densities of the MI estimator run as TensorFlow
kernels (matrix products, XLA), everything else in NumPy and TensorFlow Probability's NumPy
substrate.

The rate splits exactly (Hoffman & Johnson 2016, "ELBO surgery", eq. 2) into

    E_x KL(q(z|x) || p(z)) = I_q(x; z) + KL(q(z) || p(z)),   q(z) = E_x q(z|x),

which is why the suite reports ``kl``, ``mi`` and ``marginal_kl = kl - mi`` side by side.
``mi`` cannot exceed log N on N examples, so the suite also reports an upper bound on the
information (``mi_upper``, Poole et al. 2019) and treats [mi, mi_upper] and
[kl - mi_upper, kl - mi] as brackets.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import logsumexp
from tensorflow_probability.substrates import numpy as tfp_np

tfd = tfp_np.distributions

# Elements of the largest block of densities log q(z|x_m) the MI kernels hold at once
# ([rows, N] float64 or [rows, d, N] float32: 64 MB at most).
_MI_BLOCK_ELEMENTS = 2**23
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
# Below shift - 80 nats the float32 sum of the marginal kernel may have underflowed (exp
# underflows at -87): such values are recomputed in float64.
_MARGINAL_UNDERFLOW = 80.0


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
    the *encoder's* means), which differs only for variances exactly at the threshold.
    Which means enter is the caller's choice: the suite's ``au`` takes the posterior the
    model uses (SA-VAE: the refined means), ``au_he2019`` the encoder's
    (:mod:`vae_tfp.evaluation.evaluate`).

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


def _posterior_samples(loc: np.ndarray, scale: np.ndarray, n_samples: int, seed: int) -> np.ndarray:
    """Draws z ~ q(z|x_n), ``n_samples`` per example: [N, S, d]."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((loc.shape[0], n_samples, loc.shape[1]))
    return loc[:, None, :] + scale[:, None, :] * noise


def _gaussian_log_density(z: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Elementwise log N(z; loc, scale^2) in float64 (arrays broadcast)."""
    u = (z - loc) / scale
    return -0.5 * u * u - np.log(scale) - _HALF_LOG_2PI


@functools.cache
def _mixture_kernels():
    """The two TensorFlow kernels of :func:`_log_aggregate_posterior`, compiled once per
    process (imported lazily: the estimators stay importable without building a graph).

    ``joint`` returns, for every point, the index of the mixture component with the highest
    log density and the sum over components of exp(log density - that peak), then the same
    two without the component the point leaves out (its own example's, for the leave-one-out
    mixture) when ``leave_one_out`` is set; ``marginals``
    returns, for every point and dimension, the sum of exp(log density - a per-dimension
    shift).
    """
    import tensorflow as tf

    def peak_and_mass(log_density):
        peak = tf.reduce_max(log_density, axis=1, keepdims=True)
        mass = tf.reduce_sum(tf.exp(log_density - peak), axis=1)
        return tf.argmax(log_density, axis=1, output_type=tf.int32), mass

    @tf.function(reduce_retracing=True)
    def joint(z, precision, shifted_mean, offset, left_out, leave_one_out: bool):
        # -2 log N(z; mu_m, diag sigma_m^2) = sum_i z_i^2/s2 - 2 z_i mu/s2 + const_m: BLAS.
        squared = tf.matmul(z * z, precision, transpose_b=True) - 2.0 * tf.matmul(
            z, shifted_mean, transpose_b=True
        )
        log_density = -0.5 * (squared + offset[None, :])
        if not leave_one_out:  # a Python flag: one trace each way
            return peak_and_mass(log_density)
        # The same densities without the component ``left_out`` of each row.
        own = tf.one_hot(left_out, tf.shape(offset)[0], on_value=True, off_value=False)
        others = tf.where(own, tf.constant(-np.inf, log_density.dtype), log_density)
        return (*peak_and_mass(log_density), *peak_and_mass(others))

    @tf.function(jit_compile=True, reduce_retracing=True)
    def marginals(z, loc_t, inverse_scale_t, shifted_log_norm_t):
        # One fused pass, no max: every log density is at most its component's log
        # normalizer, so shifting by the largest one per dimension keeps every term <= 0.
        u = (z[:, :, None] - loc_t[None]) * inverse_scale_t[None]  # [c, d, N], fused by XLA
        return tf.reduce_sum(tf.exp(shifted_log_norm_t[None] - 0.5 * u * u), axis=2)

    return joint, marginals


def _padded_blocks(z: np.ndarray, rows: int):
    """Yields (start, stop, block) over the rows of ``z``, the last block zero-padded to
    ``rows`` rows so every kernel call has the same shape (one trace, one XLA compile)."""
    for start in range(0, len(z), rows):
        block = z[start : start + rows]
        stop = start + len(block)
        if len(block) < rows:
            block = np.concatenate([block, np.zeros((rows - len(block), z.shape[1]), z.dtype)])
        yield start, stop, block


def _log_aggregate_posterior(
    z: np.ndarray, loc: np.ndarray, scale: np.ndarray, per_dim: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """log q(z) and, if asked, its one-dimensional marginals log q(z_i), for each row of z.

    q(z) = (1/N) sum_m q(z | x_m) over the N rows of ``loc``/``scale``, q(z_i) likewise with
    the one-dimensional factors. Evaluated in blocks of rows of z, so the largest array holds
    about ``_MI_BLOCK_ELEMENTS`` numbers whatever N is, as

        log q(z) = log q(z | x_m*) + log sum_m exp(log q(z|x_m) - log q(z|x_m*)) - log N

    with m* the component of highest density. The sum is computed in TensorFlow: for the
    joint density the squared Mahalanobis distances to all N components come from two matrix
    products (float64, BLAS) instead of an [M, N, d] array of elementwise densities; the
    one-dimensional marginals, which have no such shortcut (M N d densities), are computed
    in float32 by one XLA-fused kernel, each shifted by the largest log normalizer of its
    dimension (pairs whose float32 sum underflows are recomputed in float64). The peak term
    log q(z|x_m*) of the joint is recomputed in float64 with the same function as the
    per-example densities, and so is every marginal of a dimension whose posterior does not
    depend on x, so an encoder that ignores x gives exactly log q(z) = log q(z|x) and an MI
    of exactly 0; otherwise the float32 marginals have an absolute error of about 1e-6, and
    the joint agrees with the elementwise float64 computation to about 1e-12
    (tests/test_metrics.py checks both).

    Args:
        z: Points [M, d].
        loc: Component means [N, d].
        scale: Component standard deviations [N, d].
        per_dim: Also compute the one-dimensional marginals (the costly part: test
            evaluation needs them, the per-epoch validation does not).

    Returns:
        (log q(z) [M], log q(z_i) [M, d] or None).
    """
    log_qz, _ = _log_joint_mixtures(z, loc, scale)
    if not per_dim:
        return log_qz, None
    return log_qz, _log_marginal_mixtures(z, loc, scale)


def _log_joint_mixtures(
    z: np.ndarray, loc: np.ndarray, scale: np.ndarray, left_out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """log q(z) for each row of z and, if ``left_out`` is given, the leave-one-out mixture
    log q_{-m}(z) = log (1/(N-1)) sum_{j != m} q(z | x_j), m = ``left_out`` of the row.

    Both come from the same matrix products (:func:`_log_aggregate_posterior`); the
    leave-one-out sum is taken over the other components directly, not as q(z) minus the
    own term, which would cancel catastrophically exactly where the own component dominates
    (a rate far above log N).

    Args:
        z: Points [M, d].
        loc: Component means [N, d].
        scale: Component standard deviations [N, d].
        left_out: Component index left out of each row's mixture [M], or None.

    Returns:
        (log q(z) [M], log q_{-m}(z) [M] or None).

    Raises:
        ValueError: If a component is left out of a one-component mixture.
    """
    n, d = loc.shape
    if left_out is not None and n < 2:
        raise ValueError("the leave-one-out mixture needs at least 2 components")
    joint_kernel = _mixture_kernels()[0]
    variance = scale * scale
    precision = 1.0 / variance
    offset = np.sum(loc * loc * precision + np.log(variance), axis=1) + 2 * d * _HALF_LOG_2PI
    leave = np.zeros(len(z), np.int32) if left_out is None else left_out.astype(np.int32)
    log_qz, log_loo = np.empty(len(z)), np.empty(len(z))
    rows = max(1, min(len(z), _MI_BLOCK_ELEMENTS // n))
    for (start, stop, block), (_, _, leave_block) in zip(
        _padded_blocks(z, rows), _padded_blocks(leave[:, None], rows), strict=True
    ):
        out = joint_kernel(
            block, precision, loc * precision, offset, leave_block[:, 0], left_out is not None
        )
        out = [t.numpy()[: stop - start] for t in out]
        parts = ((out[:2], log_qz, n), (out[2:], log_loo, n - 1))
        for (peak, mass), target, count in parts[: len(out) // 2]:
            peak_density = _gaussian_log_density(block[: stop - start], loc[peak], scale[peak])
            target[start:stop] = peak_density.sum(-1) + np.log(mass) - np.log(count)
    return log_qz, (None if left_out is None else log_loo)


def _log_marginal_mixtures(z: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """log q(z_i) [M, d], the one-dimensional marginals of :func:`_log_aggregate_posterior`."""
    n, d = loc.shape
    marginal_kernel = _mixture_kernels()[1]
    log_norm = -np.log(scale) - _HALF_LOG_2PI  # [N, d]
    shift = log_norm.max(axis=0)  # [d]
    loc_t, inverse_scale_t = loc.T.astype(np.float32), (1.0 / scale).T.astype(np.float32)
    shifted_log_norm_t = (log_norm - shift).T.astype(np.float32)
    log_qz_i = np.empty(z.shape)
    rows = max(1, min(len(z), _MI_BLOCK_ELEMENTS // (n * d)))
    for start, stop, block in _padded_blocks(z, rows):
        mass = marginal_kernel(block.astype(np.float32), loc_t, inverse_scale_t, shifted_log_norm_t)
        with np.errstate(divide="ignore"):
            log_qz_i[start:stop] = shift + np.log(mass.numpy()[: stop - start].astype(np.float64))
    log_qz_i -= np.log(n)
    # A point far out in every component's tail underflows the float32 sum: those few
    # (point, dimension) pairs are recomputed by log-sum-exp in float64.
    for point, dim in zip(*np.nonzero(log_qz_i < shift - _MARGINAL_UNDERFLOW), strict=True):
        log_density = _gaussian_log_density(z[point, dim], loc[:, dim], scale[:, dim])
        log_qz_i[point, dim] = logsumexp(log_density) - np.log(n)
    # A dimension whose posterior does not depend on x has q(z_i) = q(z_i|x) exactly: the
    # same float64 function as log q(z_i|x), so its MI is exactly 0, not float32 noise.
    constant = np.all(loc == loc[0], axis=0) & np.all(scale == scale[0], axis=0)
    if np.any(constant):
        log_qz_i[:, constant] = _gaussian_log_density(
            z[:, constant], loc[:1, constant], scale[:1, constant]
        )
    return log_qz_i


def aggregate_posterior_metrics(
    loc: np.ndarray,
    log_var: np.ndarray,
    n_samples: int = 10,
    seed: int = 0,
    per_dim: bool = True,
    upper: bool = True,
) -> dict[str, np.ndarray | float | None]:
    """I_q(x; z), I_q(x; z_i) and KL(q(z) || p(z)), with q(z) the mixture over the set, and
    an upper bound on I_q(x; z).

    With x uniform over the N evaluation examples and q(z) = (1/N) sum_m q(z|x_m),

        mi          = (1/N) sum_n E_{z ~ q(z|x_n)} [log q(z|x_n) - log q(z)]
        mi_per_dim  = the same with the one-dimensional factors q(z_i|x_n) and q(z_i)
        marginal_kl = E_{z ~ q(z)} [log q(z) - log p(z)],   p = N(0, I)

    All three use the same ``n_samples`` draws z ~ q(z|x_n) per example, and log q(z) is
    evaluated exactly as the N-component mixture (:func:`_log_aggregate_posterior`: matrix
    products and a log-sum-exp in blocks, memory bounded; about 1 s for N = 10,000, one
    sample and d = 32 on two cores, plus about 2.5 s per sample for the per-dimension
    marginals, ``benchmarks/speed.py``).
    Paired samples make the Monte Carlo error cancel where q(z|x_n) and q(z) agree, so an
    encoder that ignores x gives exactly 0. (He et al. 2019 use the analytic entropy for the
    first term instead, which adds Monte Carlo noise of either sign.) In expectation over z,
    mi + marginal_kl equals the average analytic KL(q(z|x) || p(z)) exactly: the rate
    decomposition (Hoffman & Johnson 2016, eq. 2) holds for the empirical joint.

    Bias: ``mi`` is exactly the mutual information of the *empirical* joint (x uniform over
    the evaluation set), up to Monte Carlo error in z. As an estimate of I_q(x; z) under the
    data distribution it is the InfoNCE bound with critic q(z|x) (van den Oord et al. 2018;
    Poole et al. 2019, Sec. 2.3): a lower bound in expectation, never above log N, whose bias
    shrinks as N grows. Measured by ``benchmarks/mi_bias.py`` on ``linear_gaussian`` with the
    exact posterior (spectrum 2, 1, 0.5, 0; sigma 0.5; true I = 2.568 nats; 10 samples per
    example; mean of 20 evaluation sets): bias -0.84 nats at N = 10, -0.37 at 30, -0.15 at
    100, -0.07 at 300, -0.033 at 1,000 and -0.004 (+-0.005) at 3,000; the spread over
    evaluation sets is 0.08 nats at N = 100 and 0.02 at 3,000. The bias grows with the true
    I and approaches -(I - log N) once I nears log N. ``marginal_kl`` is biased upward by
    about the same amount (0.16 at N = 100, 0.009 at 3,000): the mixture is closer to each
    sample's own component than the population q(z) is. Per-dimension estimates need not
    sum to ``mi``.

    Upper bound: ``mi_upper`` is the leave-one-out bound of Poole et al. 2019 ("On
    Variational Bounds of Mutual Information", ICML 2019, arXiv:1905.06922), which uses the
    known q(z|x):

        mi_upper = (1/N) sum_n E_{z ~ q(z|x_n)} [log q(z|x_n) - log (1/(N-1)) sum_{m != n}
                   q(z|x_m)],

    the same draws as ``mi`` with each example's own component left out of the mixture. With
    x_1..x_N i.i.d. from the data distribution its expectation is at least the population
    I_q(x; z) (by Jensen, the leave-one-out mixture is an unbiased estimate of q(z)
    independent of z ~ q(z|x_n)); it has no ceiling, and it grows far above I_q(x; z) when
    the posteriors barely overlap (the rate well above log N), where ``mi`` meets its
    log N ceiling: then [mi, mi_upper] is a wide bracket, and ``kl - mi_upper`` <=
    KL(q(z) || p(z)) <= ``kl - mi`` is the bracket of the marginal KL (the lower end may be
    negative). Both ends meet the truth when the rate is small against log N
    (tests/test_metrics.py checks both regimes against the exact pPCA posterior). Measured
    by ``benchmarks/mi_bias.py`` (the setting above, 10 evaluation sets): the upper bound's
    bias is +1.8 nats at N = 10, +0.27 at 100, +0.08 at 300, +0.026 at 1,000 and +0.02 at
    3,000, against -0.85, -0.13, -0.07, -0.03 and -0.001 for ``mi``.

    Args:
        loc: Posterior means, [N, d].
        log_var: Posterior log-variances, [N, d].
        n_samples: Draws z ~ q(z|x_n) per example.
        seed: Seed of the draws.
        per_dim: Also estimate ``mi_per_dim`` (None otherwise): N M d one-dimensional
            densities against N M for the rest, so a diagnostic that needs only ``mi``
            (the per-epoch validation) leaves it out.
        upper: Also compute ``mi_upper`` (one more reduction over the same densities).

    Returns:
        ``mi`` (float), ``mi_upper`` (float; NaN when N < 2 or not asked), ``mi_per_dim``
        [d] or None, ``marginal_kl`` (float), ``mi_contributions`` [N] (per-example terms of
        ``mi``; they share q(z), so their spread gives only an indicative standard error)
        and ``mi_upper_contributions`` [N] or None, all in nats.
    """
    loc = np.asarray(loc, np.float64)
    log_var = np.asarray(log_var, np.float64)
    n, d = loc.shape
    scale = np.exp(0.5 * log_var)
    z = _posterior_samples(loc, scale, n_samples, seed)  # [N, S, d]
    log_qz_x = _gaussian_log_density(z, loc[:, None, :], scale[:, None, :])  # [N, S, d]
    flat_z = z.reshape(n * n_samples, d)
    own = np.repeat(np.arange(n), n_samples) if upper and n > 1 else None
    log_qz, log_qz_loo = _log_joint_mixtures(flat_z, loc, scale, own)
    log_qz = log_qz.reshape(n, n_samples)
    log_pz = _gaussian_log_density(z, 0.0, 1.0).sum(-1)  # [N, S]
    contributions = (log_qz_x.sum(-1) - log_qz).mean(1)
    per_dim_mi = None
    if per_dim:
        log_qz_i = _log_marginal_mixtures(flat_z, loc, scale).reshape(n, n_samples, d)
        per_dim_mi = (log_qz_x - log_qz_i).mean((0, 1))
    upper_contributions, mi_upper = None, float("nan")
    if log_qz_loo is not None:
        upper_contributions = (log_qz_x.sum(-1) - log_qz_loo.reshape(n, n_samples)).mean(1)
        mi_upper = float(upper_contributions.mean())
    return {
        "mi": float(contributions.mean()),
        "mi_upper": mi_upper,
        "mi_per_dim": per_dim_mi,
        "marginal_kl": float((log_qz - log_pz).mean()),
        "mi_contributions": contributions,
        "mi_upper_contributions": upper_contributions,
    }


def mutual_information(
    loc: np.ndarray, log_var: np.ndarray, n_samples: int = 10, seed: int = 0
) -> tuple[float, np.ndarray]:
    """I_q(x; z) over the whole evaluation set; see :func:`aggregate_posterior_metrics`.

    Returns:
        (estimate in nats, per-example contributions [N]).
    """
    result = aggregate_posterior_metrics(loc, log_var, n_samples, seed, per_dim=False, upper=False)
    return result["mi"], result["mi_contributions"]


def mutual_information_minibatch(
    loc: np.ndarray, log_var: np.ndarray, batch_size: int, n_samples: int = 1, seed: int = 0
) -> float:
    """He et al. 2019's estimator: I_q(x; z) with q(z) the mixture over each minibatch.

    The evaluation set is cut into consecutive minibatches of ``batch_size`` (the last may
    be smaller); the estimator of :func:`aggregate_posterior_metrics` runs inside each, and
    the results are averaged weighted by batch size, as in He et al.'s ``calc_mi`` loop.
    Each term is at most log(batch size), so the estimate is biased down more than the
    whole-set estimate and grows with the batch size (``benchmarks/mi_bias.py``, true I =
    2.568 nats, N = 2,000, one sample: 1.95 at batch 16, 2.35 at 64, 2.50 at 256); tables
    that compare with published numbers must state the batch size.

    Args:
        loc: Posterior means, [N, d].
        log_var: Posterior log-variances, [N, d].
        batch_size: Examples per minibatch (>= 1).
        n_samples: Draws per example (He et al. use 1).
        seed: Seed of the draws; minibatch b uses seed (seed, b).

    Returns:
        The estimate in nats.

    Raises:
        ValueError: If ``batch_size`` < 1.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    total, n = 0.0, len(loc)
    for b, start in enumerate(range(0, n, batch_size)):
        rows = slice(start, start + batch_size)
        seed_b = int(np.random.default_rng([seed, b]).integers(2**31))
        mi, _ = mutual_information(loc[rows], log_var[rows], n_samples, seed_b)
        total += mi * len(loc[rows])
    return total / n


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
