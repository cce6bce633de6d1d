# Helper functions of the workflow: config validation, the grid of runs, wildcard
# constraints and the parameters the rules hand to the `vae_tfp` CLI. Rules live in the
# other files of this folder, one per stage; they call the CLI and do no science.

import json
import os
import re
import sys

import yaml
from snakemake.utils import validate

# TF_CPP_MIN_LOG_LEVEL=2 and TF_USE_LEGACY_KERAS=1, which the jobs inherit
# (vae_tfp/tensorflow_logs.py); each TensorFlow job filters its own stderr.
from vae_tfp.tensorflow_logs import tensorflow_environment

tensorflow_environment()

from vae_tfp.data.registry import DATASETS
from vae_tfp.config import (
    RunKey,
    check_experiment_config,
    dataset_options,
    iter_runs,
    resolve_run_config,
    pretraining_run_config,
    training_config,
)
from vae_tfp.plugins import is_file_spec, plugin_spec_of, resolve_plugin_specs
from vae_tfp.report.options import table_options
from vae_tfp.report.records import check_run_records


# ---- Config ------------------------------------------------------------------------------
def plugin_base_dir(configfiles):
    """The folder of the last config file that lists `plugins` (its plugin files are named
    relative to it), else the working directory."""
    for path in reversed([str(p) for p in configfiles]):
        with open(path) as stream:
            if "plugins" in (yaml.safe_load(stream) or {}):
                return os.path.dirname(os.path.abspath(path))
    return os.getcwd()


# Structure, types and ranges (JSON schema), then the plugins, registry names, declared
# hyper-parameters, references and compatibility (the package): a typo fails here, before
# any job runs. Plugin files become paths relative to the working directory, which is where
# the jobs that load them run.
validate(config, schema="../schemas/config.schema.yaml")
if "plugins" in config:
    config["plugins"] = resolve_plugin_specs(
        config["plugins"], plugin_base_dir(workflow.configfiles)
    )
check_experiment_config(config)

EXPERIMENT = config["experiment"]
THREADS = int(config["threads"])

# Every run of the experiment grid: (dataset, decoder variant, method variant, seed).
RUNS = list(iter_runs(config))

# Where the tables and figures read the runs: their folders under results/{experiment}/runs,
# which train and evaluate jobs fill, or with `run_records` a campaign's committed records
# (vae_tfp/report/records.py), which must hold every run: nothing is trained then.
RUN_RECORDS = config.get("run_records")
if RUN_RECORDS:
    check_run_records(RUN_RECORDS, config)
RUNS_ROOT = os.path.join(RUN_RECORDS, "runs") if RUN_RECORDS else "results/{experiment}/runs"
RUN_FOLDER = f"{RUNS_ROOT}/{{dataset}}/{{decoder}}/{{method}}/seed{{seed}}"

# Jobs run `python -m vae_tfp`: the interpreter that runs Snakemake comes first on the PATH
# that jobs inherit, so they see the same packages (with --sdm conda, the rule's environment
# comes first instead, and `-m` finds the package in the working directory).
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


# ---- Resources ---------------------------------------------------------------------------
# What train and evaluate jobs ask of the scheduler (config section `resources`); a cluster
# profile maps mem_mb, runtime (minutes), threads and gpu to its own requests.
JOB_RESOURCE_DEFAULTS = {
    "train": {"mem_mb": 4000, "runtime": 240},
    "evaluate": {"mem_mb": 4000, "runtime": 120},
}
JOB_RESOURCES = {
    stage: {**defaults, **config.get("resources", {}).get(stage, {})}
    for stage, defaults in JOB_RESOURCE_DEFAULTS.items()
}
GPU_DECODERS = frozenset(config.get("resources", {}).get("gpu_decoders", []))


def gpus(wildcards):
    """GPUs a train or evaluate job asks for: 1 for the config's gpu_decoders, else 0."""
    return int(wildcards.decoder in GPU_DECODERS)


