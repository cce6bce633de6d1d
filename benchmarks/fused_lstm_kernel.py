"""The suite's LSTM (``vae_tfp.models.recurrent``) against TensorFlow's fused CPU kernel
``BlockLSTMV2`` (with its registered gradient, ``BlockLSTMGradV2``): forward and backward
pass of one LSTM of Li et al.'s PTB model (256 inputs, 256 units) on an equal batch of 32
sentences of 22 tokens, in one process, taking turns round by round.

First the largest differences of their states and weight gradients are printed (the
kernel's gate order is Keras's i, f, g, o; no peepholes, no cell clip; the suite's gradients
are tested against tf_keras's LSTM in tests/test_recurrent.py), then each is timed over
``--calls`` calls per round; the table prints ms per call (median, min, max over rounds).

    python benchmarks/fused_lstm_kernel.py [--rounds 5] [--calls 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from vae_tfp.models.recurrent import lstm_recurrence  # noqa: E402

STEPS, BATCH, WIDTH, UNITS = 22, 32, 256, 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    rng = np.random.default_rng(0)
    inputs = tf.constant(rng.normal(size=(STEPS, BATCH, WIDTH)).astype(np.float32))
    kernel = tf.Variable(rng.uniform(-0.1, 0.1, (WIDTH, 4 * UNITS)).astype(np.float32))
    recurrent = tf.Variable(rng.uniform(-0.1, 0.1, (UNITS, 4 * UNITS)).astype(np.float32))
    bias = tf.Variable(rng.uniform(-0.1, 0.1, 4 * UNITS).astype(np.float32))
    h0, c0 = tf.zeros([BATCH, UNITS]), tf.zeros([BATCH, UNITS])
    upstream = tf.constant(rng.normal(size=(STEPS, BATCH, UNITS)).astype(np.float32))
    weights = [kernel, recurrent, bias]
    no_peephole = tf.zeros([UNITS])

    @tf.function(autograph=False)
    def suite():
        with tf.GradientTape() as tape:
            flat = tf.matmul(tf.reshape(inputs, [-1, WIDTH]), kernel)
            projected = tf.reshape(flat, [STEPS, BATCH, 4 * UNITS]) + bias
            states = lstm_recurrence(projected, recurrent, h0, c0)
            loss = tf.reduce_sum(states * upstream)
        return states, tape.gradient(loss, weights)

    @tf.function(autograph=False)
    def fused():
        with tf.GradientTape() as tape:
            states = tf.raw_ops.BlockLSTMV2(
                seq_len_max=tf.constant(STEPS, tf.int64), x=inputs, cs_prev=c0, h_prev=h0,
                w=tf.concat([kernel, recurrent], axis=0), wci=no_peephole, wcf=no_peephole,
                wco=no_peephole, b=bias, cell_clip=0.0, use_peephole=False,
            )[6]  # fmt: skip
            loss = tf.reduce_sum(states * upstream)
        return states, tape.gradient(loss, weights)

    implementations = {"suite (XLA loops)": suite, "BlockLSTMV2": fused}
    (suite_states, suite_grads), (fused_states, fused_grads) = suite(), fused()
    print(f"{os.cpu_count()} CPUs, {args.threads} threads; load average {os.getloadavg()[0]:.2f}")
    gaps = [np.abs(a - b).max() for a, b in zip(suite_grads, fused_grads, strict=True)]
    print(f"largest difference: states {np.abs(suite_states - fused_states).max():.2e}; "
          f"gradients of kernel, recurrent kernel, bias {gaps[0]:.2e}, {gaps[1]:.2e}, "
          f"{gaps[2]:.2e} (largest suite gradient {np.abs(suite_grads[0]).max():.2e})")  # fmt: skip

    milliseconds = {name: [] for name in implementations}
    for _ in range(args.rounds):
        for name, function in implementations.items():
            start = time.perf_counter()
            for _ in range(args.calls):
                function()[1][0].numpy()
            milliseconds[name].append((time.perf_counter() - start) / args.calls * 1e3)
    print(f"\nforward + backward of one LSTM, ms per call ({args.rounds} rounds of {args.calls})")
    for name, values in milliseconds.items():
        print(f"{name:<18} median {statistics.median(values):7.1f}  min {min(values):7.1f}"
              f"  max {max(values):7.1f}")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
