"""The figures of an experiment: ``figures``, ``samples`` and ``rate-distortion``
(``workflows/rules/report.smk``). matplotlib is imported by the commands, not here."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from vae_tfp.cli.arguments import add

# The file names, as in vae_tfp.report.figures (not imported here: matplotlib is slow).
FIGURES_HELP = (
    "Writes kl_per_dim, mi_per_dim, curve_kl, curve_valid_mi and curve_valid_au (each as "
    ".png and .pdf) into --output-dir and, when the runs' samples.npz hold images, "
    "{method}_reconstructions and {method}_prior_samples of each method's run with seed "
    "--samples-from-seed. Relative run_dir values in the summary are relative to the "
    "working directory."
)
SAMPLES_HELP = (
    "Image runs: writes {prefix}reconstructions and {prefix}prior_samples (.png, .pdf); "
    "token runs: {prefix}sentences.txt and .html (greedy decodings from the prior and a "
    "homotopy)."
)
RATE_DISTORTION_HELP = "Writes rate_distortion.png and rate_distortion.pdf into --output-dir."


def _figures(args: argparse.Namespace) -> None:
    import pandas as pd

    from vae_tfp.report.figures import (
        method_image_grids,
        per_dimension_heatmaps,
        training_curves,
    )

    frame = pd.read_csv(args.summary)
    where = (frame, args.dataset, args.decoder, args.methods)
    per_dimension_heatmaps(*where, args.output_dir)
    training_curves(*where, args.output_dir)
    grids = (
        method_image_grids(*where, args.samples_from_seed, args.output_dir) if args.images else {}
    )
    logging.info(
        "figures of %s x %s -> %s (image grids: %s)",
        args.dataset,
        args.decoder,
        args.output_dir,
        ", ".join(grids) or "none, no image samples",
    )


def _samples(args: argparse.Namespace) -> None:
    import numpy as np

    with np.load(args.samples) as stored:
        kind = str(stored["kind"])
    if kind == "binary":
        from vae_tfp.report.figures import image_grids

        image_grids(args.samples, args.output_dir, args.title, args.stem_prefix)
    elif kind == "tokens":
        from vae_tfp.report.sentences import write_sentences

        write_sentences(
            args.samples, args.output_dir / f"{args.stem_prefix}sentences.txt", args.title
        )
    else:
        raise SystemExit(f"{args.samples} holds {kind!r} data: no images or sentences to show")
    logging.info("%s samples of %s -> %s", kind, args.samples, args.output_dir)


def _rate_distortion(args: argparse.Namespace) -> None:
    import pandas as pd

    from vae_tfp.report.figures import rate_distortion

    frame = pd.read_csv(args.summary)
    data = rate_distortion(frame, args.dataset, args.methods, args.output_dir, args.decoders)
    logging.info(
        "rate-distortion plane of %s: %d runs -> %s", args.dataset, len(data), args.output_dir
    )


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``figures``, ``samples`` and ``rate-distortion`` to the CLI's subparsers."""
    figures = commands.add_parser(
        "figures",
        help="figures of one dataset x decoder from summary.csv and the run folders",
        description=FIGURES_HELP,
    )
    add(figures, "--summary", "summary.csv")
    add(figures, "--dataset", "the dataset")
    figures.add_argument("--decoder", required=True, help="the decoder variant")
    add(
        figures,
        "--methods",
        "method variants in the config's order, baseline first (no runs: skipped)",
    )
    add(figures, "--output-dir", "the figures folder")
    figures.add_argument(
        "--samples-from-seed", type=int, default=0, help="seed of the runs shown as images"
    )
    figures.add_argument(
        "--images",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw the image grids (--no-images: the Snakefile draws them per method)",
    )
    figures.set_defaults(func=_figures)

    samples = commands.add_parser(
        "samples",
        help="one run's samples.npz as figures or text",
        description=SAMPLES_HELP,
    )
    samples.add_argument("--samples", required=True, type=Path, help="the run's samples.npz")
    samples.add_argument("--title", required=True, help="names dataset x decoder x method, seed")
    samples.add_argument("--stem-prefix", default="", help="prepended to the file names")
    add(samples, "--output-dir", "the figures folder")
    samples.set_defaults(func=_samples)

    plane = commands.add_parser(
        "rate-distortion",
        help="the rate-distortion plane of one dataset (every decoder, every run)",
        description=RATE_DISTORTION_HELP,
    )
    add(plane, "--summary", "summary.csv")
    add(plane, "--dataset", "the dataset")
    add(plane, "--methods", "method variants, baseline first")
    plane.add_argument(
        "--decoders", nargs="+", default=None, help="decoder variants (default: all, by name)"
    )
    add(plane, "--output-dir", "the figures folder")
    plane.set_defaults(func=_rate_distortion)
