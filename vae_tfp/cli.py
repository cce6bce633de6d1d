"""Command-line interface: the one face the Snakemake rules call.

    python -m vae_tfp prepare  --dataset NAME --options-json JSON --output FILE.npz
                               [--data-cache DIR]
    python -m vae_tfp train    --run-config-json JSON --data FILE.npz --run-dir DIR
    python -m vae_tfp evaluate --run-dir DIR --data FILE.npz [--evaluation-json JSON]
    python -m vae_tfp aggregate --output-dir DIR [--order-json JSON] [--baseline METHOD]
                                [--informative-mi NATS] [--code-versions mark|refuse]
                                METRICS.json [METRICS.json ...]
    python -m vae_tfp stale-runs RESULTS [--stage train|evaluate] [--targets]
    python -m vae_tfp landing-page --summary CSV --template RST --output RST
    python -m vae_tfp dataset-table --summary CSV --dataset D --output-dir DIR
                                    [--published-conventions]
    python -m vae_tfp statistics --summary CSV [--baseline METHOD] --output-dir DIR
    python -m vae_tfp collapse-page --results DIR --output FILE.md
    python -m vae_tfp reproduction --summary CSV --published YAML --reproduce-json JSON
                                   --output-dir DIR
    python -m vae_tfp figures  --summary CSV --dataset D --decoder E --methods M [M ...]
                               --output-dir DIR [--samples-from-seed K] [--no-images]
    python -m vae_tfp samples  --samples FILE.npz --title TEXT --output-dir DIR
                               [--stem-prefix PREFIX]
    python -m vae_tfp rate-distortion --summary CSV --dataset D --methods M [M ...]
                                      --output-dir DIR [--decoders E [E ...]]
    python -m vae_tfp methods [--plugins MODULE_OR_FILE ...]
    python -m vae_tfp status [RESULTS] [--configfile FILE]      (vae_tfp/status.py)

Heavy imports (TensorFlow) happen inside the commands, after the thread limits are set.
"""

from __future__ import annotations

import argparse
import json
import logging
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
    sessions = _start_training_session(run_dir)
    logging.info("training %s in %s (source %s)", key, run_dir, sessions[-1]["source_hash"][:12])
    summary = train_run(run_config, data, run_dir)
    _finish_training_sessions(run_dir, sessions)
    logging.info("done: %s", summary)


# The code versions of the train commands of a run not yet finished (a resumed run has more
# than one); when training finishes they go to checkpoint/code_version.json.
TRAINING_SESSIONS = "training_sessions.json"


def _start_training_session(run_dir: Path) -> list[dict]:
    """Appends this command's code version to the run's unfinished training sessions.

    A command that finds a resume state (``resume/state-*.json``, any training config: a
    state of another config makes the record list a session too many, never too few)
    continues the sessions recorded before; one that finds none starts the list anew.

    Returns:
        The sessions so far, this one last.
    """
    from vae_tfp.io import read_json, write_json
    from vae_tfp.provenance import training_session

    ledger = run_dir / TRAINING_SESSIONS
    resumes = any((run_dir / "resume").glob("state-*.json"))
    sessions = read_json(ledger) if resumes and ledger.exists() else []
    sessions.append(training_session(resumes))
    write_json(ledger, sessions)
    if len({s["source_hash"] for s in sessions}) > 1:
        logging.warning(
            "resuming %s under another code version than it was started with "
            "(source hashes %s): checkpoint/code_version.json will say so",
            run_dir,
            ", ".join(dict.fromkeys(s["source_hash"][:12] for s in sessions)),
        )
    return sessions


def _finish_training_sessions(run_dir: Path, sessions: list[dict]) -> None:
    """Writes ``checkpoint/code_version.json`` beside the trained checkpoint
    (:func:`vae_tfp.provenance.training_code_record`) and drops the unfinished list."""
    from vae_tfp.io import write_json
    from vae_tfp.provenance import TRAINING_CODE_VERSION, training_code_record
    from vae_tfp.training import checkpoint_path

    record = training_code_record(sessions)
    write_json(checkpoint_path(run_dir).parent / TRAINING_CODE_VERSION, record)
    (run_dir / TRAINING_SESSIONS).unlink(missing_ok=True)


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


def _landing_page(args: argparse.Namespace) -> None:
    import pandas as pd

    from vae_tfp.io import atomic_write
    from vae_tfp.report.code_versions import code_version_summary

    section = code_version_summary(pd.read_csv(args.summary))
    text = f"{args.template.read_text().rstrip()}\n\nCode versions\n-------------\n\n{section}"
    atomic_write(args.output, lambda s: s.write(text))
    logging.info("landing page -> %s", args.output)


def _dataset_table(args: argparse.Namespace) -> None:
    import pandas as pd

    from vae_tfp.report.tables import write_dataset_table

    paths = write_dataset_table(
        pd.read_csv(args.summary), args.dataset, args.output_dir, args.published_conventions
    )
    logging.info("table of %s -> %s", args.dataset, ", ".join(map(str, paths)))


def _statistics(args: argparse.Namespace) -> None:
    import pandas as pd

    from vae_tfp.report.tables import write_statistics

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
            print(f"    - {key}: {param.type.__name__}{allowed}, {default}: {param.description}")


