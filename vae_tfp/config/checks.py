"""Config validation: what the JSON schema cannot check, before any long work starts.

The JSON schema (``workflows/schemas/config.schema.yaml``) checks the structure, types and
ranges of the experiment-wide sections; :func:`check_experiment_config` loads the config's
plugins and adds what the registries know (names of datasets, decoder types and methods,
each method's declared hyper-parameters, every number finite) and the cross-field checks a
schema cannot express (references between sections, dataset/decoder/method compatibility,
duplicate seeds). Imports no TensorFlow: the Snakefile runs it at parse time.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from vae_tfp.config.grid import block_training, blocks_naming, iter_runs
from vae_tfp.data.buckets import BATCHINGS
from vae_tfp.data.registry import DATASETS
from vae_tfp.declarations import non_finite_paths
from vae_tfp.methods.registry import build_method
from vae_tfp.models.decoder_types import (
    DECODER_TYPES,
    PLUGIN_DECODER_KINDS,
    decoder_option_names,
)
from vae_tfp.plugins import PluginError, load_plugins


class ConfigError(ValueError):
    """An experiment config that is well-formed but inconsistent."""


def check_experiment_config(config: Mapping[str, Any]) -> None:
    """Checks what the JSON schema cannot: names, declarations, references, compatibility.

    Loads the config's ``plugins`` first (file paths relative to the working directory, or
    as :func:`load_experiment_config` resolved them), so their names are known.

    Args:
        config: An experiment config that already passed the JSON schema.

    Raises:
        ConfigError: Naming every problem found, with the allowed values.
    """
    try:
        load_plugins(config.get("plugins", []))
    except PluginError as error:
        raise ConfigError(f"invalid experiment config:\n  - {error}") from None
    problems = _non_finite_problems(config) + _name_problems(config)
    problems += _reproduce_problems(config) + _batching_problems(config)
    if not problems:  # the grid's names are defined
        problems += _block_training_problems(config)
    if not problems:
        problems += _compatibility_problems(config)
    if problems:
        raise ConfigError("invalid experiment config:\n  - " + "\n  - ".join(problems))


def _non_finite_problems(config: Mapping[str, Any]) -> list[str]:
    """NaN and +-inf anywhere but in method variants (whose declarations decide)."""
    outside = {key: value for key, value in config.items() if key != "methods"}
    return [
        f"{path} is {value}: numbers in a config must be finite (NaN and inf are rejected "
        "unless a method declares otherwise)"
        for path, value in non_finite_paths(outside)
    ]


def _name_problems(config: Mapping[str, Any]) -> list[str]:
    """Unknown registry names, undeclared options and hyper-parameters, broken references."""
    problems: list[str] = []
    seeds = list(config["seeds"])
    duplicates = sorted({s for s in seeds if seeds.count(s) > 1})
    if duplicates:
        problems.append(f"seeds {duplicates} are listed more than once")
    for index, block in enumerate(config["grid"]):
        block_seeds = block.get("seeds")
        if block_seeds is not None and (
            not set(block_seeds) <= set(seeds) or seeds[0] not in block_seeds
        ):
            problems.append(
                f"grid[{index}].seeds {block_seeds} must be a subset of seeds {seeds} that "
                f"holds its first, {seeds[0]} (the runs the sample figures show)"
            )
    for name, entry in config["datasets"].items():
        if name not in DATASETS:
            problems.append(f"unknown dataset {name!r}; allowed: {sorted(DATASETS)}")
            continue
        accepted = DATASETS[name].option_names()
        unknown = sorted(set((entry or {}).get("options", {})) - set(accepted))
        if unknown:
            problems.append(f"dataset {name!r} got unknown options {unknown}; accepted: {accepted}")
    for name, spec in config["decoders"].items():
        if spec.get("type") not in DECODER_TYPES:
            problems.append(
                f"decoder variant {name!r} has unknown type {spec.get('type')!r}; "
                f"allowed: {sorted(DECODER_TYPES)}"
            )
        elif spec["type"] in PLUGIN_DECODER_KINDS:  # built-ins: the JSON schema checks them
            accepted = decoder_option_names(spec["type"])
            unknown = sorted(set(spec) - {"type"} - set(accepted))
            if unknown:
                problems.append(
                    f"decoder variant {name!r} (type {spec['type']!r}) got unknown options "
                    f"{unknown}; accepted: {accepted}"
                )
    for name, spec in config["methods"].items():
        try:
            build_method(spec)
        except KeyError as error:
            problems.append(f"method variant {name!r} (methods.{name}): {error.args[0]}")
        except (TypeError, ValueError) as error:
            problems.append(f"method variant {name!r} (methods.{name}): {error}")
    for name in config.get("resources", {}).get("gpu_decoders", []):
        if name not in config["decoders"]:
            problems.append(
                f"resources.gpu_decoders names {name!r}, which is not a decoder variant; "
                f"defined: {sorted(config['decoders'])}"
            )
    for name in config.get("protocol_differences", {}):
        if name not in config["datasets"]:
            problems.append(
                f"protocol_differences names {name!r}, which is not a dataset of this config; "
                f"defined: {sorted(config['datasets'])}"
            )
    baseline = config.get("report", {}).get("baseline")
    if baseline is not None and baseline not in config["methods"]:
        problems.append(
            f"report.baseline names {baseline!r}, which is not a method variant; "
            f"defined: {sorted(config['methods'])}"
        )
    for index, block in enumerate(config["grid"]):
        for section in ("datasets", "decoders", "methods"):
            for name in block[section]:
                if name not in config[section]:
                    problems.append(
                        f"grid block {index} names {section[:-1]} {name!r}, which is not "
                        f"defined under '{section}'; defined: {sorted(config[section])}"
                    )
    return problems


def decoders_for_dataset(dataset: str) -> tuple[str, ...]:
    """Decoder types that apply to ``dataset``: those its registry entry lists, and the
    plugin decoders declared for its kind."""
    spec = DATASETS[dataset]
    plugins = (name for name, kinds in PLUGIN_DECODER_KINDS.items() if spec.kind in kinds)
    return tuple(dict.fromkeys((*spec.decoders, *plugins)))


def _compatibility_problems(config: Mapping[str, Any]) -> list[str]:
    """Decoders that do not apply to a dataset, methods that do not apply to a decoder."""
    problems: list[str] = []
    for block in config["grid"]:
        for dataset, decoder in itertools.product(block["datasets"], block["decoders"]):
            decoder_type = config["decoders"][decoder]["type"]
            allowed = decoders_for_dataset(dataset)
            if decoder_type not in allowed:
                problems.append(
                    f"decoder variant {decoder!r} (type {decoder_type!r}) does not apply "
                    f"to dataset {dataset!r}; decoders allowed there: {list(allowed)}"
                )
            for method in block["methods"]:
                reason = build_method(config["methods"][method]).applies_to(
                    decoder_type, DATASETS[dataset].kind
                )
                if reason:
                    problems.append(
                        f"method variant {method!r} does not apply to decoder variant "
                        f"{decoder!r} on dataset {dataset!r}: {reason}"
                    )
    return problems


def _block_training_problems(config: Mapping[str, Any]) -> list[str]:
    """A run that two grid blocks make with different ``training`` settings."""
    problems = {}
    for key in iter_runs(config):
        blocks = blocks_naming(config, key)
        settings = [config["grid"][index].get("training") or {} for index in blocks]
        if any(other != settings[0] for other in settings[1:]):
            run = f"({key.dataset}, {key.decoder}, {key.method})"
            problems[run] = (
                f"grid blocks {blocks} all make the runs {run} but with different training "
                f"settings ({'; '.join(str(s) for s in settings)}): make each run in blocks "
                "with the same `training`, or in one block"
            )
    return list(problems.values())


def _batching_problems(config: Mapping[str, Any]) -> list[str]:
    """``training.batching`` other than padded on a dataset that is not token data (length
    batches group sentences by length), unknown values, ``n_buckets`` without buckets; for
    each dataset's settings and each grid block's settings for its datasets."""
    problems = []
    settings = [(name, "", block_training(config, name)) for name in config["datasets"]]
    settings += [
        (name, f", grid block {index}", block_training(config, name, block))
        for index, block in enumerate(config["grid"])
        if block.get("training")
        for name in block["datasets"]
    ]
    for name, block_where, training in settings:
        if name not in DATASETS:
            continue  # _name_problems names it
        batching = training.get("batching", "padded")
        where = f"dataset {name!r}{block_where} (training.batching {batching!r})"
        if batching not in BATCHINGS:
            problems.append(f"{where}: unknown batching; allowed: {list(BATCHINGS)}")
        elif batching != "padded" and DATASETS[name].kind != "tokens":
            problems.append(
                f"{where}: length batches are for token data and {name!r} holds "
                f"{DATASETS[name].kind!r} data; use padded (set training.batching per "
                f"dataset under datasets.<name>.training)"
            )
        if "n_buckets" in training and batching != "buckets":
            problems.append(f"{where}: n_buckets applies to batching 'buckets' only")
    return problems


def _reproduce_problems(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with the experiment's ``reproduce`` entries: a missing ``published``
    file, a row the file does not hold, or runs the grid does not make."""
    if "reproduce" not in config:
        return []
    if "published" not in config:
        return ["'reproduce' needs 'published', the file of published values"]
    path = Path(config["published"])
    if not path.is_file():
        return [f"published values file {str(path)!r} does not exist"]
    rows = yaml.safe_load(path.read_text()).get("rows", {})
    grid = {(key.dataset, key.decoder, key.method) for key in iter_runs(config)}
    problems = []
    for index, entry in enumerate(config["reproduce"]):
        if entry["row"] not in rows:
            problems.append(
                f"reproduce entry {index} names row {entry['row']!r}, which {path} does not "
                f"hold; its rows: {sorted(rows)}"
            )
        if "not_run" not in entry and (
            (entry["dataset"], entry["decoder"], entry["method"]) not in grid
        ):
            problems.append(
                f"reproduce entry {index} ({entry['dataset']}, {entry['decoder']}, "
                f"{entry['method']}) is not a run of the grid"
            )
    return problems


