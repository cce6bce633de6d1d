"""Where the time goes, in one run on one machine: train loop, validation, evaluation, parse.

Prints, with the thread count given (default 2):

- the machine's sgemm throughput (TensorFlow, 2000^3 float32) and from it the roofline of
  one train step of the MLP VAE 784-500-500-32 (batch 100, binary 784-dimensional data);
- train steps/s of the suite's own loop (``Trainer.joint_span``, 100 batches per call, as
  ``Trainer.run`` calls it) and the fraction of that roofline;
- the same model in PyTorch eager (when ``torch`` is importable: ``pip install -e
  '.[bench]'``), measured in alternating rounds with the suite's loop, and the ratio;
- one per-epoch validation pass at N = 10,000 (encode, ELBO, whole-set MI, AU; d = 32);
- ``nll_iw`` with K = 5000 on 10,000 x 784 test images through Burda et al.'s MLP
  (784-200-200-50) and the peak resident memory, then ``mi`` with 10 samples (per-dimension
  marginals included) on the posteriors of the same 10,000 images (d = 50);
- ``snakemake -n`` wall time on the default config.

Models are untrained (time does not depend on the weights). Run by hand, on an idle
machine, from the project root:

    .venv/bin/python benchmarks/speed.py [--threads 2] [--quick]

``--quick`` shrinks the evaluation figures (1,000 images) for a smoke run.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HIDDEN, LATENT, BATCH, DIM = (500, 500), 32, 100, 784
N_TRAIN = 10_000


def step_flops(batch: int = BATCH) -> float:
    """Matrix-multiply FLOPs of one train step: forward 2*B*sum(in*out), backward twice that."""
    encoder = [DIM, *HIDDEN, 2 * LATENT]
    decoder = [LATENT, *HIDDEN[::-1], DIM]
    macs = sum(a * b for layers in (encoder, decoder) for a, b in itertools.pairwise(layers))
    return 3 * 2 * batch * macs


def sgemm_gflops(tf) -> float:
    """Best of five 2000^3 float32 matrix products, in GFLOP/s."""
    a = tf.random.stateless_normal((2000, 2000), seed=[0, 0])
    matmul = tf.function(lambda x: tf.linalg.matmul(x, x))
    matmul(a).numpy()
    best = min(_timed(lambda: matmul(a).numpy()) for _ in range(5))
    return 2 * 2000**3 / best / 1e9


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def binary_data(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, DIM)) < 0.13).astype(np.float32)


def mlp_vae_case(x: np.ndarray, hidden=HIDDEN, latent: int = LATENT, batch: int = BATCH):
    """The run config and data of a vanilla MLP VAE (encoder and decoder ``hidden``) on the
    binary rows ``x`` (validation and test: its first 1,000)."""
    from vae_tfp.data.store import PreparedData

    data = PreparedData(
        name="binarized_mnist", kind="binary", train=x, valid=x[:1000], test=x[:1000],
        options={"data_seed": 0},
    )  # fmt: skip
    run_config = {
        "experiment": "speed", "dataset": "binarized_mnist", "decoder": "mlp",
        "method": "vanilla", "seed": 0, "dataset_options": {"data_seed": 0},
        "decoder_options": {"type": "mlp", "hidden_units": list(hidden)},
        "method_options": {"method": "vanilla"},
        "model": {"latent_dim": latent, "encoder_hidden_units": list(hidden)},
        "training": {"epochs": 1, "batch_size": batch, "learning_rate": 1e-3},
    }  # fmt: skip
    return run_config, data


def suite_trainer(x: np.ndarray, run_dir: Path):
    from vae_tfp.training.loop import Trainer

    run_config, data = mlp_vae_case(x)
    return Trainer(run_config, data, run_dir)


def suite_round(trainer, tf, steps: int) -> float:
    """Steps/s of ``steps`` batches through the loop's compiled span (one call per 100)."""
    order = tf.constant(np.random.default_rng(steps).permutation(N_TRAIN), tf.int32)
    n_batches = N_TRAIN // BATCH

    def run():
        done = 0
        while done < steps:
            first = done % n_batches
            last = min(n_batches, first + trainer.batches_per_call, first + steps - done)
            trainer.joint_span(order, tf.constant(first), tf.constant(last))
            done += last - first
        trainer.feed.epoch_sums.numpy()  # the loop reads its sums once per span

    return steps / _timed(run)


