"""The training loop: an explicit ``tf.function`` step with ``GradientTape`` and Adam.

One run trains for a fixed number of epochs over shuffled minibatches. After every epoch the
model is scored on the validation split, and the weights of the epoch with the highest
validation ELBO (ties: the earliest) are kept as the checkpoint that evaluation uses
(:data:`SELECTION_RULE`). Every random stream is derived from the run seed
(:mod:`vae_tfp.seeds`): initialisation, data order (one permutation per epoch), the
reparameterization noise of training, and the fixed noise of validation.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf
import tf_keras

from vae_tfp.data.store import PreparedData
from vae_tfp.io import atomic_write, write_json
from vae_tfp.methods import Method, build_method
from vae_tfp.metrics import active_units, mutual_information
from vae_tfp.models import VAE, build_vae
from vae_tfp.seeds import derive_seed

log = logging.getLogger(__name__)

SELECTION_RULE = (
    "checkpoint of the epoch with the highest validation ELBO (one posterior sample per "
    "example, the same noise every epoch); ties go to the earliest epoch"
)
CHECKPOINT_PREFIX = "best"
# Validation diagnostics in history.csv (valid_au with Burda et al.'s threshold; the test
# metrics use the evaluation settings). The batch size only bounds memory.
VALID_AU_THRESHOLD = 0.01
VALID_BATCH_SIZE = 1000
HISTORY_COLUMNS = (
    "epoch",
    "step",
    "loss",
    "elbo",
    "rec",
    "kl",
    "kl_weight",
    "valid_elbo",
    "valid_rec",
    "valid_kl",
    "valid_mi",
    "valid_au",
    "wall_time_s",
)


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


def model_from_run_config(run_config: Mapping[str, Any], data: PreparedData) -> VAE:
    """Builds the (untrained) VAE a run config describes for ``data``."""
    return build_vae(
        run_config["model"], run_config["decoder_options"], data.event_shape, data.kind
    )


def checkpoint_path(run_dir: str | Path) -> Path:
    """The prefix of the best-validation checkpoint inside a run folder."""
    return Path(run_dir) / "checkpoint" / CHECKPOINT_PREFIX


def encode_dataset(model: VAE, x: np.ndarray, batch_size: int, seed: int) -> dict[str, np.ndarray]:
    """Single-sample rec, analytic kl_per_dim and posterior parameters for every row of x.

    The noise of batch b is the stateless seed (seed, b), so calls with the same arguments
    give the same numbers.
    """

    @tf.function(reduce_retracing=True)
    def batch_pass(xb, stateless_seed):
        out = model.forward(xb, stateless_seed)
        return out.rec, out.kl_per_dim, out.loc, out.log_var

    parts = []
    for index, start in enumerate(range(0, len(x), batch_size)):
        xb = tf.constant(x[start : start + batch_size])
        parts.append([t.numpy() for t in batch_pass(xb, tf.constant([seed, index], tf.int32))])
    rec, kl_per_dim, loc, log_var = (np.concatenate(p, axis=0) for p in zip(*parts, strict=True))
    return {"rec": rec, "kl_per_dim": kl_per_dim, "loc": loc, "log_var": log_var}


def _validation_scores(
    model: VAE, valid: np.ndarray, batch_size: int, seed: int, au_threshold: float
) -> dict[str, float]:
    encoded = encode_dataset(model, valid, batch_size, seed)
    kl = encoded["kl_per_dim"].sum(-1)
    mi, _ = mutual_information(encoded["loc"], encoded["log_var"], n_samples=1, seed=seed)
    au, _ = active_units(encoded["loc"], au_threshold)
    return {
        "valid_elbo": float(np.mean(encoded["rec"] - kl)),
        "valid_rec": float(np.mean(encoded["rec"])),
        "valid_kl": float(np.mean(kl)),
        "valid_mi": mi,
        "valid_au": au,
    }


def make_train_step(model: VAE, method: Method, optimizer, sampler: tf.random.Generator):
    """Returns a ``tf.function`` doing one Adam update on a batch; it returns batch means."""

    @tf.function(reduce_retracing=True)
    def train_step(x):
        step = optimizer.iterations.read_value()  # updates done before this one
        seed = tf.cast(sampler.make_seeds(1)[:, 0], tf.int32)  # TFP stateless seeds are int32
        with tf.GradientTape() as tape:
            out = model.forward(x, seed)
            loss = method.loss(out.rec, out.kl_per_dim, step)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return {
            "loss": loss,
            "rec": tf.reduce_mean(out.rec),
            "kl": tf.reduce_mean(out.kl),
            "kl_weight": tf.cast(method.kl_weight(step), tf.float32),
        }

    return train_step


def train_run(
    run_config: Mapping[str, Any], data: PreparedData, run_dir: str | Path
) -> dict[str, Any]:
    """Trains one run and writes ``history.csv`` and the best checkpoint into ``run_dir``.

    Args:
        run_config: A resolved run config (:func:`vae_tfp.config.resolve_run_config`).
        data: The prepared dataset the config names.
        run_dir: The run folder.

    Returns:
        The training summary also written to ``checkpoint/best.json``: best epoch, its
        validation ELBO, the selection rule, steps and wall time.

    Raises:
        NonFiniteLossError: If a batch loss is NaN or infinite (names the run and step).
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    seed = int(run_config["seed"])
    training = run_config["training"]
    epochs, batch_size = int(training["epochs"]), int(training["batch_size"])

    tf_keras.utils.set_random_seed(derive_seed(seed, "init"))
    model = model_from_run_config(run_config, data)
    method = build_method(run_config["method_options"])
    optimizer = tf_keras.optimizers.Adam(learning_rate=float(training["learning_rate"]))
    sampler = tf.random.Generator.from_seed(derive_seed(seed, "train_sampling"))
    train_step = make_train_step(model, method, optimizer, sampler)
    checkpoint = tf.train.Checkpoint(model=model)
    order_seed = derive_seed(seed, "data_order")
    valid_seed = derive_seed(seed, "valid_sampling")

    n_train = len(data.train)
    history: list[dict[str, float]] = []
    best = {"epoch": 0, "valid_elbo": -math.inf}
    for epoch in range(1, epochs + 1):
        order = np.random.default_rng([order_seed, epoch]).permutation(n_train)
        sums = dict.fromkeys(("loss", "rec", "kl", "kl_weight"), 0.0)
        for start in range(0, n_train, batch_size):
            batch = data.train[order[start : start + batch_size]]
            stats = {k: float(v) for k, v in train_step(tf.constant(batch)).items()}
            if not math.isfinite(stats["loss"]):
                raise NonFiniteLossError(
                    f"run {run_dir}: non-finite loss {stats['loss']} at step "
                    f"{int(optimizer.iterations.numpy())} (epoch {epoch})"
                )
            for key in sums:
                sums[key] += stats[key] * len(batch)
        row = {"epoch": epoch, "step": int(optimizer.iterations.numpy())}
        row.update({key: value / n_train for key, value in sums.items()})
        row["elbo"] = row["rec"] - row["kl"]
        row.update(
            _validation_scores(model, data.valid, VALID_BATCH_SIZE, valid_seed, VALID_AU_THRESHOLD)
        )
        row["wall_time_s"] = time.perf_counter() - started
        history.append(row)
        if row["valid_elbo"] > best["valid_elbo"]:
            best = {"epoch": epoch, "valid_elbo": row["valid_elbo"]}
            checkpoint.write(str(checkpoint_path(run_dir)))
        log.info(
            "epoch %d/%d loss %.3f elbo %.3f kl %.3f | valid elbo %.3f mi %.3f au %d",
            epoch,
            epochs,
            row["loss"],
            row["elbo"],
            row["kl"],
            row["valid_elbo"],
            row["valid_mi"],
            row["valid_au"],
        )

    frame = pd.DataFrame(history, columns=list(HISTORY_COLUMNS))
    atomic_write(run_dir / "history.csv", lambda s: frame.to_csv(s, index=False))
    summary = {
        "best_epoch": best["epoch"],
        "best_valid_elbo": best["valid_elbo"],
        "selection_rule": SELECTION_RULE,
        "epochs": epochs,
        "steps": int(optimizer.iterations.numpy()),
        "wall_time_s": time.perf_counter() - started,
    }
    write_json(checkpoint_path(run_dir).with_suffix(".json"), summary)
    return summary
