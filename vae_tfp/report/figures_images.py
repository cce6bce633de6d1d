"""Image grids from a run's ``samples.npz`` (written by the evaluate job for binary images).

- ``reconstructions``: the first test images (upper row of each pair) above their
  reconstructions (lower row): the decoder's mean at the posterior mean, or one decoder
  sample where the decoder has no closed-form mean (``reconstruction_kind``).
- ``prior_samples``: images decoded from z ~ p(z). A collapsed model with a strong
  decoder reconstructs well yet ignores z: its reconstructions do not follow the input.

Pixels are drawn with ``gray_r`` (0 white, 1 black, greys for Bernoulli means in between),
nearest-neighbour, each image in a thin tinted frame.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from vae_tfp.report.figures_common import STYLE, method_runs, save_figure, title_of

MAX_COLUMNS = 10
INCHES_PER_IMAGE = 0.6
FRAME_COLOUR = "#7a9cc6"  # thin frames around images: a tint no pixel value has
_BLANK = -1.0  # mosaic cells without an image: below the colour range, drawn white
_PAIR = ("originals", "reconstructions")
_KIND_TEXT = {
    "mean": "decoder mean at the posterior mean",
    "sample": "one decoder sample at the posterior mean",
}
_PRIOR_TEXT = {"mean": "decoder mean", "sample": "one decoder sample"}


def _images(array: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """[n, *event_shape] -> [n, H, W]; event_shape may be [H, W], [H, W, 1] or [H*W]."""
    array = np.asarray(array, dtype=np.float32)
    return array.reshape(len(array), *image_shape)


def _mosaic(
    rows: list[np.ndarray], gaps: list[int]
) -> tuple[np.ndarray, list[tuple[int, int]], list[float]]:
    """Rows of images [k, H, W] as one array, ``gaps[i]`` blank pixel rows after row i.

    Returns:
        The array (blank cells below the colour range, drawn white), the top-left corner
        (x, y) of every image in it, and the vertical centre of every row.
    """
    height, width = rows[0].shape[1:]
    columns = max(len(row) for row in rows)
    mosaic = np.full((len(rows) * height + sum(gaps), columns * width), _BLANK, dtype=np.float32)
    corners, centres, top = [], [], 0
    for row, gap in zip(rows, gaps, strict=True):
        for index, image in enumerate(row):
            mosaic[top : top + height, index * width : (index + 1) * width] = image
            corners.append((index * width, top))
        centres.append(top + (height - 1) / 2)
        top += height + gap
    return mosaic, corners, centres


def _draw(
    mosaic: np.ndarray,
    corners: list[tuple[int, int]],
    image_shape: tuple[int, int],
    title: str,
    output_dir: str | os.PathLike,
    stem: str,
    row_labels: tuple[list[float], list[str]] = ([], []),
) -> None:
    """One figure: the mosaic in ``gray_r``, a thin frame around each image."""
    height, width = image_shape
    scale = INCHES_PER_IMAGE / width
    size = (max(3.2, mosaic.shape[1] * scale + 2.0), mosaic.shape[0] * scale + 1.0)
    cmap = plt.get_cmap("gray_r").with_extremes(under="white")
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=size)
        image = ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        for x, y in corners:
            corner = (x - 0.5, y - 0.5)
            ax.add_patch(
                Rectangle(corner, width, height, fill=False, lw=0.6, edgecolor=FRAME_COLOUR)
            )
        ax.set_xticks([])
        ax.set_yticks(*row_labels)
        ax.tick_params(length=0)
        ax.spines[:].set_visible(False)
        colourbar = fig.colorbar(image, ax=ax, shrink=0.8, aspect=12, pad=0.03, ticks=[0, 1])
        colourbar.set_label("pixel value")
        colourbar.outline.set_linewidth(0.6)
        fig.suptitle(title)
        save_figure(fig, output_dir, stem)


def image_grids(
    samples_path: str | os.PathLike,
    output_dir: str | os.PathLike,
    title: str,
    stem_prefix: str = "",
) -> dict[str, np.ndarray]:
    """Reconstructions and prior samples of one run: ``reconstructions``, ``prior_samples``.

    Args:
        samples_path: A ``samples.npz`` with ``originals``, ``reconstructions``,
            ``prior_samples`` and ``image_shape`` (optionally ``reconstruction_kind``).
        output_dir: The folder of the figures.
        title: The first title line, naming dataset x decoder (and the run).
        stem_prefix: Prepended to both stems, e.g. ``"vanilla_"``.

    Returns:
        The images drawn, [n, H, W] each: ``originals``, ``reconstructions`` and
        ``prior_samples``.

    Raises:
        KeyError: If the file holds no images (e.g. a token dataset's samples).
    """
    with np.load(samples_path) as stored:
        shape = tuple(int(v) for v in stored["image_shape"])
        drawn = {
            name: _images(stored[name], shape)
            for name in ("originals", "reconstructions", "prior_samples")
        }
        kind = str(stored["reconstruction_kind"]) if "reconstruction_kind" in stored else ""
    gap = max(2, shape[0] // 3)

    # Pairs of rows: test images above their reconstructions, MAX_COLUMNS per row.
    rows, gaps, labels = [], [], []
    for start in range(0, len(drawn["originals"]), MAX_COLUMNS):
        rows += [drawn[name][start : start + MAX_COLUMNS] for name in _PAIR]
        gaps += [0, gap]
        labels += ["data", "reconstruction"]
    mosaic, corners, centres = _mosaic(rows, [*gaps[:-1], 0])
    what = _KIND_TEXT.get(kind, "reconstructions")
    _draw(
        mosaic,
        corners,
        shape,
        f"{title}\nreconstructions of test images: {what}",
        output_dir,
        f"{stem_prefix}reconstructions",
        row_labels=(centres, labels),
    )

    prior = drawn["prior_samples"]
    columns = min(MAX_COLUMNS, math.ceil(math.sqrt(len(prior))))
    rows = [prior[i : i + columns] for i in range(0, len(prior), columns)]
    mosaic, corners, _ = _mosaic(rows, [0] * len(rows))
    what = _PRIOR_TEXT.get(kind, "decoded")
    _draw(
        mosaic,
        corners,
        shape,
        f"{title}\nsamples z ~ p(z), {what}",
        output_dir,
        f"{stem_prefix}prior_samples",
    )
    return drawn


def has_images(samples_path: str | os.PathLike) -> bool:
    """Whether ``samples_path`` exists and holds image samples (binary-image datasets)."""
    if not os.path.exists(samples_path):
        return False
    with np.load(samples_path) as stored:
        return "originals" in stored.files


def method_image_grids(
    frame: pd.DataFrame,
    dataset: str,
    decoder: str,
    methods: Sequence[str],
    seed: int,
    output_dir: str | os.PathLike,
) -> dict[str, dict[str, np.ndarray]]:
    """Image grids of one seed's run of each method: ``{method}_reconstructions`` etc.

    Args:
        frame: One row per run with ``dataset``, ``decoder``, ``method``, ``seed``,
            ``run_dir``.
        dataset: The dataset.
        decoder: The decoder variant.
        methods: Method variants in the config's order; methods without runs are skipped.
        seed: The seed whose run is shown.
        output_dir: The folder of the figures.

    Returns:
        Method -> the images drawn (see :func:`image_grids`); empty when the runs have no
        image samples (not an image dataset).

    Raises:
        ValueError: If a method has no run with ``seed``, or only some runs have images.
    """
    chosen = {}
    for method, runs in method_runs(frame, dataset, decoder, methods):
        run = runs[runs["seed"] == seed]
        if run.empty:
            raise ValueError(f"{dataset} x {decoder} x {method}: no run with seed {seed}")
        chosen[method] = os.path.join(run["run_dir"].iloc[0], "samples.npz")
    with_images = {method: has_images(path) for method, path in chosen.items()}
    if not any(with_images.values()):
        return {}
    if not all(with_images.values()):
        missing = [method for method, flag in with_images.items() if not flag]
        raise ValueError(f"{dataset} x {decoder}: no image samples.npz for {missing}")
    return {
        method: image_grids(
            path, output_dir, title_of(dataset, decoder, f"{method}, seed {seed}"), f"{method}_"
        )
        for method, path in chosen.items()
    }
