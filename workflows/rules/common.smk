# Helper functions of the workflow: config validation, the grid of runs, wildcard
# constraints and the parameters the rules hand to the `vae_tfp` CLI. Rules live in the
# other files of this folder, one per stage; they call the CLI and do no science.

import json
import os
import re
import shlex
import sys

import yaml
from snakemake.utils import validate

from vae_tfp.config import (
    RunKey,
    check_experiment_config,
    dataset_options,
    iter_runs,
    resolve_run_config,
    training_config,
)
from vae_tfp.plugins import is_file_spec, plugin_spec_of, resolve_plugin_specs


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

# The CLI, started with the interpreter that runs Snakemake, so jobs see the same packages.
VAE_TFP = f"{shlex.quote(sys.executable)} -m vae_tfp"


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


# The download cache of real datasets (config key data_cache; VAE_TFP_DATA_CACHE overrides
# it inside the job, see docs/datasets.md). Not a param: where verified files are read
# from does not change the prepared data, so moving the cache re-runs nothing.
DATA_CACHE_ARG = (
    f" --data-cache {shlex.quote(str(config['data_cache']))}" if config.get("data_cache") else ""
)


def run_config_json(wildcards):
    """The resolved config of the run without its evaluation settings, as JSON: all that
    `vae_tfp train` needs (so changing an evaluation setting never retrains)."""
    return json.dumps(training_config(resolve_run_config(config, run_key(wildcards))), sort_keys=True)


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
    """The metrics.json of every run of the experiment grid, in grid order."""
    return [
        rules.evaluate.output.metrics.format(
            experiment=wildcards.experiment,
            dataset=key.dataset,
            decoder=key.decoder,
            method=key.method,
            seed=key.seed,
        )
        for key in RUNS
    ]
