"""Deterministic seeds for every random stream of a run, derived from the run seed.

Each stage (initialisation, data order, training samples, evaluation samples) gets its own
seed, so changing one stage (say, more evaluation samples) never shifts the random numbers of
another, as in disentanglement_lib.
"""

from __future__ import annotations

import hashlib

STREAMS = (
    "init",
    "data_order",
    "train_sampling",
    "eval_sampling",
    "valid_sampling",
    "valid_mi_batch",
    "valid_mi_batch_rows",
    "aggressive_batches",
    "decoder_reset",
    "binarization",
    "report_samples",
)


def derive_seed(run_seed: int, stream: str) -> int:
    """Returns a 31-bit seed for ``stream``, a pure function of (run_seed, stream).

    Args:
        run_seed: The run's seed from the config.
        stream: One of :data:`STREAMS`.

    Returns:
        An integer in [0, 2**31 - 1).

    Raises:
        ValueError: If ``stream`` is not a known stream name.
    """
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; allowed: {STREAMS}")
    digest = hashlib.sha256(f"vae_tfp:{int(run_seed)}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**31 - 1)
