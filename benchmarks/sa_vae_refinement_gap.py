"""How far SA-VAE's refinement takes q(z|x) on pPCA, where log p(x) is exact.

For each trained ``sa_vae`` / ``sa_anneal`` run of ``linear_gaussian x linear`` in an
experiment folder (default ``results/embedded-full``, from ``config/full.yaml``), prints the
test ELBO (200 samples of q per example) of the encoder's own q(z|x), of the refined q the
suite evaluates (Kim et al. 2018: ``svi_steps`` steps of SVI from the encoder's output), and
the exact mean log p(x). The refined ELBO below log p(x) is the gap the SVI steps leave.

    python benchmarks/sa_vae_refinement_gap.py [--experiment-dir results/embedded-full]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def elbo_of_q(model, x, loc, log_var, samples: int) -> float:
    """Mean ELBO of q(z|x) = N(loc, exp(log_var)) under ``model``, ``samples`` draws each."""
    import tensorflow as tf

    from vae_tfp.models.vae import gaussian_posterior

    z = gaussian_posterior(loc, log_var).sample(samples, seed=[1, 2])
    rec = tf.reduce_mean(tf.map_fn(lambda zi: model.decoder(zi).log_prob(x), z), 0)
    kl = tf.reduce_sum(model.kl_per_dim(loc, log_var), -1)
    return float(tf.reduce_mean(rec - kl))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment-dir", default="results/embedded-full")
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    import tensorflow as tf

    from vae_tfp.data.linear_gaussian import LinearGaussianModel
    from vae_tfp.data.store import load_prepared
    from vae_tfp.io import read_json
    from vae_tfp.run_files import checkpoint_path
    from vae_tfp.run_model import model_from_run_config

    root = Path(args.experiment_dir)
    data = load_prepared(root / "data" / "linear_gaussian.npz")
    x = tf.constant(data.test)
    log_px = LinearGaussianModel.from_reference(data.reference).log_prob(data.test).mean()
    runs = sorted((root / "runs" / "linear_gaussian" / "linear").glob("sa_*/seed*"))
    if not runs:
        raise SystemExit(f"no sa_* runs of linear_gaussian x linear under {root}/runs")
    for run in runs:
        model = model_from_run_config(read_json(run / "run_config.json"), data)
        checkpoint = tf.train.Checkpoint(model=model).read(str(checkpoint_path(run)))
        checkpoint.assert_existing_objects_matched()

        encoder_q = elbo_of_q(model, x, *model.encoder.params(x), args.samples)
        refined_q = elbo_of_q(
            model, x, *model.posterior_params(x, seed=tf.constant([3, 4])), args.samples
        )
        print(
            f"{run.parent.name:>9} {run.name}: ELBO of the encoder's q {encoder_q:8.3f}, of "
            f"the refined q {refined_q:8.3f}; exact log p(x) {log_px:.3f} "
            f"(gap {log_px - refined_q:.3f})"
        )


if __name__ == "__main__":
    main()
