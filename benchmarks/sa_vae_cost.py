"""Wall-time cost of SA-VAE (Kim et al. 2018) against vanilla training, same setting.

Trains one setting of ``config/full.yaml`` (default digits x mlp) with ``vanilla`` and with
``sa_vae`` (default hyper-parameters: 10 SVI steps per example, differentiated through) for
each seed given, alternating the two so machine load affects both alike, and prints each
run's training wall time, its first epoch (graph building and compilation included) and its
median later epoch, and the ratios of the totals and of the median epochs. He et al. 2019
report SA-VAE at 9.9-15x the time of the basic VAE (their Table 1 settings, on a GPU).

    python benchmarks/sa_vae_cost.py [--seeds 0 1] [--dataset digits --decoder pixelcnn]
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--decoder", default="mlp")
    parser.add_argument("--epochs", type=int, default=None, help="default: the config's")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from vae_tfp.runtime import configure_tensorflow

    configure_tensorflow(args.threads)
    from vae_tfp.config import RunKey, load_experiment_config, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.training import train_run

    config = load_experiment_config("config/full.yaml")
    methods = ("vanilla", "sa_vae")
    totals = {method: 0.0 for method in methods}
    epochs = {method: [] for method in methods}
    for seed in args.seeds:
        for method in methods:
            run_config = resolve_run_config(
                config, RunKey(args.dataset, args.decoder, method, seed)
            )
            if args.epochs:
                run_config["training"]["epochs"] = args.epochs
            data = prepare_dataset(args.dataset, run_config["dataset_options"])
            with tempfile.TemporaryDirectory() as run_dir:
                summary = train_run(run_config, data, run_dir)
                times = pd.read_csv(f"{run_dir}/history.csv")["wall_time_s"].to_numpy()
            later = np.diff(times)
            totals[method] += summary["wall_time_s"]
            epochs[method].extend(later)
            print(
                f"seed {seed} {method:>8}: {summary['wall_time_s']:7.1f} s, first epoch "
                f"{times[0]:6.1f} s, median later epoch {np.median(later):6.3f} s, best valid "
                f"ELBO {summary['best_valid_elbo']:.3f}"
            )
    per_epoch = {method: float(np.median(values)) for method, values in epochs.items()}
    print(
        f"{args.dataset} x {args.decoder}: total training time vanilla {totals['vanilla']:.1f} "
        f"s, sa_vae {totals['sa_vae']:.1f} s, ratio {totals['sa_vae'] / totals['vanilla']:.1f}x; "
        f"median epoch after the first: ratio {per_epoch['sa_vae'] / per_epoch['vanilla']:.1f}x"
    )


if __name__ == "__main__":
    main()
