"""Stochastic binarization of grayscale images (Salakhutdinov & Murray 2008).

A grayscale pixel intensity p in [0, 1] is read as the probability that the pixel is on:
x ~ Bernoulli(p). *Dynamic* binarization draws a fresh x every time an image is used for
training (every epoch), which acts as data augmentation and is the "dynamically binarized
MNIST" of Burda et al. (2016) and later work; the validation and test sets are binarized once
with a fixed seed so that their likelihoods are well defined and comparable across runs.
"""

from __future__ import annotations

import numpy as np

# Tags that keep the fixed binarizations of different splits on different random streams.
_SPLIT_TAGS = {"train": 0, "valid": 1, "test": 2}
_BINARIZE_TAG = 0xB1A


def binarize(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draws x ~ Bernoulli(p) for every entry p of ``probabilities``.

    A pure function of its inputs (the generator's state included): x = 1 where u < p, with
    u ~ Uniform[0, 1) drawn from ``rng`` in float32, so p = 0 gives 0 and p = 1 gives 1.

    Args:
        probabilities: Array of intensities in [0, 1], any shape.
        rng: The generator to draw from (advanced by one uniform per entry).

    Returns:
        A float32 array of the same shape with values in {0, 1}.
    """
    p = np.asarray(probabilities, dtype=np.float32)
    return (rng.random(p.shape, dtype=np.float32) < p).astype(np.float32)


def fixed_binarization(probabilities: np.ndarray, data_seed: int, split: str) -> np.ndarray:
    """The one binarization of a validation or test split, a pure function of the data seed.

    Args:
        probabilities: Intensities in [0, 1].
        data_seed: The experiment's data seed.
        split: ``"train"``, ``"valid"`` or ``"test"`` (each split has its own stream).

    Returns:
        float32 values in {0, 1}.
    """
    rng = np.random.default_rng([_BINARIZE_TAG, int(data_seed), _SPLIT_TAGS[split]])
    return binarize(probabilities, rng)
