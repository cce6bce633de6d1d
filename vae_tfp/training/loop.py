"""The training loop: an explicit ``tf.function`` step with ``GradientTape``.

One run trains for a fixed number of epochs over shuffled minibatches (or, for token data,
batches of one sentence length: ``training.batching``, :mod:`vae_tfp.training.feeds`), each
epoch's plan from the data-order seed and the epoch. After every epoch the
model is scored on the validation split, and the weights of the epoch with the highest
validation ELBO (ties: the earliest) are kept as the checkpoint that evaluation uses
(:data:`vae_tfp.training.outputs.SELECTION_RULE`; a method with phases may exclude its
first epochs). Every random stream is derived from the run seed (:mod:`vae_tfp.seeds`):
initialisation, data order (one plan per epoch), the reparameterization noise of
training, the fixed noise of validation, the extra minibatches of an encoder inner loop and
a decoder re-initialization.

The loop knows methods only through the hooks of their composition
(:class:`vae_tfp.methods.Composite`): the loss of a step (``training_loss``), the KL
weight it logs, an encoder inner loop (``inner_loop``), and phases
(``decoder_reset_epochs``, ``first_selectable_epoch``).

Encoder (with the method's posterior transform) and decoder have separate optimizers. For
joint updates this is the same as one optimizer over all weights (Adam and SGD are
per-parameter); it lets an inner loop update the encoder alone and the decoder alone after
it, and lets a phase reset the decoder's optimizer state.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras

from vae_tfp.checkpoints import read_every_variable
from vae_tfp.config import training_config
from vae_tfp.data.store import PreparedData
from vae_tfp.methods import build_method
from vae_tfp.models.decoder_types import XLA_TRAIN_STEPS
from vae_tfp.progress import can_stop_early, timing_text
from vae_tfp.run_files import checkpoint_path
from vae_tfp.run_model import (
    model_from_run_config,
    reinitialize_decoder,
    start_from_pretraining,
)
from vae_tfp.seeds import derive_seed
from vae_tfp.training import inner_loop
from vae_tfp.training.feeds import evaluation_batches, make_feed
from vae_tfp.training.optimizers import (
    build_optimizer,
    optimizer_settings,
    plateau_epoch_end,
    schedule_settings,
    scheduled_learning_rate,
)
from vae_tfp.training.outputs import write_outputs
from vae_tfp.training.state import HISTORY_COLUMNS, SUM_KEYS, Progress, ResumeStore
from vae_tfp.training.steps import make_train_step
from vae_tfp.training.validation import (
    VALID_AU_THRESHOLD,
    VALID_BATCH_SIZE,
    score_name,
    selection_score,
    validation_scores,
)

log = logging.getLogger(__name__)

__all__ = ["HISTORY_COLUMNS", "NonFiniteLossError", "Trainer", "train_run"]

# Batches trained per call into the compiled loop (a resume state can be saved between
# calls). Large enough that the Python round trip is negligible, small enough that
# ``checkpoint_interval_s`` is kept within a few seconds.
BATCHES_PER_CALL = 100

# After an epoch the state is saved once this many seconds (or ``checkpoint_interval_s``, if
# smaller) have passed since the last save: an epoch of a fraction of a second would
# otherwise spend a good part of its time writing states.
EPOCH_SAVE_INTERVAL_S = 10.0


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class Trainer:
    """Trains one run: the train steps, the method's hooks and checkpointing.

    Args:
        run_config: A resolved run config (:func:`vae_tfp.config.resolve_run_config`).
        data: The prepared dataset the config names.
        run_dir: The run folder.
        log: The run's train log, copied into each resume state (None: not copied).
    """

    def __init__(
        self,
        run_config: Mapping[str, Any],
        data: PreparedData,
        run_dir: str | Path,
        log: Path | None = None,
    ):
        self.run_config, self.data, self.run_dir = run_config, data, Path(run_dir)
        self.seed = int(run_config["seed"])
        self.training = training = dict(run_config["training"])
        self.epochs = int(training["epochs"])
        self.batch_size = int(training["batch_size"])
        self.learning_rate = float(training["learning_rate"])
        self.schedule = schedule_settings(training)
        self.clip_norm = optimizer_settings(training)["clip_norm"]
        # "best_valid_elbo" (the suite's rule) or "last_epoch" (protocols that evaluate the
        # final weights, e.g. Burda et al. 2016).
        self.keep_last_epoch = training.get("checkpoint_selection") == "last_epoch"
        # "fixed" (the suite's default: epochs compare on the same posterior noise) or
        # "fresh" (new noise every epoch, as He et al.'s and Li et al.'s code validates).
        self.fresh_validation_noise = training.get("validation_noise") == "fresh"
        tf_keras.utils.set_random_seed(derive_seed(self.seed, "init"))
        self.model = model_from_run_config(run_config, data)
        self.jit_compile = bool(
            training.get("jit_compile", run_config["decoder_options"]["type"] in XLA_TRAIN_STEPS)
        )
        self.feed = make_feed(
            training, data, derive_seed(self.seed, "binarization"), self.jit_compile
        )
        self.valid_batches = evaluation_batches(training, data, "valid", VALID_BATCH_SIZE)
        self.steps_per_epoch = self.feed.n_batches
        self.method = build_method(run_config["method_options"]).bind(
            self.steps_per_epoch,
            self.steps_per_epoch * self.epochs,
            nominal_steps_per_epoch=self.feed.n_train / self.batch_size,
        )
        settings = self.method.inner_loop()
        # The batch size of valid_mi_batch, if the switch-off reads it (0: it does not).
        self.mi_batch_size = settings.mi_batch_size if settings else 0
        self.mi_length_batches = (
            evaluation_batches(training, data, "valid", self.mi_batch_size)
            if self.mi_batch_size
            else None
        )
        transform = self.model.posterior_transform
        self.encoder_variables = list(self.model.encoder.trainable_variables) + (
            list(transform.trainable_variables) if transform is not None else []
        )
        self.decoder_variables = list(self.model.decoder.trainable_variables)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.sampler = tf.random.Generator.from_seed(derive_seed(self.seed, "train_sampling"))
        self.batches_per_call = BATCHES_PER_CALL
        self.checkpoint = tf.train.Checkpoint(model=self.model)
        self.checkpoint_interval_s = float(training.get("checkpoint_interval_s", 600.0))
        self._last_save = time.perf_counter()
        self.resume = ResumeStore.for_run(self.run_dir, training_config(run_config), log)
        self._build_optimizers()

    def _mi_batches(self, epoch: int) -> list[np.ndarray] | None:
        """The validation batches of ``valid_mi_batch`` at ``epoch`` (None if no switch-off
        reads it): token data's fixed length batches, or a fresh shuffle of the rows each
        epoch (:func:`inner_loop.mi_batches`)."""
        if not self.mi_batch_size:
            return None
        shuffle_seed = (
            None
            if self.mi_length_batches is not None
            else _epoch_seed(self.seed, "valid_mi_batch_rows", epoch)
        )
        return inner_loop.mi_batches(
            self.mi_batch_size, self.mi_length_batches, len(self.data.valid), shuffle_seed
        )

    def _build_optimizers(self) -> None:
        """Fresh optimizers (``training.optimizer``, default Adam) and the steps using them."""
        # Slots now, not inside the compiled loops (no variable may be created there).
        self.encoder_optimizer = build_optimizer(self.training, self.encoder_variables)
        self.decoder_optimizer = build_optimizer(self.training, self.decoder_variables)
        joint_step = self._compiled(self._make_step(True, True))
        self.joint_step = tf.function(joint_step, autograph=False, reduce_retracing=True)
        self.joint_span = self.feed.make_span(joint_step)
        self.decoder_span = self.feed.make_span(self._compiled(self._make_step(False, True)))
        settings = self.method.inner_loop()
        self.inner_loop = settings and inner_loop.EncoderInnerLoop(
            settings,
            self._compiled(self._make_step(True, False)),
            self.feed,
            lambda loss: self._check_finite(loss, epoch=None),
        )

    def _compiled(self, step_fn):
        """``step_fn`` compiled with XLA (``training.jit_compile``; by default for the decoder
        types in :data:`XLA_TRAIN_STEPS`); each batch shape compiles once."""
        if not self.jit_compile:
            return step_fn
        return tf.function(step_fn, autograph=False, jit_compile=True, reduce_retracing=True)

    def _make_step(self, update_encoder: bool, update_decoder: bool):
        """:func:`make_train_step` for the chosen parts with this run's state."""
        return make_train_step(
            self.model,
            self.method,
            (self.encoder_variables, self.encoder_optimizer) if update_encoder else None,
            (self.decoder_variables, self.decoder_optimizer) if update_decoder else None,
            step=self.step,
            sampler=self.sampler,
            clip_norm=self.clip_norm,
            clip_variables=self.encoder_variables + self.decoder_variables,
        )

    def _check_finite(self, loss: float, epoch: int | None) -> None:
        """Stops the run on a NaN or infinite loss, after writing a diagnostic snapshot."""
        if math.isfinite(loss):
            return
        where = f" (epoch {epoch})" if epoch is not None else " (encoder inner loop)"
        snapshot = self.run_dir / "nonfinite" / "model"
        tf.train.Checkpoint(model=self.model).write(str(snapshot))
        raise NonFiniteLossError(
            f"run {self.run_dir}: non-finite loss {loss} at step {int(self.step.numpy())}"
            f"{where}; model snapshot written to {snapshot}"
        )

    def _state_checkpoint(self) -> tf.train.Checkpoint:
        """Every TensorFlow variable a resumed run needs (optimizers may have been rebuilt)."""
        return tf.train.Checkpoint(
            model=self.model,
            encoder_optimizer=self.encoder_optimizer,
            decoder_optimizer=self.decoder_optimizer,
            step=self.step,
            sampler=self.sampler,
            binarizer=self.feed.binarizer,
        )

    def _train_epoch(self, progress: Progress, epoch: int, rng: np.random.Generator, save) -> None:
        """Trains the rest of ``epoch`` from ``progress.next_batch``, saving a resume state
        once ``checkpoint_interval_s`` seconds have passed since the last (``save()``)."""
        n_batches = self.feed.n_batches
        plan = self.feed.epoch_plan(derive_seed(self.seed, "data_order"), epoch)
        self.feed.epoch_sums.assign([progress.sums[key] for key in SUM_KEYS])
        index = progress.next_batch
        while index < n_batches:
            if progress.inner_loop:  # encoder-only updates, then one decoder update
                first = None
                if self.inner_loop.settings.first_batch == "decoder":
                    first = self.feed.inner_loop_first_batch(plan, index)
                progress.inner_steps += self.inner_loop.run(rng, first)
                index = self.decoder_span(plan, index, index + 1, held=first)
            else:
                stop = min(n_batches, index + self.batches_per_call)
                index = int(self.joint_span(plan, tf.constant(index), tf.constant(stop)))
            self._check_finite(float(self.feed.last_loss.numpy()), epoch)
            progress.next_batch = index
            if index < n_batches and self._seconds_since_save() > self.checkpoint_interval_s:
                save()
        progress.sums = self.feed.read_sums()

    def _seconds_since_save(self) -> float:
        """Seconds since the last resume state was saved (or since training started)."""
        return time.perf_counter() - self._last_save

    def _end_epoch(self, progress: Progress, epoch: int, row: dict[str, Any]) -> None:
        """Checkpoint selection, the method's phase changes and the validation-driven parts
        of the protocol (plateau decays, early stopping) after ``epoch``."""
        settings = self.method.inner_loop()
        valid_mi = inner_loop.switch_off_mi(settings, row)
        inner_loop.end_of_epoch(progress, epoch, valid_mi, settings)
        score = selection_score(row, self.method.selection_kl_weight())
        # States saved before the score was recorded selected on the validation ELBO.
        best_score = progress.best.get("score", progress.best["valid_elbo"])
        if epoch >= self.method.first_selectable_epoch and (
            self.keep_last_epoch or score > best_score
        ):
            progress.best = {"epoch": epoch, "valid_elbo": row["valid_elbo"], "score": score}
            self.checkpoint.write(str(checkpoint_path(self.run_dir)))
        if epoch in self.method.decoder_reset_epochs:
            reset_seed = derive_seed(self.seed, "decoder_reset")
            reinitialize_decoder(self.model, self.run_config, self.data, reset_seed)
            self._build_optimizers()
            log.info("decoder re-initialized after epoch %d", epoch)
        if plateau_epoch_end(self.schedule, self.learning_rate, progress, epoch, score):
            read_every_variable(
                self.checkpoint,
                checkpoint_path(self.run_dir),
                "The run's best checkpoint was written by other code: train it afresh.",
            )
            self._build_optimizers()
            log.info(
                "epoch %d: learning rate %.4g from the best checkpoint (epoch %d)",
                *(epoch, progress.plateau["learning_rate"], progress.best["epoch"]),
            )
        patience = self.training.get("early_stopping_patience")
        selected = progress.best["epoch"]
        if patience is not None and selected > 0 and epoch - selected >= patience:
            what = score_name(self.method.selection_kl_weight())
            progress.stop_reason = f"validation {what} not improved for {patience} epochs"
        if progress.stop_reason:
            log.info("training stops after epoch %d: %s", epoch, progress.stop_reason)

    def run(self) -> dict[str, Any]:
        """Trains for all epochs; writes ``history.csv`` and the best checkpoint.

        The state is saved after an epoch once ``EPOCH_SAVE_INTERVAL_S`` seconds (or
        ``checkpoint_interval_s``, if smaller) have passed since the last save, and within
        long epochs every ``checkpoint_interval_s`` seconds; a rerun resumes from the
        newest valid state and gives the same numbers as an uninterrupted run.

        Returns:
            The training summary also written to ``checkpoint/best.json``.

        Raises:
            NonFiniteLossError: If a loss is NaN or infinite (names the run and step); a
                snapshot of the model is written to ``nonfinite/`` in the run folder.
        """
        started = time.perf_counter()
        rng = np.random.default_rng(derive_seed(self.seed, "aggressive_batches"))
        progress = self.resume.restore(self._state_checkpoint())
        if progress is None:  # a fresh start
            start_from_pretraining(self.model, self.run_config, self.data, self.run_dir)
            progress = Progress(inner_loop=self.inner_loop is not None)
        if progress.inner_loop_rng_state is not None:
            rng.bit_generator.state = progress.inner_loop_rng_state
        elapsed_before = progress.elapsed_s
        self._last_save = started
        epoch_save_interval = min(EPOCH_SAVE_INTERVAL_S, self.checkpoint_interval_s)

        def save() -> None:
            progress.sums = self.feed.read_sums()
            progress.inner_loop_rng_state = rng.bit_generator.state
            progress.elapsed_s = elapsed_before + time.perf_counter() - started
            self.resume.save(self._state_checkpoint(), progress)
            self._last_save = time.perf_counter()

        while progress.epoch <= self.epochs and progress.stop_reason is None:
            epoch = progress.epoch
            learning_rate = scheduled_learning_rate(
                self.schedule, self.learning_rate, epoch, progress.plateau
            )
            self.encoder_optimizer.learning_rate = learning_rate
            self.decoder_optimizer.learning_rate = learning_rate
            self._train_epoch(progress, epoch, rng, save)
            row = {"epoch": epoch, "step": int(self.step.numpy())}
            row.update({key: value / self.feed.n_train for key, value in progress.sums.items()})
            row["elbo"] = row["rec"] - row["kl"]
            valid_seed = (
                _epoch_seed(self.seed, "valid_sampling", epoch)
                if self.fresh_validation_noise
                else derive_seed(self.seed, "valid_sampling")
            )
            row.update(
                validation_scores(
                    self.model,
                    self.data.valid,
                    VALID_BATCH_SIZE,
                    valid_seed,
                    VALID_AU_THRESHOLD,
                    batches=self.valid_batches,
                    mi_batches=self._mi_batches(epoch),
                    mi_batch_seed=_epoch_seed(self.seed, "valid_mi_batch", epoch),
                )
            )
            row["learning_rate"] = learning_rate
            row["inner_loop"] = int(progress.inner_loop)
            row["encoder_inner_steps"] = progress.inner_steps
            row["wall_time_s"] = elapsed_before + time.perf_counter() - started
            progress.history.append(row)
            self._end_epoch(progress, epoch, row)
            log.info(
                "epoch %d/%d loss %.3f elbo %.3f kl %.3f | valid elbo %.3f mi %.3f au %d | %s",
                *(epoch, self.epochs, row["loss"], row["elbo"], row["kl"]),
                *(row["valid_elbo"], row["valid_mi"], row["valid_au"]),
                timing_text(
                    [r["wall_time_s"] for r in progress.history],
                    self.epochs,
                    can_stop_early(self.training),
                ),
            )
            progress.epoch, progress.next_batch, progress.inner_steps = epoch + 1, 0, 0
            self.feed.epoch_sums.assign(tf.zeros_like(self.feed.epoch_sums))
            progress.sums = self.feed.read_sums()  # the next epoch starts from these zeros
            if self._seconds_since_save() >= epoch_save_interval:
                save()
        summary = write_outputs(
            self.run_dir,
            progress,
            keep_last_epoch=self.keep_last_epoch,
            method=self.method,
            epochs=self.epochs,
            steps=int(self.step.numpy()),
            wall_time_s=elapsed_before + time.perf_counter() - started,
        )
        shutil.rmtree(self.resume.resume_dir, ignore_errors=True)
        return summary


def train_run(
    run_config: Mapping[str, Any],
    data: PreparedData,
    run_dir: str | Path,
    log: Path | None = None,
) -> dict[str, Any]:
    """Trains one run and writes ``history.csv`` and the best checkpoint into ``run_dir``.

    Args:
        run_config: A resolved run config (:func:`vae_tfp.config.resolve_run_config`).
        data: The prepared dataset the config names.
        run_dir: The run folder.
        log: The run's train log, copied into each resume state so that a resumed job can
            put the earlier sessions' lines back (:func:`vae_tfp.run_files.start_session_log`).

    Returns:
        The training summary also written to ``checkpoint/best.json``: best epoch, its
        validation ELBO, the selection rule, steps, inner-loop figures, the method's parts
        and wall time.

    Raises:
        NonFiniteLossError: If a batch loss is NaN or infinite (names the run and step).
    """
    return Trainer(run_config, data, run_dir, log).run()


def _epoch_seed(run_seed: int, stream: str, epoch: int) -> int:
    """A seed of ``stream`` for ``epoch``: fresh draws every epoch, the same on a resume."""
    return int(np.random.default_rng([derive_seed(run_seed, stream), epoch]).integers(2**31))
