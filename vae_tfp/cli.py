"""Command-line interface: the one face the Snakemake rules call.

    python -m vae_tfp prepare  --dataset NAME --options-json JSON --output FILE.npz
                               [--data-cache DIR]
    python -m vae_tfp train    --run-config-json JSON --data FILE.npz --run-dir DIR
    python -m vae_tfp evaluate --run-dir DIR --data FILE.npz [--evaluation-json JSON]
    python -m vae_tfp aggregate --output-dir DIR METRICS.json [METRICS.json ...]
    python -m vae_tfp reproduction --summary CSV --published YAML --reproduce-json JSON
                                   --output-dir DIR
    python -m vae_tfp methods [--plugins MODULE_OR_FILE ...]

Heavy imports (TensorFlow) happen inside the commands, after the thread limits are set.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _prepare(args: argparse.Namespace) -> None:
    from vae_tfp.data import prepare_dataset, save_prepared
    from vae_tfp.plugins import load_plugins

    options = dict(args.options_json)
    load_plugins(options.pop("plugins", []))
    options.setdefault("data_seed", args.data_seed)
    data = prepare_dataset(args.dataset, options, cache_dir=args.data_cache)
    save_prepared(data, args.output)
    logging.info(
        "prepared %s: train %s valid %s test %s -> %s",
        args.dataset,
        data.train.shape,
        data.valid.shape,
        data.test.shape,
        args.output,
    )


def _train(args: argparse.Namespace) -> None:
    from vae_tfp.runtime import configure_tensorflow, deterministic_setting

    configure_tensorflow(args.threads, deterministic_setting(args.run_config_json), args.gpus)
    from vae_tfp.config import RunKey, check_run_config
    from vae_tfp.data import load_prepared
    from vae_tfp.io import write_json
    from vae_tfp.training import train_run

    run_config = args.run_config_json
    check_run_config(run_config)
    data = load_prepared(args.data)
    if data.name != run_config["dataset"]:
        raise ValueError(
            f"run config names dataset {run_config['dataset']!r} "
            f"but {args.data} holds {data.name!r}"
        )
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "run_config.json", run_config)
    key = RunKey(*(run_config[k] for k in RunKey._fields))
    logging.info("training %s in %s", key, run_dir)
    summary = train_run(run_config, data, run_dir)
    logging.info("done: %s", summary)


def _evaluate(args: argparse.Namespace) -> None:
    from vae_tfp.io import read_json
    from vae_tfp.runtime import configure_tensorflow, deterministic_setting

    run_config_path = Path(args.run_dir) / "run_config.json"
    stored = read_json(run_config_path) if run_config_path.exists() else {}
    configure_tensorflow(args.threads, deterministic_setting(stored), args.gpus)
    from vae_tfp.data import load_prepared
    from vae_tfp.evaluation import evaluate_run

    payload = evaluate_run(args.run_dir, load_prepared(args.data), args.evaluation_json)
    scalars = {k: v for k, v in payload["metrics"].items() if not isinstance(v, list)}
    logging.info("metrics: %s", json.dumps(scalars))


def _aggregate(args: argparse.Namespace) -> None:
    from vae_tfp.report import collect_runs, write_tables

    frame = collect_runs(args.metrics)
    paths = write_tables(frame, args.output_dir)
    logging.info("aggregated %d runs -> %s", len(frame), ", ".join(map(str, paths.values())))


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


def _methods(args: argparse.Namespace) -> None:
    from vae_tfp.methods.registry import METHODS, method_declarations
    from vae_tfp.plugins import load_plugins, plugin_spec_of, resolve_plugin_specs

    load_plugins(resolve_plugin_specs(args.plugins, Path.cwd()))
    for name in sorted(METHODS):
        cls = METHODS[name]
        plugin = plugin_spec_of("methods", name)
        origin = f"{plugin}:" if plugin else f"{cls.__module__}."
        summary = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        print(f"{name}  [{origin}{cls.__qualname__}]\n    {summary}")
        for key, declared in method_declarations(name).items():
            param = declared.param
            default = "required" if declared.required else f"default {declared.default!r}"
            allowed = f" {param.range_text()}" if param.range_text() else ""
            print(
                f"    - {key}: {param.type.__name__}{allowed}, {default}: {param.description}"
            )


def _json_list(text: str) -> list:
    value = json.loads(text)
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError(f"expected a JSON list, got {type(value).__name__}")
    return value


GPUS_HELP = "GPUs given to the job; 0 hides every GPU (default: leave the devices as they are)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m vae_tfp`` / ``vae-tfp``."""
    parser = argparse.ArgumentParser(
        prog="vae-tfp",
        description="Posterior-collapse benchmark: prepare, train, evaluate, aggregate.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    prepare = commands.add_parser("prepare", help="build a dataset into a cached .npz file")
    prepare.add_argument("--dataset", required=True, help="registry name, e.g. digits")
    prepare.add_argument(
        "--options-json",
        type=_json_object,
        default={},
        help="builder options; a 'plugins' list in it names the plugins that register a "
        "dataset from outside the package (module names or .py paths)",
    )
    prepare.add_argument("--data-seed", type=int, default=0, help="used if the options have none")
    prepare.add_argument("--output", required=True, type=Path, help="the .npz file to write")
    prepare.add_argument(
        "--data-cache",
        default=None,
        help="download cache of real datasets (the config's data_cache); the environment "
        "variable VAE_TFP_DATA_CACHE takes precedence, default ~/.cache/vae_tfp",
    )
    prepare.set_defaults(func=_prepare)

    train = commands.add_parser("train", help="train one run")
    train.add_argument(
        "--run-config-json", required=True, type=_json_object, help="resolved run config"
    )
    train.add_argument("--data", required=True, type=Path, help="prepared .npz file")
    train.add_argument("--run-dir", required=True, type=Path, help="the run folder")
    train.add_argument("--threads", type=int, default=1, help="TensorFlow intra-op threads")
    train.add_argument("--gpus", type=int, default=None, help=GPUS_HELP)
    train.set_defaults(func=_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a trained run on the test split")
    evaluate.add_argument("--run-dir", required=True, type=Path, help="the run folder")
    evaluate.add_argument("--data", required=True, type=Path, help="prepared .npz file")
    evaluate.add_argument(
        "--evaluation-json",
        type=_json_object,
        default=None,
        help="evaluation settings (default: the 'evaluation' section of run_config.json)",
    )
    evaluate.add_argument("--threads", type=int, default=1, help="TensorFlow intra-op threads")
    evaluate.add_argument("--gpus", type=int, default=None, help=GPUS_HELP)
    evaluate.set_defaults(func=_evaluate)

    aggregate = commands.add_parser("aggregate", help="tables from metrics.json files")
    aggregate.add_argument("--output-dir", required=True, type=Path, help="the tables folder")
    aggregate.add_argument("metrics", nargs="+", type=Path, help="metrics.json files")
    aggregate.set_defaults(func=_aggregate)

    reproduction = commands.add_parser(
        "reproduction", help="the reproduction table: summary.csv beside published values"
    )
    reproduction.add_argument("--summary", required=True, type=Path, help="summary.csv")
    reproduction.add_argument(
        "--published", required=True, type=Path, help="published values (config/published.yaml)"
    )
    reproduction.add_argument(
        "--reproduce-json", required=True, type=_json_list, help="the config's reproduce list"
    )
    reproduction.add_argument("--output-dir", required=True, type=Path, help="the tables folder")
    reproduction.set_defaults(func=_reproduction)

    methods = commands.add_parser(
        "methods", help="list the methods and their declared hyper-parameters"
    )
    methods.add_argument(
        "--plugins",
        nargs="*",
        default=[],
        help="plugins to load first: module names or .py files (relative to here)",
    )
    methods.set_defaults(func=_methods)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep job logs readable
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    args.func(args)
    return 0
