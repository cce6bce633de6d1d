"""The ablation table: which protocol option moves a metric, per cell and seed.

An experiment whose grid varies protocol options (decoder and method variants that differ
in one option each, e.g. ``config/au-ablation.yaml``) names, under ``ablation:``, the
epochs at which to read the validation metrics of ``history.csv``. The table has one row
per run: its cell (decoder variant x method variant), the options in which the cells
differ (read from the runs' resolved configs, so the table cannot disagree with what ran),
the seed, the validation active units at each of those epochs, and the test-split
``au``, ``nll_iw`` (with its K) and ``kl`` of the evaluated weights (not ``mi``, which at
real-data rates is the log N-capped lower bound). Every seed has
its own row: with two seeds a mean ± std would claim more than the runs hold.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from vae_tfp.io import atomic_write, read_json

# What the cells may differ in: the variant options of each run's resolved config.
VARIANT_SECTIONS = ("decoder_options", "method_options")
# The whole-set mi is capped by log N (a bound, not a value, at these rates): left out.
TEST_METRICS = ("au", "nll_iw", "kl")


def differing_options(configs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The (section, key) pairs of :data:`VARIANT_SECTIONS` whose values differ between the
    given run configs (a key absent from one config counts as differing), in first-seen
    order."""
    keys: dict[tuple[str, str], None] = {}
    for config in configs:
        for section in VARIANT_SECTIONS:
            for key in config[section]:
                keys[(section, key)] = None
    return [
        (section, key)
        for section, key in keys
        if len({repr(config[section].get(key)) for config in configs}) > 1
    ]


def ablation_frame(
    metrics_paths: Sequence[str | os.PathLike], epochs: Sequence[int]
) -> pd.DataFrame:
    """One row per run: cell, differing options, seed, validation AU at ``epochs``, test
    metrics.

    Args:
        metrics_paths: The runs' ``metrics.json``; ``history.csv`` is read beside each.
        epochs: Epochs (from 1) at which the validation AU of ``history.csv`` is shown; an
            epoch a run did not reach shows as missing.

    Raises:
        FileNotFoundError: If a run folder lacks ``history.csv``.
    """
    payloads = [read_json(path) for path in metrics_paths]
    options = differing_options([payload["config"] for payload in payloads])
    rows = []
    for path, payload in zip(metrics_paths, payloads, strict=True):
        config, metrics = payload["config"], payload["metrics"]
        history = pd.read_csv(Path(path).parent / "history.csv").set_index("epoch")
        row: dict[str, Any] = {"cell": f"{config['decoder']} × {config['method']}"}
        for section, key in options:
            row[key] = config[section].get(key, "(default)")
        row["seed"] = int(config["seed"])
        for epoch in epochs:
            value = history["valid_au"].get(epoch)
            row[f"valid au @{epoch}"] = None if value is None else int(value)
        row["epochs"] = int(history.index.max())
        for name in TEST_METRICS:
            row[f"test {name}"] = metrics.get(name)
        row["K"] = int(config["evaluation"]["iw_samples"])
        row["evaluated epoch"] = payload.get("training", {}).get("best_epoch")
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for column in ("test nll_iw", "test kl"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    for column in [
        c for c in shown if c.startswith("valid au @") or c in ("test au", "evaluated epoch")
    ]:
        shown[column] = shown[column].map(lambda v: "–" if pd.isna(v) else f"{int(v)}")
    seeds = int(frame.groupby("cell")["seed"].nunique().max())
    caption = (
        f"One row per run (no mean ± std over the cells' {seeds} seed{'s' * (seeds != 1)}). "
        "valid au @e: active units (Cov_x E_q[z_i|x] > 0.01, a count) on the validation "
        "split after epoch e, from history.csv; test au (a count), nll_iw (K importance "
        "samples) and kl (nats per example): the weights of the evaluated epoch on the test "
        "split. The option columns are the settings in which the cells differ, read from "
        "each run's resolved config."
    )
    return shown.to_markdown(index=False) + "\n\n" + caption + "\n"


def write_ablation_table(
    metrics_paths: Sequence[str | os.PathLike], epochs: Sequence[int], output_dir: str | os.PathLike
) -> list[Path]:
    """Writes ``ablation.csv`` and ``ablation.md`` into ``output_dir``.

    Returns:
        The paths written.
    """
    frame = ablation_frame(metrics_paths, epochs)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = output_dir / "ablation.csv", output_dir / "ablation.md"
    atomic_write(csv_path, lambda stream: frame.to_csv(stream, index=False))
    atomic_write(md_path, lambda stream: stream.write(_markdown(frame)))
    return [csv_path, md_path]
