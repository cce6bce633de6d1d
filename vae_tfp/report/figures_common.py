"""What the figure modules share: file names, the house style, saving, selecting runs.

Every figure is one file in two formats (``<stem>.png`` at ``PNG_DPI`` and a vector
``<stem>.pdf``), written through a temporary file and a rename so Snakemake never sees half
a figure. Methods keep one colour, marker and line style per position in the caller's
method list (the config's order, baseline first), so a method looks the same in every
figure of a dataset and the figures stay readable in grey-scale.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: report jobs have no display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from vae_tfp.io import default_file_mode, read_json  # noqa: E402
from vae_tfp.report.figures import FORMATS  # noqa: E402

PNG_DPI = 200
# Embedding TrueType fonts in PDFs (below) runs fontTools' subsetter, which logs hundreds
# of INFO lines per figure into the job logs.
logging.getLogger("fontTools").setLevel(logging.WARNING)

# Okabe & Ito's colour-blind-safe palette without its yellow (too light on white); black
# goes to the first method, the baseline. Markers and dashes tell methods apart without
# colour; the three cycles have coprime lengths (7, 8, 4), so no two of the first 28
# methods share colour and dashes, and none of the first 56 colour and marker.
COLOURS = ("#000000", "#E69F00", "#0072B2", "#D55E00", "#009E73", "#56B4E9", "#CC79A7")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")

STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.constrained_layout.use": True,
    "pdf.fonttype": 42,  # TrueType in the PDF: journals reject Type 3 fonts
    "ps.fonttype": 42,
}


def method_style(index: int) -> dict[str, Any]:
    """Colour, marker and line style of the method at ``index`` in the method list."""
    return {
        "color": COLOURS[index % len(COLOURS)],
        "marker": MARKERS[index % len(MARKERS)],
        "linestyle": LINESTYLES[index % len(LINESTYLES)],
    }


def figure_paths(output_dir: str | os.PathLike, stem: str) -> dict[str, Path]:
    """The files of one figure, by format."""
    return {ext: Path(output_dir) / f"{stem}.{ext}" for ext in FORMATS}


def save_figure(fig: plt.Figure, output_dir: str | os.PathLike, stem: str) -> dict[str, Path]:
    """Writes ``fig`` as PNG and PDF atomically, then closes it.

    The PDF gets no creation date, so the same figure gives the same bytes.

    Args:
        fig: The figure.
        output_dir: The folder (created if missing).
        stem: The file name without extension.

    Returns:
        The paths written, by format.
    """
    paths = figure_paths(output_dir, stem)
    try:
        for ext, path in paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(handle)
            try:
                metadata = {"CreationDate": None} if ext == "pdf" else None
                fig.savefig(tmp, format=ext, dpi=PNG_DPI, metadata=metadata, bbox_inches="tight")
                os.chmod(tmp, default_file_mode())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    finally:
        plt.close(fig)
    return paths


def method_runs(
    frame: pd.DataFrame, dataset: str, decoder: str | None, methods: Sequence[str]
) -> list[tuple[str, pd.DataFrame]]:
    """The runs of each method, in the order of ``methods``, methods without runs skipped.

    Args:
        frame: One row per run (``collect_runs`` or ``summary.csv``).
        dataset: The dataset.
        decoder: The decoder variant, or None for every decoder.
        methods: Method variant names, baseline first.

    Returns:
        (method, its rows sorted by decoder and seed) pairs.

    Raises:
        ValueError: If no listed method has a run on ``dataset`` (and ``decoder``).
    """
    rows = frame[frame["dataset"] == dataset]
    if decoder is not None:
        rows = rows[rows["decoder"] == decoder]
    groups = [
        (method, rows[rows["method"] == method].sort_values(["decoder", "seed"]))
        for method in dict.fromkeys(methods)
    ]
    groups = [(method, runs) for method, runs in groups if len(runs)]
    if not groups:
        where = dataset if decoder is None else f"{dataset} x {decoder}"
        raise ValueError(f"no runs of methods {list(methods)} on {where}")
    return groups


def run_file(run_dir: str | os.PathLike, name: str) -> Path:
    """A file of a run folder; relative run folders are relative to the working directory.

    Raises:
        FileNotFoundError: If the file is missing.
    """
    path = Path(run_dir) / name
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found (run_dir {run_dir!r} is relative to the working directory "
            f"{Path.cwd()})"
        )
    return path


def read_metrics(run_dir: str | os.PathLike) -> dict:
    """The ``metrics.json`` payload of a run folder."""
    return read_json(run_file(run_dir, "metrics.json"))


def title_of(dataset: str, decoder: str, what: str) -> str:
    """A figure title naming dataset x decoder first."""
    return f"{dataset} × {decoder}: {what}"
