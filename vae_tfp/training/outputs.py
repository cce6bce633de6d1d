"""What a finished training run leaves in its folder: ``history.csv`` (one row per epoch,
:data:`~vae_tfp.training.state.HISTORY_COLUMNS`) and the training summary
``checkpoint/best.json`` beside the selected checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from vae_tfp.io import atomic_write, read_json, write_json
from vae_tfp.methods import Composite
from vae_tfp.provenance import read_training_code_record
from vae_tfp.run_files import PRETRAIN_DIR, checkpoint_path
from vae_tfp.runtime import op_determinism_enabled
from vae_tfp.training.state import HISTORY_COLUMNS, Progress
from vae_tfp.training.validation import score_name

# What the summary of a run started from a pretraining run repeats of that run's summary.
PRETRAINING_KEYS = (
    "best_epoch",
    "epochs_trained",
    "stop_reason",
    "selection_rule",
    "method",
    "wall_time_s",
)
LAST_EPOCH_RULE = "checkpoint of the last epoch trained (training.checkpoint_selection: last_epoch)"
SELECTION_RULE = (
    "checkpoint of the epoch with the highest validation ELBO (one posterior sample per "
    "example, the same noise every epoch); ties go to the earliest epoch"
)


def selection_rule(method: Composite) -> str:
    """:data:`SELECTION_RULE`, or its variant for a method that selects on its validation
    objective (:meth:`vae_tfp.methods.base.Method.selection_kl_weight`)."""
    kl_weight = method.selection_kl_weight()
    if kl_weight is None:
        return SELECTION_RULE
    return SELECTION_RULE.replace("validation ELBO", f"validation {score_name(kl_weight)}")


def write_outputs(
    run_dir: Path,
    progress: Progress,
    *,
    keep_last_epoch: bool,
    method: Composite,
    epochs: int,
    steps: int,
    wall_time_s: float,
) -> dict[str, Any]:
    """Writes ``history.csv`` and ``checkpoint/best.json`` for a finished run.

    Args:
        run_dir: The run folder.
        progress: The run's final progress (history, best epoch, stop reason).
        keep_last_epoch: Whether the last epoch's weights are evaluated
            (:data:`LAST_EPOCH_RULE`), else the best validation ELBO's (:data:`SELECTION_RULE`).
        method: The run's method (its parts are recorded).
        epochs: Epochs the run was configured for.
        steps: Decoder updates done.
        wall_time_s: Training time, over every session of the run.

    Returns:
        The summary written to ``checkpoint/best.json``.
    """
    history = progress.history
    frame = pd.DataFrame(history, columns=list(HISTORY_COLUMNS))
    atomic_write(run_dir / "history.csv", lambda s: frame.to_csv(s, index=False))
    summary = {
        "best_epoch": progress.best["epoch"],
        "best_valid_elbo": progress.best["valid_elbo"],
        "selection_rule": LAST_EPOCH_RULE if keep_last_epoch else selection_rule(method),
        "first_selectable_epoch": method.first_selectable_epoch,
        "epochs": epochs,
        "epochs_trained": len(history),
        "stop_reason": progress.stop_reason,
        "steps": steps,
        "encoder_inner_steps": int(sum(r["encoder_inner_steps"] for r in history)),
        "inner_loop_ended_after_epoch": progress.inner_loop_ended,
        "method": method.describe(),
        "wall_time_s": wall_time_s,
        "op_determinism": op_determinism_enabled(),
    }
    if method.pretraining_method() is not None:
        prefix = checkpoint_path(Path(run_dir) / PRETRAIN_DIR)
        pretraining = read_json(prefix.with_suffix(".json"))
        summary["pretraining"] = {
            "run_dir": PRETRAIN_DIR,
            **{key: pretraining[key] for key in PRETRAINING_KEYS},
            # The suite's code that trained it (None when trained in-process, not by the CLI).
            "code_version": read_training_code_record(prefix.parent),
        }
    write_json(checkpoint_path(run_dir).with_suffix(".json"), summary)
    return summary
