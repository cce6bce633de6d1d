"""One whole-PTB training epoch of the suite's train loop under each ``training.batching``.

Li et al. 2019's PTB model and protocol (``config/paper.yaml``'s ``ptb x lstm_256 x
vanilla``: embeddings 256, one-layer LSTM encoder and decoder of 256 units, z = 32, dropout
0.5, batches of 32, SGD 0.5 with the gradient norm clipped at 5) is trained by the suite's
own :class:`vae_tfp.training.loop.Trainer`, through its feed and span loops
(:mod:`vae_tfp.training.feeds`), with

- ``padded``: shuffled rows; the sequence models cut each batch to its longest sentence;
- ``length``: sentences of one length per batch, the batches' order shuffled every epoch
  (He et al.'s and Li et al.'s ``create_data_batch``);
- ``buckets``: ``--buckets`` length buckets (boundaries that pad least), each batch padded
  to its bucket's boundary (then cut to its longest sentence outside XLA).

Every distinct batch shape is compiled first (the warm-up, reported apart: a shape compiles
once per process, so over a 100-epoch run it is paid once). Then each round trains, for each
batching in turn (alternated, so a noisy machine slows all alike), a random window of
``--fraction`` of that epoch's batches through the loop's span calls, and scales its time
to the epoch's batches: the whole-PTB epoch of train steps, validation excluded. Printed:
the median over rounds, batches per epoch, distinct shapes (fed to the step, and met by the
LSTM after the cut), and padding fractions. ``--per-shape`` also times the length feeds
with one ``tf.function`` per shape instead of one dynamic-shape loop.

``--validation`` times the per-epoch validation pass instead (the Trainer's own call of
:func:`vae_tfp.training.validation.validation_scores` on PTB's validation sentences, in the
batches each batching gives it: padded rows, or unshuffled length or bucket batches): the
first pass (which compiles), then the median of ``--rounds`` passes, alternated, with the
number of batches and ``valid_elbo`` (which must agree across batchings: the same
sentences, the same noise).

    VAE_TFP_DATA_CACHE=... python benchmarks/text_batching_epoch.py [--threads 2]
        [--rounds 5] [--fraction 0.04] [--buckets 8] [--per-shape] [--validation]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import os
import statistics
import tempfile
import time

import numpy as np

PADDED_EPOCHS_SEEN = 100  # epochs whose padded batches the warm-up covers


def machine_note(threads: int) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    stamp = datetime.datetime.now().isoformat(timespec="minutes")
    return f"{stamp}; {os.cpu_count()} cores, load average {load}; {threads} threads"


def trainer_for(run_config, data, batching: str, n_buckets: int, per_shape: bool, run_dir):
    """A Trainer of ``run_config`` with ``training.batching`` set."""
    from vae_tfp.training.loop import Trainer

    config = copy.deepcopy(run_config)
    config["training"]["batching"] = batching
    if batching == "buckets":
        config["training"]["n_buckets"] = n_buckets
    trainer = Trainer(config, data, run_dir)
    if per_shape:
        trainer.feed.per_shape = True
        trainer._build_optimizers()  # the spans again, on one function per shape
    return trainer


def padded_batches(n_rows: int, batch_size: int, seed: int, epochs: int) -> list[np.ndarray]:
    """The full batches of ``epochs`` padded epochs, in the orders of
    :meth:`vae_tfp.training.spans.BatchFeed.epoch_plan`."""
    full = n_rows // batch_size
    return [
        batch
        for epoch in range(1, epochs + 1)
        for batch in np.split(
            np.random.default_rng([seed, epoch]).permutation(n_rows)[: full * batch_size], full
        )
    ]


def shapes_and_padding(trainer, lengths: np.ndarray, seed: int) -> dict:
    """Distinct shapes fed to the step and met by the LSTM (after the models' cut to the
    longest sentence), and the padding fractions of both."""
    from vae_tfp.training.feeds import LengthBatchFeed

    feed = trainer.feed
    if isinstance(feed, LengthBatchFeed):  # the same batch members every epoch
        batches = seen = [(b.rows, b.length) for b in feed.epoch_plan(seed, 1).batches]
        fed = len(feed.batch_shapes)
    else:
        width = int(trainer.data.train.shape[1])
        batches = [(r, width) for r in padded_batches(len(lengths), feed.batch_size, seed, 1)]
        seen = [(r, width) for r in padded_batches(len(lengths), 32, seed, PADDED_EPOCHS_SEEN)]
        fed = 1 + bool(feed.n_train % feed.batch_size)  # full batches and the last one
    used = sum(int(lengths[rows].sum()) for rows, _ in batches)
    positions = sum(len(rows) * length for rows, length in batches)
    positions_cut = sum(len(rows) * int(lengths[rows].max()) for rows, _ in batches)
    return {
        "fed": fed,
        "cut": len({(len(rows), int(lengths[rows].max())) for rows, _ in seen}),
        "padding": 1 - used / positions,
        "padding_cut": 1 - used / positions_cut,
    }


def warm_up(trainer, lengths: np.ndarray, seed: int) -> float:
    """Trains one batch of every shape the run meets; returns the seconds it took."""
    import tensorflow as tf

    from vae_tfp.training.feeds import LengthBatchFeed, LengthPlan

    feed, started = trainer.feed, time.perf_counter()
    if isinstance(feed, LengthBatchFeed):
        one_each = {}
        for batch in feed.epoch_plan(seed, 1).batches:
            one_each.setdefault((len(batch.rows), int(lengths[batch.rows].max())), batch)
        batches = list(one_each.values())
        plan = LengthPlan(
            batches,
            tf.constant(np.concatenate([b.rows for b in batches]), tf.int32),
            tf.constant(np.cumsum([0] + [len(b.rows) for b in batches]), tf.int32),
            tf.constant([b.length for b in batches], tf.int32),
        )
        trainer.joint_span(plan, 0, len(batches))
    else:  # one full batch per longest sentence met over PADDED_EPOCHS_SEEN epochs
        one_each = {}
        for rows in padded_batches(len(lengths), feed.batch_size, seed, PADDED_EPOCHS_SEEN):
            one_each.setdefault(int(lengths[rows].max()), rows)
        order = np.concatenate(list(one_each.values()))
        order = np.concatenate([order, np.arange(feed.n_train - len(order))])
        trainer.joint_span(tf.constant(order, tf.int32), 0, len(one_each))
    return time.perf_counter() - started


def timed_window(trainer, seed: int, epoch: int, fraction: float, rng) -> float:
    """Seconds of a random window of ``fraction`` of ``epoch``'s batches, scaled to all."""
    feed = trainer.feed
    plan = feed.epoch_plan(seed, epoch)
    window = max(1, round(fraction * feed.n_batches))
    first = int(rng.integers(0, feed.n_batches - window))
    started, index = time.perf_counter(), first
    while index < first + window:  # the loop's span calls (Trainer._train_epoch)
        index = trainer.joint_span(plan, index, min(first + window, index + 100))
    return (time.perf_counter() - started) * feed.n_batches / window


