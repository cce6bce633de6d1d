"""Experiment config: the grid of runs, resolution of one run, cross-field checks."""

import copy
import re

import pytest
import yaml

from vae_tfp.config import (
    ConfigError,
    RunKey,
    check_experiment_config,
    check_run_config,
    iter_runs,
    resolve_run_config,
)

NAN, INF = float("nan"), float("inf")


@pytest.fixture
def config():
    with open("config/config.yaml") as stream:
        return yaml.safe_load(stream)


def test_default_config_is_consistent_and_lists_every_run_once(config):
    check_experiment_config(config)
    runs = list(iter_runs(config))
    expected = sum(
        len(b["datasets"]) * len(b["decoders"]) * len(b["methods"]) for b in config["grid"]
    ) * len(config["seeds"])
    assert len(runs) == len(set(runs)) == expected


def test_dataset_sections_override_experiment_defaults(config):
    run = resolve_run_config(config, RunKey("linear_gaussian", "linear", "vanilla", 1))
    assert (
        run["model"]["latent_dim"] == config["datasets"]["linear_gaussian"]["model"]["latent_dim"]
    )
    assert run["model"]["encoder_hidden_units"] == config["model"]["encoder_hidden_units"]
    assert run["training"]["batch_size"] == config["training"]["batch_size"]
    assert run["dataset_options"]["data_seed"] == config["data_seed"]
    check_run_config(run)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["methods"].update({"vanilla": {"method": "vanila"}}), "'vanila'"),
        (lambda c: c["grid"][0]["methods"].append("fb_9"), "'fb_9'"),
        (lambda c: c["seeds"].append(0), "more than once"),
        (
            lambda c: c["grid"].append(
                {"datasets": ["digits"], "decoders": ["linear"], "methods": ["vanilla"]}
            ),
            "does not apply to dataset 'digits'",
        ),
        (lambda c: c["decoders"].update({"mlp": {"type": "transformer"}}), "'transformer'"),
        (
            lambda c: c["methods"].update({"fb_0.5": {"method": "free_bits", "lambda": -1}}),
            "lambda must be >= 0",
        ),
        (lambda c: c["methods"].update({"beta_4": {"method": "beta", "betta": 4}}), "'betta'"),
        (
            lambda c: (
                c["methods"].update({"wd": {"method": "word_dropout", "p": 0.3}}),
                c["grid"][0]["methods"].append("wd"),
            ),
            "'wd' does not apply to decoder variant 'mlp'.*lstm decoder on token data",
        ),
        (lambda c: c.update({"report": {"baseline": "vanila"}}), "report.baseline.*'vanila'"),
    ],
)
def test_inconsistent_configs_are_rejected_with_the_name(config, mutate, message):
    bad = copy.deepcopy(config)
    mutate(bad)
    with pytest.raises(ConfigError, match=message):
        check_experiment_config(bad)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["training"].update(learning_rate=NAN), "training.learning_rate is nan"),
        (lambda r: r["model"].update(latent_dim=INF), "model.latent_dim is inf"),
        (
            lambda r: r["method_options"].update(method="beta", beta=-INF),
            "beta must be a finite number >= 0, got -inf",
        ),
    ],
)
def test_run_configs_with_non_finite_numbers_are_rejected_naming_the_key(config, mutate, message):
    """A run config handed to `vae_tfp train` by hand is held to the same rule."""
    run = resolve_run_config(config, RunKey("digits", "mlp", "vanilla", 0))
    mutate(run)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_run_config(run)


def test_config_checks_import_no_tensorflow():
    """The Snakefile parse (schema + check_experiment_config) must not pay for TensorFlow:
    the registries import it lazily (benchmarks/speed.py: snakemake -n 6.3 s -> 1.7 s)."""
    import subprocess
    import sys

    probe = (
        "import sys, yaml\n"
        "from vae_tfp.config import check_experiment_config\n"
        "for name in ('config/config.yaml', 'config/full.yaml', 'config/reproduce.yaml'):\n"
        "    check_experiment_config(yaml.safe_load(open(name)))\n"
        "loaded = [m for m in ('tensorflow', 'tensorflow_probability', 'tf_keras', 'sklearn')\n"
        "          if m in sys.modules and type(sys.modules[m]).__name__ != '_LazyModule']\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"row": "no-such-row", "not_run": "x"},
            "reproduce entry 0 names row 'no-such-row', which config/published.yaml does not hold",
        ),
        (
            {"row": "li2019-ptb-vae", "dataset": "digits", "decoder": "mlp", "method": "fb_2"},
            "reproduce entry 0 (digits, mlp, fb_2) is not a run of the grid",
        ),
    ],
)
def test_reproduce_entries_name_published_rows_and_runs_of_the_grid(config, entry, message):
    bad = {**copy.deepcopy(config), "published": "config/published.yaml", "reproduce": [entry]}
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_experiment_config(bad)


