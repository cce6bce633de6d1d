"""Experiment configuration: the grid of runs and the fully resolved config of one run.

An *experiment config* (``config/config.yaml``) names datasets, decoder variants, method
variants, seeds and the grid blocks that combine them. A *run config* is the plain dict that
fully determines one run (dataset x decoder variant x method variant x seed); it is what the
training and evaluation commands receive, what ``run_config.json`` stores and what
``metrics.json`` echoes, so every number can be traced to the settings that produced it.

The JSON schema (``workflows/schemas/config.schema.yaml``) checks names, types and ranges;
:func:`check_experiment_config` adds the cross-field checks a schema cannot express
(references between sections, dataset/decoder/method compatibility, duplicate seeds).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from vae_tfp.data.registry import DATASETS
from vae_tfp.methods.registry import METHODS, build_method
from vae_tfp.models.decoder_types import DECODER_TYPES


class RunKey(NamedTuple):
    """The four coordinates of one run; they also name its folder."""

    dataset: str
    decoder: str
    method: str
    seed: int


def _merge(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    """Returns a deep copy of ``base`` with the keys of ``override`` replaced recursively."""
    merged = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def iter_runs(config: Mapping[str, Any]) -> Iterator[RunKey]:
    """Yields every run of the experiment grid, without duplicates, in config order.

    Args:
        config: A validated experiment config.

    Yields:
        One :class:`RunKey` per (dataset, decoder variant, method variant, seed).
    """
    seen: set[RunKey] = set()
    for block in config["grid"]:
        for dataset, decoder, method in itertools.product(
            block["datasets"], block["decoders"], block["methods"]
        ):
            for seed in config["seeds"]:
                key = RunKey(dataset, decoder, method, int(seed))
                if key not in seen:
                    seen.add(key)
                    yield key


def dataset_options(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """Returns the options that prepare ``dataset``, with the experiment's data seed."""
    entry = config["datasets"][dataset]
    return {"data_seed": int(config["data_seed"]), **copy.deepcopy(entry.get("options", {}))}


def resolve_run_config(config: Mapping[str, Any], key: RunKey) -> dict[str, Any]:
    """Builds the fully resolved config of one run.

    Per-dataset ``model`` and ``training`` entries override the experiment-wide ones.

    Args:
        config: A validated experiment config.
        key: The run to resolve.

    Returns:
        A JSON-serializable dict with keys ``experiment``, ``dataset``, ``decoder``,
        ``method``, ``seed``, ``dataset_options``, ``decoder_options``, ``method_options``,
        ``model``, ``training`` and ``evaluation``.
    """
    entry = config["datasets"][key.dataset]
    return {
        "experiment": config["experiment"],
        "dataset": key.dataset,
        "decoder": key.decoder,
        "method": key.method,
        "seed": int(key.seed),
        "dataset_options": dataset_options(config, key.dataset),
        "decoder_options": copy.deepcopy(dict(config["decoders"][key.decoder])),
        "method_options": copy.deepcopy(dict(config["methods"][key.method])),
        "model": _merge(config["model"], entry.get("model")),
        "training": _merge(config["training"], entry.get("training")),
        "evaluation": _merge(config["evaluation"], entry.get("evaluation")),
    }


def training_config(run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run config that determines training: all but ``evaluation``.

    The train job receives only this part, so changing an evaluation setting (K, the MI
    samples) re-runs evaluation but never retraining.
    """
    return {key: copy.deepcopy(value) for key, value in run_config.items() if key != "evaluation"}


class ConfigError(ValueError):
    """An experiment config that is well-formed but inconsistent."""


def check_experiment_config(config: Mapping[str, Any]) -> None:
    """Checks what the JSON schema cannot: references, compatibility and duplicates.

    Args:
        config: An experiment config that already passed the JSON schema.

    Raises:
        ConfigError: Naming every problem found, with the allowed values.
    """
    problems: list[str] = []
    seeds = list(config["seeds"])
    duplicates = sorted({s for s in seeds if seeds.count(s) > 1})
    if duplicates:
        problems.append(f"seeds {duplicates} are listed more than once")
    for name in config["datasets"]:
        if name not in DATASETS:
            problems.append(f"unknown dataset {name!r}; allowed: {sorted(DATASETS)}")
    for name, spec in config["decoders"].items():
        if spec.get("type") not in DECODER_TYPES:
            problems.append(
                f"decoder variant {name!r} has unknown type {spec.get('type')!r}; "
                f"allowed: {sorted(DECODER_TYPES)}"
            )
    for name, spec in config["methods"].items():
        if spec.get("method") not in METHODS:
            problems.append(
                f"method variant {name!r} names unknown method {spec.get('method')!r}; "
                f"allowed: {sorted(METHODS)}"
            )
            continue
        try:
            build_method(spec)
        except (TypeError, ValueError) as error:
            problems.append(f"method variant {name!r}: {error}")
    for name in config.get("resources", {}).get("gpu_decoders", []):
        if name not in config["decoders"]:
            problems.append(
                f"resources.gpu_decoders names {name!r}, which is not a decoder variant; "
                f"defined: {sorted(config['decoders'])}"
            )
    baseline = config.get("report", {}).get("baseline")
    if baseline is not None and baseline not in config["methods"]:
        problems.append(
            f"report.baseline names {baseline!r}, which is not a method variant; "
            f"defined: {sorted(config['methods'])}"
        )
    for index, block in enumerate(config["grid"]):
        for section, names in (
            ("datasets", block["datasets"]),
            ("decoders", block["decoders"]),
            ("methods", block["methods"]),
        ):
            for name in names:
                if name not in config[section]:
                    problems.append(
                        f"grid block {index} names {section[:-1]} {name!r}, which is not "
                        f"defined under '{section}'; defined: {sorted(config[section])}"
                    )
    problems += _reproduce_problems(config)
    if not problems:
        for block in config["grid"]:
            for dataset, decoder in itertools.product(block["datasets"], block["decoders"]):
                decoder_type = config["decoders"][decoder]["type"]
                allowed = DATASETS[dataset].decoders
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
    if problems:
        raise ConfigError("invalid experiment config:\n  - " + "\n  - ".join(problems))


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
        if (entry["dataset"], entry["decoder"], entry["method"]) not in grid:
            problems.append(
                f"reproduce entry {index} ({entry['dataset']}, {entry['decoder']}, "
                f"{entry['method']}) is not a run of the grid"
            )
    return problems


def check_run_config(run_config: Mapping[str, Any]) -> None:
    """Checks a resolved run config before any long work starts.

    Raises:
        ConfigError: On a missing section, an unknown dataset, decoder type or method, bad
            hyper-parameters, or a decoder that does not apply to the dataset.
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
    experiment = {
        "seeds": [run_config["seed"]],
        "datasets": {run_config["dataset"]: {}},
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
