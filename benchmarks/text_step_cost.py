"""The suite's text-VAE train step against a PyTorch peer, on Penn Treebank batches.

Li et al. 2019's PTB model (``config/paper.yaml``'s ``ptb x lstm_256``: embeddings 256,
one-layer LSTM encoder and decoder of 256 units, z = 32 joined to every decoder input and
setting its initial state, dropout 0.5, softmax over the 10k vocabulary), batches of 32,
SGD with the gradient norm clipped at 5, in the ``keras`` parameterization on both sides
(``config/paper.yaml``'s ``he2019``, ``vae_tfp/models/text_layers.py``, changes the initial
values, drops three bias additions and halves the z-to-state layer, not the LSTM and
softmax work that a step's time is made of), trained by

- the suite: ``vae_tfp.models.build_vae`` and the train loop's own step
  (``vae_tfp.training.steps.make_train_step``: the plain VAE's loss under a
  ``GradientTape``, the global-norm clip at 5 and SGD), in one ``tf.function``;
- optionally the suite at an earlier commit (``--baseline REV``: that commit's
  ``vae_tfp/models/sequence.py``, the model code before a speed change);
- the PyTorch eager peer of ``benchmarks/text_vae_torch.py`` (the ``bench`` extra).

Three batchings of the training sentences (``vae_tfp.data.buckets``): ``padded`` (random
batches padded to the corpus's longest sentence, the train loop's ``training.batching:
padded``),
``buckets`` (``--buckets`` boundaries that pad least) and ``equal`` (sentences of one length
per batch, as He et al.'s and Li et al.'s code batch them). Each implementation runs in a
process of its own (no two runtimes' thread pools in one process); each round times the
same randomly drawn batches of every batching through every implementation, in turn
(alternated, so a noisy machine slows all of them alike), after every shape was compiled
once (the warm-up, reported apart; the suite compiles its LSTM loops once per batch size and
longest sentence, once per process over a run). The whole-PTB epoch is the mean time per batch times
the batches of an epoch (train steps only, no validation pass); the figure printed is the
median over rounds.

``--onednn`` adds the suite with ``TF_ENABLE_ONEDNN_OPTS=1`` (oneDNN's kernels, which
TensorFlow turns on by default only on CPUs with AVX-512 VNNI or AMX) and then sets it to 0
for the other suite processes; without it they keep TensorFlow's default. ``--xla`` adds the
suite with its whole train step compiled by XLA (``training.jit_compile: true``; once per
batch shape, in the warm-up).

On a shared machine whose load exceeds its cores, libgomp's spin-waiting makes PyTorch's two
threads slower than one; ``--omp-passive`` runs the peer with ``OMP_WAIT_POLICY=PASSIVE``.

    VAE_TFP_DATA_CACHE=... python benchmarks/text_step_cost.py [--threads 2] [--rounds 3]
        [--batches 20] [--buckets 8] [--baseline REV] [--onednn] [--xla] [--omp-passive]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

BATCH, LATENT, WIDTH = 32, 32, 256
MODEL = {"latent_dim": LATENT, "encoder_embedding_size": WIDTH, "encoder_hidden_size": WIDTH}
DECODER = {"type": "lstm", "embedding_size": WIDTH, "hidden_size": WIDTH, "dropout": 0.5}


def baseline_sequence_module(revision: str):
    """``vae_tfp/models/sequence.py`` as it was at ``revision``, imported as a module."""
    source = subprocess.run(
        ["git", "show", f"{revision}:vae_tfp/models/sequence.py"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    spec = importlib.util.spec_from_loader(f"sequence_at_{revision}", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{revision}:vae_tfp/models/sequence.py", "exec"), module.__dict__)
    return module


def suite_step(vocab_size: int, steps: int, sequence_module=None, jit_compile: bool = False):
    """The suite's train step on one batch per call: ``step(x) -> loss`` (x int32 [B, L]),
    the whole step compiled by XLA if ``jit_compile`` (the run option ``training.jit_compile``)."""
    import tensorflow as tf
    import tf_keras

    from vae_tfp.methods import build_method
    from vae_tfp.models import build_vae
    from vae_tfp.models.vae import VAE
    from vae_tfp.training.steps import make_train_step

    tf_keras.utils.set_random_seed(0)
    if sequence_module is None:
        vae = build_vae(MODEL, DECODER, (steps,), "tokens", vocab_size)
    else:
        encoder = sequence_module.SequenceEncoder((steps,), LATENT, vocab_size, WIDTH, WIDTH)
        options = {k: v for k, v in DECODER.items() if k != "type"}
        decoder = sequence_module.LSTMDecoder(LATENT, (steps,), "tokens", vocab_size, **options)
        vae = VAE(encoder, decoder, LATENT)
    parts = [vae.encoder.trainable_variables, vae.decoder.trainable_variables]
    optimizers = [tf_keras.optimizers.SGD(1.0), tf_keras.optimizers.SGD(1.0)]
    for part, optimizer in zip(parts, optimizers, strict=True):
        optimizer.build(part)
    # The loop's joint step (vae_tfp/training/loop.py) for the plain VAE: loss, gradients,
    # the clip at 5 and SGD, as make_train_step does it (one trace per batch shape).
    step_fn = make_train_step(
        vae,
        build_method({"method": "vanilla"}),
        (parts[0], optimizers[0]),
        (parts[1], optimizers[1]),
        step=tf.Variable(0, dtype=tf.int64),
        sampler=tf.random.Generator.from_seed(1),
        clip_norm=5.0,
    )
    train = tf.function(
        lambda x: step_fn(x)["loss"],
        autograph=False,
        jit_compile=jit_compile,
        reduce_retracing=False,
    )

    return lambda x: float(train(tf.constant(x, tf.int32)))


def plans(lengths: np.ndarray, steps: int, n_buckets: int, seed: int = 0):
    """{batching: list of LengthBatch} for the three batchings (one epoch's plan each)."""
    from vae_tfp.data.buckets import LengthBatch, bucket_boundaries, length_batches

    order = np.random.default_rng(seed).permutation(len(lengths))
    padded = [
        LengthBatch(np.sort(order[i : i + BATCH]), steps) for i in range(0, len(order), BATCH)
    ]
    return {
        "padded": padded,
        "buckets": length_batches(lengths, BATCH, seed, 0, bucket_boundaries(lengths, n_buckets)),
        "equal": length_batches(lengths, BATCH, seed, 0),
    }


def timed_batches(step, batches) -> list[float]:
    times = []
    for x in batches:
        started = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - started)
    return times


