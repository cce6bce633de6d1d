"""Wall-time cost of IWAE training (Burda et al. 2016, eq. 8) against the VAE, same model.

Trains Burda et al.'s one-layer model (784-200-200-50, tanh, batches of 20, the protocol of
``config/reproduce.yaml``) on the fixed binarization of MNIST for a few epochs with the
VAE (``vanilla``) and with ``iwae`` at each k given, alternating the methods within each
repetition so machine load affects all alike, and prints the median epoch after the first
(validation of 10,000 images included) and its ratio to the VAE's. The training set can be
cut to a random subset (``--train-size``) to keep the measurement short; the ratio per
minibatch does not depend on it.

    VAE_TFP_DATA_CACHE=/path/to/cache python benchmarks/iwae_cost.py [--k 5 50] [--epochs 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile

import numpy as np
import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[5])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from vae_tfp.runtime import configure_tensorflow

    configure_tensorflow(args.threads)
    from vae_tfp.config import RunKey, load_experiment_config, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.training import train_run

    config = load_experiment_config("config/reproduce.yaml")
    variants = {"vanilla": {"method": "vanilla"}}
    variants.update({f"iwae_k{k}": {"method": "iwae", "k": k} for k in args.k})
    config["methods"].update(variants)
    decoder = next(iter(config["decoders"]))
    data = None
    epochs: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(args.repeats):
        for name in variants:
            run_config = resolve_run_config(
                config, RunKey("binarized_mnist", decoder, name, repeat)
            )
            run_config["training"].update(epochs=args.epochs, checkpoint_selection="last_epoch")
            if data is None:
                full = prepare_dataset("binarized_mnist", run_config["dataset_options"])
                rows = np.random.default_rng(0).permutation(len(full.train))[: args.train_size]
                data = dataclasses.replace(full, train=full.train[rows])
            with tempfile.TemporaryDirectory() as run_dir:
                train_run(run_config, data, run_dir)
                times = pd.read_csv(f"{run_dir}/history.csv")["wall_time_s"].to_numpy()
            epochs[name].extend(np.diff(times))
            print(
                f"repeat {repeat} {name:>10}: median later epoch {np.median(np.diff(times)):.2f} s"
            )
    base = float(np.median(epochs["vanilla"]))
    print(f"{len(data.train)} training images of 20 per batch, validation on {len(data.valid)}:")
    for name, values in epochs.items():
        median = float(np.median(values))
        print(f"  {name:>10}: median epoch {median:6.2f} s, {median / base:4.2f}x the VAE")


if __name__ == "__main__":
    main()
