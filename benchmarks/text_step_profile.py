"""Where the time of the suite's text-VAE train step goes: each part alone, forward and
backward, compiled, on Penn-Treebank-shaped random batches.

The model is ``config/paper.yaml``'s ``ptb x lstm_256`` (Li et al. 2019: embeddings 256,
LSTMs of 256 units, z = 32, dropout 0.5, vocabulary 10,002), batch 32. Parts, each in its
own ``tf.function`` returning the loss and its gradients:

- ``encoder``: q(z|x)'s parameters (embedding, LSTM, the state at the ``EOS``, linear);
- ``decoder lstm``: embedding, dropout, z joined, initial state, LSTM, dropout;
- ``softmax``: output layer and log p(x_t | ...) summed over the sentences' positions, on
  given LSTM outputs;
- ``update``: global-norm clip at 5 and SGD on the step's own gradients (the embeddings'
  sparse), as the train step does it (``vae_tfp.training.steps.scaled_sgd_update``);
- ``step``: the loss of the whole step and its gradients (``VAE.forward`` under a tape).

Each part is timed as the suite computes it and as the ``tf_keras`` reference computes it
(the LSTM layers' own call, the masked Categorical over every position,
``tf.clip_by_global_norm`` then ``apply_gradients``), the two alternated in every round
(``step`` has no reference). Batches: ``equal``
(every sentence of length ``--length``) and ``padded`` (PTB-like lengths, padded to 83).

    python benchmarks/text_step_profile.py [--threads 2] [--rounds 5] [--length 22]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

VOCAB, STEPS, BATCH, LATENT, WIDTH = 10_002, 83, 32, 32, 256
# PTB's training lengths (words + EOS) have mean 22.1 and maximum 83; a gamma-shaped draw
# with that mean stands in for them when the data cache is absent.
MEAN_LENGTH = 22.1


def batch_of(lengths: np.ndarray, steps: int, seed: int) -> np.ndarray:
    """Random word ids, then ``EOS``, then ``PAD``: int32 [len(lengths), steps]."""
    from vae_tfp.data.store import EOS_ID, PAD_ID

    rng = np.random.default_rng(seed)
    x = np.full((len(lengths), steps), PAD_ID, np.int32)
    for row, length in zip(x, lengths, strict=True):
        row[: length - 1] = rng.integers(4, VOCAB, length - 1)
        row[length - 1] = EOS_ID
    return x


def padded_lengths(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lengths = np.round(rng.gamma(4.0, MEAN_LENGTH / 4.0, BATCH)).astype(int)
    return np.clip(lengths, 1, STEPS)


def parts(tf, vae, x, reference: bool):
    """{part: tf.function() -> (loss, gradients)} for the batch x (the reference has the
    parts whose computation it replaces)."""
    import tensorflow_probability as tfp
    import tf_keras

    from vae_tfp.models.tokens import token_log_prob, valid_positions
    from vae_tfp.training.steps import global_clip_factor, scaled_sgd_update

    encoder, decoder = vae.encoder, vae.decoder
    x = tf.constant(x)
    z = tf.random.stateless_normal((x.shape[0], LATENT), [1, 2])
    seed = tf.constant([3, 4], tf.int32)
    outputs = tf.random.stateless_normal((x.shape[0], x.shape[1], WIDTH), [5, 6])
    variables = vae.trainable_variables
    optimizer = tf_keras.optimizers.SGD(1e-6)
    optimizer.build(variables)

    def graded(loss_fn, weights):
        def fn():
            with tf.GradientTape() as tape:
                loss = loss_fn()
            return loss, tape.gradient(loss, weights)

        return tf.function(fn)

    def encoder_loss():
        if reference:
            valid = valid_positions(x)
            h = encoder.lstm(encoder.embedding(tf.where(valid, x, 0)), mask=valid)
            return tf.reduce_sum(encoder.head(h))
        return tf.reduce_sum(tf.concat(encoder.params(x), -1))

    def lstm_loss():
        if reference:
            inputs = tf.concat([tf.fill([x.shape[0], 1], 1), x[:, :-1]], 1)
            embedded = tf.nn.experimental.stateless_dropout(decoder.embedding(inputs), 0.5, seed)
            z_steps = tf.tile(z[:, None], [1, x.shape[1], 1])
            out = decoder.lstm(tf.concat([embedded, z_steps], -1), initial_state=decoder._state0(z))
            out = tf.nn.experimental.stateless_dropout(out, 0.5, seed)
            return tf.reduce_sum(out * outputs)
        out, _, _ = decoder._states(x, z, seed, cut=True)
        return tf.reduce_sum(out * tf.transpose(outputs[:, : tf.shape(out)[0]], [1, 0, 2]))

    def softmax_loss():
        if reference:
            logits = decoder.head(outputs) + decoder._blocked
            return -tf.reduce_sum(token_log_prob(logits, x))
        valid = tf.transpose(valid_positions(x))
        positions = tf.where(valid)
        rows = tf.gather_nd(tf.transpose(outputs, [1, 0, 2]), positions)
        logits = decoder._output_logits(rows, None)
        labels = tf.gather_nd(tf.transpose(x), positions)
        return -tf.reduce_sum(tfp.distributions.Categorical(logits).log_prob(labels))

    def step_loss():
        out = vae.forward(x, seed, training=True)
        return -tf.reduce_mean(out.elbo)

    step = graded(step_loss, variables)
    _, grads = step()  # the step's own gradients: the embeddings' are sparse

    @tf.function
    def update():
        if reference:
            clipped, _ = tf.clip_by_global_norm(grads, 5.0)
            optimizer.apply_gradients(zip(clipped, variables, strict=True))
        else:
            scaled_sgd_update(optimizer, variables, grads, global_clip_factor(grads, 5.0))
        return tf.constant(0.0), optimizer.iterations

    timed = {
        "encoder": graded(encoder_loss, encoder.trainable_variables),
        "decoder lstm": graded(lstm_loss, decoder.trainable_variables),
        "softmax": graded(softmax_loss, decoder.head.trainable_variables),
        "update": update,
    }
    if not reference:
        timed["step"] = step
    return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--length", type=int, default=22)
    args = parser.parse_args()

    from vae_tfp.runtime import configure_tensorflow

    configure_tensorflow(args.threads)
    import tensorflow as tf
    import tf_keras

    from vae_tfp.models import build_vae

    tf_keras.utils.set_random_seed(0)
    vae = build_vae(
        {"latent_dim": LATENT, "encoder_embedding_size": WIDTH, "encoder_hidden_size": WIDTH},
        {"type": "lstm", "embedding_size": WIDTH, "hidden_size": WIDTH, "dropout": 0.5},
        (STEPS,),
        "tokens",
        VOCAB,
    )
    batches = {
        "equal": batch_of(np.full(BATCH, args.length), args.length, 0),
        "padded": batch_of(padded_lengths(1), STEPS, 1),
    }
    timers = {}
    for name, x in batches.items():
        for impl in ("suite", "reference"):
            for part, fn in parts(tf, vae, x, impl == "reference").items():
                fn()  # trace and compile
                timers[name, part, impl] = fn
    times = {key: [] for key in timers}
    for _ in range(args.rounds):
        for key, fn in timers.items():
            started = time.perf_counter()
            loss, _ = fn()
            float(loss)
            times[key].append(time.perf_counter() - started)
    print(f"{args.threads} threads; median of {args.rounds} alternated rounds, ms "
          f"(load average {os.getloadavg()[0]:.2f})")  # fmt: skip
    for name, x in batches.items():
        longest = int((x != 0).sum(1).max())
        print(f"{name} batch [{BATCH}, {x.shape[1]}], longest sentence {longest}:")
        for part in ("encoder", "decoder lstm", "softmax", "update", "step"):
            suite = 1000 * statistics.median(times[name, part, "suite"])
            line = f"  {part:>13}: suite {suite:7.1f}"
            if (name, part, "reference") in times:
                reference = 1000 * statistics.median(times[name, part, "reference"])
                line += f"   tf_keras reference {reference:7.1f}"
            print(line)


if __name__ == "__main__":
    main()
