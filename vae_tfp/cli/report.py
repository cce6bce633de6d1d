"""The tables and pages of an experiment: ``aggregate``, ``interim-tables``, ``record-runs``,
``landing-page``, ``dataset-table``, ``statistics``, ``collapse-page``, ``reproduction`` and
``ablation``
(``workflows/rules/aggregate.smk``, ``report.smk``)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from vae_tfp.cli.arguments import add, json_list, json_object


def _aggregate(args: argparse.Namespace) -> None:
    from vae_tfp.report.aggregate import write_all_tables

    paths = write_all_tables(
        args.metrics,
        args.output_dir,
        args.order_json,
        args.baseline,
        args.informative_mi,
        args.code_versions,
    )
    logging.info("aggregated %d runs -> %s", len(args.metrics), ", ".join(map(str, paths)))


def _experiment_config(args: argparse.Namespace, command: str) -> dict:
    """The config of ``--configfile``, else the one in config/ whose experiment is the
    results folder's name."""
    from vae_tfp.config import load_experiment_config
    from vae_tfp.status import find_config

    configfile = args.configfile or find_config(args.results)
    if configfile is None:
        raise SystemExit(
            f"{command}: no config in config/ has experiment {args.results.name!r}; "
            "pass the experiment's config with --configfile"
        )
    return load_experiment_config(configfile)


def _interim_tables(args: argparse.Namespace) -> None:
    from vae_tfp.report.interim import write_interim_tables

    config = _experiment_config(args, "interim-tables")
    try:
        paths = write_interim_tables(args.results, config)
    except ValueError as error:  # no run evaluated yet: say so, without a traceback
        raise SystemExit(f"interim-tables: {error}") from None
    logging.info("interim tables of %s -> %s", args.results, ", ".join(map(str, paths)))


def _record_runs(args: argparse.Namespace) -> None:
    from vae_tfp.report.records import record_runs

    config = _experiment_config(args, "record-runs")
    if not (args.results / "runs").is_dir():
        raise SystemExit(f"record-runs: {args.results} has no runs/ folder: nothing to record")
    outcome = record_runs(args.results, args.records, config)
    logging.info(
        "records of %s -> %s: %d written, %d unchanged, %d runs without a current evaluation",
        args.results,
        args.records,
        *(len(outcome[k]) for k in ("written", "unchanged", "not_current")),
    )


def _landing_page(args: argparse.Namespace) -> None:
    import pandas as pd

    from vae_tfp.io import atomic_write
    from vae_tfp.report.code_versions import code_version_summary
    from vae_tfp.report.protocol import differences_section

    section = code_version_summary(pd.read_csv(args.summary))
    text = f"{args.template.read_text().rstrip()}\n\nCode versions\n-------------\n\n{section}"
    differences = differences_section(args.protocol_differences_json)
    text += f"\n\n{differences}\n" if differences else ""
    atomic_write(args.output, lambda s: s.write(text))
    logging.info("landing page -> %s", args.output)


def _dataset_table(args: argparse.Namespace) -> None:
    import pandas as pd

    from vae_tfp.report.tables import write_dataset_table

    paths = write_dataset_table(
        pd.read_csv(args.summary),
        args.dataset,
        args.output_dir,
        args.published_conventions,
        args.protocol_differences_json,
    )
    logging.info("table of %s -> %s", args.dataset, ", ".join(map(str, paths)))


def _statistics(args: argparse.Namespace) -> None:
    import pandas as pd

    from vae_tfp.report.statistics_table import write_statistics

    paths = write_statistics(pd.read_csv(args.summary), args.output_dir, args.baseline)
    logging.info("statistics -> %s", ", ".join(map(str, paths.values())))


def _collapse_page(args: argparse.Namespace) -> None:
    from vae_tfp.report.collapse_page import write_page

    write_page(args.results, args.output, real_results=args.real_results)
    logging.info("%s written from %s", args.output, args.results)


def _reproduction(args: argparse.Namespace) -> None:
    import pandas as pd

    from vae_tfp.report.reproduction import (
        load_published,
        reproduction_table,
        write_reproduction_tables,
    )

    table = reproduction_table(
        pd.read_csv(args.summary), load_published(args.published), args.reproduce_json
    )
    paths = write_reproduction_tables(table, args.output_dir)
    logging.info("reproduction table of %d rows -> %s", len(table), paths["md"])


def _ablation(args: argparse.Namespace) -> None:
    from vae_tfp.report.ablation import write_ablation_table

    paths = write_ablation_table(args.metrics, args.epochs, args.output_dir)
    logging.info("ablation table of %d runs -> %s", len(args.metrics), ", ".join(map(str, paths)))


