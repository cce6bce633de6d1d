"""Figures of one dataset x decoder: per-dimension heatmaps and training curves.

- ``kl_per_dim`` / ``mi_per_dim``: methods x latent dimensions, each cell the mean over
  seeds of the test-split ``kl_per_dim`` (E_x KL(q(z_i|x) || p(z_i))) or ``mi_per_dim``
  (I_q(x; z_i)) from ``metrics.json``, in nats. A dark column is a dimension that carries
  nothing; KL without MI is rate spent on matching the prior, not on information.
- ``curve_kl``, ``curve_valid_mi``, ``curve_valid_au``: the training rate, the validation
  mutual information and the validation active units per epoch from ``history.csv``, one
  line per method (mean over the seeds that reached that epoch) and a band from the
  minimum to the maximum over seeds: collapse as it happens.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from vae_tfp.report.figures_common import (
    STYLE,
    method_runs,
    method_style,
    read_metrics,
    run_file,
    save_figure,
    title_of,
)

# Up to this many latent dimensions the heatmap cells carry their values.
ANNOTATE_MAX_DIMS = 16
# Up to this many latent dimensions every one gets a tick label.
LABEL_ALL_DIMS = 24

HEATMAPS = {
    "kl_per_dim": (
        "KL per latent dimension",
        r"$\mathrm{KL}(q(z_i|x)\,\|\,p(z_i))$ (nats)",
    ),
    "mi_per_dim": (
        "mutual information per latent dimension",
        r"$I_q(x; z_i)$ (nats)",
    ),
}

CURVES = {
    "curve_kl": ("kl", "training KL (rate)", "KL (nats)"),
    "curve_valid_mi": ("valid_mi", "validation mutual information", r"$I_q(x; z)$ (nats)"),
    "curve_valid_au": ("valid_au", "validation active units", "active units (count)"),
}
BAND_NOTE = "line: mean over seeds\nband: min–max over seeds"


def _label(method: str, runs: pd.DataFrame) -> str:
    return f"{method} (n={len(runs)})"


def per_dimension_heatmaps(
    frame: pd.DataFrame,
    dataset: str,
    decoder: str,
    methods: Sequence[str],
    output_dir: str | os.PathLike,
) -> dict[str, pd.DataFrame]:
    """Heatmaps of the per-dimension KL and MI: ``kl_per_dim`` and ``mi_per_dim``.

    Rows are methods (labelled with their number of seeds n), columns latent dimensions;
    both maps share one ``cividis`` colour scale, and cells carry their values up to
    ``ANNOTATE_MAX_DIMS`` dimensions.

    Args:
        frame: One row per run with ``dataset``, ``decoder``, ``method``, ``seed``,
            ``run_dir``.
        dataset: The dataset.
        decoder: The decoder variant.
        methods: Method variants in the config's order, baseline first; methods without
            runs here are skipped.
        output_dir: Where ``kl_per_dim.{png,pdf}`` and ``mi_per_dim.{png,pdf}`` go.

    Returns:
        Stem -> the table drawn: index ``method``, columns the latent dimension (0-based,
        as in the ``metrics.json`` lists), cells the mean over seeds in nats.

    Raises:
        ValueError: If no method has runs, or the runs disagree on the latent dimension.
    """
    groups = method_runs(frame, dataset, decoder, methods)
    payloads = {
        method: [read_metrics(run_dir)["metrics"] for run_dir in runs["run_dir"]]
        for method, runs in groups
    }
    tables = {}
    for stem in HEATMAPS:
        rows = {}
        for method, metrics in payloads.items():
            values = [np.asarray(m[stem], dtype=float) for m in metrics]
            if len({v.shape for v in values}) != 1:
                raise ValueError(f"{method}: runs with different latent_dim in {stem}")
            rows[method] = np.mean(values, axis=0)
        if len({len(v) for v in rows.values()}) != 1:
            raise ValueError(f"{dataset} x {decoder}: methods with different latent_dim")
        tables[stem] = pd.DataFrame.from_dict(rows, orient="index")
        tables[stem].index.name, tables[stem].columns.name = "method", "dimension"
    # One colour scale for both: per dimension I_q(x; z_i) <= KL_i, so a cell darker in the
    # MI map than in the KL map is rate spent on matching the prior, not on information.
    everything = np.concatenate([t.to_numpy(dtype=float).ravel() for t in tables.values()])
    vmin = min(0.0, float(np.nanmin(everything)))
    vmax = max(float(np.nanmax(everything)), vmin + 1e-3)
    labels = [_label(method, runs) for method, runs in groups]
    for stem, (what, colour_label) in HEATMAPS.items():
        title = title_of(dataset, decoder, f"{what}\n(test split, mean over seeds)")
        _draw_heatmap(tables[stem], labels, title, colour_label, (vmin, vmax), output_dir, stem)
    return tables


def _draw_heatmap(
    table: pd.DataFrame,
    row_labels: list[str],
    title: str,
    colour_label: str,
    limits: tuple[float, float],
    output_dir: str | os.PathLike,
    stem: str,
) -> None:
    values = table.to_numpy(dtype=float)
    n_rows, n_dims = values.shape
    annotate = n_dims <= ANNOTATE_MAX_DIMS
    cell_width = 0.5 if annotate else min(0.3, 10.0 / n_dims)
    size = (max(4.8, 2.8 + n_dims * cell_width), 1.4 + 0.4 * n_rows)
    vmin, vmax = limits
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=size)
        image = ax.imshow(
            values, cmap="cividis", vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest"
        )
        ax.set_yticks(range(n_rows), labels=row_labels)
        if n_dims <= LABEL_ALL_DIMS:
            ax.set_xticks(range(n_dims))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
            ax.set_xticks(range(n_dims), minor=True)
        ax.tick_params(which="both", length=2)
        ax.spines[:].set_visible(False)
        ax.set_xlabel("latent dimension i")
        colourbar = fig.colorbar(image, ax=ax, pad=0.02, aspect=max(8, 6 * n_rows) / 2)
        colourbar.set_label(f"{colour_label}\n(same scale in the KL and MI maps)")
        if annotate:
            cmap, norm = image.cmap, image.norm
            for (row, column), value in np.ndenumerate(values):
                red, green, blue, _ = cmap(norm(value))
                light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.5
                text = f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
                ax.text(
                    column,
                    row,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if light else "white",
                )
        ax.set_title(title)
        save_figure(fig, output_dir, stem)


def _history(run_dir: str | os.PathLike) -> pd.DataFrame:
    history = pd.read_csv(run_file(run_dir, "history.csv"))
    if "epoch" not in history.columns:
        history.insert(0, "epoch", np.arange(1, len(history) + 1))
    return history.set_index("epoch")


def curve_statistics(histories: Sequence[pd.DataFrame], column: str) -> pd.DataFrame:
    """Mean, minimum and maximum of one ``history.csv`` column over runs, per epoch.

    Runs may stop at different epochs (early stopping): each epoch is summarized over the
    runs that reached it, and ``n`` says how many did.

    Args:
        histories: One history per seed, indexed by epoch.
        column: The column, e.g. ``kl``.

    Returns:
        Columns ``epoch``, ``mean``, ``low``, ``high``, ``n``, one row per epoch.
    """
    wide = pd.concat([h[column] for h in histories], axis=1, ignore_index=True).sort_index()
    return pd.DataFrame(
        {
            "epoch": wide.index.to_numpy(),
            "mean": wide.mean(axis=1).to_numpy(),
            "low": wide.min(axis=1).to_numpy(),
            "high": wide.max(axis=1).to_numpy(),
            "n": wide.count(axis=1).to_numpy(),
        }
    )


def training_curves(
    frame: pd.DataFrame,
    dataset: str,
    decoder: str,
    methods: Sequence[str],
    output_dir: str | os.PathLike,
) -> dict[str, pd.DataFrame]:
    """Training KL, validation MI and validation AU per epoch, one line per method.

    Writes ``curve_kl``, ``curve_valid_mi`` and ``curve_valid_au`` (PNG and PDF). Each line
    is the mean over seeds, its band the minimum to the maximum over seeds (the legend
    title says so).

    Args:
        frame: One row per run with ``dataset``, ``decoder``, ``method``, ``seed``,
            ``run_dir``.
        dataset: The dataset.
        decoder: The decoder variant.
        methods: Method variants in the config's order, baseline first; methods without
            runs here are skipped.
        output_dir: The folder of the figures.

    Returns:
        Stem -> long table of what was drawn: ``method``, ``epoch``, ``mean``, ``low``,
        ``high`` and ``n`` (seeds that reached the epoch).

    Raises:
        ValueError: If no method has runs on ``dataset`` x ``decoder``.
    """
    groups = method_runs(frame, dataset, decoder, methods)
    histories = {method: [_history(d) for d in runs["run_dir"]] for method, runs in groups}
    latent_dims = {int(d) for _, runs in groups for d in runs.get("latent_dim", [])}
    tables = {}
    for stem, (column, what, ylabel) in CURVES.items():
        parts = []
        with plt.rc_context(STYLE):
            fig, ax = plt.subplots(figsize=(6.4, 3.6))
            for number, (method, runs) in enumerate(groups):
                curve = curve_statistics(histories[method], column)
                parts.append(curve.assign(method=method))
                style = method_style(list(methods).index(method))
                every = max(1, len(curve) // 8)
                ax.fill_between(
                    curve["epoch"],
                    curve["low"],
                    curve["high"],
                    color=style["color"],
                    alpha=0.15,
                    linewidth=0,
                )
                ax.plot(
                    curve["epoch"],
                    curve["mean"],
                    **style,
                    markersize=4.5,
                    linewidth=1.4,
                    markevery=(number * every // len(groups), every),
                    label=_label(method, runs),
                )
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
            if column == "valid_au":
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                if len(latent_dims) == 1:
                    ylabel = f"active units (count, of {next(iter(latent_dims))})"
            if column != "valid_mi":
                ax.set_ylim(bottom=0)
            ax.set_ylabel(ylabel)
            ax.set_title(title_of(dataset, decoder, what))
            ax.legend(title=BAND_NOTE, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            save_figure(fig, output_dir, stem)
        table = pd.concat(parts, ignore_index=True)
        tables[stem] = table[["method", "epoch", "mean", "low", "high", "n"]]
    return tables
