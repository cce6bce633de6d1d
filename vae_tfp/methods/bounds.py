"""Closed-form bounds behind the methods' constraints (no TensorFlow: config checks use them)."""

from __future__ import annotations

import math

from scipy.special import lambertw


def committed_variance(delta: float) -> float:
    """The largest posterior variance v < 1 with KL(N(mu, v) || N(0, 1)) >= delta for every mu.

    KL >= (v - 1 - log v) / 2, with equality at mu = 0; solving v - log v = 1 + 2 delta on
    (0, 1] gives v = -W0(-exp(-1 - 2 delta)) with W0 the principal Lambert W branch.

    Raises:
        ValueError: If delta < 0.
    """
    if delta < 0:
        raise ValueError(f"delta must be >= 0, got {delta}")
    if delta == 0:
        return 1.0  # the branch point W0(-1/e) = -1, where lambertw is ill-conditioned
    return float(-lambertw(-math.exp(-1.0 - 2.0 * delta), 0).real)
