"""CPU cost of one Penn Treebank epoch under Li et al. 2019's / He et al. 2019's text settings.

Trains ``ptb x lstm_256`` of ``config/paper.yaml`` (all sentences, 256-unit LSTM encoder
and decoder, z = 32, batches of 32) for a few epochs on a random ``--fraction`` of the
training and validation sentences (the padded length and the length distribution stay
those of the whole corpus) and prints, per method, the median epoch after the first
(validation included), scaled by ``1 / fraction`` to the whole corpus, and the hours a
100-epoch run would need at that rate. The scaling assumes time linear in the number of
sentences, which holds for the train loop of padded batches (``--batching padded``, the
default here, whatever the config says); a subsample batched by length has relatively more
partial batches than the corpus (most lengths leave one), so ``--batching length``
overstates the whole-corpus epoch. The whole-set MI of the
validation pass grows faster than linearly, so the figure is a lower bound for the
validation part.

    python benchmarks/text_epoch_cost.py [--fraction 0.05] [--epochs 3] [--threads 2]
        [--methods vanilla fb_anneal_8] [--batching padded|length|buckets]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile

import numpy as np
import pandas as pd


def subsample(data, fraction: float, seed: int = 0):
    """The dataset with a random ``fraction`` of its training and validation rows."""
    rng = np.random.default_rng(seed)

    def rows(array: np.ndarray) -> np.ndarray:
        keep = max(1, round(fraction * len(array)))
        return array[np.sort(rng.choice(len(array), keep, replace=False))]

    return dataclasses.replace(data, train=rows(data.train), valid=rows(data.valid))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=["vanilla", "fb_anneal_8"])
    parser.add_argument("--batching", choices=["padded", "length", "buckets"], default="padded")
    args = parser.parse_args()

    from vae_tfp.runtime import configure_tensorflow

    configure_tensorflow(args.threads)
    from vae_tfp.config import RunKey, load_experiment_config, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.training import train_run

    config = load_experiment_config("config/paper.yaml")
    for method in args.methods:
        run_config = resolve_run_config(config, RunKey("ptb", "lstm_256", method, 0))
        run_config["training"]["epochs"] = args.epochs
        run_config["training"]["batching"] = args.batching
        full = prepare_dataset("ptb", run_config["dataset_options"], config.get("data_cache"))
        data = subsample(full, args.fraction)
        with tempfile.TemporaryDirectory() as run_dir:
            train_run(run_config, data, run_dir)
            times = pd.read_csv(f"{run_dir}/history.csv")["wall_time_s"].to_numpy()
        epoch = float(np.median(np.diff(times))) / args.fraction
        print(
            f"ptb x lstm_256 x {method}: {len(data.train)} of {len(full.train)} sentences, "
            f"first epoch {times[0]:.1f} s; whole-corpus epoch ~ {epoch / 60:.1f} min "
            f"({args.threads} threads), 100 epochs ~ {100 * epoch / 3600:.1f} h"
        )


if __name__ == "__main__":
    main()