def validation_pass(trainer) -> tuple[float, float]:
    """Seconds and ``valid_elbo`` of one validation pass as the Trainer runs it each epoch."""
    from vae_tfp.seeds import derive_seed
    from vae_tfp.training.validation import (
        VALID_AU_THRESHOLD,
        VALID_BATCH_SIZE,
        validation_scores,
    )

    started = time.perf_counter()
    scores = validation_scores(
        trainer.model,
        trainer.data.valid,
        VALID_BATCH_SIZE,
        derive_seed(trainer.seed, "valid_sampling"),
        VALID_AU_THRESHOLD,
        batches=trainer.valid_batches,
    )
    return time.perf_counter() - started, scores["valid_elbo"]


def time_validation(trainers: dict, rounds: int, threads: int) -> None:
    """Prints the first and the median validation pass of each batching, alternated."""
    from vae_tfp.training.validation import VALID_BATCH_SIZE

    names = list(trainers)
    first = {name: validation_pass(trainers[name]) for name in names}
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            times[name].append(validation_pass(trainers[name])[0])
    print(f"\n# {machine_note(threads)}")
    print(f"validation pass (median of {rounds} passes after the first, alternated)")
    print("| batching | batches | first pass (s) | pass (s) | valid_elbo |")
    print("|---|---|---|---|---|")
    for name in names:
        batches = trainers[name].valid_batches  # None: consecutive padded rows
        rows = len(trainers[name].data.valid)
        count = len(batches) if batches is not None else -(-rows // VALID_BATCH_SIZE)
        seconds, elbo = first[name]
        print(
            f"| {name} | {count} | {seconds:.1f} | {statistics.median(times[name]):.1f} "
            f"| {elbo:.4f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fraction", type=float, default=0.04)
    parser.add_argument("--buckets", type=int, default=8)
    parser.add_argument("--per-shape", action="store_true")
    parser.add_argument(
        "--validation", action="store_true", help="time the validation pass instead"
    )
    args = parser.parse_args()

    from vae_tfp.runtime import configure_tensorflow

    configure_tensorflow(args.threads)
    from vae_tfp.config import RunKey, load_experiment_config, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.data.store import token_counts
    from vae_tfp.seeds import derive_seed

    config = load_experiment_config("config/paper.yaml")
    run_config = resolve_run_config(config, RunKey("ptb", "lstm_256", "vanilla", 0))
    data = prepare_dataset("ptb", run_config["dataset_options"], config.get("data_cache"))
    lengths = token_counts(data.train)
    seed = derive_seed(int(run_config["seed"]), "data_order")
    variants = [("padded", False), ("length", False), ("buckets", False)]
    if args.per_shape:
        variants += [("length", True), ("buckets", True)]
    names = [f"{b}{' (per shape)' if p else ''}" for b, p in variants]
    print(f"# {machine_note(args.threads)}")
    print(f"# ptb x lstm_256 x vanilla, {len(data.train)} training sentences, batch 32")
    trainers, figures, warm = {}, {name: [] for name in names}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (batching, per_shape) in zip(names, variants, strict=True):
            trainer = trainer_for(
                run_config, data, batching, args.buckets, per_shape, f"{tmp}/{len(trainers)}"
            )
            trainers[name] = trainer
            if args.validation:
                continue
            warm[name] = warm_up(trainer, lengths, seed)
            print(f"warm-up {name}: {warm[name]:.0f} s", flush=True)
        if args.validation:
            time_validation(trainers, args.rounds, args.threads)
            return
        rng = np.random.default_rng(0)
        for round_ in range(args.rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                epoch_s = timed_window(trainers[name], seed, round_ + 2, args.fraction, rng)
                figures[name].append(epoch_s)
            done = ", ".join(f"{name} {figures[name][-1] / 60:.2f} min" for name in names)
            print(f"round {round_ + 1}: {done}", flush=True)
        print(f"\n# {machine_note(args.threads)}")
        print(
            f"whole-PTB training epoch, train steps only (median of {args.rounds} rounds of "
            f"{args.fraction:.0%} of an epoch, scaled)"
        )
        print("| batching | epoch (min) | vs padded | batches | shapes fed | shapes after cut "
              "| padding fed | padding after cut | warm-up (s) |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        padded = statistics.median(figures["padded"])
        for name in names:
            trainer, median = trainers[name], statistics.median(figures[name])
            info = shapes_and_padding(trainer, lengths, seed)
            print(
                f"| {name} | {median / 60:.2f} | {padded / median:.2f}x | "
                f"{trainer.feed.n_batches} | {info['fed']} | {info['cut']} | "
                f"{info['padding']:.1%} | {info['padding_cut']:.1%} | {warm[name]:.0f} |"
            )
        print(
            f"(padded: every batch is fed as stored, {data.train.shape[1]} tokens; its shapes "
            f"after the cut are those met over {PADDED_EPOCHS_SEEN} epochs)"
        )


if __name__ == "__main__":
    main()
