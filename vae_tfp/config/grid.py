"""Experiment configuration: the grid of runs and the fully resolved config of one run.

An *experiment config* (``config/config.yaml``) names datasets, decoder variants, method
variants, seeds and the grid blocks that combine them. A *run config* is the plain dict that
fully determines one run (dataset x decoder variant x method variant x seed); it is what the
training and evaluation commands receive, what ``run_config.json`` stores and what
``metrics.json`` echoes, so every number can be traced to the settings that produced it.

The checks of both live in :mod:`vae_tfp.config.checks`.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from vae_tfp.methods.registry import expression_names
from vae_tfp.plugins import load_plugins, plugin_spec_of, resolve_plugin_specs


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


def load_experiment_config(path: str | Path) -> dict[str, Any]:
    """Reads an experiment config file, its plugin file paths resolved against its folder
    (what the Snakefile does with the config it is given)."""
    path = Path(path)
    with open(path) as stream:
        config = yaml.safe_load(stream)
    if "plugins" in config:
        config["plugins"] = resolve_plugin_specs(config["plugins"], path.parent)
    return config


def iter_runs(config: Mapping[str, Any]) -> Iterator[RunKey]:
    """Yields every run of the experiment grid, without duplicates, in config order (a
    block with its own ``seeds`` runs only those).

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
            for seed in block.get("seeds", config["seeds"]):
                key = RunKey(dataset, decoder, method, int(seed))
                if key not in seen:
                    seen.add(key)
                    yield key


def blocks_naming(config: Mapping[str, Any], key: RunKey) -> list[int]:
    """The indices of the grid blocks that make the run ``key`` (a block with its own
    ``seeds`` makes only those)."""
    return [
        index
        for index, block in enumerate(config["grid"])
        if key.dataset in block["datasets"]
        and key.decoder in block["decoders"]
        and key.method in block["methods"]
        and int(key.seed) in [int(s) for s in block.get("seeds", config["seeds"])]
    ]


def block_training(
    config: Mapping[str, Any], dataset: str, block: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The training settings of ``dataset``'s runs in ``block`` (None: in no block of its
    own): the experiment's, then the dataset's, then the block's, each overriding the one
    before key by key."""
    entry = config.get("datasets", {}).get(dataset) or {}
    training = _merge(config.get("training") or {}, entry.get("training"))
    return _merge(training, (block or {}).get("training"))


def run_training(config: Mapping[str, Any], key: RunKey) -> dict[str, Any]:
    """The training settings of one run: :func:`block_training` of the first grid block that
    makes it (the checks reject blocks that make one run with different settings).

    A block's ``training`` serves methods whose authors' scripts train differently from the
    rest of their dataset's rows (config/paper.yaml: He et al.'s SA-VAE script halves its rate
    from the first epoch, their text.py from the 16th).
    """
    blocks = blocks_naming(config, key)
    return block_training(config, key.dataset, config["grid"][blocks[0]] if blocks else None)


def dataset_options(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """Returns the options that prepare ``dataset``, with the experiment's data seed."""
    entry = config["datasets"][dataset]
    return {"data_seed": int(config["data_seed"]), **copy.deepcopy(entry.get("options", {}))}


def resolve_run_config(config: Mapping[str, Any], key: RunKey) -> dict[str, Any]:
    """Builds the fully resolved config of one run.

    Per-dataset ``model`` and ``training`` entries override the experiment-wide ones, and a
    grid block's ``training`` overrides both for the runs it makes (:func:`run_training`).

    Args:
        config: A validated experiment config.
        key: The run to resolve.

    Returns:
        A JSON-serializable dict with keys ``experiment``, ``dataset``, ``decoder``,
        ``method``, ``seed``, ``dataset_options``, ``decoder_options``, ``method_options``,
        ``model``, ``training`` and ``evaluation``, and ``plugins`` (the plugins the jobs
        must load) when the run's dataset, decoder type or method comes from a plugin.
    """
    entry = config["datasets"][key.dataset]
    decoder_options = copy.deepcopy(dict(config["decoders"][key.decoder]))
    method_options = copy.deepcopy(dict(config["methods"][key.method]))
    run = {
        "experiment": config["experiment"],
        "dataset": key.dataset,
        "decoder": key.decoder,
        "method": key.method,
        "seed": int(key.seed),
        "dataset_options": dataset_options(config, key.dataset),
        "decoder_options": decoder_options,
        "method_options": method_options,
        "model": _merge(config["model"], entry.get("model")),
        "training": run_training(config, key),
        "evaluation": _merge(config["evaluation"], entry.get("evaluation")),
    }
    # Only runs that use a plugin name it (the runs of built-ins keep their exact config).
    load_plugins(config.get("plugins", []))
    method_names = expression_names(method_options.get("method", ""))
    provided = (
        plugin_spec_of("datasets", key.dataset),
        plugin_spec_of("decoders", decoder_options.get("type")),
        *(plugin_spec_of(kind, n) for n in method_names for kind in ("methods", "presets")),
    )
    plugins = [spec for spec in dict.fromkeys(provided) if spec is not None]
    if plugins:
        run["plugins"] = plugins
    return run


def pretraining_run_config(run_config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The training config of the separate pretraining run a run starts from, or None.

    A method with a ``pretrain_run`` part (Li et al. 2019's two commands) is preceded by a
    run with the same dataset, model, training protocol and seed and the part's own method
    (an autoencoder, :data:`vae_tfp.methods.phases.AUTOENCODER_PRETRAINING`), trained into
    the run's ``pretrain/`` folder.

    Args:
        run_config: The run's resolved (or training) config.

    Returns:
        That run's training config (method named ``<method>/pretrain``), or None.
    """
    from vae_tfp.methods.registry import build_method

    pretraining = build_method(run_config["method_options"]).pretraining_method()
    if pretraining is None:
        return None
    config = training_config(run_config)
    config["method"] = f"{run_config['method']}/pretrain"
    config["method_options"] = dict(pretraining)
    return config


def training_config(run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a run config that determines training: all but ``evaluation``.

    The train job receives only this part, so changing an evaluation setting (K, the MI
    samples) re-runs evaluation but never retraining.
    """
    return {key: copy.deepcopy(value) for key, value in run_config.items() if key != "evaluation"}
