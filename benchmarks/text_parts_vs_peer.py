"""The parts of the text-VAE train step, each beside the PyTorch peer's: where the gap is.

``text_step_cost.py`` times the whole step of Li et al. 2019's PTB model against the peer
(``text_vae_torch.py``); this script times the two parts that make most of it, forward and
backward, on random data of an equal-length PTB batch (32 sentences of ``--length`` tokens,
10,002 words, 256 units):

- ``lstm``: an LSTM of 256 units over 256-wide inputs with a given initial state, the
  gradients of its states' weighted sum with respect to the inputs, the weights and the
  initial state. The suite's is :func:`vae_tfp.models.recurrent.lstm_states` on a
  ``tf_keras`` cell (one input product before the loop, XLA loops, the written-out
  backward pass); the peer's ``torch.nn.LSTM`` (oneDNN's RNN primitive on the CPU). A step
  runs two of them (the encoder's and the decoder's, whose input is 32 wider).
- ``softmax``: the output layer over the batch's 704 positions, logits = h W + b, and the
  summed log-softmax at the labels, with the gradients with respect to h, W and b. The
  suite's is a matrix product and :func:`vae_tfp.models.tokens.categorical_log_prob`, as
  the LSTM decoder computes it; the peer's ``nn.Linear`` and ``cross_entropy``.
- ``gemm``: the output layer's forward product h W alone, the largest of its three.

Each implementation runs in its own process (no two runtimes' thread pools in one process);
every round times each part ``--repeats`` times in one process and then in the other, and
the figure printed is the median over rounds of the mean time per call.

    python benchmarks/text_parts_vs_peer.py [--threads 2] [--rounds 5] [--repeats 20]
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from text_step_cost import machine_note, versions  # noqa: E402

BATCH, WIDTH, VOCAB = 32, 256, 10_002
PARTS = ("lstm", "softmax", "gemm")


def suite_parts(length: int) -> dict:
    """{part: a call running it once} for the suite (TensorFlow), on fixed random data."""
    import tensorflow as tf
    import tf_keras

    from vae_tfp.models.recurrent import build_layer, lstm_states
    from vae_tfp.models.tokens import categorical_log_prob

    tf_keras.utils.set_random_seed(0)
    draw = tf.random.Generator.from_seed(0)
    layer = tf_keras.layers.LSTM(WIDTH, return_sequences=True)
    build_layer(layer, (None, None, WIDTH))
    x = draw.normal([length, BATCH, WIDTH])
    h0, c0 = draw.normal([BATCH, WIDTH]), draw.normal([BATCH, WIDTH])
    d_states = draw.normal([length, BATCH, WIDTH])
    rows = draw.normal([length * BATCH, WIDTH])
    kernel = tf.Variable(draw.normal([WIDTH, VOCAB]) * 0.05)
    bias = tf.Variable(tf.zeros([VOCAB]))
    labels = draw.uniform([length * BATCH], 3, VOCAB, dtype=tf.int32)

    @tf.function
    def lstm():
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            states = lstm_states(layer.cell, x, (h0, c0))
            loss = tf.reduce_sum(states * d_states)
        return tape.gradient(loss, [x, h0, c0, *layer.trainable_variables])

    @tf.function
    def softmax():
        with tf.GradientTape() as tape:
            tape.watch(rows)
            logits = tf.matmul(rows, kernel) + bias
            loss = -tf.reduce_sum(categorical_log_prob(logits, labels))
        return tape.gradient(loss, [rows, kernel, bias])

    gemm = tf.function(lambda: [tf.matmul(rows, kernel)])
    return {
        name: (lambda fn=fn: [t.numpy() for t in fn()][-1])
        for name, fn in (("lstm", lstm), ("softmax", softmax), ("gemm", gemm))
    }


def peer_parts(length: int) -> dict:
    """{part: a call running it once} for the PyTorch peer, on fixed random data."""
    import torch

    torch.manual_seed(0)
    lstm_layer = torch.nn.LSTM(WIDTH, WIDTH)
    x = torch.randn(length, BATCH, WIDTH, requires_grad=True)
    h0 = torch.randn(1, BATCH, WIDTH, requires_grad=True)
    c0 = torch.randn(1, BATCH, WIDTH, requires_grad=True)
    d_states = torch.randn(length, BATCH, WIDTH)
    rows = torch.randn(length * BATCH, WIDTH, requires_grad=True)
    head = torch.nn.Linear(WIDTH, VOCAB)
    labels = torch.randint(3, VOCAB, (length * BATCH,))

    def fresh_gradients(*tensors):  # as the peer's step does, nothing is accumulated
        for tensor in tensors:
            tensor.grad = None

    def lstm():
        fresh_gradients(x, h0, c0, *lstm_layer.parameters())
        states, _ = lstm_layer(x, (h0, c0))
        (states * d_states).sum().backward()

    def softmax():
        fresh_gradients(rows, *head.parameters())
        torch.nn.functional.cross_entropy(head(rows), labels, reduction="sum").backward()

    def gemm():
        with torch.no_grad():
            return rows @ head.weight.t()

    return {"lstm": lstm, "softmax": softmax, "gemm": gemm}


def worker(name: str, length: int, threads: int, connection) -> None:
    """Builds ``name``'s parts, then times the part it is sent ``repeats`` times and sends
    back the mean seconds per call; None ends it."""
    if name == "pytorch":
        import torch

        torch.set_num_threads(threads)
        parts = peer_parts(length)
    else:
        from vae_tfp.runtime import configure_tensorflow

        configure_tensorflow(threads)
        parts = suite_parts(length)
    for run in parts.values():  # compile and warm up
        run()
        run()
    connection.send("ready")
    while (request := connection.recv()) is not None:
        part, repeats = request
        started = time.perf_counter()
        for _ in range(repeats):
            parts[part]()
        connection.send((time.perf_counter() - started) / repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20, help="calls per part and round")
    parser.add_argument("--length", type=int, default=22, help="tokens per sentence")
    args = parser.parse_args()

    print(f"{datetime.datetime.now().isoformat(timespec='seconds')}; {machine_note(args.threads)}")
    print(f"{versions()}; equal batch [{BATCH}, {args.length}], {WIDTH} units, {VOCAB} words")
    context = multiprocessing.get_context("spawn")
    pipes = {}
    for name in ("suite", "pytorch"):
        parent, child = context.Pipe()
        context.Process(target=worker, args=(name, args.length, args.threads, child)).start()
        pipes[name] = parent
    for connection in pipes.values():
        assert connection.recv() == "ready"

    seconds = {(part, name): [] for part in PARTS for name in pipes}
    for _ in range(args.rounds):
        for part in PARTS:
            for name, connection in pipes.items():
                connection.send((part, args.repeats))
                seconds[part, name].append(connection.recv())
    for connection in pipes.values():
        connection.send(None)

    print(f"median of {args.rounds} alternated rounds of {args.repeats} calls, ms per call")
    print(f"{'part':>8}  {'suite':>8}  {'pytorch':>8}  peer / suite")
    for part in PARTS:
        suite, peer = (1e3 * statistics.median(seconds[part, n]) for n in ("suite", "pytorch"))
        print(f"{part:>8}  {suite:8.1f}  {peer:8.1f}  {peer / suite:.2f}×")


if __name__ == "__main__":
    main()
