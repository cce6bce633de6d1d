"""Downloaded image datasets: binarized MNIST, MNIST and Fashion-MNIST (28x28).

Every builder returns images of shape [n, 28, 28] (row-major, as displayed) and
``kind="binary"``: the decoders model pixels with Bernoulli likelihoods.

- ``binarized_mnist``: the fixed binarization of Larochelle & Murray (2011), 50,000 /
  10,000 / 10,000 images, exactly as published (array digests checked). The source rows are
  sorted by class, so each split's rows are permuted with the data seed (minibatch
  statistics such as the He et al. 2019 mutual-information estimate assume mixed batches).
- ``mnist`` and ``fashion_mnist``: the official 60,000 / 10,000 grayscale images. The last
  ``n_valid`` training images are the validation split (the Larochelle & Murray convention:
  50,000 / 10,000). With ``dynamic_binarization`` (the default), the training split holds
  intensities in [0, 1] and the training loop draws a fresh binarization of every batch
  (:func:`vae_tfp.data.binarize.binarize`, Burda et al. 2016); the validation and test splits
  are binarized once from the data seed. Without it, the training split is binarized once too.

Burda et al. (2016)'s 28x28 Omniglot (``omniglot``, same shape, kind and splitting of
grayscale images) is built in :mod:`vae_tfp.data.omniglot`.
"""

from __future__ import annotations

import gzip
import struct

import numpy as np

from vae_tfp.data.binarize import fixed_binarization
from vae_tfp.data.cache import DataCache
from vae_tfp.data.remote_files import RemoteFile
from vae_tfp.data.store import PreparedData

IMAGE_SHAPE = (28, 28)

_BMNIST_URL = "https://raw.githubusercontent.com/mingzhang-yin/ARM-gradient/master/"
BINARIZED_MNIST_FILES = {
    split: RemoteFile(
        dataset="binarized_mnist",
        path=f"binarized_mnist/{split}.mat",
        sha256=digest,
        digest="mat:X",
        urls=(f"{_BMNIST_URL}binarized_mnist_{split}.amat",),
        source=(
            "the fixed binarization of Larochelle & Murray (2011) as MAT v5 files, "
            "https://github.com/mingzhang-yin/ARM-gradient (binarized_mnist_{train,valid,test}"
            ".amat, MAT files despite the name; save them as {train,valid,test}.mat)"
        ),
    )
    for split, digest in (
        ("train", "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a"),
        ("valid", "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e"),
        ("test", "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86"),
    )
}


def _idx_files(
    dataset: str, mirrors: tuple[str, ...], source: str, digests: dict[str, str]
) -> dict[str, RemoteFile]:
    """The gzipped IDX image files of an MNIST-format dataset, by split; each digest is the
    SHA-256 of the decompressed file (the form the publishers list)."""
    names = {"train": "train-images-idx3-ubyte.gz", "test": "t10k-images-idx3-ubyte.gz"}
    return {
        split: RemoteFile(
            dataset=dataset,
            path=f"{dataset}/{names[split]}",
            sha256=digest,
            digest="gunzip",
            urls=tuple(mirror + names[split] for mirror in mirrors),
            source=source,
        )
        for split, digest in digests.items()
    }