def machine_note(threads: int) -> str:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores visible, {threads} threads; load average {load}"


def worker(name: str, vocab: int, steps: int, threads: int, connection) -> None:
    """Builds implementation ``name`` in this process, then times the batches it is sent
    (a list of token arrays) and sends back the seconds of each; None ends it."""
    if name.endswith("+onednn"):  # read when TensorFlow is imported, below
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    if name == "pytorch":
        from text_vae_torch import peer_step

        step = peer_step(vocab, threads)
    else:
        from vae_tfp.runtime import configure_tensorflow

        configure_tensorflow(threads)
        revision = name.partition("+")[0].partition("@")[2]
        module = baseline_sequence_module(revision) if revision else None
        step = suite_step(vocab, steps, module, jit_compile=name.endswith("+xla"))
    connection.send("ready")
    while (batches := connection.recv()) is not None:
        connection.send(timed_batches(step, batches))


def start_workers(names, vocab: int, steps: int, threads: int, omp_passive: bool) -> dict:
    context = multiprocessing.get_context("spawn")
    pipes = {}
    for name in names:
        parent, child = context.Pipe()
        previous = os.environ.get("OMP_WAIT_POLICY")
        if name == "pytorch" and omp_passive:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # inherited by the spawned process
        context.Process(
            target=worker, args=(name, vocab, steps, threads, child), daemon=True
        ).start()
        if previous is None:
            os.environ.pop("OMP_WAIT_POLICY", None)
        else:
            os.environ["OMP_WAIT_POLICY"] = previous
        pipes[name] = parent
    for connection in pipes.values():
        assert connection.recv() == "ready"
    return pipes


def run_on(connection, batches) -> list[float]:
    connection.send(batches)
    return connection.recv()


