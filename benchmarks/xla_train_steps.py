"""XLA or graph mode for the train step, per decoder type: the figures behind
``XLA_TRAIN_STEPS`` (``vae_tfp/models/decoder_types.py``, the decoder types whose train
steps are XLA-compiled when ``training.jit_compile`` is unset).

For each case, two trainers of the same run (the vanilla VAE, seed 0) are built in one
process, one with ``training.jit_compile: true`` and one with ``false``. Each first trains
one whole epoch (the first trace and, with XLA, the compilation: printed as ``first``),
then one untimed warm epoch, then both alternate ``--rounds`` rounds of epochs of the
training loop's own compiled spans (``Trainer.joint_span`` over the epoch's plan, as
``Trainer.run`` calls it; no validation), each round as many epochs as take about 2 s.
Printed per case: batches per epoch, the first epoch of each mode, the median seconds per
epoch of each mode and their ratio (graph / XLA: above 1, XLA is faster).

Cases: every decoder variant of the embedded default config (``config/config.yaml``, at
its settings: digits x mlp, made, pixelcnn; linear_gaussian x linear; markov_mixture x
lstm), the gated PixelCNN at its default (He et al.'s) shape on digits, and two MNIST-scale
MLPs on random binary 784-d data (10,000 examples): the VAE 784-500-500-32 at batch 100 of
``benchmarks/speed.py``, and Burda et al.'s 784-200-200-50 at batch 20.

Run by hand from the project root (one thread by default, as the comment it backs):

    .venv/bin/python benchmarks/xla_train_steps.py [--threads 1] [--rounds 3] [--only mlp,lstm]
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/speed.py
EMBEDDED = {  # case -> (dataset, decoder variant of config/config.yaml)
    "digits x mlp": ("digits", "mlp"),
    "linear_gaussian x linear": ("linear_gaussian", "linear"),
    "digits x made": ("digits", "made"),
    "digits x pixelcnn": ("digits", "pixelcnn"),
    "markov_mixture x lstm": ("markov_mixture", "lstm"),
    "digits x gated_pixelcnn": ("digits", None),
}
MIN_ROUND_SECONDS = 2.0
MNIST_SCALE = {  # case -> (hidden units, latent dimension, batch size)
    "mnist-scale mlp 500-500-32, batch 100": ((500, 500), 32, 100),
    "mnist-scale mlp 200-200-50, batch 20 (Burda)": ((200, 200), 50, 20),
}


def embedded_case(dataset: str, decoder: str | None):
    """The run config and data of a vanilla run of the default config (``decoder`` None:
    the gated PixelCNN at its defaults)."""
    from vae_tfp.config import RunKey, dataset_options, load_experiment_config, resolve_run_config
    from vae_tfp.data.registry import prepare_dataset

    config = load_experiment_config(ROOT / "config" / "config.yaml")
    if decoder is None:
        config["decoders"]["gated"] = {"type": "gated_pixelcnn"}
        decoder = "gated"
    run_config = resolve_run_config(config, RunKey(dataset, decoder, "vanilla", 0))
    return run_config, prepare_dataset(dataset, dataset_options(config, dataset))


def mnist_scale_case(hidden: tuple[int, ...], latent: int, batch: int):
    """A vanilla MLP VAE on 10,000 random binary 784-d examples (timing ignores weights)."""
    from speed import binary_data, mlp_vae_case

    return mlp_vae_case(binary_data(10_000), hidden, latent, batch)


def trainer(run_config: dict, data, jit_compile: bool, run_dir: Path):
    """A :class:`~vae_tfp.training.loop.Trainer` of ``run_config`` with ``jit_compile``."""
    from vae_tfp.training.loop import Trainer

    run_config = copy.deepcopy(run_config)
    run_config["training"] = {**run_config["training"], "jit_compile": jit_compile}
    run_dir.mkdir(parents=True)
    return Trainer(run_config, data, run_dir)


def epoch_seconds(trainer, epoch: int) -> float:
    """Seconds of one epoch of the trainer's joint spans (no validation, no saving)."""
    import tensorflow as tf

    n_batches = trainer.feed.n_batches
    plan = trainer.feed.epoch_plan(12345, epoch)
    started = time.perf_counter()
    index = 0
    while index < n_batches:
        stop = min(n_batches, index + trainer.batches_per_call)
        index = int(trainer.joint_span(plan, tf.constant(index), tf.constant(stop)))
    trainer.feed.epoch_sums.numpy()
    return time.perf_counter() - started


def measure(name: str, run_config: dict, data, rounds: int, scratch: Path) -> None:
    """Prints one case's line: first epoch and median epoch of each mode, and the ratio."""
    trainers = {
        mode: trainer(run_config, data, mode == "xla", scratch / name.replace(" ", "_") / mode)
        for mode in ("graph", "xla")
    }
    first = {mode: epoch_seconds(t, 0) for mode, t in trainers.items()}
    # Epochs per round: enough for about MIN_ROUND_SECONDS in the slower mode (tiny models'
    # epochs take milliseconds).
    slowest = max(epoch_seconds(t, 1) for t in trainers.values())
    repeats = max(1, math.ceil(MIN_ROUND_SECONDS / slowest))
    times: dict[str, list[float]] = {mode: [] for mode in trainers}
    for round_ in range(rounds):
        order = ("graph", "xla") if round_ % 2 == 0 else ("xla", "graph")
        for mode in order:
            epochs = range(2 + round_ * repeats, 2 + (round_ + 1) * repeats)
            total = sum(epoch_seconds(trainers[mode], epoch) for epoch in epochs)
            times[mode].append(total / repeats)
    graph, xla = (statistics.median(times[mode]) for mode in ("graph", "xla"))
    batches = trainers["graph"].feed.n_batches
    print(
        f"{name:46s} {batches:5d} {first['graph']:8.2f} {first['xla']:8.2f} "
        f"{graph:8.3f} {xla:8.3f} {graph / xla:7.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per mode")
    parser.add_argument("--only", default="", help="comma-separated substrings of case names")
    args = parser.parse_args()

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    wanted = [s for s in args.only.split(",") if s]
    cases = {
        **{name: lambda d=d, e=e: embedded_case(d, e) for name, (d, e) in EMBEDDED.items()},
        **{name: lambda s=s: mnist_scale_case(*s) for name, s in MNIST_SCALE.items()},
    }
    print(
        f"TensorFlow {tf.__version__}, {args.threads} thread(s), median of {args.rounds} rounds "
        "per mode (alternated), seconds per epoch of train steps (no validation)"
    )
    print(
        f"{'case':46s} {'steps':>5s} {'first:gr':>8s} {'first:xla':>8s} "
        f"{'graph':>8s} {'xla':>8s} {'gr/xla':>7s}"
    )
    with tempfile.TemporaryDirectory() as scratch:
        for name, build in cases.items():
            if wanted and not any(w in name for w in wanted):
                continue
            run_config, data = build()
            measure(name, run_config, data, args.rounds, Path(scratch))
    sys.exit(0)


if __name__ == "__main__":
    main()
