"""What each run of an experiment cost and where it ended, from its own files.

For every run folder under ``RESULTS/runs`` (``{dataset}/{decoder}/{method}/seed{seed}``)
prints, from ``history.csv`` (one row per epoch, ``wall_time_s`` cumulative over the run's
sessions) and, once evaluated, ``metrics.json``:

- epochs trained, and the tenth percentile, median and maximum of the seconds per epoch
  (validation included; differences of ``wall_time_s``, the first epoch left out as it
  holds the first trace; the maximum shows a pause or a contended stretch);
- hours of training (``training.wall_time_s``) and minutes of evaluation
  (``evaluation_wall_time_s``);
- the last epoch's training and validation ELBO, and ``nll_iw`` and ``au`` of the test set.

A run still training has no ``history.csv`` yet (its history is in its newest resume
state) and is listed as such. Reads files only; safe beside a running pipeline:

    .venv/bin/python benchmarks/run_costs.py results/reproduce [--runs 'mnist/*/*/*']
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = (
    "run", "epochs", "s/epoch p10", "s/epoch median", "s/epoch max", "train h", "eval min",
    "train elbo", "valid elbo", "nll_iw", "au",
)  # fmt: skip


def run_row(run_dir: Path, results: Path) -> dict[str, object]:
    """The printed figures of one run folder (missing ones as "")."""
    row: dict[str, object] = dict.fromkeys(COLUMNS, "")
    row["run"] = str(run_dir.relative_to(results / "runs"))
    history_path = run_dir / "history.csv"
    if history_path.is_file():
        history = pd.read_csv(history_path)
        seconds = np.diff(history["wall_time_s"].to_numpy())
        row["epochs"] = int(history["epoch"].iloc[-1])
        if seconds.size:
            row["s/epoch p10"] = f"{np.percentile(seconds, 10):.2f}"
            row["s/epoch median"] = f"{np.median(seconds):.2f}"
            row["s/epoch max"] = f"{seconds.max():.0f}"
        row["train elbo"] = f"{history['elbo'].iloc[-1]:.2f}"
        row["valid elbo"] = f"{history['valid_elbo'].iloc[-1]:.2f}"
    else:
        row["epochs"] = "no history yet"  # training (its history is in its resume states)
    metrics_path = run_dir / "metrics.json"
    if metrics_path.is_file():
        payload = json.loads(metrics_path.read_text())
        row["train h"] = f"{payload['training']['wall_time_s'] / 3600:.2f}"
        row["eval min"] = f"{payload['evaluation_wall_time_s'] / 60:.1f}"
        row["nll_iw"] = f"{payload['metrics']['nll_iw']:.2f}"
        row["au"] = payload["metrics"]["au"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the experiment folder, e.g. results/reproduce")
    parser.add_argument(
        "--runs", default="*/*/*/*", help="glob under RESULTS/runs (default: every run)"
    )
    args = parser.parse_args()
    folders = sorted(p for p in (args.results / "runs").glob(args.runs) if p.is_dir())
    if not folders:
        raise SystemExit(f"no run folder matches {args.results / 'runs' / args.runs}")
    table = pd.DataFrame([run_row(folder, args.results) for folder in folders])
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
