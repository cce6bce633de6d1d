"""The train loop, the best-validation checkpoint and the per-epoch history."""

from vae_tfp.training.build import checkpoint_path, model_from_run_config
from vae_tfp.training.loop import SELECTION_RULE, NonFiniteLossError, train_run
from vae_tfp.training.validation import encode_dataset

__all__ = [
    "SELECTION_RULE",
    "NonFiniteLossError",
    "checkpoint_path",
    "encode_dataset",
    "model_from_run_config",
    "train_run",
]
