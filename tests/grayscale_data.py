"""Tiny dynamically binarized image data for the tests of the training feed."""

import numpy as np

from vae_tfp.data import PreparedData
from vae_tfp.data.binarize import fixed_binarization


def grayscale_data(exact_rows: int = 0) -> PreparedData:
    """64 training, 16 validation and 16 test 8x8 images of random intensities, the training
    split kept as intensities for a fresh binarization per batch. The first ``exact_rows``
    rows of every image are rounded to 0 or 1, so their binarization is known."""
    images = np.random.default_rng(0).random((96, 8, 8)).astype(np.float32)
    images[:, :exact_rows] = np.round(images[:, :exact_rows])
    return PreparedData(
        name="digits",
        kind="binary",
        train=images[:64],
        valid=fixed_binarization(images[64:80], 0, "valid"),
        test=fixed_binarization(images[80:], 0, "test"),
        options={"data_seed": 0, "dynamic_binarization": True},
    )