# ---- Wildcards ---------------------------------------------------------------------------
def _one_of(names):
    """A regex matching exactly one of ``names`` (longest first, escaped)."""
    return "|".join(re.escape(str(n)) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    experiment=re.escape(EXPERIMENT),
    dataset=_one_of(config["datasets"]),
    decoder=_one_of(config["decoders"]),
    method=_one_of(config["methods"]),
    seed=r"\d+",


def run_key(wildcards):
    """The run named by the wildcards of a run-level rule."""
    return RunKey(wildcards.dataset, wildcards.decoder, wildcards.method, int(wildcards.seed))


# ---- Parameters --------------------------------------------------------------------------
def dataset_options_json(wildcards):
    """The options of `vae_tfp prepare` for the dataset, as JSON (data seed included; for a
    dataset from a plugin, the plugin to load)."""
    options = dataset_options(config, wildcards.dataset)
    plugin = plugin_spec_of("datasets", wildcards.dataset)
    if plugin is not None:
        options["plugins"] = [plugin]
    return json.dumps(options, sort_keys=True)


# The download cache of real datasets (config key data_cache), handed to the prepare jobs
# as VAE_TFP_DATA_CACHE unless that is set already (it takes precedence, docs/datasets.md).
# Not a param: where verified files are read from does not change the prepared data, so
# moving the cache re-runs nothing.
if config.get("data_cache"):
    os.environ.setdefault("VAE_TFP_DATA_CACHE", os.path.abspath(str(config["data_cache"])))


def run_config_json(wildcards):
    """The resolved config of the run without its evaluation settings, as JSON: all that
    `vae_tfp train` needs (so changing an evaluation setting never retrains)."""
    return json.dumps(training_config(resolve_run_config(config, run_key(wildcards))), sort_keys=True)


def pretraining_config_json(wildcards):
    """The training config of the run's separate pretraining run (a ``pretrain_run``
    method, Li et al. 2019), as JSON."""
    run_config = resolve_run_config(config, run_key(wildcards))
    return json.dumps(pretraining_run_config(run_config), sort_keys=True)


def pretraining_input(wildcards):
    """The best checkpoint and the history of the run's pretraining run, if its method
    starts from one: the pretrain job then comes first (history.csv, written when training
    ends, keeps a pretraining left unfinished from counting as done)."""
    if pretraining_run_config(resolve_run_config(config, run_key(wildcards))) is None:
        return []
    w = wildcards
    run_dir = f"results/{w.experiment}/runs/{w.dataset}/{w.decoder}/{w.method}/seed{w.seed}"
    return [f"{run_dir}/pretrain/checkpoint", f"{run_dir}/pretrain/history.csv"]


def evaluation_json(wildcards):
    """The run's evaluation settings, as JSON, for `vae_tfp evaluate`."""
    return json.dumps(resolve_run_config(config, run_key(wildcards))["evaluation"], sort_keys=True)


def parent_of_output(key):
    """A params function giving the folder of the rule's output ``key``."""

    def parent(wildcards, output):
        return os.path.dirname(output[key])

    return parent


# ---- Inputs ------------------------------------------------------------------------------
def run_plugin_files(wildcards):
    """The plugin files a run's train job loads: editing one re-runs the runs that use it
    (plugin modules, like the package's own code, are not tracked)."""
    plugins = resolve_run_config(config, run_key(wildcards)).get("plugins", [])
    return [spec for spec in plugins if is_file_spec(spec)]


def dataset_plugin_files(wildcards):
    """The plugin file that registers the dataset, if it comes from one."""
    plugin = plugin_spec_of("datasets", wildcards.dataset)
    return [plugin] if plugin is not None and is_file_spec(plugin) else []


def experiment_metrics(wildcards):
    """The metrics.json of every run of the experiment grid, in grid order (from the
    records with `run_records`)."""
    return [
        f"{RUN_FOLDER}/metrics.json".format(
            experiment=wildcards.experiment,
            dataset=key.dataset,
            decoder=key.decoder,
            method=key.method,
            seed=key.seed,
        )
        for key in RUNS
    ]


# ---- Report ------------------------------------------------------------------------------
# The order of rows and lines in tables and figures: the config's sections, with the
# baseline method (config `report.baseline`, default vanilla) first.
# (vae_tfp/report/options.py: the same reading as `python -m vae_tfp interim-tables`.)
TABLE_OPTIONS = table_options(config)
BASELINE = TABLE_OPTIONS.baseline
# The collapse verdict's threshold: fixed by the config, or (default) each run's
# 2 / (N S r^2) from its test-set size and MI samples (vae_tfp/report/collapse.py).
INFORMATIVE_MI_OPTION = (
    f"--informative-mi {TABLE_OPTIONS.informative_mi}"
    if TABLE_OPTIONS.informative_mi is not None
    else ""
)
# He et al. 2019's conventions (au_he2019, mi_minibatch) in the per-dataset tables.
PUBLISHED_OPTION = "--published-conventions" if TABLE_OPTIONS.published_conventions else ""
# Where the runs differ from the published protocols they follow (dataset -> sentences).
PROTOCOL_DIFFERENCES = TABLE_OPTIONS.protocol_differences
# Rows from different code versions or a dirty tree: mark the tables, or refuse them
# (vae_tfp/report/code_versions.py; docs/provenance.md).
CODE_VERSIONS = TABLE_OPTIONS.code_versions
METHOD_ORDER = TABLE_OPTIONS.order["method"]
ORDER_JSON = json.dumps(TABLE_OPTIONS.order)
GRID_DATASETS = list(dict.fromkeys(key.dataset for key in RUNS))
# (dataset, decoder variant) pairs of the grid, and the methods each has, in report order.
SETTINGS = list(dict.fromkeys((key.dataset, key.decoder) for key in RUNS))
SETTING_METHODS = {
    setting: [m for m in METHOD_ORDER if any(k[:3] == (*setting, m) for k in RUNS)]
    for setting in SETTINGS
}
# The runs shown as images or sentences: the first seed of each dataset x decoder x method.
SAMPLE_SEED = config["seeds"][0]


def dataset_kind(dataset):
    """``binary``, ``real`` or ``tokens``: what a run's samples.npz holds."""
    return DATASETS[dataset].kind


def setting_methods(wildcards):
    """The method variants of a dataset x decoder, in report order, for the CLI."""
    return " ".join(SETTING_METHODS[(wildcards.dataset, wildcards.decoder)])


def dataset_methods(wildcards):
    """The method variants run on a dataset (any decoder), in report order."""
    return " ".join(
        m for m in METHOD_ORDER if any(k.dataset == wildcards.dataset and k.method == m for k in RUNS)
    )


def dataset_decoders(wildcards):
    """The decoder variants run on a dataset, in config order."""
    return " ".join(d for (dataset, d) in SETTINGS if dataset == wildcards.dataset)


DATASETS_OF_KIND = {
    kind: [d for d in config["datasets"] if DATASETS[d].kind == kind]
    for kind in ("binary", "real", "tokens")
}
# The figure file stems of vae_tfp.report.figures (read without importing matplotlib).
from vae_tfp.report.figures import DATASET_DECODER_FIGURES, IMAGE_FIGURES

FIGURE_STEMS = {"dataset_decoder": DATASET_DECODER_FIGURES, "image": IMAGE_FIGURES}


FIGURES = "results/{experiment}/figures/{dataset}"


def _figure(stem, kind, label):
    """A report-registered PNG of one dataset x decoder (its PDF twin is a plain output)."""
    return report(
        f"{FIGURES}/{{decoder}}/{stem}.png",
        caption=f"../report/{stem}.rst",
        category="{dataset}",
        subcategory=kind,
        labels={"decoder": "{decoder}", "figure": label},
    )


def samples_title(wildcards):
    """The title of a run's samples: dataset x decoder x method and the seed shown."""
    return f"{wildcards.dataset} × {wildcards.decoder} × {wildcards.method}, seed {SAMPLE_SEED}"


LANDING_PAGE = "results/{experiment}/report/workflow.rst"


def landing_page(experiment):
    """The HTML report's landing page: the one rule landing_page wrote (the static text
    and the code versions of the runs) once it exists, the static text before."""
    written = os.path.abspath(LANDING_PAGE.format(experiment=experiment))
    return written if os.path.exists(written) else "workflows/report/workflow.rst"


def report_targets(experiment):
    """Every table and figure of the experiment: what `rule all` asks for."""
    tables = f"results/{experiment}/tables"
    targets = [f"{tables}/{name}" for name in ("statistics.html", "runs_long.csv")]
    targets.append(LANDING_PAGE.format(experiment=experiment))
    targets += [f"{tables}/datasets/{dataset}.html" for dataset in GRID_DATASETS]
    for dataset in GRID_DATASETS:
        targets.append(f"results/{experiment}/figures/{dataset}/rate_distortion.png")
    for dataset, decoder in SETTINGS:
        folder = f"results/{experiment}/figures/{dataset}/{decoder}"
        targets.append(f"{folder}/kl_per_dim.png")
        suffix = {"binary": "reconstructions.png", "tokens": "sentences.html"}.get(
            dataset_kind(dataset)
        )
        if suffix:
            targets += [f"{folder}/{m}_{suffix}" for m in SETTING_METHODS[(dataset, decoder)]]
    return targets
