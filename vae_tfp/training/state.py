"""Resumable training state: where a run stands besides its TensorFlow variables, and the
``resume/`` folder of states (a TensorFlow checkpoint and a JSON sidecar each)."""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tensorflow as tf

from vae_tfp.checkpoints import CheckpointMismatchError, read_every_variable
from vae_tfp.io import read_json, write_json
from vae_tfp.run_files import (
    RESUME_DIR,
    checkpoint_path,
    save_session_log,
    training_config_hash,
)

log = logging.getLogger(__name__)

SUM_KEYS = ("loss", "rec", "kl", "kl_weight")
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
    "valid_mi_batch",  # He et al.'s calc_mi within validation batches (switch_off_mi_batch)
    "valid_au",
    "learning_rate",
    "inner_loop",  # 1 while the encoder inner loop runs (aggressive training)
    "encoder_inner_steps",
    "wall_time_s",
)
# Progress fields under their names in resume states written before methods were
# compositions (He et al.'s "aggressive training" is now the inner_loop part's).
RENAMED_FIELDS = {
    "aggressive": "inner_loop",
    "aggressive_ended": "inner_loop_ended",
    "aggressive_rng_state": "inner_loop_rng_state",
}


@dataclasses.dataclass
class Progress:
    """Where a run stands, besides its TensorFlow variables: saved beside each resume state.

    ``epoch`` is the epoch in progress and ``next_batch`` its first batch not yet trained
    on; ``sums`` are that epoch's example-weighted sums of the batch statistics.
    """

    epoch: int = 1
    next_batch: int = 0
    sums: dict[str, float] = dataclasses.field(default_factory=lambda: dict.fromkeys(SUM_KEYS, 0.0))
    inner_steps: int = 0
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)
    best: dict[str, float] = dataclasses.field(
        default_factory=lambda: {"epoch": 0, "valid_elbo": -math.inf}
    )
    inner_loop: bool = False
    inner_loop_ended: int | None = None
    previous_mi: float | None = None  # the MI the switch-off compares the next one with
    mi_falls: int = 0  # epoch boundaries whose MI fell below it
    inner_loop_rng_state: dict | None = None
    elapsed_s: float = 0.0
    plateau: dict[str, float] | None = None
    stop_reason: str | None = None


class ResumeMismatchError(CheckpointMismatchError):
    """A resume state of the run's config that the current model cannot be restored from."""


