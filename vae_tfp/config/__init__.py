"""Experiment configs: the grid of runs, each run's resolved config, and their checks.

:mod:`~vae_tfp.config.grid` builds runs from an experiment config;
:mod:`~vae_tfp.config.checks` validates both (imports no TensorFlow).
"""

from vae_tfp.config.checks import (
    ConfigError,
    check_experiment_config,
    check_run_config,
    decoders_for_dataset,
)
from vae_tfp.config.grid import (
    RunKey,
    dataset_options,
    iter_runs,
    load_experiment_config,
    pretraining_run_config,
    resolve_run_config,
    training_config,
)

__all__ = [
    "ConfigError",
    "RunKey",
    "check_experiment_config",
    "check_run_config",
    "dataset_options",
    "decoders_for_dataset",
    "iter_runs",
    "load_experiment_config",
    "pretraining_run_config",
    "resolve_run_config",
    "training_config",
]
