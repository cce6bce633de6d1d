"""The collapse verdict: which latent dimensions carry information about x.

The active-unit count (Burda et al. 2016, Sec. 5.2) asks whether the posterior mean of z_i
moves with x: Var_x E_q[z_i|x] > 0.01. It counts noise-level units: a dimension whose mean
wiggles by 0.1 while its posterior variance stays near 1 is "active" and carries about
0.005 nats. The per-dimension mutual information I_q(x; z_i) (``mi_per_dim``) measures what
the dimension says about x, so each dimension gets one of three verdicts:

- ``informative``: I_q(x; z_i) > the informative threshold (nats);
- ``active_uninformative``: AU counts it, its information is below the threshold;
- ``collapsed``: neither.

A run is ``collapsed`` when no dimension is informative, ``partial`` when some but not all
are, ``uncollapsed`` when all are.

The threshold follows the estimator's noise at the run's test-set size N and samples per
example S (:func:`informative_threshold`): it is the information at which the per-dimension
estimate's Monte Carlo standard deviation is :data:`INFORMATIVE_RELATIVE_STD` (10%) of the
value, 2 / (N S r^2) nats: 0.056 on digits (N = 359, S = 10; the constant 0.05 used before
was calibrated there), 0.010 at N = 2,000 and 0.002 on MNIST's N = 10,000.
A config's ``report.informative_mi`` replaces it by one fixed number. docs/posterior-collapse.md
and ``benchmarks/mi_per_dim_noise.py`` give the measurements behind it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

INFORMATIVE = "informative"
ACTIVE_UNINFORMATIVE = "active_uninformative"
COLLAPSED = "collapsed"
# r of informative_threshold: the estimate resolves the threshold to 10% (1/r = 10 Monte
# Carlo standard deviations above 0); 2 / (N S r^2) = 0.056 nats on digits (N = 359,
# S = 10), where the former constant threshold 0.05 was calibrated.
INFORMATIVE_RELATIVE_STD = 0.1


def mi_per_dim_mc_std(mi: float | np.ndarray, n_test: int, n_samples: int) -> np.ndarray:
    """Monte Carlo standard deviation of a per-dimension estimate of I_q(x; z_i), test set fixed.

    The estimator (:func:`vae_tfp.metrics.aggregate_posterior_metrics`) averages N S terms
    t = log q(z_i|x_n) - log q(z_i) over S draws z_i ~ q(z_i|x_n) per example. For a
    dimension with little information, q(z_i|x_n) is a small perturbation of q(z_i): to
    first order t is the score of q(z_i|x_n) times that perturbation, whose variance is
    twice the information (I = E KL(q(z_i|x)||q(z_i)) ~ 0.5 E[perturbation' F perturbation],
    F the Fisher information; Var t ~ E[perturbation' F perturbation]). The draws are
    independent given the test set, so

        std ~ sqrt(2 I / (N S)).

    Exact to first order in I; at larger I it overestimates slightly (measured by
    tests/test_report_statistics.py on dimensions with known information: within 10% at
    I <= 0.06 nats, 20% high at 0.2). A dimension that ignores x has I = 0 and an estimate
    of exactly 0 (paired samples).

    Args:
        mi: Information of the dimension, nats (clipped at 0).
        n_test: N, the examples the estimate averages over.
        n_samples: S, draws z ~ q(z|x) per example (``mi_samples``).
    """
    return np.sqrt(2.0 * np.maximum(mi, 0.0) / (n_test * n_samples))


def informative_threshold(
    n_test: int, n_samples: int, relative_std: float = INFORMATIVE_RELATIVE_STD
) -> float:
    """The informative threshold of a run: where the per-dimension MI estimator resolves
    the information to ``relative_std`` of its value.

    With the Monte Carlo standard deviation sqrt(2 I / (N S)) of :func:`mi_per_dim_mc_std`,
    std(T) = r T gives

        T = 2 / (N S r^2)   nats,

    the information whose estimate lies 1/r standard deviations above 0. It scales as
    1/(N S): a larger test set resolves less information. Scale-free consequences (first
    order): a dimension carrying T/4 is estimated above T only 1.5/r = 15 standard deviations
    out, and one carrying 4 T below T only as rarely, whatever N and S; a dimension carrying
    no information is estimated at exactly 0. Estimates are lower bounds (InfoNCE, Poole et
    al. 2019) whose bias shrinks with N, so a dimension is never informative by a bias.

    Args:
        n_test: N, test examples of the run (``estimators.n_test`` of ``metrics.json``).
        n_samples: S, samples per example of the MI estimate (``estimators.mi_samples``).
        relative_std: r (default :data:`INFORMATIVE_RELATIVE_STD`).

    Returns:
        T in nats: 0.056 at N = 359, S = 10; 0.010 at N = 2,000; 0.002 at N = 10,000.

    Raises:
        ValueError: If N, S or r is not positive.
    """
    if n_test < 1 or n_samples < 1 or relative_std <= 0:
        raise ValueError(
            f"need N, S >= 1 and r > 0, got N {n_test}, S {n_samples}, r {relative_std}"
        )
    return 2.0 / (n_test * n_samples * relative_std**2)


def threshold_rule(fixed: float | None = None) -> str:
    """The caption sentence on the informative threshold (the rule, or the fixed value)."""
    if fixed is not None:
        return (
            f"informative_units: dimensions with I(x; z_i) > {fixed:g} nats (a fixed "
            "threshold set by the config's report.informative_mi)."
        )
    return (
        "informative_units: dimensions with I(x; z_i) > T = 2 / (N S r²) nats, the "
        "information the per-dimension estimator (S samples per example over N test "
        f"examples) resolves to r = {INFORMATIVE_RELATIVE_STD:.0%}: its Monte Carlo standard "
        "deviation sqrt(2 I / (N S)) is r I there"
    )


def unit_verdicts(
    mi_per_dim: Sequence[float],
    au_variances: Sequence[float],
    au_threshold: float,
    mi_threshold: float,
) -> list[str]:
    """The verdict of every latent dimension (module docstring).

    Args:
        mi_per_dim: I_q(x; z_i) estimates, nats.
        au_variances: Var_x E_q[z_i|x] of each dimension.
        au_threshold: The active-unit threshold (strict >, as the ``au`` metric).
        mi_threshold: The information (nats, strict >) above which a dimension is
            informative (:func:`informative_threshold` at the run's N and S).

    Raises:
        ValueError: If the two per-dimension lists differ in length or a threshold is
            negative.
    """
    mi = np.asarray(mi_per_dim, np.float64)
    variances = np.asarray(au_variances, np.float64)
    if mi.shape != variances.shape:
        raise ValueError(f"mi_per_dim has {mi.shape} values, au_variances {variances.shape}")
    if mi_threshold < 0 or au_threshold < 0:
        raise ValueError(f"thresholds must be >= 0, got mi {mi_threshold}, au {au_threshold}")
    verdicts = np.where(
        mi > mi_threshold,
        INFORMATIVE,
        np.where(variances > au_threshold, ACTIVE_UNINFORMATIVE, COLLAPSED),
    )
    return verdicts.tolist()


def run_verdict(verdicts: Sequence[str]) -> str:
    """``collapsed`` (no informative dimension), ``partial`` or ``uncollapsed`` (all)."""
    informative = sum(v == INFORMATIVE for v in verdicts)
    if informative == 0:
        return "collapsed"
    return "uncollapsed" if informative == len(verdicts) else "partial"


def verdict_counts(verdicts: Sequence[str]) -> dict[str, int | str]:
    """The columns a run gets in the tables: units of each verdict and the run verdict."""
    return {
        "informative_units": sum(v == INFORMATIVE for v in verdicts),
        "active_uninformative_units": sum(v == ACTIVE_UNINFORMATIVE for v in verdicts),
        "collapsed_units": sum(v == COLLAPSED for v in verdicts),
        "collapse_verdict": run_verdict(verdicts),
    }