def test_a_reproduce_entry_not_run_needs_no_runs(config):
    """The PTB row's dataset is not in the grid: with `not_run` that is not a fault."""
    from vae_tfp.config.checks import _reproduce_problems

    entries = [{"row": "li2019-ptb-vae", "not_run": "36 h per seed"}]
    assert "ptb" not in config["datasets"]
    reproducing = {**config, "published": "config/published.yaml", "reproduce": entries}
    assert _reproduce_problems(reproducing) == []
    check_experiment_config(reproducing)  # raises on any problem


def test_a_grid_block_may_run_a_subset_of_the_seeds():
    """A block's own seeds restrict its runs; they must be experiment seeds and hold the
    first (the sample figures' runs)."""
    import copy

    import yaml

    from vae_tfp.config import ConfigError, check_experiment_config, iter_runs

    config = yaml.safe_load(open("config/config.yaml"))
    config["seeds"] = [0, 1, 2]
    config["grid"] = [
        {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["vanilla"]},
        {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["beta_4"], "seeds": [0]},
    ]
    check_experiment_config(config)
    runs = {(key.method, key.seed) for key in iter_runs(config)}
    assert runs == {("vanilla", 0), ("vanilla", 1), ("vanilla", 2), ("beta_4", 0)}
    for bad in ([1, 2], [0, 7]):
        broken = copy.deepcopy(config)
        broken["grid"][1]["seeds"] = bad
        with pytest.raises(ConfigError, match=r"grid\[1\]\.seeds"):
            check_experiment_config(broken)


def _two_blocks(config, second_training):
    """digits x mlp: vanilla and beta_4 in one block, beta_4 again in a second block."""
    config["grid"] = [
        {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["vanilla", "beta_4"]},
        {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["beta_4"]},
    ]
    if second_training is not None:
        config["grid"][1]["training"] = second_training
    return config


def test_a_grid_blocks_training_overrides_its_datasets_for_its_runs_only(config):
    """Experiment < dataset < block, key by key (nested keys too), and only in the runs the
    block makes; the status's planned epochs follow the same settings."""
    from vae_tfp.status import planned_runs

    config["datasets"]["digits"]["training"] = {
        "epochs": 7,
        "learning_rate_schedule": {"type": "plateau", "factor": 0.5, "patience": 2,
                                   "min_epoch": 16, "max_decays": 5},
    }  # fmt: skip
    config["grid"] = [
        {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["vanilla"]},
        {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["beta_4"],
         "training": {"epochs": 3, "learning_rate_schedule": {"type": "plateau",
                                                             "min_epoch": 1}}},
    ]  # fmt: skip
    check_experiment_config(config)
    plain = resolve_run_config(config, RunKey("digits", "mlp", "vanilla", 0))["training"]
    block = resolve_run_config(config, RunKey("digits", "mlp", "beta_4", 0))["training"]
    assert plain["epochs"] == 7 and plain["learning_rate_schedule"]["min_epoch"] == 16
    assert block["epochs"] == 3 and block["learning_rate_schedule"] == {
        **plain["learning_rate_schedule"],
        "min_epoch": 1,
    }
    assert block["batch_size"] == plain["batch_size"] == config["training"]["batch_size"]
    check_run_config(resolve_run_config(config, RunKey("digits", "mlp", "beta_4", 0)))
    epochs = planned_runs(config)
    assert epochs[("digits", "mlp", "vanilla", 0)] == 7
    assert epochs[("digits", "mlp", "beta_4", 0)] == 3


def test_blocks_that_make_one_run_must_give_it_the_same_training(config):
    """A run made by two blocks takes one config: different `training` is rejected before
    any job runs, naming the blocks and the runs; equal settings are accepted."""
    check_experiment_config(_two_blocks(copy.deepcopy(config), None))
    check_experiment_config(_two_blocks(copy.deepcopy(config), {}))
    with pytest.raises(ConfigError, match=r"grid blocks \[0, 1\].*\(digits, mlp, beta_4\)"):
        check_experiment_config(_two_blocks(copy.deepcopy(config), {"epochs": 3}))
    same = _two_blocks(copy.deepcopy(config), {"epochs": 3})
    same["grid"][0]["training"] = {"epochs": 3}
    check_experiment_config(same)


def test_a_grid_blocks_length_batches_on_image_data_are_rejected(config):
    config["grid"].append(
        {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["vanilla"],
         "training": {"batching": "length"}}
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"dataset 'digits', grid block \d+ .*token data"):
        check_experiment_config(config)
