"""The rate–distortion plane of one dataset (Alemi et al. 2018, "Fixing a Broken ELBO").

Each run is one point: rate R = ``kl`` = E_x KL(q(z|x) || p(z)) against distortion
D = ``-rec`` = -E_x E_q log p(x|z), both in nats per test example. Since
-ELBO = D + R, runs with the same bound lie on the dashed lines D + R = const; a collapsed
model sits at R = 0 with the distortion of a model that ignores z, and two models with the
same ELBO can trade rate for distortion along one line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from vae_tfp.report.figures_common import STYLE, method_runs, method_style, save_figure

# Marker fill per decoder (in the order of the decoder list); the colour and marker shape
# belong to the method.
FILLSTYLES = ("full", "none", "left", "bottom", "right", "top")
ISOLINE_COLOUR = "0.55"


def _marker(marker: str, color: str, fill: str, **_: object) -> dict:
    """Keyword arguments of one run's marker (no line), in a method's colour and shape."""
    return {
        "linestyle": "none",
        "marker": marker,
        "color": color,
        "fillstyle": fill,
        "markerfacecoloralt": "white",
        "markersize": 7,
        "markeredgewidth": 1.2,
    }


def _limits(values: np.ndarray, include_zero: bool) -> tuple[float, float]:
    low, high = float(np.min(values)), float(np.max(values))
    if include_zero:
        low = min(low, 0.0)
    pad = 0.08 * (high - low) if high > low else 1.0
    return low - pad, high + pad


def rate_distortion(
    frame: pd.DataFrame,
    dataset: str,
    methods: Sequence[str],
    output_dir: str | os.PathLike,
    decoders: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The rate–distortion plane of one dataset: ``rate_distortion.{png,pdf}``.

    One point per run, colour and marker by method, marker fill by decoder, dashed
    isolines of -ELBO = D + R with their values in nats.

    Args:
        frame: One row per run with ``dataset``, ``decoder``, ``method``, ``seed``, ``kl``,
            ``rec``, ``run_dir``.
        dataset: The dataset.
        methods: Method variants in the config's order, baseline first; methods without
            runs on ``dataset`` are skipped.
        output_dir: The folder of the figure.
        decoders: Decoder variants to show, in this order (default: every decoder with
            runs, sorted by name).

    Returns:
        The runs drawn: ``decoder``, ``method``, ``seed``, ``rate`` (= ``kl``),
        ``distortion`` (= ``-rec``) and ``run_dir``; ``attrs["isolines"]`` holds the
        -ELBO values of the dashed lines.

    Raises:
        ValueError: If no method has runs on ``dataset`` (for the given decoders).
    """
    rows = frame[frame["dataset"] == dataset]
    if decoders is not None:
        rows = rows[rows["decoder"].isin(decoders)]
    groups = method_runs(rows, dataset, None, methods)
    present = {d for _, runs in groups for d in runs["decoder"]}
    decoders = [d for d in decoders if d in present] if decoders else sorted(present)
    if len(decoders) > len(FILLSTYLES):
        raise ValueError(f"at most {len(FILLSTYLES)} decoders per plane, got {decoders}")
    data = pd.concat(
        [
            pd.DataFrame(
                {
                    "decoder": runs["decoder"],
                    "method": method,
                    "seed": runs["seed"],
                    "rate": runs["kl"].astype(float),
                    "distortion": -runs["rec"].astype(float),
                    "run_dir": runs["run_dir"],
                }
            )
            for method, runs in groups
        ],
        ignore_index=True,
    )
    x_limits = _limits(data["rate"].to_numpy(), include_zero=True)
    y_limits = _limits(data["distortion"].to_numpy(), include_zero=False)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 4.4))
        method_handles = []
        for method, _ in groups:
            style = method_style(list(methods).index(method))
            points = data[data["method"] == method]
            for fill, decoder in zip(FILLSTYLES, decoders, strict=False):
                chosen = points[points["decoder"] == decoder]
                marker = _marker(style["marker"], style["color"], fill)
                ax.plot(chosen["rate"], chosen["distortion"], **marker, zorder=3)
            label = f"{method} (n={len(points)})"
            method_handles.append(Line2D([], [], **_marker(**style, fill="full"), label=label))
        levels = _draw_isolines(ax, x_limits, y_limits, data[["rate", "distortion"]].to_numpy())
        ax.set_xlim(x_limits)
        ax.set_ylim(y_limits)
        ax.set_xlabel(r"rate $R = \mathrm{KL}(q(z|x)\,\|\,p(z))$ (nats)")
        ax.set_ylabel(r"distortion $D = -\mathbb{E}_q \log p(x|z)$ (nats)")
        ax.set_title(
            f"{dataset} × {', '.join(decoders)}: rate–distortion plane\n"
            "(test split, one point per run)"
        )
        fig.legend(
            handles=method_handles, title="method (colour, marker)", loc="outside right upper"
        )
        decoder_handles = [
            Line2D([], [], **_marker("o", "0.25", fill), label=decoder)
            for fill, decoder in zip(FILLSTYLES, decoders, strict=False)
        ]
        isoline = Line2D([], [], color=ISOLINE_COLOUR, linestyle="--", linewidth=0.8)
        isoline.set_label("−ELBO = D + R\n(nats, labelled)")
        fig.legend(
            handles=[*decoder_handles, isoline],
            title="decoder (marker fill)",
            loc="outside right lower",
        )
        save_figure(fig, output_dir, "rate_distortion")
    data.attrs["isolines"] = levels
    return data


def _draw_isolines(
    ax: plt.Axes,
    x_limits: tuple[float, float],
    y_limits: tuple[float, float],
    points: np.ndarray,
) -> list[float]:
    """Dashed lines D + R = c across the box, every other one labelled with c.

    A label sits where its line is farthest from every point (in axes fractions), and
    lines that only clip a corner of the box get none.
    """
    (x0, x1), (y0, y1) = x_limits, y_limits
    levels = [
        float(c)
        for c in MaxNLocator(nbins=8).tick_values(x0 + y0, x1 + y1)
        if x0 + y0 < c < x1 + y1
    ]
    scale = np.array([x1 - x0, y1 - y0])
    points = (points - [x0, y0]) / scale
    for number, level in enumerate(levels):
        line = {"color": ISOLINE_COLOUR, "linestyle": "--", "linewidth": 0.8, "zorder": 1}
        ax.plot([x0, x1], [level - x0, level - x1], **line)
        start, end = max(x0, level - y1), min(x1, level - y0)
        if (len(levels) > 4 and number % 2) or (end - start) / (x1 - x0) < 0.25:
            continue
        candidates = np.linspace(start, end, 41)[6:-6]
        on_line = (np.column_stack([candidates, level - candidates]) - [x0, y0]) / scale
        distance = np.min(np.linalg.norm(on_line[:, None] - points[None], axis=-1), axis=1)
        x = float(candidates[np.argmax(distance)])
        ax.text(
            x,
            level - x,
            f"{level:g}",
            rotation=-45,
            transform_rotates_text=True,
            rotation_mode="anchor",
            ha="center",
            va="center",
            fontsize=7,
            color="0.3",
            zorder=2,
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )
    return levels
