"""The measurements behind the informative-unit threshold of the collapse verdict
(vae_tfp/report/collapse.py, docs/posterior-collapse.md), printed as tables:

1. synthetic dimensions with known information (vae_tfp.report.estimator_noise): the
   estimator's mean, standard deviation and maximum over replications, per N;
2. trained runs (``--results results/embedded``): the largest Monte Carlo spread of a
   dimension's estimate over evaluation seeds, over all dimensions and among those below
   0.1 nats, and the largest per-dimension information in runs whose whole rate is below
   0.1 nats.

Beside each synthetic row, ``mc`` is the first-order Monte Carlo standard deviation
sqrt(2 I / (N S)) and each N's informative threshold T = 2 / (N S r^2) is printed
(vae_tfp.report.collapse); the measured ``std`` also holds the spread of the test sets.

    python benchmarks/mi_per_dim_noise.py --results results/embedded
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vae_tfp.report.collapse import informative_threshold, mi_per_dim_mc_std
from vae_tfp.report.estimator_noise import POSTERIOR_VARIANCE, run_noise, synthetic_noise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, help="an experiment folder, e.g. results/embedded")
    parser.add_argument("--replications", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=10, help="evaluation seeds per run")
    parser.add_argument("--samples", type=int, default=10, help="samples per example")
    parser.add_argument("--sizes", type=int, nargs="*", default=[359, 2000, 10000])
    args = parser.parse_args()
    print(
        f"1. synthetic dimensions (posterior variance {POSTERIOR_VARIANCE}, {args.samples} "
        f"samples per example, {args.replications} replications)"
    )
    print(f"{'N':>6} {'true':>7} {'mean':>9} {'std':>9} {'mc':>9} {'max':>9}")
    for n_test in args.sizes:
        for row in synthetic_noise(n_test, args.replications, args.samples):
            mc = mi_per_dim_mc_std(row["true_mi"], n_test, args.samples)
            print(
                f"{row['n_test']:>6} {row['true_mi']:>7.3f} {row['mean']:>9.5f} "
                f"{row['std']:>9.5f} {mc:>9.5f} {row['max']:>9.5f}",
                flush=True,
            )
        threshold = informative_threshold(n_test, args.samples)
        print(f"{n_test:>6} informative threshold T = {threshold:.4f} nats", flush=True)
    if args.results is not None:
        noise = run_noise(args.results, args.seeds, args.samples)
        print(f"\n2. {noise['runs']} trained runs in {args.results}, {args.seeds} seeds each")
        print(
            f"largest Monte Carlo std of a dimension's estimate: {noise['max_mc_std']:.5f} "
            f"nats; among dimensions below 0.1 nats: {noise['low_mc_std']:.5f}"
        )
        print(
            f"runs with kl < 0.1 nats: {noise['collapsed_dims']} dimensions, largest mi_i "
            f"{noise['collapsed_max_mi']:.4f} nats"
        )


if __name__ == "__main__":
    main()