def torch_peer(x: np.ndarray, threads: int):
    """The same VAE and Adam in PyTorch eager; returns a function timing ``steps`` steps."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)

    def mlp(sizes):
        layers = []
        for a, b in itertools.pairwise(sizes):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers[:-1])

    encoder = mlp([DIM, *HIDDEN, 2 * LATENT])
    decoder = mlp([LATENT, *HIDDEN[::-1], DIM])
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-3)
    data = torch.from_numpy(x)

    def train_round(steps: int) -> float:
        order = torch.randperm(len(data))

        def run():
            for i in range(steps):
                start = (i * BATCH) % len(data)
                xb = data[order[start : start + BATCH]]
                loc, log_var = encoder(xb).chunk(2, dim=-1)
                z = loc + torch.exp(0.5 * log_var) * torch.randn_like(loc)
                logits = decoder(z)
                rec = -torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, xb, reduction="none"
                ).sum(-1)
                kl = 0.5 * (loc.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1)
                loss = (kl - rec).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            float(loss.detach())

        return steps / _timed(run)

    return train_round


def validation_seconds(trainer, tf) -> float:
    from vae_tfp.training.validation import (
        VALID_AU_THRESHOLD,
        VALID_BATCH_SIZE,
        validation_scores,
    )

    valid = binary_data(10_000, seed=1)
    validation_scores(trainer.model, valid[:2000], VALID_BATCH_SIZE, 0, VALID_AU_THRESHOLD)
    times = [
        _timed(
            lambda: validation_scores(
                trainer.model, valid, VALID_BATCH_SIZE, 0, VALID_AU_THRESHOLD
            )
        )
        for _ in range(3)
    ]
    return statistics.median(times)


def evaluation_figures(n_test: int) -> None:
    from vae_tfp.evaluation import importance_weighted_pass
    from vae_tfp.metrics import aggregate_posterior_metrics
    from vae_tfp.models import build_vae

    vae = build_vae(
        {"latent_dim": 50, "encoder_hidden_units": [200, 200]},
        {"type": "mlp", "hidden_units": [200, 200]},
        (DIM,),
        "binary",
    )
    x = binary_data(n_test, seed=2)
    started = time.perf_counter()
    passed = importance_weighted_pass(vae, x, 5000, 500, 100, seed=0)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"nll_iw K=5000 on {n_test} x 784 (784-200-200-50): {elapsed:.1f} s, "
          f"peak RSS {peak:.0f} MiB")  # fmt: skip
    started = time.perf_counter()
    aggregate_posterior_metrics(passed["loc"], passed["log_var"], n_samples=10, seed=0)
    elapsed = time.perf_counter() - started
    print(f"mi, 10 samples, per-dimension marginals included, N={n_test}, d=50: {elapsed:.1f} s")


def snakemake_dry_run_seconds() -> float:
    snakemake = Path(sys.executable).with_name("snakemake")
    times = [
        _timed(
            lambda: subprocess.run(
                [str(snakemake), "-n", "--quiet"], check=True, capture_output=True
            )
        )
        for _ in range(3)
    ]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="alternating train rounds")
    parser.add_argument("--steps", type=int, default=300, help="train steps per round")
    parser.add_argument("--quick", action="store_true", help="evaluation on 1,000 images")
    parser.add_argument(
        "--evaluation-only", action="store_true", help=argparse.SUPPRESS
    )  # the child process that measures evaluation time and its own peak memory
    args = parser.parse_args()
    if args.evaluation_only:
        from vae_tfp.runtime import configure_tensorflow

        configure_tensorflow(args.threads)
        evaluation_figures(1000 if args.quick else 10_000)
        return

    print(f"snakemake -n on the default config: {snakemake_dry_run_seconds():.2f} s (median of 3)")

    from vae_tfp.runtime import configure_tensorflow

    configure_tensorflow(args.threads)
    import tensorflow as tf

    gflops = sgemm_gflops(tf)
    flops = step_flops()
    roofline = gflops * 1e9 / flops
    print(f"threads {args.threads}; sgemm 2000^3 float32: {gflops:.0f} GFLOP/s")
    print(f"train step MLP 784-500-500-32, batch {BATCH}: {flops / 1e9:.2f} GFLOP "
          f"-> roofline {roofline:.0f} steps/s")  # fmt: skip

    import tempfile

    x = binary_data(N_TRAIN)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = suite_trainer(x, Path(run_dir))
        suite_round(trainer, tf, 2 * BATCH)  # trace and compile
        try:
            peer = torch_peer(x, args.threads)
            peer(20)
        except ImportError:
            peer = None
            print("torch not importable: PyTorch comparison skipped (pip install -e '.[bench]')")
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(suite_round(trainer, tf, args.steps))
            if peer is not None:
                theirs.append(peer(args.steps))
        suite = statistics.median(ours)
        print(f"suite train loop: {suite:.1f} steps/s (median of {args.rounds} rounds of "
              f"{args.steps}; all {[round(v) for v in ours]}), {suite / roofline:.0%} of the "
              "sgemm roofline")  # fmt: skip
        if peer is not None:
            import torch

            torch_rate = statistics.median(theirs)
            print(f"PyTorch {torch.__version__} eager: {torch_rate:.1f} steps/s "
                  f"(all {[round(v) for v in theirs]}); ratio suite / PyTorch "
                  f"{suite / torch_rate:.2f}")  # fmt: skip
        print(f"validation pass N=10,000, d={LATENT} (encode, ELBO, MI, AU): "
              f"{validation_seconds(trainer, tf):.2f} s (median of 3)")  # fmt: skip
    # In a fresh process, so that its peak resident memory is the evaluation's alone.
    child = [sys.executable, __file__, "--evaluation-only", "--threads", str(args.threads)]
    subprocess.run(child + (["--quick"] if args.quick else []), check=True)


if __name__ == "__main__":
    main()
