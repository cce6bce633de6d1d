"""How much information the per-dimension MI estimator reports for dimensions that carry
little or none: the measurements behind the informative-unit threshold of the collapse
verdict (vae_tfp/report/collapse.py, docs/posterior-collapse.md).

Two parts, printed as tables:

1. Synthetic dimensions with a known answer. Over N test examples, q(z_i|x_n) =
   N(a u_n, s^2) with u_n ~ N(0, 1): the population information is 0.5 log(1 + a^2/s^2)
   nats (q(z_i) = N(0, a^2 + s^2)). For each true value, R replications (fresh u and z)
   give the estimator's mean and standard deviation at the suite's settings (10 samples).
2. Trained runs (``--results results/embedded``): every run's test posterior from
   ``samples.npz``, re-estimated with ``--seeds`` evaluation seeds: the Monte Carlo standard
   deviation of each dimension's estimate; and the largest per-dimension information in
   runs whose whole rate (kl) is below 0.1 nats, i.e. what collapsed models measure.

    python benchmarks/mi_per_dim_noise.py --results results/embedded
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vae_tfp.metrics import aggregate_posterior_metrics

TRUE_MI = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.3)
POSTERIOR_VARIANCE = 0.5
# A run whose whole rate is below this (nats) is collapsed in every dimension.
COLLAPSED_RATE = 0.1


def synthetic(n_test: int, replications: int, n_samples: int) -> list[dict]:
    """Estimates of I(x; z_i) for dimensions of known information (module docstring)."""
    rows = []
    for true_mi in TRUE_MI:
        # 0.5 log(1 + a^2 / s^2) = true_mi  =>  a^2 = s^2 (exp(2 true_mi) - 1).
        slope = np.sqrt(POSTERIOR_VARIANCE * np.expm1(2 * true_mi))
        estimates = []
        for r in range(replications):
            u = np.random.default_rng(r).standard_normal((n_test, 1))
            loc = slope * u
            log_var = np.full_like(loc, np.log(POSTERIOR_VARIANCE))
            result = aggregate_posterior_metrics(loc, log_var, n_samples=n_samples, seed=r)
            estimates.append(float(result["mi_per_dim"][0]))
        rows.append(
            {
                "n_test": n_test,
                "true_mi": true_mi,
                "mean": float(np.mean(estimates)),
                "std": float(np.std(estimates, ddof=1)),
                "max": float(np.max(estimates)),
            }
        )
    return rows


def trained_runs(results: Path, seeds: int, n_samples: int) -> tuple[list[dict], list[float]]:
    """Monte Carlo spread of each run's per-dimension estimates, and the per-dimension
    information of runs with a total rate below 0.1 nats."""
    spreads, collapsed_dims = [], []
    for samples_path in sorted(results.glob("runs/*/*/*/seed*/samples.npz")):
        run_dir = samples_path.parent
        metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
        with np.load(samples_path) as arrays:
            loc, log_var = arrays["posterior_loc"], arrays["posterior_log_var"]
        estimates = np.array(
            [
                aggregate_posterior_metrics(loc, log_var, n_samples=n_samples, seed=1000 + s)[
                    "mi_per_dim"
                ]
                for s in range(seeds)
            ]
        )
        spreads.append(
            {
                "run": str(run_dir.relative_to(results / "runs")),
                "max_mc_std": float(estimates.std(0, ddof=1).max()),
                "max_mi_per_dim": float(estimates.mean(0).max()),
            }
        )
        if metrics["kl"] < COLLAPSED_RATE:
            collapsed_dims.extend(metrics["mi_per_dim"])
    return spreads, collapsed_dims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="an experiment folder, e.g. results/embedded")
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[359, 2000, 10000], help="synthetic N values"
    )
    args = parser.parse_args()
    print(f"1. synthetic dimensions, posterior variance {POSTERIOR_VARIANCE}, {args.samples} samples per example, {args.replications} reps")
    print(f"{'N':>6} {'true':>7} {'mean':>9} {'std':>9} {'max':>9}")
    for n_test in args.sizes:
        for row in synthetic(n_test, args.replications, args.samples):
            print(
                f"{row['n_test']:>6} {row['true_mi']:>7.3f} {row['mean']:>9.5f} "
                f"{row['std']:>9.5f} {row['max']:>9.5f}"
            )
    if args.results is None:
        return
    spreads, collapsed_dims = trained_runs(args.results, args.seeds, args.samples)
    print(f"\n2. trained runs in {args.results}: {args.seeds} evaluation seeds each")
    print(f"{'run':<48} {'max MC std':>11} {'max mi_i':>9}")
    for row in spreads:
        print(f"{row['run']:<48} {row['max_mc_std']:>11.5f} {row['max_mi_per_dim']:>9.4f}")
    all_std = max(row["max_mc_std"] for row in spreads)
    print(f"largest Monte Carlo std of any dimension's estimate: {all_std:.5f} nats")
    if collapsed_dims:
        print(
            f"runs with kl < 0.1 nats: {len(collapsed_dims)} dimensions, largest mi_i "
            f"{max(collapsed_dims):.4f} nats, 99th percentile "
            f"{np.percentile(collapsed_dims, 99):.4f}"
        )


if __name__ == "__main__":
    main()
