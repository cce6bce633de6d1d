"""Figures a researcher reads and cites, from run folders alone (no live model).

One figure per file, each as ``<stem>.png`` (200 dpi) and ``<stem>.pdf``; every function
returns the numbers it drew, so a test can hold a figure against a table.

Per dataset x decoder (``python -m vae_tfp figures``; stems ``DATASET_DECODER_FIGURES``):

- :func:`per_dimension_heatmaps`: ``kl_per_dim``, ``mi_per_dim``, methods x latent
  dimensions, mean over seeds (nats).
- :func:`training_curves`: ``curve_kl``, ``curve_valid_mi``, ``curve_valid_au``, per epoch
  from ``history.csv``, mean over seeds with a min–max band.
- :func:`method_image_grids` / :func:`image_grids`: ``{method}_reconstructions`` and
  ``{method}_prior_samples`` of one seed's run, for image datasets (``samples.npz``).

Per dataset (``python -m vae_tfp rate-distortion``; stems ``DATASET_FIGURES``):

- :func:`rate_distortion`: ``rate_distortion``, rate ``kl`` against distortion ``-rec``
  for every run, with isolines of -ELBO = D + R.

Style: matplotlib only (Agg backend); each method keeps one colour, marker and line style
(its position in the config's method list, baseline first) so the figures read in
grey-scale; heatmaps use ``cividis`` with a labelled colour bar; units on every axis.
"""

from __future__ import annotations

import importlib
from typing import Any

# Stems written for each dataset x decoder by ``python -m vae_tfp figures``.
DATASET_DECODER_FIGURES = (
    "kl_per_dim",
    "mi_per_dim",
    "curve_kl",
    "curve_valid_mi",
    "curve_valid_au",
)
# Stems written for each dataset by ``python -m vae_tfp rate-distortion``.
DATASET_FIGURES = ("rate_distortion",)
# Stems written per method, as ``{method}_{stem}``, where the runs hold image samples.
IMAGE_FIGURES = ("reconstructions", "prior_samples")
FORMATS = ("png", "pdf")


def image_figure_stems(methods: list[str]) -> list[str]:
    """The image-grid stems of ``python -m vae_tfp figures`` for these methods.

    Args:
        methods: Method variant names.

    Returns:
        ``{method}_{stem}`` for each method and each stem of ``IMAGE_FIGURES``.
    """
    return [f"{method}_{stem}" for method in methods for stem in IMAGE_FIGURES]


# The drawing functions, imported on first use: the names above (which the Snakefile and
# the CLI parser read) cost no matplotlib import.
_FUNCTIONS = {
    "curve_statistics": "figures_runs",
    "figure_paths": "figures_common",
    "has_images": "figures_images",
    "image_grids": "figures_images",
    "method_image_grids": "figures_images",
    "per_dimension_heatmaps": "figures_runs",
    "rate_distortion": "figures_plane",
    "training_curves": "figures_runs",
}


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        module = importlib.import_module(f"vae_tfp.report.{_FUNCTIONS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATASET_DECODER_FIGURES",
    "DATASET_FIGURES",
    "FORMATS",
    "IMAGE_FIGURES",
    "image_figure_stems",
    *_FUNCTIONS,
]
