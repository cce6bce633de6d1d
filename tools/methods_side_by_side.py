"""Every method of an experiment on one dataset × decoder, as docs/methods.md shows them.

    python tools/methods_side_by_side.py results/embedded-full digits pixelcnn \\
        --output /tmp/digits-pixelcnn.md
    python tools/embed_generated.py docs/methods.md side-by-side-digits-pixelcnn \\
        /tmp/digits-pixelcnn.md

The table is the pipeline's own per-dataset table (:func:`vae_tfp.report.tables.
dataset_table`: mean ± std, mi as a bracket or marked where it is a bound, bold only where
a paired test separates the best) restricted to one decoder, with two columns added from
the run rows: the active units of each seed and each seed's collapse verdict (the
suite's ``collapse_verdict``: informative units against the noise threshold of the
caption). The caption is the dataset table's, led by the note on code versions when the
runs come from more than one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from vae_tfp.report.code_versions import code_version_note
from vae_tfp.report.tables import dataset_caption, dataset_table

SHOWN = ["method", "n", "nll_iw", "kl", "mi", "marginal_kl", "informative_units"]


def side_by_side(summary: pd.DataFrame, dataset: str, decoder: str) -> str:
    """The markdown caption and table of one dataset × decoder of a ``summary.csv``.

    Raises:
        ValueError: If the summary has no run of that dataset and decoder.
    """
    runs = summary[(summary["dataset"] == dataset) & (summary["decoder"] == decoder)]
    if runs.empty:
        pairs = sorted(set(zip(summary["dataset"], summary["decoder"], strict=True)))
        raise ValueError(f"no runs of {dataset} × {decoder}; the summary has {pairs}")
    display, _ = dataset_table(runs)
    table = display[[c for c in SHOWN if c in display]].copy()
    per_seed = runs.sort_values("seed").groupby("method", sort=False)
    table["au (per seed)"] = [
        ", ".join(str(int(a)) for a in per_seed.get_group(m)["au"]) for m in table["method"]
    ]
    table["verdict (per seed)"] = [
        ", ".join(per_seed.get_group(m)["collapse_verdict"]) for m in table["method"]
    ]
    # The caption describes the columns shown (no wall time or verdict counts), then the
    # two per-seed columns.
    caption = (
        code_version_note(runs)
        + dataset_caption(runs, display[[c for c in SHOWN if c in display]])
        + " au (per seed): each seed's active units; verdict (per seed): each seed's "
        "collapse verdict (collapsed, partial or uncollapsed, by the informative_units rule)."
    )
    table["method"] = [f"`{m}`" for m in table["method"]]
    return f"{caption}\n\n{table.to_markdown(index=False)}\n"


def main() -> int:
    """Writes or prints the table; exit status 1 with the reason on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="an experiment folder, results/<name>")
    parser.add_argument("dataset")
    parser.add_argument("decoder")
    parser.add_argument("--output", type=Path, help="a markdown file (default: stdout)")
    args = parser.parse_args()
    summary_path = args.results / "tables" / "summary.csv"
    if not summary_path.exists():
        print(f"{summary_path} does not exist: run the experiment first", file=sys.stderr)
        return 1
    try:
        text = side_by_side(pd.read_csv(summary_path), args.dataset, args.decoder)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
