"""Measures the bias of the MI estimators against the exact pPCA answer.

On ``linear_gaussian`` with the exact posterior plugged in, I_q(x; z) is known in closed
form: sum_i 0.5 log(1 + s_i^2 / sigma^2). This script prints, for evaluation sets of several
sizes N, the mean and spread over repetitions of the whole-set estimator and of the
leave-one-out upper bound ``mi_upper``, and the minibatch
estimator of He et al. 2019 for several batch sizes. The figures are quoted in the docstring
of ``vae_tfp.metrics.aggregate_posterior.aggregate_posterior_metrics``.

    python benchmarks/mi_bias.py [--repeats 20]
"""

from __future__ import annotations

import argparse

import numpy as np

from vae_tfp.data.linear_gaussian import make_model
from vae_tfp.metrics import aggregate_posterior_metrics, mutual_information_minibatch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--samples", type=int, default=10, help="z draws per example")
    args = parser.parse_args()
    spectrum, noise_std = np.array([2.0, 1.0, 0.5, 0.0]), 0.5
    model = make_model(8, spectrum.tolist(), noise_std, seed=0)
    exact = 0.5 * np.sum(np.log1p(spectrum**2 / noise_std**2))
    print(f"exact I(x;z) = {exact:.4f} nats; spectrum {spectrum.tolist()}, sigma {noise_std}")

    def posterior(n: int, rep: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([n, rep])
        x = rng.standard_normal((n, 4)) @ model.weight.T + model.bias
        x += noise_std * rng.standard_normal(x.shape)
        mean, variance = model.posterior_params(x)
        return mean, np.broadcast_to(np.log(variance), mean.shape)

    print(f"\nwhole-set estimator, {args.samples} samples per example, {args.repeats} repeats")
    print("mi: lower bound; mi_upper: leave-one-out upper bound (Poole et al. 2019)")
    print(
        f"{'N':>6} {'log N':>7} {'mean':>8} {'bias':>8} {'std':>7} {'marg_kl':>8} "
        f"{'upper':>8} {'bias':>8} {'std':>7}"
    )
    for n in (10, 30, 100, 300, 1000, 3000):
        runs = [
            aggregate_posterior_metrics(*posterior(n, r), args.samples, seed=r, per_dim=False)
            for r in range(args.repeats)
        ]
        mi = np.array([r["mi"] for r in runs])
        upper = np.array([r["mi_upper"] for r in runs])
        marginal = np.array([r["marginal_kl"] for r in runs])
        print(
            f"{n:>6} {np.log(n):>7.3f} {mi.mean():>8.4f} {mi.mean() - exact:>+8.4f} "
            f"{mi.std(ddof=1):>7.4f} {marginal.mean():>8.4f} {upper.mean():>8.4f} "
            f"{upper.mean() - exact:>+8.4f} {upper.std(ddof=1):>7.4f}"
        )

    n = 2000
    print(f"\nminibatch estimator (He et al. 2019) on N = {n}, 1 sample per example")
    print(f"{'batch':>6} {'log B':>7} {'mean':>8} {'bias':>8}")
    for batch in (16, 64, 256, 2000):
        mi = np.array(
            [mutual_information_minibatch(*posterior(n, r), batch, 1, seed=r) for r in range(5)]
        )
        print(f"{batch:>6} {np.log(batch):>7.3f} {mi.mean():>8.4f} {mi.mean() - exact:>+8.4f}")


if __name__ == "__main__":
    main()
