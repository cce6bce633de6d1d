"""Command-line interface: the one face the Snakemake rules call.

    python -m vae_tfp prepare  --dataset NAME --options-json JSON --output FILE.npz
                               [--data-cache DIR]
    python -m vae_tfp train    --run-config-json JSON --data FILE.npz --run-dir DIR
    python -m vae_tfp evaluate --run-dir DIR --data FILE.npz [--evaluation-json JSON]
    python -m vae_tfp aggregate --output-dir DIR [--order-json JSON] [--baseline METHOD]
                                [--informative-mi NATS] [--code-versions mark|refuse]
                                METRICS.json [METRICS.json ...]
    python -m vae_tfp interim-tables RESULTS [--configfile FILE]
    python -m vae_tfp record-runs RESULTS RECORDS [--configfile FILE]
    python -m vae_tfp landing-page --summary CSV --template RST --output RST
    python -m vae_tfp dataset-table --summary CSV --dataset D --output-dir DIR
                                    [--published-conventions]
    python -m vae_tfp statistics --summary CSV [--baseline METHOD] --output-dir DIR
    python -m vae_tfp collapse-page --results DIR --output FILE.md
    python -m vae_tfp reproduction --summary CSV --published YAML --reproduce-json JSON
                                   --output-dir DIR
    python -m vae_tfp ablation --output-dir DIR --epochs E,E,... METRICS.json [...]
    python -m vae_tfp figures  --summary CSV --dataset D --decoder E --methods M [M ...]
                               --output-dir DIR [--samples-from-seed K] [--no-images]
    python -m vae_tfp samples  --samples FILE.npz --title TEXT --output-dir DIR
                               [--stem-prefix PREFIX]
    python -m vae_tfp rate-distortion --summary CSV --dataset D --methods M [M ...]
                                      --output-dir DIR [--decoders E [E ...]]
    python -m vae_tfp methods [--plugins MODULE_OR_FILE ...]
    python -m vae_tfp stale-runs RESULTS [--stage train|evaluate] [--targets]
    python -m vae_tfp status [RESULTS] [--configfile FILE]

Each area's module registers its own subcommands (:data:`AREAS`, in the order ``--help``
lists them), with the argument shapes they share from :mod:`vae_tfp.cli.arguments`. Heavy
imports (TensorFlow, pandas, matplotlib) happen inside the commands, after the thread
limits are set.
"""

from __future__ import annotations

import argparse
import logging
import sys

from vae_tfp.cli import figures, methods, provenance, report, runs

# prepare, train, evaluate | tables and pages | figures | methods | stale-runs, status
AREAS = (runs, report, figures, methods, provenance)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m vae_tfp`` / ``vae-tfp``."""
    parser = argparse.ArgumentParser(
        prog="vae-tfp",
        description="Posterior-collapse benchmark: prepare, train, evaluate, aggregate.",
    )
    parser.set_defaults(tensorflow_job=False)  # add_tensorflow_job marks the ones that are
    commands = parser.add_subparsers(dest="command", required=True)
    for area in AREAS:
        area.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    from vae_tfp.tensorflow_logs import AbslInfoFilter, quiet_tensorflow

    args = build_parser().parse_args(argv)
    if args.tensorflow_job:  # a readable log, set up before anything imports TensorFlow
        quiet_tensorflow()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(AbslInfoFilter())  # absl's "Sharding callback duration" every epoch
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )
    args.func(args)
    return 0
