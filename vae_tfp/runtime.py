"""Process-wide TensorFlow settings: threads and determinism, set before any op runs."""

from __future__ import annotations

import tensorflow as tf


def configure_tensorflow(threads: int, deterministic: bool = True) -> None:
    """Limits TensorFlow to ``threads`` intra-op threads and one inter-op thread.

    Snakemake gives each job ``threads`` cores; without this limit every TensorFlow process
    would start one thread per machine core and ``--cores 8`` jobs would oversubscribe.

    Args:
        threads: Intra-op threads, >= 1.
        deterministic: Turn on TensorFlow op determinism (same inputs, same numbers).

    Raises:
        ValueError: If ``threads`` < 1.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already initialized in this process (tests)
        pass
    if deterministic:
        tf.config.experimental.enable_op_determinism()
