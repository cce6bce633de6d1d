"""Burda et al. (2016)'s 28x28 Omniglot: the ``omniglot`` dataset.

``chardata.mat`` from https://github.com/yburda/iwae holds 24,345 training and 8,070 test
images; as in Burda et al.'s code, the training images are permuted with
``numpy.random.RandomState(123)`` and the last 1,345 become the validation split; dynamic
binarization as for MNIST (:mod:`vae_tfp.data.images`, whose split and binarization helpers
this module uses). No digest of the file is published: it is pinned on first use
(:mod:`vae_tfp.data.cache`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from vae_tfp.data.cache import DataCache
from vae_tfp.data.images import IMAGE_SHAPE, _grayscale_options, _grayscale_splits
from vae_tfp.data.remote_files import ChecksumMismatchError, RemoteFile
from vae_tfp.data.store import PreparedData

log = logging.getLogger(__name__)

OMNIGLOT_FILE = RemoteFile(
    dataset="omniglot",
    path="omniglot/chardata.mat",
    sha256=None,  # no digest is published; pinned on first use (vae_tfp.data.cache)
    digest="file",
    urls=("https://raw.githubusercontent.com/yburda/iwae/master/datasets/OMNIGLOT/chardata.mat",),
    source=(
        "Burda et al. (2016)'s 28x28 Omniglot, https://github.com/yburda/iwae "
        "(datasets/OMNIGLOT/chardata.mat)"
    ),
)
OMNIGLOT_SIZES = {"train": 24345, "test": 8070}
OMNIGLOT_VALID = 1345
OMNIGLOT_SHUFFLE_SEED = 123  # Burda et al.'s shuffle_seed in their datasets.py


def parse_omniglot(mat: dict) -> tuple[np.ndarray, np.ndarray]:
    """Burda et al.'s ``chardata.mat`` contents -> (train, test) intensities [n, 28, 28].

    The MAT file stores one image per column (``data``: 784 x 24,345, ``testdata``:
    784 x 8,070) in MATLAB's column-major order, so each column reshaped row-major gives the
    transposed image; Burda et al.'s ``reshape((-1, 28*28), order='fortran')`` undoes it,
    as does the transpose here.

    Raises:
        ValueError: If a variable is missing, not 784 rows, or outside [0, 1].
    """
    out = []
    for key in ("data", "testdata"):
        if key not in mat:
            raise ValueError(f"omniglot: variable {key!r} missing; found {sorted(mat)}")
        array = np.asarray(mat[key])
        if array.ndim != 2 or array.shape[0] != 784:
            raise ValueError(f"omniglot: {key} must be 784 x n, got {array.shape}")
        images = array.T.reshape(-1, *IMAGE_SHAPE).transpose(0, 2, 1).astype(np.float32)
        if images.size and (images.min() < 0 or images.max() > 1):
            raise ValueError(f"omniglot: {key} values must lie in [0, 1]")
        out.append(np.ascontiguousarray(images))
    return out[0], out[1]


def build_omniglot(
    data_seed: int,
    n_valid: int = OMNIGLOT_VALID,
    dynamic_binarization: bool = True,
    cache_dir: str | None = None,
) -> PreparedData:
    """Omniglot 28x28 (Burda et al. 2016): 23,000 / 1,345 / 8,070 with their split.

    Args:
        data_seed: Seed of the fixed binarizations.
        n_valid: Validation images, the last ones after Burda et al.'s permutation.
        dynamic_binarization: Keep training intensities for a fresh binarization per batch.
        cache_dir: The configured data cache.
    """
    from scipy.io import loadmat

    cache = DataCache.from_config(cache_dir)
    path = cache.fetch_file(OMNIGLOT_FILE)
    try:
        train, test = parse_omniglot(loadmat(path, variable_names=["data", "testdata"]))
    except ValueError as error:
        raise ChecksumMismatchError(f"{path}: {error}") from error
    for split, images in (("train", train), ("test", test)):
        if len(images) != OMNIGLOT_SIZES[split]:
            log.warning(
                "omniglot %s: %d images, Burda et al.'s file has %d (%s)",
                split,
                len(images),
                OMNIGLOT_SIZES[split],
                Path(path),
            )
    train = train[np.random.RandomState(OMNIGLOT_SHUFFLE_SEED).permutation(len(train))]
    splits = _grayscale_splits(train, test, n_valid, data_seed, dynamic_binarization)
    return PreparedData(
        name="omniglot",
        kind="binary",
        **splits,
        options=_grayscale_options(data_seed, n_valid, dynamic_binarization),
    )