MNIST_FILES = _idx_files(
    "mnist",
    (
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "MNIST (LeCun et al. 1998), http://yann.lecun.com/exdb/mnist/",
    {
        "train": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "test": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
)
FASHION_MNIST_FILES = _idx_files(
    "fashion_mnist",
    (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
    "Fashion-MNIST (Xiao et al. 2017), https://github.com/zalandoresearch/fashion-mnist",
    {
        "train": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "test": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
)

_IDX_IMAGES_MAGIC = 2051


def parse_idx_images(raw: bytes, name: str = "idx data") -> np.ndarray:
    """Parses the bytes of an (uncompressed) IDX3 image file into uint8 [n, rows, cols].

    Raises:
        ValueError: On a wrong magic number or a size that does not match the header.
    """
    if len(raw) < 16:
        raise ValueError(f"{name}: {len(raw)} bytes is too short for an IDX3 header")
    magic, count, rows, cols = struct.unpack(">iiii", raw[:16])
    if magic != _IDX_IMAGES_MAGIC:
        raise ValueError(f"{name}: magic number {magic}, expected {_IDX_IMAGES_MAGIC} (IDX3)")
    if len(raw) != 16 + count * rows * cols:
        raise ValueError(
            f"{name}: {len(raw) - 16} pixel bytes, the header promises {count}x{rows}x{cols}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows, cols)


def load_idx_images(cache: DataCache, file: RemoteFile) -> np.ndarray:
    """Fetches (verified) and parses a gzipped IDX3 image file: uint8 [n, 28, 28]."""
    path = cache.fetch_file(file)
    with gzip.open(path, "rb") as stream:
        return parse_idx_images(stream.read(), str(path))


def load_mat_array(cache: DataCache, file: RemoteFile) -> np.ndarray:
    """Fetches (verified) a MAT file and returns its variable named by ``file.digest``."""
    from scipy.io import loadmat

    path = cache.fetch_file(file)
    name = file.digest.split(":", 1)[1]
    return loadmat(path, variable_names=[name])[name]


def load_binarized_mnist_split(cache: DataCache, split: str) -> np.ndarray:
    """One split of the fixed binarized MNIST as published: uint8 {0, 1} [n, 784], class-sorted."""
    array = load_mat_array(cache, BINARIZED_MNIST_FILES[split])
    if array.ndim != 2 or array.shape[1] != 784:
        raise ValueError(f"binarized_mnist {split}: expected [n, 784] pixels, got {array.shape}")
    return array


def load_mnist_split(cache: DataCache, split: str, fashion: bool = False) -> np.ndarray:
    """The official MNIST (or Fashion-MNIST) ``"train"`` or ``"test"`` images, uint8 [n, 28, 28]."""
    files = FASHION_MNIST_FILES if fashion else MNIST_FILES
    return load_idx_images(cache, files[split])


def _intensities(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0..255 -> float32 intensities k / 255 in [0, 1]."""
    return images.astype(np.float32) / np.float32(255)


def _grayscale_splits(
    train_images: np.ndarray,
    test_images: np.ndarray,
    n_valid: int,
    data_seed: int,
    dynamic_binarization: bool,
) -> dict[str, np.ndarray]:
    """Train/valid/test from grayscale intensities: valid and test binarized once."""
    if not 1 <= n_valid < len(train_images):
        raise ValueError(
            f"n_valid must be in 1..{len(train_images) - 1} (the training images), got {n_valid}"
        )
    train, valid = train_images[:-n_valid], train_images[-n_valid:]
    return {
        "train": train if dynamic_binarization else fixed_binarization(train, data_seed, "train"),
        "valid": fixed_binarization(valid, data_seed, "valid"),
        "test": fixed_binarization(test_images, data_seed, "test"),
    }


def _grayscale_options(data_seed: int, n_valid: int, dynamic_binarization: bool) -> dict:
    return {
        "data_seed": data_seed,
        "n_valid": n_valid,
        "dynamic_binarization": bool(dynamic_binarization),
    }


def build_binarized_mnist(data_seed: int, cache_dir: str | None = None) -> PreparedData:
    """The fixed binarized MNIST (Larochelle & Murray 2011): 50,000 / 10,000 / 10,000.

    Args:
        data_seed: Seed of the permutation of each split's rows (the files are class-sorted).
        cache_dir: The configured data cache (``data_cache``); see
            :func:`vae_tfp.data.cache.resolve_cache_dir` for the precedence.

    Returns:
        Binary images [n, 28, 28] (float32 values in {0, 1}), every split's rows permuted.
    """
    cache = DataCache.from_config(cache_dir)
    splits = {}
    for index, split in enumerate(("train", "valid", "test")):
        array = load_binarized_mnist_split(cache, split)
        order = np.random.default_rng([int(data_seed), index]).permutation(len(array))
        splits[split] = array[order].reshape(-1, *IMAGE_SHAPE).astype(np.float32)
    return PreparedData(
        name="binarized_mnist", kind="binary", **splits, options={"data_seed": data_seed}
    )


def build_mnist(
    data_seed: int,
    n_valid: int = 10000,
    dynamic_binarization: bool = True,
    cache_dir: str | None = None,
) -> PreparedData:
    """MNIST with dynamic binarization (Burda et al. 2016): 50,000 / 10,000 / 10,000 by default.

    Args:
        data_seed: Seed of the fixed binarizations (validation, test; training when
            ``dynamic_binarization`` is off).
        n_valid: The last ``n_valid`` official training images form the validation split.
        dynamic_binarization: Keep training intensities for a fresh binarization per batch.
        cache_dir: The configured data cache.

    Returns:
        Images [n, 28, 28]: training intensities in [0, 1] (or {0, 1}), binary valid/test;
        ``options["dynamic_binarization"]`` tells the training loop what to do.
    """
    cache = DataCache.from_config(cache_dir)
    train = _intensities(load_mnist_split(cache, "train"))
    test = _intensities(load_mnist_split(cache, "test"))
    splits = _grayscale_splits(train, test, n_valid, data_seed, dynamic_binarization)
    return PreparedData(
        name="mnist",
        kind="binary",
        **splits,
        options=_grayscale_options(data_seed, n_valid, dynamic_binarization),
    )


def build_fashion_mnist(
    data_seed: int,
    n_valid: int = 10000,
    dynamic_binarization: bool = True,
    cache_dir: str | None = None,
) -> PreparedData:
    """Fashion-MNIST (Xiao et al. 2017) treated as MNIST: see :func:`build_mnist`."""
    cache = DataCache.from_config(cache_dir)
    train = _intensities(load_mnist_split(cache, "train", fashion=True))
    test = _intensities(load_mnist_split(cache, "test", fashion=True))
    splits = _grayscale_splits(train, test, n_valid, data_seed, dynamic_binarization)
    return PreparedData(
        name="fashion_mnist",
        kind="binary",
        **splits,
        options=_grayscale_options(data_seed, n_valid, dynamic_binarization),
    )
