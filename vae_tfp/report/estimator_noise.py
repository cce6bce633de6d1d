"""How much information the per-dimension MI estimator reports where there is little or
none: the measurements behind the informative-unit threshold of the collapse verdict
(:mod:`vae_tfp.report.collapse`; printed by ``benchmarks/mi_per_dim_noise.py`` and quoted by
``docs/posterior-collapse.md``).

- Synthetic dimensions with a known answer: over N examples, q(z_i|x_n) = N(a u_n, s^2)
  with u_n ~ N(0, 1) carries 0.5 log(1 + a^2/s^2) nats (q(z_i) = N(0, a^2 + s^2)).
- Trained runs: each run's test posterior (``samples.npz``) re-estimated with several
  evaluation seeds gives the Monte Carlo spread of every dimension's estimate.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from vae_tfp.metrics import aggregate_posterior_metrics

TRUE_MI = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3)
POSTERIOR_VARIANCE = 0.5
# A run whose whole rate is below this (nats) is collapsed in every dimension.
COLLAPSED_RATE = 0.1
# Dimensions estimated below this (nats) are where an informative threshold acts; the
# Monte Carlo noise there is what the threshold must clear (larger MI, larger noise).
LOW_INFORMATION = 0.1


def synthetic_noise(
    n_test: int, replications: int = 20, n_samples: int = 10, true_mi=TRUE_MI
) -> list[dict]:
    """Estimates of I(x; z_i) for dimensions of known information (module docstring).

    Returns:
        One dict per true value: ``n_test``, ``true_mi``, and the ``mean``, ``std`` and
        ``max`` of the estimate over ``replications`` fresh draws of u and z.
    """
    rows = []
    for value in true_mi:
        # 0.5 log(1 + a^2 / s^2) = value  =>  a^2 = s^2 (exp(2 value) - 1).
        slope = np.sqrt(POSTERIOR_VARIANCE * np.expm1(2 * value))
        estimates = []
        for r in range(replications):
            loc = slope * np.random.default_rng(r).standard_normal((n_test, 1))
            log_var = np.full_like(loc, np.log(POSTERIOR_VARIANCE))
            result = aggregate_posterior_metrics(loc, log_var, n_samples=n_samples, seed=r)
            estimates.append(float(result["mi_per_dim"][0]))
        rows.append(
            {
                "n_test": n_test,
                "true_mi": value,
                "mean": float(np.mean(estimates)),
                "std": float(np.std(estimates, ddof=1)),
                "max": float(np.max(estimates)),
            }
        )
    return rows


def run_noise(results: str | os.PathLike, seeds: int = 5, n_samples: int = 10) -> dict:
    """Monte Carlo spread of the per-dimension estimates of every run of an experiment.

    Args:
        results: An experiment folder (``results/<experiment>``) whose runs hold
            ``samples.npz`` and ``metrics.json``.
        seeds: Evaluation seeds per run.
        n_samples: Samples per example, as the evaluation's ``mi_samples``.

    Returns:
        ``runs`` (how many), ``max_mc_std`` (the largest standard deviation of any
        dimension's estimate over the seeds, nats), ``low_mc_std`` (the same over the
        dimensions estimated below :data:`LOW_INFORMATION`), ``collapsed_dims`` (how many dimensions
        belong to runs with a whole rate below :data:`COLLAPSED_RATE`) and
        ``collapsed_max_mi`` (their largest per-dimension estimate, nats; NaN if none) and
        ``collapsed_max_mi_by_dataset`` (the same per dataset that has such runs), so each
        dataset's largest collapsed value can be set against its own informative threshold.
    """
    results = Path(results)
    max_std, low_std, collapsed, n_runs = 0.0, 0.0, [], 0
    by_dataset: dict[str, float] = {}
    for samples_path in sorted(results.glob("runs/*/*/*/seed*/samples.npz")):
        metrics = json.loads((samples_path.parent / "metrics.json").read_text())["metrics"]
        with np.load(samples_path) as arrays:
            loc, log_var = arrays["posterior_loc"], arrays["posterior_log_var"]
        estimates = np.array(
            [
                aggregate_posterior_metrics(loc, log_var, n_samples, seed=1000 + s)["mi_per_dim"]
                for s in range(seeds)
            ]
        )
        spread = estimates.std(0, ddof=1)
        max_std = max(max_std, float(spread.max()))
        low = estimates.mean(0) < LOW_INFORMATION
        if low.any():
            low_std = max(low_std, float(spread[low].max()))
        n_runs += 1
        if metrics["kl"] < COLLAPSED_RATE:
            collapsed.extend(metrics["mi_per_dim"])
            dataset = samples_path.parts[-5]  # runs/<dataset>/<decoder>/<method>/seed<k>
            by_dataset[dataset] = max(by_dataset.get(dataset, -np.inf), *metrics["mi_per_dim"])
    return {
        "runs": n_runs,
        "max_mc_std": max_std,
        "low_mc_std": low_std,
        "collapsed_dims": len(collapsed),
        "collapsed_max_mi": float(max(collapsed)) if collapsed else float("nan"),
        "collapsed_max_mi_by_dataset": {k: float(v) for k, v in sorted(by_dataset.items())},
    }
