"""Reading a TensorFlow checkpoint into a model: every variable, or an error that says
which are missing and what to do (TensorFlow's own check raises a bare AssertionError)."""

from __future__ import annotations

import re
from pathlib import Path

import tensorflow as tf


class CheckpointMismatchError(RuntimeError):
    """A checkpoint that lacks variables of the model it is read into."""


def read_every_variable(checkpoint: tf.train.Checkpoint, prefix: str | Path, remedy: str) -> None:
    """Reads the checkpoint at ``prefix`` into ``checkpoint``'s objects, every one of them.

    Args:
        checkpoint: The objects to restore (a model, optimizers).
        prefix: The checkpoint's path without its ``.index`` suffix.
        remedy: What the reader can do when it does not match, for the error message.

    Raises:
        CheckpointMismatchError: If the checkpoint lacks a variable of these objects, as
            when it was saved by code whose model had other layers (the training-config
            hash does not cover the code). TensorFlow's own check raises a bare
            ``AssertionError`` that names neither the file nor the way out.
    """
    status = checkpoint.read(str(prefix))
    try:
        status.assert_existing_objects_matched()
    except AssertionError as error:
        # TensorFlow's message prints every unmatched variable's values: keep names and shapes.
        missing = re.findall(r"<tf\.Variable '([^']+)' shape=(\([^)]*\))", str(error))
        what = ", ".join(f"{name} {shape}" for name, shape in missing) or str(error)[:300]
        raise CheckpointMismatchError(
            f"checkpoint {prefix} lacks variables of the model read into it (was it saved "
            f"by code with other layers?): {what}. {remedy}"
        ) from error