def versions() -> str:
    import tensorflow as tf

    text = f"TensorFlow {tf.__version__}"
    try:
        import torch

        text += f", PyTorch {torch.__version__} eager"
    except ImportError:
        pass
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=20, help="batches per round and batching")
    parser.add_argument("--buckets", type=int, default=8, help="bucket boundaries (buckets)")
    parser.add_argument("--baseline", help="also time the suite's sequence.py at this commit")
    parser.add_argument("--batchings", nargs="+", default=["padded", "buckets", "equal"])
    parser.add_argument("--no-peer", action="store_true", help="skip the PyTorch peer")
    parser.add_argument(
        "--onednn", action="store_true", help="also time the suite with TF_ENABLE_ONEDNN_OPTS=1"
    )
    parser.add_argument("--omp-passive", action="store_true", help="the peer's OMP_WAIT_POLICY")
    parser.add_argument(
        "--xla", action="store_true", help="also time the suite's whole step compiled by XLA"
    )
    args = parser.parse_args()

    from vae_tfp.data import prepare_dataset
    from vae_tfp.data.store import token_counts

    data = prepare_dataset("ptb", {"data_seed": 0}, None)
    lengths, steps, vocab = token_counts(data.train), data.train.shape[1], len(data.vocabulary)
    print(f"{datetime.datetime.now().isoformat(timespec='seconds')}; {machine_note(args.threads)}")
    print(f"PTB train: {len(lengths)} sentences, padded length {steps}, mean length "
          f"{lengths.mean():.1f} (words + EOS), vocabulary {vocab}; batch {BATCH}")  # fmt: skip
    names = ["suite"] + [f"suite@{args.baseline}"] * bool(args.baseline)
    names += ["suite+onednn"] * args.onednn + ["suite+xla"] * args.xla
    if args.onednn:  # the other suite processes inherit it off
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    names += [] if args.no_peer else ["pytorch"]
    passive = " (OMP_WAIT_POLICY=PASSIVE)" if args.omp_passive and not args.no_peer else ""
    print(versions() + passive + "; one process per implementation")
    implementations = start_workers(names, vocab, steps, args.threads, args.omp_passive)

    all_plans = {name: plan for name, plan in plans(lengths, steps, args.buckets).items()
                 if name in args.batchings}  # fmt: skip
    rng = np.random.default_rng(1)
    draws = {
        name: [plan[i] for i in rng.choice(len(plan), args.rounds * args.batches)]
        for name, plan in all_plans.items()
    }
    for name, drawn in draws.items():  # compile every shape drawn, once
        # The suite cuts a batch to its longest sentence: one shape per (rows, longest).
        shapes = {
            (len(b.rows), b.length, int(lengths[b.rows].max())): b.tokens(data.train) for b in drawn
        }
        for impl, connection in implementations.items():
            seconds = sum(run_on(connection, list(shapes.values())))
            print(f"warm-up {impl} on {len(shapes)} {name} shapes: {seconds:.1f} s")

    per_batch = {(b, i): [] for b in all_plans for i in implementations}
    epochs = {(b, i): [] for b in all_plans for i in implementations}
    for r in range(args.rounds):
        for name, plan in all_plans.items():
            chosen = draws[name][r * args.batches : (r + 1) * args.batches]
            xs = [batch.tokens(data.train) for batch in chosen]
            order = list(implementations)
            order = order[r % len(order) :] + order[: r % len(order)]  # rotate who goes first
            for impl in order:
                times = run_on(implementations[impl], xs)
                per_batch[name, impl] += times
                epochs[name, impl].append(statistics.fmean(times) * len(plan))
        print(f"round {r + 1}/{args.rounds} done; load average {os.getloadavg()[0]:.2f}")

    print(f"\nwhole-PTB epoch, train steps only ({args.threads} threads; median over "
          f"{args.rounds} rounds of {args.batches} batches; per batch: median ms)")  # fmt: skip
    for name, plan in all_plans.items():
        padding = 1 - lengths.sum() / sum(len(b.rows) * b.length for b in plan)
        shapes = len({b.length for b in plan})
        print(f"{name}: {len(plan)} batches an epoch, {shapes} lengths, {padding:.0%} padding")
        minutes = {i: statistics.median(epochs[name, i]) / 60 for i in implementations}
        for impl in implementations:
            ms = 1000 * statistics.median(per_batch[name, impl])
            rounds = ", ".join(f"{e / 60:.2f}" for e in epochs[name, impl])
            print(f"  {impl:>24}: {ms:7.1f} ms/batch, epoch {minutes[impl]:6.2f} min "
                  f"(rounds {rounds})")  # fmt: skip
        peer = statistics.median(per_batch[name, "pytorch"]) if "pytorch" in minutes else None
        for impl in [i for i in implementations if i != "pytorch"] if peer else []:
            ratio, by_batch = (
                minutes["pytorch"] / minutes[impl],
                peer / statistics.median(per_batch[name, impl]),
            )
            print(f"  {'peer / ' + impl:>24}: {ratio:.2f}x by epoch, {by_batch:.2f}x per batch")
    print(f"load average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for connection in implementations.values():
        connection.send(None)


if __name__ == "__main__":
    main()