class ResumeStore:
    """The resume states of one run, for one training config.

    Each state also keeps a copy of the run's best checkpoint so far (``resume/best-eNNNNN/``,
    the two newest): Snakemake deletes a job's declared outputs, ``checkpoint/`` among
    them, before it reruns an incomplete job, and a resumed run that did not improve again
    would then have no best weights to return to at a plateau decay, nor to evaluate.

    Args:
        resume_dir: The run's ``resume/`` folder.
        config_hash: The hash of the training config; states of another are ignored.
        log: The run's train log, copied with each state.
        best_prefix: The run's best checkpoint (:func:`checkpoint_path`), or None.
    """

    def __init__(
        self,
        resume_dir: str | Path,
        config_hash: str,
        log: Path | None = None,
        best_prefix: Path | None = None,
    ):
        self.resume_dir = Path(resume_dir)
        self.config_hash = config_hash
        self.log = log
        self.best_prefix = best_prefix

    @classmethod
    def for_run(
        cls, run_dir: str | Path, training_config: Mapping[str, Any], log: Path | None = None
    ) -> ResumeStore:
        """The store in ``run_dir/resume`` for a run's training config (its SHA-256); each
        state saved keeps a copy of ``log``, the run's train log, if given."""
        config_hash = training_config_hash(training_config)
        return cls(Path(run_dir) / RESUME_DIR, config_hash, log, checkpoint_path(run_dir))

    def save(self, checkpoint: tf.train.Checkpoint, progress: Progress) -> None:
        """Writes the copy of the best checkpoint, the TensorFlow state, then its JSON
        sidecar (which marks it complete), and keeps only the two newest states."""
        self.resume_dir.mkdir(parents=True, exist_ok=True)
        self._keep_best(int(progress.best["epoch"]))  # before the sidecar that completes it
        name = f"state-e{progress.epoch:05d}-b{progress.next_batch:06d}"
        checkpoint.write(str(self.resume_dir / name))
        sidecar = {"config_hash": self.config_hash, **dataclasses.asdict(progress)}
        write_json(self.resume_dir / f"{name}.json", sidecar)
        if self.log is not None:
            save_session_log(self.log, self.resume_dir)
        for old in sorted(self.resume_dir.glob("state-*.json"))[:-2]:
            for path in self.resume_dir.glob(old.stem + ".*"):
                path.unlink(missing_ok=True)

    def _best_copy(self, epoch: int) -> Path:
        return self.resume_dir / f"best-e{epoch:05d}"

    def _keep_best(self, epoch: int) -> None:
        """Copies the best checkpoint (of ``epoch``) into the resume folder once, completing
        the copy with a ``done`` marker, and keeps the two newest copies."""
        if self.best_prefix is None or epoch < 1:
            return
        copy = self._best_copy(epoch)
        files = sorted(self.best_prefix.parent.glob(self.best_prefix.name + ".*"))
        if (copy / "done").exists() or not files:
            return
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir()
        for path in files:
            shutil.copy2(path, copy / path.name)
        (copy / "done").touch()
        for old in sorted(self.resume_dir.glob("best-e*"))[:-2]:
            shutil.rmtree(old, ignore_errors=True)

    def _put_back_best(self, progress: Progress) -> None:
        """Restores the best checkpoint of ``progress`` from its copy when the run's
        ``checkpoint/`` lost it (Snakemake deletes a rerun job's outputs)."""
        epoch = int(progress.best["epoch"])
        if self.best_prefix is None or epoch < 1:
            return
        if self.best_prefix.with_suffix(".index").exists():
            return
        copy = self._best_copy(epoch)
        if not (copy / "done").exists():
            log.warning("no copy of the best checkpoint (epoch %d) in %s", epoch, copy.parent)
            return
        self.best_prefix.parent.mkdir(parents=True, exist_ok=True)
        for path in copy.glob(self.best_prefix.name + ".*"):
            shutil.copy2(path, self.best_prefix.parent / path.name)
        log.info("best checkpoint (epoch %d) put back from %s", epoch, copy)

    def restore(self, checkpoint: tf.train.Checkpoint) -> Progress | None:
        """Restores the newest complete state saved for this training config into
        ``checkpoint``'s objects (their optimizer slots already built).

        A state whose files are damaged is skipped with a warning, falling back to the
        previous one; states of another config (the job's parameters changed) are ignored.

        Raises:
            ResumeMismatchError: If the newest state of this config lacks variables the
                model now has (the code changed under a running campaign): starting afresh
                would overwrite the run's progress, so the run stops and says what to do.
        """
        for sidecar in sorted(self.resume_dir.glob("state-*.json"), reverse=True):
            try:
                saved = read_json(sidecar)
                if saved.pop("config_hash") != self.config_hash:
                    log.warning("ignoring %s: saved for another training config", sidecar)
                    continue
                saved = {RENAMED_FIELDS.get(key, key): value for key, value in saved.items()}
                progress = Progress(**saved)
                try:
                    read_every_variable(
                        checkpoint,
                        sidecar.with_suffix(""),
                        "Resume with the code that saved it, or move the run's resume/ "
                        "folder away to train this run from its first epoch.",
                    )
                except CheckpointMismatchError as error:
                    raise ResumeMismatchError(f"resume state {sidecar}: {error}") from error
            except (
                OSError,
                ValueError,
                TypeError,
                KeyError,
                IndexError,
                tf.errors.OpError,
            ) as error:
                log.warning("skipping damaged resume state %s: %s", sidecar, error)
                continue
            log.info(
                "resuming from %s (epoch %d, batch %d)",
                sidecar,
                progress.epoch,
                progress.next_batch,
            )
            self._put_back_best(progress)
            return progress
        return None
