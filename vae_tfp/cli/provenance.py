"""Where an experiment's runs stand and which code made them: ``stale-runs`` and
``status``. Neither imports TensorFlow: both answer while an experiment trains."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

STALE_RUNS_HELP = (
    "Lists the runs under RESULTS/runs whose recorded package source hash (training: "
    "checkpoint/code_version.json; evaluation: metrics.json) differs from the installed "
    "package's, or was never recorded. With --targets it prints the files that make "
    "Snakemake re-run them: snakemake --forcerun $(python -m vae_tfp stale-runs RESULTS "
    "--targets) retrains those runs only (docs/provenance.md)."
)


def _stale_runs(args: argparse.Namespace) -> None:
    from vae_tfp.provenance import code_version
    from vae_tfp.report.stale import stale_runs

    current = code_version()
    stale = stale_runs(args.results, current["source_hash"], args.stage)
    if args.targets:
        for target in stale["target"]:
            print(target)
        return
    print(
        f"current code: source {current['source_hash'][:12]} at {current['commit']}"
        f"{' (uncommitted changes)' if current['dirty'] else ''}"
    )
    if stale.empty:
        done = {"train": "trained", "evaluate": "evaluated"}[args.stage]
        print(f"no run under {args.results} was {done} with other code")
        return
    print(stale.drop(columns="target").to_string(index=False))


def _status(args: argparse.Namespace) -> None:
    from vae_tfp.config import load_experiment_config
    from vae_tfp.status import experiment_status, find_config, format_table

    configfile = args.configfile
    if args.results is None:
        configfile = configfile or Path("config/config.yaml")
        config = load_experiment_config(configfile)
        results = Path("results") / config["experiment"]
    else:
        results = args.results
        configfile = configfile or find_config(results)
        config = load_experiment_config(configfile) if configfile else None
    origin = f"grid of {configfile}" if config else "run folders only (no config: --configfile)"
    try:
        print(f"{results} ({origin})")
        print(format_table(experiment_status(results, config)), flush=True)
    except BrokenPipeError:  # `status | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``stale-runs`` and ``status`` to the CLI's subparsers."""
    from vae_tfp import status

    stale = commands.add_parser(
        "stale-runs",
        help="runs trained or evaluated with other package source than the current one",
        description=STALE_RUNS_HELP,
    )
    stale.add_argument("results", type=Path, help="the experiment folder, e.g. results/embedded")
    stale.add_argument(
        "--stage",
        choices=["train", "evaluate"],
        default="train",
        help="compare the training (default) or the evaluation code version",
    )
    stale.add_argument(
        "--targets",
        action="store_true",
        help="print only the Snakemake targets to pass to --forcerun, one per line",
    )
    stale.set_defaults(func=_stale_runs)

    parser = commands.add_parser(
        "status",
        help="every run of an experiment: planned, training (epoch i/N, ETA), failed, evaluated",
        # The states of a run, from the module's docstring.
        description=status.__doc__.split("\n\n", 2)[2].split("\n\nRuns come")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "results",
        nargs="?",
        type=Path,
        default=None,
        help="the experiment folder, e.g. results/embedded (default: that of --configfile)",
    )
    parser.add_argument(
        "--configfile",
        type=Path,
        default=None,
        help="the experiment config, for the runs not started yet (default: the file in "
        "config/ whose experiment is RESULTS's name; config/config.yaml without RESULTS)",
    )
    parser.set_defaults(func=_status)
