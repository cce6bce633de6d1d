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
are, ``uncollapsed`` when all are. The default threshold and its justification from the
estimator's measured noise are in docs/posterior-collapse.md
(``benchmarks/mi_per_dim_noise.py`` measures them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

INFORMATIVE = "informative"
ACTIVE_UNINFORMATIVE = "active_uninformative"
COLLAPSED = "collapsed"
# nats; see the module docstring and docs/posterior-collapse.md.
DEFAULT_INFORMATIVE_MI = 0.05


def unit_verdicts(
    mi_per_dim: Sequence[float],
    au_variances: Sequence[float],
    au_threshold: float,
    mi_threshold: float = DEFAULT_INFORMATIVE_MI,
) -> list[str]:
    """The verdict of every latent dimension (module docstring).

    Args:
        mi_per_dim: I_q(x; z_i) estimates, nats.
        au_variances: Var_x E_q[z_i|x] of each dimension.
        au_threshold: The active-unit threshold (strict >, as the ``au`` metric).
        mi_threshold: The information (nats, strict >) above which a dimension is
            informative.

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