def _json_list(text: str) -> list:
    value = json.loads(text)
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError(f"expected a JSON list, got {type(value).__name__}")
    return value


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
STALE_RUNS_HELP = (
    "Lists the runs under RESULTS/runs whose recorded package source hash (training: "
    "checkpoint/code_version.json; evaluation: metrics.json) differs from the installed "
    "package's, or was never recorded. With --targets it prints the files that make "
    "Snakemake re-run them: snakemake --forcerun $(python -m vae_tfp stale-runs RESULTS "
    "--targets) retrains those runs only (docs/provenance.md)."
)
RATE_DISTORTION_HELP = "Writes rate_distortion.png and rate_distortion.pdf into --output-dir."
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
    aggregate.add_argument(
        "--order-json",
        type=_json_object,
        default={},
        help='row order: {"dataset": [...], "decoder": [...], "method": [...]}',
    )
    aggregate.add_argument(
        "--baseline", default="vanilla", help="method variant listed first and compared against"
    )
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
    aggregate.add_argument("metrics", nargs="+", type=Path, help="metrics.json files")
    aggregate.set_defaults(func=_aggregate)

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

    landing = commands.add_parser(
        "landing-page", help="the HTML report's landing page with the runs' code versions"
    )
    landing.add_argument("--summary", required=True, type=Path, help="summary.csv")
    landing.add_argument(
        "--template", required=True, type=Path, help="workflows/report/workflow.rst"
    )
    landing.add_argument("--output", required=True, type=Path, help="the .rst file to write")
    landing.set_defaults(func=_landing_page)

    table = commands.add_parser(
        "dataset-table", help="one dataset's table (md, tex, html, csv) from summary.csv"
    )
    table.add_argument("--summary", required=True, type=Path, help="summary.csv (ordered)")
    table.add_argument("--dataset", required=True, help="the dataset")
    table.add_argument("--output-dir", required=True, type=Path, help="where <dataset>.* go")
    table.add_argument(
        "--published-conventions",
        action="store_true",
        help="also show He et al. 2019's conventions: au_he2019 and mi_minibatch",
    )
    table.set_defaults(func=_dataset_table)

    statistics = commands.add_parser(
        "statistics", help="95%% intervals over seeds and paired comparisons with the baseline"
    )
    statistics.add_argument("--summary", required=True, type=Path, help="summary.csv (ordered)")
    statistics.add_argument("--baseline", default="vanilla", help="the method compared against")
    statistics.add_argument("--output-dir", required=True, type=Path, help="the tables folder")
    statistics.set_defaults(func=_statistics)

    page = commands.add_parser(
        "collapse-page",
        help="docs/posterior-collapse.md from the embedded default's tables (numbers generated)",
    )
    page.add_argument("--results", required=True, type=Path, help="e.g. results/embedded")
    page.add_argument("--output", required=True, type=Path, help="e.g. docs/posterior-collapse.md")
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
    reproduction.add_argument("--summary", required=True, type=Path, help="summary.csv")
    reproduction.add_argument(
        "--published", required=True, type=Path, help="published values (config/published.yaml)"
    )
    reproduction.add_argument(
        "--reproduce-json", required=True, type=_json_list, help="the config's reproduce list"
    )
    reproduction.add_argument("--output-dir", required=True, type=Path, help="the tables folder")
    reproduction.set_defaults(func=_reproduction)

    ablation = commands.add_parser(
        "ablation", help="one row per run: the options the cells differ in, AU by epoch"
    )
    ablation.add_argument("--output-dir", required=True, type=Path, help="the tables folder")
    ablation.add_argument(
        "--epochs",
        type=lambda text: [int(e) for e in text.split(",")],
        required=True,
        help="epochs of history.csv to show, comma-separated (1,4,13)",
    )
    ablation.add_argument("metrics", nargs="+", type=Path, help="the runs' metrics.json")
    ablation.set_defaults(func=_ablation)

    figures = commands.add_parser(
        "figures",
        help="figures of one dataset x decoder from summary.csv and the run folders",
        description=FIGURES_HELP,
    )
    figures.add_argument("--summary", required=True, type=Path, help="summary.csv")
    figures.add_argument("--dataset", required=True, help="the dataset")
    figures.add_argument("--decoder", required=True, help="the decoder variant")
    figures.add_argument(
        "--methods",
        required=True,
        nargs="+",
        help="method variants in the config's order, baseline first (no runs: skipped)",
    )
    figures.add_argument("--output-dir", required=True, type=Path, help="the figures folder")
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
    samples.add_argument("--output-dir", required=True, type=Path, help="the figures folder")
    samples.set_defaults(func=_samples)

    plane = commands.add_parser(
        "rate-distortion",
        help="the rate-distortion plane of one dataset (every decoder, every run)",
        description=RATE_DISTORTION_HELP,
    )
    plane.add_argument("--summary", required=True, type=Path, help="summary.csv")
    plane.add_argument("--dataset", required=True, help="the dataset")
    plane.add_argument(
        "--methods", required=True, nargs="+", help="method variants, baseline first"
    )
    plane.add_argument(
        "--decoders", nargs="+", default=None, help="decoder variants (default: all, by name)"
    )
    plane.add_argument("--output-dir", required=True, type=Path, help="the figures folder")
    plane.set_defaults(func=_rate_distortion)

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

    from vae_tfp import status

    status.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    from vae_tfp.tensorflow_logs import AbslInfoFilter, quiet_tensorflow

    quiet_tensorflow()  # job logs without TensorFlow's start-up lines, before any import
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(AbslInfoFilter())  # absl's "Sharding callback duration" every epoch
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )
    args.func(args)
    return 0