def check_run_config(run_config: Mapping[str, Any]) -> None:
    """Checks a resolved run config before any long work starts.

    Raises:
        ConfigError: On a missing section, a number that is not finite, a plugin that does
            not load, an unknown dataset, decoder type or method, bad hyper-parameters, or a
            decoder that does not apply to the dataset, or length batches (``training.batching``)
            for data that are not tokens.
    """
    required = (
        "experiment",
        "dataset",
        "decoder",
        "method",
        "seed",
        "dataset_options",
        "decoder_options",
        "method_options",
        "model",
        "training",
    )
    missing = [key for key in required if key not in run_config]
    if missing:
        raise ConfigError(f"run config lacks {missing}; a run config needs {list(required)}")
    # Method hyper-parameters: their declarations decide (below); every other number here.
    non_finite = _non_finite_problems({**run_config, "method_options": {}})
    if non_finite:
        raise ConfigError("invalid run config:\n  - " + "\n  - ".join(non_finite))
    experiment = {
        "plugins": list(run_config.get("plugins", [])),
        "seeds": [run_config["seed"]],
        "datasets": {run_config["dataset"]: {}},
        "training": run_config["training"],
        "decoders": {run_config["decoder"]: run_config["decoder_options"]},
        "methods": {run_config["method"]: run_config["method_options"]},
        "grid": [
            {
                "datasets": [run_config["dataset"]],
                "decoders": [run_config["decoder"]],
                "methods": [run_config["method"]],
            }
        ],
    }
    check_experiment_config(experiment)
