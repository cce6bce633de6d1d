"""``digits``: scikit-learn's bundled 8x8 handwritten digits, binarized (no download)."""

from __future__ import annotations

import numpy as np

from vae_tfp.data.splits import split_indices
from vae_tfp.data.store import PreparedData


def build_digits(
    data_seed: int, threshold: int = 8, valid_fraction: float = 0.1, test_fraction: float = 0.2
) -> PreparedData:
    """Loads the 1,797 UCI 8x8 digits bundled with scikit-learn and binarizes them.

    Pixels take integer values 0..16; a pixel becomes 1 when its value is greater than
    ``threshold`` (a fixed binarization, so the test likelihood is well defined).

    Args:
        data_seed: Seed of the train/valid/test split.
        threshold: Binarization threshold in 0..16.
        valid_fraction: Fraction of images held out for validation.
        test_fraction: Fraction of images held out for testing.

    Returns:
        Binary data of shape [n, 64] (float32).

    Raises:
        ValueError: If ``threshold`` is outside 0..16.
    """
    from sklearn.datasets import load_digits  # ~1 s to import: only when building

    if not 0 <= threshold <= 16:
        raise ValueError(f"digits threshold must be in 0..16 (pixel range), got {threshold}")
    images = load_digits().data
    binary = (images > threshold).astype(np.float32)
    train, valid, test = split_indices(len(binary), valid_fraction, test_fraction, data_seed)
    return PreparedData(
        name="digits",
        kind="binary",
        train=binary[train],
        valid=binary[valid],
        test=binary[test],
        options={
            "data_seed": data_seed,
            "threshold": threshold,
            "valid_fraction": valid_fraction,
            "test_fraction": test_fraction,
        },
    )
