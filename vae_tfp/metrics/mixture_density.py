"""The density of the aggregate posterior q(z) = (1/N) sum_m q(z|x_m) and of its
one-dimensional marginals at many points, for the estimators of
:mod:`vae_tfp.metrics.aggregate_posterior`.

The O(N^2) mixture densities run as TensorFlow kernels (matrix products, XLA), in blocks of
points so the memory they hold is bounded whatever N is; the rest is NumPy in float64.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy.special import logsumexp

# Elements of the largest block of densities log q(z|x_m) the MI kernels hold at once
# ([rows, N] float64 or [rows, d, N] float32: 64 MB at most).
_MI_BLOCK_ELEMENTS = 2**23
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
# Below shift - 80 nats the float32 sum of the marginal kernel may have underflowed (exp
# underflows at -87): such values are recomputed in float64.
_MARGINAL_UNDERFLOW = 80.0


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

    @tf.function(autograph=False, reduce_retracing=True)
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

    @tf.function(autograph=False, jit_compile=True, reduce_retracing=True)
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
