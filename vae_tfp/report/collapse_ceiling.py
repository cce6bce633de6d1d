"""The collapse page's pPCA case above log N: the exact posterior of a linear Gaussian model
whose rate is far above log N, where ``mi`` meets its ceiling and the true
KL(q(z) || p(z)) is 0, so the page can show the bracket [kl - mi_upper, kl - mi] holding it.
"""

from __future__ import annotations

import numpy as np

from vae_tfp.data.linear_gaussian import make_model
from vae_tfp.metrics import aggregate_posterior_metrics, gaussian_kl_per_dim

# The pPCA case whose rate is far above log N (spectrum 20 in 8 dimensions, sigma 0.5).
CEILING_CASE = {"data_dim": 12, "spectrum": [20.0] * 8, "noise_std": 0.5, "n": 1000}


def ceiling_case(seed: int = 0) -> dict[str, float]:
    """The exact pPCA posterior of :data:`CEILING_CASE`: a rate far above log N, where the
    true KL(q(z)||p(z)) is 0 (q(z) = p(z) for the exact posterior of a linear Gaussian model).

    Returns:
        ``n``, ``log_n``, ``true_mi`` (closed form), ``kl``, ``mi``, ``mi_upper``,
        ``marginal_kl_lower`` and ``marginal_kl_upper`` (nats).
    """
    case = CEILING_CASE
    model = make_model(case["data_dim"], case["spectrum"], case["noise_std"], seed)
    rng = np.random.default_rng([seed, 1])
    k, n = len(case["spectrum"]), case["n"]
    x = rng.standard_normal((n, k)) @ model.weight.T + model.bias
    x += case["noise_std"] * rng.standard_normal(x.shape)
    mean, variance = model.posterior_params(x)
    log_var = np.broadcast_to(np.log(variance), mean.shape)
    result = aggregate_posterior_metrics(mean, log_var, n_samples=10, seed=seed, per_dim=False)
    kl = float(gaussian_kl_per_dim(mean, log_var).sum(-1).mean())
    spectrum = np.asarray(case["spectrum"])
    return {
        "n": n,
        "log_n": float(np.log(n)),
        "true_mi": float(0.5 * np.sum(np.log1p(spectrum**2 / case["noise_std"] ** 2))),
        "kl": kl,
        "mi": result["mi"],
        "mi_upper": result["mi_upper"],
        "marginal_kl_lower": kl - result["mi_upper"],
        "marginal_kl_upper": kl - result["mi"],
    }
