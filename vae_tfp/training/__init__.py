"""The train loop, the best-validation checkpoint and the per-epoch history."""

from vae_tfp.training.loop import (
    SELECTION_RULE,
    NonFiniteLossError,
    checkpoint_path,
    encode_dataset,
    model_from_run_config,
    train_run,
)

__all__ = [
    "SELECTION_RULE",
    "NonFiniteLossError",
    "checkpoint_path",
    "encode_dataset",
    "model_from_run_config",
    "train_run",
]
