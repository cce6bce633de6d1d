"""Peak memory and time of importance-weighted evaluation at paper scale.

Runs ``vae_tfp.evaluation.importance_weighted_pass`` with K importance samples on N examples
of 784 binary dimensions through an MLP VAE of Burda et al. 2016's MNIST size (784-200-200-50
encoder and decoder, untrained: memory and time do not depend on the weights), and prints
the wall time and the process's peak resident memory.

    python benchmarks/iw_memory.py [--examples 10000] [--samples 500] [--chunk 50] [--batch 100]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from vae_tfp.runtime import configure_tensorflow

    configure_tensorflow(args.threads)
    from vae_tfp.evaluation import importance_weighted_pass
    from vae_tfp.models import build_vae

    vae = build_vae(
        {"latent_dim": 50, "encoder_hidden_units": [200, 200]},
        {"type": "mlp", "hidden_units": [200, 200]},
        (784,),
        "binary",
    )
    x = (np.random.default_rng(0).random((args.examples, 784)) < 0.13).astype(np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    out = importance_weighted_pass(vae, x, args.samples, args.chunk, args.batch, seed=0)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"N={args.examples} D=784 K={args.samples} chunk={args.chunk} batch={args.batch} "
        f"threads={args.threads}\n"
        f"wall time {elapsed:.1f} s; peak RSS {peak:.0f} MiB (before evaluation {before:.0f} MiB); "
        f"mean -log p_K(x) = {-out['log_px'].mean():.2f} nats (untrained model)"
    )


if __name__ == "__main__":
    main()