def register(commands: argparse._SubParsersAction) -> None:
    """Adds the table and page subcommands to the CLI's subparsers."""
    aggregate = commands.add_parser("aggregate", help="tables from metrics.json files")
    add(aggregate, "--output-dir", "the tables folder")
    aggregate.add_argument(
        "--order-json",
        type=json_object,
        default={},
        help='row order: {"dataset": [...], "decoder": [...], "method": [...]}',
    )
    add(aggregate, "--baseline", "method variant listed first and compared against")
    aggregate.add_argument(
        "--informative-mi",
        type=float,
        default=None,
        help="nats of I(x; z_i) above which a dimension is informative (collapse verdict); "
        "default: each run's 2 / (N S r^2), vae_tfp.report.collapse.informative_threshold",
    )
    aggregate.add_argument(
        "--code-versions",
        choices=["mark", "refuse"],
        default="mark",
        help="rows from different code versions or a dirty tree: mark the tables (default) "
        "or refuse to write them",
    )
    add(aggregate, "metrics", "metrics.json files")
    aggregate.set_defaults(func=_aggregate)

    interim = commands.add_parser(
        "interim-tables",
        help="the tables of the runs evaluated so far, captioned with the runs still missing",
        description="Writes RESULTS/tables/interim/ (summary and per-dataset tables) from the "
        "runs of the config's grid whose metrics.json records the grid's run config and is "
        "newer than their training, each caption starting with which runs are not evaluated "
        "yet or left out as stale. Safe beside a running pipeline.",
    )
    interim.add_argument(
        "results", type=Path, help="the experiment folder, e.g. results/ptb-li2019"
    )
    interim.add_argument(
        "--configfile",
        type=Path,
        default=None,
        help="the experiment config (default: the one in config/ whose experiment is "
        "RESULTS's name)",
    )
    interim.set_defaults(func=_interim_tables)

    records = commands.add_parser(
        "record-runs",
        help="copy the evaluated runs' metrics, histories, configs and logs (no weights) "
        "into a records folder kept in the repository",
        description="Copies every run of the config's grid whose metrics.json is current "
        "(as interim-tables decides) from RESULTS/runs/ to RECORDS/runs/ in the same layout, "
        "without checkpoint weights or resume states (vae_tfp.report.records.RECORD_FILES). "
        "A record is replaced only by a complete new copy; records of runs no longer under "
        "RESULTS are kept. interim-tables RECORDS builds the tables from them.",
    )
    records.add_argument(
        "results", type=Path, help="the experiment folder, e.g. results/ptb-li2019"
    )
    records.add_argument("records", type=Path, help="the records folder, e.g. records/ptb-li2019")
    records.add_argument(
        "--configfile",
        type=Path,
        default=None,
        help="the experiment config (default: the one in config/ whose experiment is "
        "RESULTS's name)",
    )
    records.set_defaults(func=_record_runs)

    landing = commands.add_parser(
        "landing-page", help="the HTML report's landing page with the runs' code versions"
    )
    add(landing, "--summary", "summary.csv")
    landing.add_argument(
        "--template", required=True, type=Path, help="workflows/report/workflow.rst"
    )
    add(landing, "--output", "the .rst file to write")
    add(landing, "--protocol-differences-json", "the config's protocol_differences as JSON")
    landing.set_defaults(func=_landing_page)

    table = commands.add_parser(
        "dataset-table", help="one dataset's table (md, tex, html, csv) from summary.csv"
    )
    add(table, "--summary", "summary.csv (ordered)")
    add(table, "--dataset", "the dataset")
    add(table, "--output-dir", "where <dataset>.* go")
    table.add_argument(
        "--published-conventions",
        action="store_true",
        help="also show He et al. 2019's conventions: au_he2019 and mi_minibatch",
    )
    add(
        table,
        "--protocol-differences-json",
        "the dataset's entry of the config's protocol_differences, as JSON",
        type=json_list,
        default=[],
    )
    table.set_defaults(func=_dataset_table)

    statistics = commands.add_parser(
        "statistics", help="95%% intervals over seeds and paired comparisons with the baseline"
    )
    add(statistics, "--summary", "summary.csv (ordered)")
    add(statistics, "--baseline", "the method compared against")
    add(statistics, "--output-dir", "the tables folder")
    statistics.set_defaults(func=_statistics)

    page = commands.add_parser(
        "collapse-page",
        help="docs/posterior-collapse.md from the embedded default's tables (numbers generated)",
    )
    add(page, "--results", "e.g. results/embedded")
    add(page, "--output", "e.g. docs/posterior-collapse.md")
    page.add_argument(
        "--real-results",
        type=Path,
        default=None,
        help="real-data runs whose rate exceeds log N, e.g. results/au_ablation",
    )
    page.set_defaults(func=_collapse_page)

    reproduction = commands.add_parser(
        "reproduction", help="the reproduction table: summary.csv beside published values"
    )
    add(reproduction, "--summary", "summary.csv")
    reproduction.add_argument(
        "--published", required=True, type=Path, help="published values (config/published.yaml)"
    )
    reproduction.add_argument(
        "--reproduce-json", required=True, type=json_list, help="the config's reproduce list"
    )
    add(reproduction, "--output-dir", "the tables folder")
    reproduction.set_defaults(func=_reproduction)

    ablation = commands.add_parser(
        "ablation", help="one row per run: the options the cells differ in, AU by epoch"
    )
    add(ablation, "--output-dir", "the tables folder")
    ablation.add_argument(
        "--epochs",
        type=lambda text: [int(e) for e in text.split(",")],
        required=True,
        help="epochs of history.csv to show, comma-separated (1,4,13)",
    )
    add(ablation, "metrics", "the runs' metrics.json")
    ablation.set_defaults(func=_ablation)
