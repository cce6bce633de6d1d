"""The train loop, the best-validation checkpoint and the per-epoch history."""

from vae_tfp.training.loop import NonFiniteLossError, train_run
from vae_tfp.training.outputs import SELECTION_RULE
from vae_tfp.training.validation import encode_dataset

__all__ = [
    "SELECTION_RULE",
    "NonFiniteLossError",
    "encode_dataset",
    "train_run",
]
