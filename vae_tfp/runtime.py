"""Process-wide TensorFlow settings: threads and determinism, set before any op runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tensorflow as tf
from tensorflow.python.framework import config as tf_framework_config


def configure_tensorflow(threads: int, deterministic: bool = True, gpus: int | None = None) -> None:
    """Limits TensorFlow to ``threads`` intra-op threads and one inter-op thread.

    Snakemake gives each job ``threads`` cores; without this limit every TensorFlow process
    would start one thread per machine core and ``--cores 8`` jobs would oversubscribe.

    Args:
        threads: Intra-op threads, >= 1.
        deterministic: Turn TensorFlow op determinism on (same inputs, same numbers) or off
            (faster on GPUs, where some kernels are then non-deterministic). Every job is a
            fresh process, so off means never enabled; both states are recorded in the run's
            output (:func:`op_determinism_enabled`).
        gpus: The GPUs the scheduler gave the job (Snakemake resource ``gpu``): 0 hides every
            GPU from TensorFlow, so CPU jobs running beside a GPU job never take GPU memory;
            None or more leaves the visible devices as they are (SLURM sets them).

    Raises:
        ValueError: If ``threads`` < 1 or ``gpus`` < 0.
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if gpus is not None and gpus < 0:
        raise ValueError(f"gpus must be >= 0, got {gpus}")
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(1)
        if gpus == 0:
            tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # TensorFlow already initialized in this process (tests)
        pass
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_framework_config.disable_op_determinism()


def op_determinism_enabled() -> bool:
    """Whether TensorFlow op determinism is on in this process (recorded with every result)."""
    return bool(tf_framework_config.is_op_determinism_enabled())


def deterministic_setting(run_config: Mapping[str, Any]) -> bool:
    """The run's ``training.deterministic`` option: op determinism on unless set to false."""
    return bool(run_config.get("training", {}).get("deterministic", True))
