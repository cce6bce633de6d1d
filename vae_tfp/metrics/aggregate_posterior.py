"""Estimators of the aggregate posterior q(z) = E_x q(z|x): I_q(x; z), its upper bound
and KL(q(z) || p(z)), in nats per example, on the arrays of :mod:`vae_tfp.metrics.estimators`.

The rate splits exactly (Hoffman & Johnson 2016, "ELBO surgery", eq. 2) into

    E_x KL(q(z|x) || p(z)) = I_q(x; z) + KL(q(z) || p(z)),   q(z) = E_x q(z|x),

which is why the suite reports ``kl``, ``mi`` and ``marginal_kl = kl - mi`` side by side.
``mi`` cannot exceed log N on N examples, so the suite also reports an upper bound on the
information (``mi_upper``, Poole et al. 2019) and treats [mi, mi_upper] and
[kl - mi_upper, kl - mi] as brackets. The O(N^2) mixture densities are evaluated by
:mod:`vae_tfp.metrics.mixture_density`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import logsumexp

from vae_tfp.metrics.mixture_density import (
    _gaussian_log_density,
    _log_joint_mixtures,
    _log_marginal_mixtures,
)


def _posterior_samples(loc: np.ndarray, scale: np.ndarray, n_samples: int, seed: int) -> np.ndarray:
    """Draws z ~ q(z|x_n), ``n_samples`` per example: [N, S, d]."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((loc.shape[0], n_samples, loc.shape[1]))
    return loc[:, None, :] + scale[:, None, :] * noise


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
    evaluated exactly as the N-component mixture
    (:func:`vae_tfp.metrics.mixture_density._log_aggregate_posterior`: matrix products and a
    log-sum-exp in blocks, memory bounded; about 1 s for N = 10,000, one sample and d = 32
    on two cores, plus about 2.5 s per sample for the per-dimension marginals,
    ``benchmarks/speed.py``).
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
    be smaller) and :func:`mutual_information_in_batches` runs on them, as He et al.'s
    ``calc_mi`` loop does. Each term is at most log(batch size), so the estimate is biased
    down more than the whole-set estimate and grows with the batch size
    (``benchmarks/mi_bias.py``); tables that compare with published numbers must state the
    batch size.

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
    batches = consecutive_batches(len(loc), batch_size)
    return mutual_information_in_batches(loc, log_var, batches, n_samples, seed)


def consecutive_batches(n: int, batch_size: int) -> list[np.ndarray]:
    """Row indices of rows 0..n-1 cut into consecutive batches of ``batch_size`` (the last
    may be smaller)."""
    return [np.arange(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def mutual_information_in_batches(
    loc: np.ndarray,
    log_var: np.ndarray,
    batches: Sequence[np.ndarray],
    n_samples: int = 1,
    seed: int = 0,
) -> float:
    """I_q(x; z) with q(z) the mixture within each given batch of examples, averaged over
    the batches weighted by their sizes, as He et al. 2019's ``calc_mi`` loop does
    (jxhe/vae-lagging-encoder at cdc4eb9, ``text.py``), with the estimator of
    :func:`aggregate_posterior_metrics` in each batch. That estimator pairs the sampled
    log q(z|x) with log q(z) at the same draw, where theirs subtracts from the analytic
    entropy (:func:`he2019_calc_mi`): the same expectation, far less Monte Carlo noise.

    Args:
        loc: Posterior means, [N, d].
        log_var: Posterior log-variances, [N, d].
        batches: Row indices of each batch; together they cover every row once.
        n_samples: Draws per example (He et al. use 1).
        seed: Seed of the draws; batch b uses seed (seed, b).

    Returns:
        The estimate in nats.

    Raises:
        ValueError: If the batches do not cover each of the N rows exactly once.
    """
    _check_cover(batches, len(loc))
    total = 0.0
    for b, batch in enumerate(batches):
        seed_b = int(np.random.default_rng([seed, b]).integers(2**31))
        mi, _ = mutual_information(loc[batch], log_var[batch], n_samples, seed_b)
        total += mi * len(batch)
    return total / len(loc)


def he2019_calc_mi(
    loc: np.ndarray, log_var: np.ndarray, batches: Sequence[np.ndarray], seed: int
) -> float:
    """He et al. 2019's ``calc_mi`` term by term: in each batch, the analytic negative
    entropy of q(z|x) minus log q(z) at one draw z ~ q(z|x) per example, q(z) the mixture
    over the batch; averaged over the batches weighted by their sizes (jxhe/vae-lagging-
    encoder at cdc4eb9: ``Encoder.calc_mi`` in ``modules/encoders/encoder.py``, the loop
    ``calc_mi`` in ``text.py``).

    Its expectation is that of :func:`mutual_information_in_batches`, but the analytic
    entropy does not cancel the draw's noise: for a posterior that ignores x the estimate
    is 0.5 * mean_n sum_i (eps_ni^2 - 1), of standard deviation sqrt(d / (2 N)), and half
    the time negative. Aggressive training's switch-off compares it between epochs, so
    that noise is part of He et al.'s rule.

    Args:
        loc: Posterior means, [N, d].
        log_var: Posterior log-variances, [N, d].
        batches: Row indices of each batch; together they cover every row once.
        seed: Seed of the draws (theirs are fresh at every call).

    Returns:
        The estimate in nats.

    Raises:
        ValueError: If the batches do not cover each of the N rows exactly once.
    """
    _check_cover(batches, len(loc))
    rng = np.random.default_rng(seed)
    loc = np.asarray(loc, np.float64)
    log_var = np.asarray(log_var, np.float64)
    total = 0.0
    for batch in batches:
        mu, lv = loc[batch], log_var[batch]
        # E log q(z|x) of a diagonal Gaussian, -H = -0.5 sum(1 + log 2 pi + log var)
        neg_entropy = np.mean(-0.5 * (1.0 + np.log(2 * np.pi) + lv).sum(-1))
        scale = np.exp(0.5 * lv)
        z = mu + scale * rng.standard_normal(mu.shape)
        log_density = _gaussian_log_density(z[:, None], mu[None], scale[None]).sum(-1)  # [z, x]
        log_qz = logsumexp(log_density, axis=1) - np.log(len(batch))
        total += (neg_entropy - log_qz.mean()) * len(batch)
    return total / len(loc)


def _check_cover(batches: Sequence[np.ndarray], n: int) -> None:
    rows = np.concatenate([np.asarray(b, np.int64).ravel() for b in batches]) if batches else []
    if len(rows) != n or not np.array_equal(np.sort(rows), np.arange(n)):
        raise ValueError(f"the batches must cover each of the {n} rows exactly once")
