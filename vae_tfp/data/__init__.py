"""Datasets: a registry of named builders, prepared once into a cached ``.npz`` file."""

from vae_tfp.data.registry import DATASETS, DatasetSpec, prepare_dataset
from vae_tfp.data.store import PreparedData, load_prepared, save_prepared

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "PreparedData",
    "load_prepared",
    "prepare_dataset",
    "save_prepared",
]
