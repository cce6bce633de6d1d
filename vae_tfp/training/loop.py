"""The training loop: an explicit ``tf.function`` step with ``GradientTape`` and Adam.

One run trains for a fixed number of epochs over shuffled minibatches. After every epoch the
model is scored on the validation split, and the weights of the epoch with the highest
validation ELBO (ties: the earliest) are kept as the checkpoint that evaluation uses
(:data:`SELECTION_RULE`; a method with phases may exclude its first epochs). Every random
stream is derived from the run seed (:mod:`vae_tfp.seeds`): initialisation, data order
(one permutation per epoch), the reparameterization noise of training, the fixed noise of
validation, the extra minibatches of aggressive training and a decoder re-initialization.

Encoder (with the method's posterior transform) and decoder have separate Adam optimizers.
For joint updates this is the same as one Adam over all weights (Adam is per-parameter);
it lets aggressive training (He et al. 2019) update the encoder alone in its inner loop and
the decoder alone after it, and lets pretrain_fb reset the decoder's optimizer state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf
import tf_keras

from vae_tfp.config import training_config
from vae_tfp.data.store import PreparedData
from vae_tfp.io import atomic_write, write_json
from vae_tfp.methods import build_method
from vae_tfp.methods.phases import aggressive_continues, inner_loop_converged
from vae_tfp.models.decoder_types import XLA_TRAIN_STEPS
from vae_tfp.progress import timing_text
from vae_tfp.runtime import op_determinism_enabled
from vae_tfp.seeds import derive_seed
from vae_tfp.training.build import (
    checkpoint_path,
    model_from_run_config,
    reinitialize_decoder,
)
from vae_tfp.training.optimizers import (
    PlateauState,
    build_optimizer,
    optimizer_settings,
    plateau_step,
    schedule_settings,
    scheduled_learning_rate,
)
from vae_tfp.training.state import SUM_KEYS, Progress, ResumeStore
from vae_tfp.training.validation import (
    VALID_AU_THRESHOLD,
    VALID_BATCH_SIZE,
    validation_scores,
)

log = logging.getLogger(__name__)

LAST_EPOCH_RULE = "checkpoint of the last epoch trained (training.checkpoint_selection: last_epoch)"
SELECTION_RULE = (
    "checkpoint of the epoch with the highest validation ELBO (one posterior sample per "
    "example, the same noise every epoch); ties go to the earliest epoch"
)
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
    "learning_rate",
    "aggressive",
    "encoder_inner_steps",
    "wall_time_s",
)


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


# Batches trained per call into the compiled loop (a resume state can be saved between
# calls). Large enough that the Python round trip is negligible, small enough that
# ``checkpoint_interval_s`` is kept within a few seconds.
BATCHES_PER_CALL = 100


class Trainer:
    """Trains one run: the train steps, aggressive inner loop, phases and checkpointing.

    Args:
        run_config: A resolved run config (:func:`vae_tfp.config.resolve_run_config`).
        data: The prepared dataset the config names.
        run_dir: The run folder.
    """

    def __init__(self, run_config: Mapping[str, Any], data: PreparedData, run_dir: str | Path):
        self.run_config = run_config
        self.data = data
        self.run_dir = Path(run_dir)
        self.seed = int(run_config["seed"])
        training = run_config["training"]
        self.epochs = int(training["epochs"])
        self.batch_size = int(training["batch_size"])
        self.learning_rate = float(training["learning_rate"])
        self.training = dict(training)
        self.schedule = schedule_settings(training)
        self.clip_norm = optimizer_settings(training)["clip_norm"]
        self.early_stopping_patience = training.get("early_stopping_patience")
        # "best_valid_elbo" (the suite's rule) or "last_epoch" (protocols that evaluate the
        # final weights, e.g. Burda et al. 2016).
        self.keep_last_epoch = training.get("checkpoint_selection") == "last_epoch"
        self.steps_per_epoch = math.ceil(len(data.train) / self.batch_size)

        tf_keras.utils.set_random_seed(derive_seed(self.seed, "init"))
        self.model = model_from_run_config(run_config, data)
        self.method = build_method(run_config["method_options"]).bind(
            self.steps_per_epoch, self.steps_per_epoch * self.epochs
        )
        transform = self.model.posterior_transform
        self.encoder_variables = list(self.model.encoder.trainable_variables) + (
            list(transform.trainable_variables) if transform is not None else []
        )
        self.decoder_variables = list(self.model.decoder.trainable_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.sampler = tf.random.Generator.from_seed(derive_seed(self.seed, "train_sampling"))
        # The training split lives on the TensorFlow side: a batch is a gather by row index
        # inside the compiled loop, never a NumPy copy handed over per step.
        self.train_data = tf.Variable(data.train, trainable=False)  # not an XLA constant
        # Dynamically binarized data (MNIST, Omniglot): a fresh x ~ Bernoulli(intensity) for
        # every training batch, drawn in the graph from its own seeded stream (part of the
        # resumable state, so a resumed run draws what an uninterrupted one would).
        self.dynamic_binarization = bool(data.dynamic_binarization)
        self.binarizer = tf.random.Generator.from_seed(derive_seed(self.seed, "binarization"))
        # Example-weighted sums of the batch statistics of the epoch in progress (SUM_KEYS),
        # kept on the device in float64 and read once per span of batches.
        self.epoch_sums = tf.Variable(tf.zeros(len(SUM_KEYS), tf.float64), trainable=False)
        self.last_loss = tf.Variable(0.0, trainable=False)
        self.batches_per_call = BATCHES_PER_CALL
        self.checkpoint = tf.train.Checkpoint(model=self.model)
        self.resume_dir = self.run_dir / "resume"
        self.checkpoint_interval_s = float(training.get("checkpoint_interval_s", 600.0))
        self.jit_compile = bool(
            training.get("jit_compile", run_config["decoder_options"]["type"] in XLA_TRAIN_STEPS)
        )
        self.config_hash = hashlib.sha256(
            json.dumps(training_config(run_config), sort_keys=True).encode()
        ).hexdigest()
        self.resume = ResumeStore(self.resume_dir, self.config_hash)
        self._build_optimizers()

    def _build_optimizers(self) -> None:
        """Fresh optimizers (``training.optimizer``, default Adam) and the train steps that
        use them."""
        # Slots now, not inside the compiled loops (no variable may be created there).
        self.encoder_optimizer = build_optimizer(self.training, self.encoder_variables)
        self.decoder_optimizer = build_optimizer(self.training, self.decoder_variables)
        joint_step = self._compiled(self._make_step(True, True))
        self.joint_step = tf.function(joint_step, reduce_retracing=True)
        self.joint_span = self._make_span(joint_step)
        self.decoder_span = self._make_span(self._compiled(self._make_step(False, True)))
        encoder_step = self._compiled(self._make_step(True, False))
        self.encoder_step_graph = lambda x: encoder_step(x)["loss"]
        self.encoder_window = self._make_encoder_window()

    def _compiled(self, step_fn):
        """``step_fn`` compiled with XLA (``training.jit_compile``; by default for the decoder
        types in :data:`XLA_TRAIN_STEPS`), which fuses its elementwise work (Adam, the
        likelihood); each batch shape compiles once."""
        if not self.jit_compile:
            return step_fn
        return tf.function(step_fn, jit_compile=True, reduce_retracing=True)

    def _make_step(self, update_encoder: bool, update_decoder: bool):
        """A step function updating the chosen parts on one batch; returns batch means.

        Only steps that update the decoder advance the global step (the schedules' clock):
        aggressive training's extra encoder updates do not move the KL schedule.
        """
        model, method = self.model, self.method
        variables = (self.encoder_variables if update_encoder else []) + (
            self.decoder_variables if update_decoder else []
        )

        def step_fn(x):
            step = self.step.read_value()  # decoder updates done before this one
            seed = tf.cast(self.sampler.make_seeds(1)[:, 0], tf.int32)  # TFP wants int32
            with tf.GradientTape() as tape:
                out, loss = method.training_loss(model, x, seed, step)
            grads = tape.gradient(loss, variables)
            if self.clip_norm is not None:  # one global norm over the updated variables
                grads, _ = tf.clip_by_global_norm(grads, self.clip_norm)
            n_encoder = len(self.encoder_variables) if update_encoder else 0
            if update_encoder:
                self.encoder_optimizer.apply_gradients(
                    zip(grads[:n_encoder], self.encoder_variables, strict=True)
                )
            if update_decoder:
                self.decoder_optimizer.apply_gradients(
                    zip(grads[n_encoder:], self.decoder_variables, strict=True)
                )
                self.step.assign_add(1)
            return {
                "loss": loss,
                "rec": tf.reduce_mean(out.rec),
                "kl": tf.reduce_mean(out.kl),
                "kl_weight": tf.cast(method.kl_weight(step), tf.float32),
            }

        return step_fn

    def batch(self, rows: tf.Tensor) -> tf.Tensor:
        """The training examples at ``rows`` (any index shape), binarized afresh when the
        data are dynamically binarized (:attr:`PreparedData.dynamic_binarization`): x = 1
        where u < intensity, u ~ Uniform[0, 1) from the run's binarization stream."""
        x = tf.gather(self.train_data, rows)
        if not self.dynamic_binarization:
            return x
        return tf.cast(self.binarizer.uniform(tf.shape(x)) < x, tf.float32)

    def train_rows(self, rows: np.ndarray) -> np.ndarray:
        """:meth:`batch` for NumPy row indices, as a NumPy array (advances the stream)."""
        return self.batch(tf.constant(rows)).numpy()

    def _make_span(self, step_fn):
        """A function training on the batches ``first..last-1`` of an epoch.

        ``order`` is the epoch's permutation of the training rows (int32); batch i is
        ``order[i*B:(i+1)*B]``. The loop over batches runs inside one compiled function
        (XLA with ``training.jit_compile``): the batch statistics are added to
        :attr:`epoch_sums` on the device (weighted by batch size, in float64, in batch
        order: the sums the former per-step Python loop made), so nothing crosses to Python
        until the span ends. XLA needs static shapes, so the full batches and a smaller last
        batch run in two compiled loops. A non-finite loss stops the span after its step
        (:attr:`last_loss` holds it).

        Returns:
            ``span(order, first, last) -> int``, the index of the next batch not trained on.
        """
        size, n_train = self.batch_size, len(self.data.train)
        n_full = n_train // size
        full = self._compiled_span(step_fn, size)
        tail = self._compiled_span(step_fn, n_train - n_full * size) if n_train % size else None

        def span(order: tf.Tensor, first: int | tf.Tensor, last: int | tf.Tensor) -> int:
            done, last = int(first), int(last)
            if done < min(last, n_full):
                done = int(full(order, tf.constant(done), tf.constant(min(last, n_full))))
            if tail is not None and done == n_full < last:
                done = int(tail(order, tf.constant(done), tf.constant(done + 1)))
            return done

        return span

    def _compiled_span(self, step_fn, rows_per_batch: int):
        """The compiled loop of :meth:`_make_span` for batches of ``rows_per_batch`` rows."""
        size, weight = self.batch_size, float(rows_per_batch)

        def span_fn(order, first, last):
            def body(index, finite):
                rows = tf.slice(order, [index * size], [rows_per_batch])
                stats = step_fn(self.batch(rows))
                self.epoch_sums.assign_add(
                    tf.stack([tf.cast(stats[key], tf.float64) for key in SUM_KEYS]) * weight
                )
                self.last_loss.assign(stats["loss"])
                return index + 1, tf.math.is_finite(stats["loss"])

            done, _ = tf.while_loop(
                lambda index, finite: (index < last) & finite, body, (first, tf.constant(True))
            )
            return done

        return tf.function(span_fn, jit_compile=self.jit_compile, reduce_retracing=True)

    def _make_encoder_window(self):
        """A ``tf.function`` doing one encoder-only update per row of ``rows`` ([w, batch]
        training-row indices) and returning the mean loss of the w updates: one call per
        convergence window keeps Python overhead out of the inner loop."""

        @tf.function(reduce_retracing=True)
        def window_fn(rows):
            total = tf.constant(0.0)
            for i in tf.range(tf.shape(rows)[0]):
                total += self.encoder_step_graph(self.batch(rows[i]))
            return total / tf.cast(tf.shape(rows)[0], tf.float32)

        return window_fn

    def encoder_inner_loop(self, rng: np.random.Generator) -> int:
        """He et al. 2019's inner loop: encoder-only updates on fresh random minibatches
        until the mean loss of a window of ``check_every`` steps is no better than the
        previous window's, or ``max_inner_steps``. The decoder is not touched.

        Returns:
            The number of encoder updates done.
        """
        n_train, done, previous = len(self.data.train), 0, None
        size = min(self.batch_size, n_train)
        while done < self.method.max_inner_steps:
            width = min(self.method.check_every, self.method.max_inner_steps - done)
            rows = np.stack([rng.choice(n_train, size=size, replace=False) for _ in range(width)])
            mean = float(self.encoder_window(tf.constant(rows)))
            self._check_finite(mean, epoch=None)
            done += width
            if inner_loop_converged(previous, mean):
                break
            previous = mean
        return done

    def _check_finite(self, loss: float, epoch: int | None) -> None:
        """Stops the run on a NaN or infinite loss, after writing a diagnostic snapshot."""
        if math.isfinite(loss):
            return
        where = f" (epoch {epoch})" if epoch is not None else " (aggressive inner loop)"
        snapshot = self.run_dir / "nonfinite" / "model"
        tf.train.Checkpoint(model=self.model).write(str(snapshot))
        raise NonFiniteLossError(
            f"run {self.run_dir}: non-finite loss {loss} at step {int(self.step.numpy())}"
            f"{where}; model snapshot written to {snapshot}"
        )

    def _read_epoch_sums(self) -> dict[str, float]:
        """The device-side sums of the epoch in progress, as Python floats."""
        return dict(zip(SUM_KEYS, self.epoch_sums.numpy().tolist(), strict=True))

    def _end_of_epoch_schedule(self, progress: Progress, epoch: int, row: dict) -> None:
        """The validation-driven parts of the protocol, after the epoch's checkpointing.

        Halve-on-plateau (He et al. 2019): on a decay, training goes back to the best
        checkpoint with fresh optimizer state, and stops after ``max_decays`` decays. Early
        stopping (``training.early_stopping_patience``): stop once the validation ELBO has
        not improved for that many epochs.
        """
        if self.schedule["type"] == "plateau":
            state = PlateauState(**(progress.plateau or {"learning_rate": self.learning_rate}))
            state, decayed = plateau_step(state, -row["valid_elbo"], epoch, self.schedule)
            progress.plateau = dataclasses.asdict(state)
            if decayed and progress.best["epoch"] > 0:
                best = self.checkpoint.read(str(checkpoint_path(self.run_dir)))
                best.assert_existing_objects_matched()
                self._build_optimizers()
                log.info(
                    "epoch %d: learning rate %.4g from the best checkpoint (epoch %d)",
                    epoch,
                    state.learning_rate,
                    progress.best["epoch"],
                )
            if state.decays >= self.schedule["max_decays"]:
                progress.stop_reason = (
                    f"learning rate decayed {state.decays} times (plateau schedule)"
                )
        patience = self.early_stopping_patience
        selected = progress.best["epoch"]
        if patience is not None and selected > 0 and epoch - selected >= patience:
            progress.stop_reason = f"validation ELBO not improved for {patience} epochs"
        if progress.stop_reason:
            log.info("training stops after epoch %d: %s", epoch, progress.stop_reason)

    # ---- Resumable state ----------------------------------------------------------------
    def _state_checkpoint(self) -> tf.train.Checkpoint:
        """Every TensorFlow variable a resumed run needs (optimizers may have been rebuilt)."""
        return tf.train.Checkpoint(
            model=self.model,
            encoder_optimizer=self.encoder_optimizer,
            decoder_optimizer=self.decoder_optimizer,
            step=self.step,
            sampler=self.sampler,
            binarizer=self.binarizer,
        )

    def _save_state(self, progress: Progress) -> None:
        """Saves a resume state (:meth:`ResumeStore.save`)."""
        self.resume.save(self._state_checkpoint(), progress)

    def _restore_state(self) -> Progress | None:
        """The newest resume state for this training config, restored (or None)."""
        return self.resume.restore(self._state_checkpoint())

    def run(self) -> dict[str, Any]:
        """Trains for all epochs; writes ``history.csv`` and the best checkpoint.

        The state is saved after every epoch and, within long epochs, every
        ``checkpoint_interval_s`` seconds; a rerun resumes from the newest valid state and
        gives the same numbers as an uninterrupted run.

        Returns:
            The training summary also written to ``checkpoint/best.json``.

        Raises:
            NonFiniteLossError: If a loss is NaN or infinite (names the run and step); a
                snapshot of the model is written to ``nonfinite/`` in the run folder.
        """
        started = time.perf_counter()
        order_seed = derive_seed(self.seed, "data_order")
        valid_seed = derive_seed(self.seed, "valid_sampling")
        aggressive_rng = np.random.default_rng(derive_seed(self.seed, "aggressive_batches"))
        progress = self._restore_state() or Progress(aggressive=self.method.encoder_inner_loop)
        if progress.aggressive_rng_state is not None:
            aggressive_rng.bit_generator.state = progress.aggressive_rng_state
        elapsed_before = progress.elapsed_s
        last_save = time.perf_counter()
        n_train = len(self.data.train)
        n_batches = math.ceil(n_train / self.batch_size)

        def save() -> None:
            progress.sums = self._read_epoch_sums()
            progress.aggressive_rng_state = aggressive_rng.bit_generator.state
            progress.elapsed_s = elapsed_before + time.perf_counter() - started
            self._save_state(progress)

        while progress.epoch <= self.epochs and progress.stop_reason is None:
            epoch = progress.epoch
            learning_rate = scheduled_learning_rate(
                self.schedule, self.learning_rate, epoch, progress.plateau
            )
            self.encoder_optimizer.learning_rate = learning_rate
            self.decoder_optimizer.learning_rate = learning_rate
            order = np.random.default_rng([order_seed, epoch]).permutation(n_train)
            order = tf.constant(order, tf.int32)
            self.epoch_sums.assign([progress.sums[key] for key in SUM_KEYS])
            index = progress.next_batch
            while index < n_batches:
                if progress.aggressive:  # encoder inner loop, then one decoder update
                    progress.inner_steps += self.encoder_inner_loop(aggressive_rng)
                    span, stop = self.decoder_span, index + 1
                else:
                    span, stop = self.joint_span, min(n_batches, index + self.batches_per_call)
                index = int(span(order, tf.constant(index), tf.constant(stop)))
                self._check_finite(float(self.last_loss.numpy()), epoch)
                progress.next_batch = index
                if (
                    index < n_batches
                    and time.perf_counter() - last_save > self.checkpoint_interval_s
                ):
                    save()
                    last_save = time.perf_counter()
            progress.sums = self._read_epoch_sums()
            row = {"epoch": epoch, "step": int(self.step.numpy())}
            row.update({key: value / n_train for key, value in progress.sums.items()})
            row["elbo"] = row["rec"] - row["kl"]
            row.update(
                validation_scores(
                    self.model, self.data.valid, VALID_BATCH_SIZE, valid_seed, VALID_AU_THRESHOLD
                )
            )
            row["learning_rate"] = learning_rate
            row["aggressive"] = int(progress.aggressive)
            row["encoder_inner_steps"] = progress.inner_steps
            row["wall_time_s"] = elapsed_before + time.perf_counter() - started
            progress.history.append(row)
            if progress.aggressive and not aggressive_continues(
                progress.previous_mi, row["valid_mi"]
            ):
                progress.aggressive, progress.aggressive_ended = False, epoch
                log.info("aggressive mode ends after epoch %d (validation MI fell)", epoch)
            progress.previous_mi = row["valid_mi"]
            selectable = epoch >= self.method.first_selectable_epoch
            if selectable and (
                self.keep_last_epoch or row["valid_elbo"] > progress.best["valid_elbo"]
            ):
                progress.best = {"epoch": epoch, "valid_elbo": row["valid_elbo"]}
                self.checkpoint.write(str(checkpoint_path(self.run_dir)))
            if epoch in self.method.decoder_reset_epochs:
                reset_seed = derive_seed(self.seed, "decoder_reset")
                reinitialize_decoder(self.model, self.run_config, self.data, reset_seed)
                self._build_optimizers()
                log.info("decoder re-initialized after epoch %d", epoch)
            self._end_of_epoch_schedule(progress, epoch, row)
            log.info(
                "epoch %d/%d loss %.3f elbo %.3f kl %.3f | valid elbo %.3f mi %.3f au %d | %s",
                epoch,
                self.epochs,
                row["loss"],
                row["elbo"],
                row["kl"],
                row["valid_elbo"],
                row["valid_mi"],
                row["valid_au"],
                timing_text([r["wall_time_s"] for r in progress.history], self.epochs),
            )
            progress.epoch, progress.next_batch, progress.inner_steps = epoch + 1, 0, 0
            self.epoch_sums.assign(tf.zeros_like(self.epoch_sums))  # save() reads them
            save()
            last_save = time.perf_counter()

        history = progress.history
        frame = pd.DataFrame(history, columns=list(HISTORY_COLUMNS))
        atomic_write(self.run_dir / "history.csv", lambda s: frame.to_csv(s, index=False))
        summary = {
            "best_epoch": progress.best["epoch"],
            "best_valid_elbo": progress.best["valid_elbo"],
            "selection_rule": LAST_EPOCH_RULE if self.keep_last_epoch else SELECTION_RULE,
            "first_selectable_epoch": self.method.first_selectable_epoch,
            "epochs": self.epochs,
            "epochs_trained": len(history),
            "stop_reason": progress.stop_reason,
            "steps": int(self.step.numpy()),
            "encoder_inner_steps": int(sum(r["encoder_inner_steps"] for r in history)),
            "aggressive_ended_after_epoch": progress.aggressive_ended,
            "wall_time_s": elapsed_before + time.perf_counter() - started,
            "op_determinism": op_determinism_enabled(),
        }
        write_json(checkpoint_path(self.run_dir).with_suffix(".json"), summary)
        shutil.rmtree(self.resume_dir, ignore_errors=True)
        return summary


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
        validation ELBO, the selection rule, steps, aggressive-mode figures and wall time.

    Raises:
        NonFiniteLossError: If a batch loss is NaN or infinite (names the run and step).
    """
    return Trainer(run_config, data, run_dir).run()
