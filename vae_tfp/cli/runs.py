"""``prepare``, ``train`` and ``evaluate``: a dataset file, then one run's training and
evaluation (``workflows/rules/prepare.smk``, ``train.smk``, ``evaluate.smk``)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from vae_tfp.cli.arguments import add, add_tensorflow_job, json_object


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
    from vae_tfp.config import RunKey, check_run_config, training_config
    from vae_tfp.run_files import (
        SESSION_START,
        has_resume_state,
        start_session_log,
        training_config_hash,
    )
    from vae_tfp.runtime import configure_tensorflow, deterministic_setting

    run_config = args.run_config_json
    check_run_config(run_config)
    config_hash = training_config_hash(training_config(run_config))
    if args.log is not None:  # before this command writes its first line
        start_session_log(args.log, args.run_dir, has_resume_state(args.run_dir, config_hash))
    configure_tensorflow(args.threads, deterministic_setting(run_config), args.gpus)
    from vae_tfp.data import load_prepared
    from vae_tfp.io import write_json
    from vae_tfp.provenance import finish_training_sessions, start_training_session
    from vae_tfp.training import train_run

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
    sessions = start_training_session(run_dir, config_hash)
    source = sessions[-1]["source_hash"][:12]
    logging.info("%s %s in %s (source %s)", SESSION_START, key, run_dir, source)
    summary = train_run(run_config, data, run_dir, args.log)
    finish_training_sessions(run_dir, sessions)
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


def register(commands: argparse._SubParsersAction) -> None:
    """Adds ``prepare``, ``train`` and ``evaluate`` to the CLI's subparsers."""
    prepare = commands.add_parser("prepare", help="build a dataset into a cached .npz file")
    add(prepare, "--dataset", "registry name, e.g. digits")
    prepare.add_argument(
        "--options-json",
        type=json_object,
        default={},
        help="builder options; a 'plugins' list in it names the plugins that register a "
        "dataset from outside the package (module names or .py paths)",
    )
    prepare.add_argument("--data-seed", type=int, default=0, help="used if the options have none")
    add(prepare, "--output", "the .npz file to write")
    prepare.add_argument(
        "--data-cache",
        default=None,
        help="download cache of real datasets (the config's data_cache); the environment "
        "variable VAE_TFP_DATA_CACHE takes precedence, default ~/.cache/vae_tfp",
    )
    prepare.set_defaults(func=_prepare)

    train = commands.add_parser("train", help="train one run")
    train.add_argument(
        "--run-config-json", required=True, type=json_object, help="resolved run config"
    )
    add(train, "--data", "prepared .npz file")
    add(train, "--run-dir", "the run folder")
    train.add_argument(
        "--log",
        type=Path,
        help="the log this command's stderr is appended to (the workflow's train.log): "
        "emptied when the run starts afresh; copied into each resume state, and put back "
        "when a resumed run finds it empty (Snakemake deletes a job's log before the job)",
    )
    add_tensorflow_job(train)
    train.set_defaults(func=_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a trained run on the test split")
    add(evaluate, "--run-dir", "the run folder")
    add(evaluate, "--data", "prepared .npz file")
    evaluate.add_argument(
        "--evaluation-json",
        type=json_object,
        default=None,
        help="evaluation settings (default: the 'evaluation' section of run_config.json)",
    )
    add_tensorflow_job(evaluate)
    evaluate.set_defaults(func=_evaluate)
