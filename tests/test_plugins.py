"""Plugins: a method, a decoder and a dataset from outside the package, checked at parse
time like the built-ins, loaded by every job, recorded in metrics.json, in the tables.

Nothing is installed: plugins are files next to a temporary config, or (entry points) a
module and its distribution metadata on the path of a subprocess.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from test_workflow import planned_jobs, snakemake, tiny_config, write_config

from vae_tfp import plugins
from vae_tfp.config import (
    ConfigError,
    RunKey,
    check_experiment_config,
    iter_runs,
    load_experiment_config,
    resolve_run_config,
)
from vae_tfp.data.registry import DATASETS
from vae_tfp.methods import build_method
from vae_tfp.methods.registry import METHODS, PRESETS
from vae_tfp.models.decoder_types import DECODER_TYPES, PLUGIN_DECODER_KINDS

ROOT = Path(__file__).resolve().parents[1]
CAPACITY = ROOT / "examples" / "capacity_vae.py"
TOY = ROOT / "tests" / "plugins" / "toy_plugin.py"
STEP_SCHEDULE = ROOT / "tests" / "plugins" / "step_schedule.py"


@pytest.fixture
def registries():
    """Restores every registry and the loader's memory after the test."""
    saved = [
        (registry, dict(registry))
        for registry in (
            METHODS,
            PRESETS,
            DECODER_TYPES,
            PLUGIN_DECODER_KINDS,
            DATASETS,
            plugins._LOADED,
        )  # fmt: skip
    ]
    entry_points_done = plugins._ENTRY_POINTS_DONE
    yield
    for registry, content in saved:
        registry.clear()
        registry.update(content)
    plugins._ENTRY_POINTS_DONE = entry_points_done


def plugin_config(directory: Path) -> dict:
    """The tiny workflow config with the capacity plugin beside it, and runs of it."""
    shutil.copy(CAPACITY, directory / "capacity_vae.py")
    config = tiny_config()
    config["plugins"] = ["capacity_vae.py"]
    config["methods"]["cap_1"] = {
        "method": "capacity", "gamma": 2.0, "capacity_max": 1.0, "capacity_steps": 20,
    }  # fmt: skip
    config["grid"][0]["methods"].append("cap_1")
    return config


# ---- the worked example's defining property ---------------------------------------------


@pytest.mark.parametrize(
    ("step", "rates", "term", "gradient"),
    [
        # C(step) = 4 * min(1, step / 100); gamma = 10; the batch-mean total KL is the rate.
        (0, [[0.5, 0.5], [0.5, 0.5]], 10.0, 5.0),  # rate 1 above C = 0: pushed down
        (50, [[0.5, 0.5], [0.5, 0.5]], 10.0, -5.0),  # rate 1 below C = 2: pushed up
        (75, [[1.0, 2.0], [3.0, 2.0]], 10.0, 5.0),  # rate 4 above C = 3
        (10**6, [[0.0, 0.5], [0.0, 0.5]], 35.0, -5.0),  # C capped at 4
    ],
)
def test_capacity_plugin_pulls_the_rate_towards_the_rising_target(
    registries, step, rates, term, gradient
):
    """Burgess et al. 2018: KL term gamma |KL - C(step)|, gradient -gamma/B per example and
    dimension below the target (an anti-collapse push) and +gamma/B above it."""
    plugins.load_plugins([str(CAPACITY)])
    method = build_method(
        {"method": "capacity", "gamma": 10.0, "capacity_max": 4.0, "capacity_steps": 100}
    )
    kl_per_dim = tf.Variable(rates)
    with tf.GradientTape() as tape:
        value = method.kl_term(kl_per_dim, step)
    assert float(value) == pytest.approx(term)
    np.testing.assert_allclose(tape.gradient(value, kl_per_dim).numpy(), gradient)


# ---- checked at parse time like a built-in -----------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda c: c["methods"]["cap_1"].update(gama=3.0),
            "method variant 'cap_1' (methods.cap_1): method 'capacity' got unknown "
            "hyper-parameters ['gama']; accepted: ['gamma', 'capacity_max', 'capacity_steps', "
            "'kl_estimator']",
        ),
        (
            lambda c: c["methods"]["cap_1"].update(gamma=-1.0),
            "gamma must be > 0, got -1.0",
        ),
        (lambda c: c["methods"]["cap_1"].pop("capacity_steps"), "needs hyper-parameters"),
        (
            lambda c: c.update(plugins=["no_such_plugin_module"]),
            "plugins[0] 'no_such_plugin_module': no module named 'no_such_plugin_module'",
        ),
        (lambda c: c.update(plugins=["capacity_vea.py"]), "capacity_vea.py"),
    ],
    ids=["misspelt-hyperparameter", "out-of-range", "missing-required", "unknown-module",
         "missing-file"],
)  # fmt: skip
def test_bad_plugin_configs_are_named_before_any_work(registries, tmp_path, change, message):
    config = plugin_config(tmp_path)
    change(config)
    path = write_config(tmp_path, config)
    with pytest.raises(ConfigError) as error:
        check_experiment_config(load_experiment_config(path))
    assert message in str(error.value)


def test_bad_plugins_fail_the_snakemake_parse(tmp_path):
    """The same faults through Snakemake's parse (`-n`): no job, the culprit named."""
    for change, culprit in (
        (lambda c: c.update(plugins=["no_such_plugin_module"]), "no_such_plugin_module"),
        (lambda c: c["methods"]["cap_1"].update(gama=3.0), "['gama']"),
    ):
        directory = tmp_path / culprit.strip("[]'")
        directory.mkdir()
        config = plugin_config(directory)
        change(config)
        result = snakemake(directory, "-n", configfile=write_config(directory, config))
        assert result.returncode != 0
        assert culprit in result.stdout + result.stderr
        assert not (directory / "results").exists()


def test_a_plugin_must_register_something_under_a_free_name(registries, tmp_path):
    empty = tmp_path / "empty_plugin.py"
    empty.write_text("x = 1\n")
    with pytest.raises(plugins.PluginError, match="registered no method, decoder or dataset"):
        plugins.load_plugins([str(empty)])
    clash = tmp_path / "clash_plugin.py"
    clash.write_text(
        textwrap.dedent(
            """
            import dataclasses
            from typing import ClassVar
            from vae_tfp.methods import Method, register_method

            @register_method
            @dataclasses.dataclass(frozen=True)
            class Impostor(Method):
                name: ClassVar[str] = "beta"
                role: ClassVar[str] = "kl_weight"
            """
        )
    )
    with pytest.raises(plugins.PluginError, match="'beta' is already registered"):
        plugins.load_plugins([str(clash)])


def test_only_runs_that_use_a_plugin_name_it(registries, tmp_path, monkeypatch):
    """Run configs of built-in runs are unchanged (Snakemake reruns nothing when a plugin is
    added); a plugin run lists the file, relative to the working directory (where the jobs
    run) when it lies below it."""
    config = plugin_config(tmp_path)
    path = write_config(tmp_path, config)
    outside = load_experiment_config(path)
    assert outside["plugins"] == [str(tmp_path.resolve() / "capacity_vae.py")]
    monkeypatch.chdir(tmp_path)
    config = load_experiment_config(path)
    check_experiment_config(config)
    plain = resolve_run_config(config, RunKey("digits", "mlp", "vanilla", 3))
    assert "plugins" not in plain
    with_plugin = resolve_run_config(config, RunKey("digits", "mlp", "cap_1", 3))
    assert with_plugin["plugins"] == ["capacity_vae.py"]


def test_installed_entry_points_load_without_being_listed(tmp_path):
    """A distribution on the path (metadata and module, nothing installed) whose entry point
    in the group vae_tfp.methods names a method class: a config can use the method without
    `plugins:`, and the provenance records the distribution's version."""
    package = tmp_path / "site"
    (package / "lab_methods-1.2.3.dist-info").mkdir(parents=True)
    (package / "lab_methods-1.2.3.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: lab-methods\nVersion: 1.2.3\n"
    )
    (package / "lab_methods-1.2.3.dist-info" / "entry_points.txt").write_text(
        "[vae_tfp.methods]\nhalf_beta = lab_methods:HalfBeta\n"
    )
    (package / "lab_methods-1.2.3.dist-info" / "top_level.txt").write_text("lab_methods\n")
    (package / "lab_methods.py").write_text(
        textwrap.dedent(
            """
            import dataclasses
            from typing import ClassVar
            from vae_tfp.methods import Method

            @dataclasses.dataclass(frozen=True)
            class HalfBeta(Method):
                name: ClassVar[str] = "half_beta"
                role: ClassVar[str] = "kl_weight"
            """
        )
    )
    probe = textwrap.dedent(
        """
        import json
        from vae_tfp.config import check_experiment_config, resolve_run_config, RunKey
        from vae_tfp.plugins import plugin_provenance
        config = json.loads(CONFIG)
        check_experiment_config(config)
        run = resolve_run_config(config, RunKey("digits", "mlp", "half", 3))
        print(json.dumps({"run_plugins": run.get("plugins"), "loaded": plugin_provenance()}))
        """
    )
    config = tiny_config()
    config["methods"]["half"] = {"method": "half_beta"}
    config["grid"][0]["methods"].append("half")
    result = subprocess.run(
        [sys.executable, "-c", probe.replace("CONFIG", repr(json.dumps(config)))],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(package)},
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["run_plugins"] is None  # every process loads entry points by itself
    (record,) = out["loaded"]
    assert record["spec"] == "vae_tfp.methods:half_beta" and record["version"] == "1.2.3"
    assert record["distribution"] == "lab-methods"
    assert record["registered"] == {"methods": ["half_beta"]}


def test_methods_command_lists_declarations_of_builtins_and_plugins():
    """`python -m vae_tfp methods` prints every method with its declared hyper-parameters
    (type, range, default, description), plugins included, without TensorFlow."""
    probe = (
        "import sys\n"
        "from vae_tfp.cli import main\n"
        f"main(['methods', '--plugins', {str(CAPACITY)!r}])\n"
        "print('tensorflow' in sys.modules and "
        "type(sys.modules['tensorflow']).__name__ != '_LazyModule')\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "False"
    assert "capacity  [examples/capacity_vae.py:ControlledCapacity]" in lines
    assert "    - gamma: float > 0, required: weight of the distance between the rate and the " \
        "target" in lines  # fmt: skip
    assert "    - svi_steps: int >= 0, default 10: K, SVI steps per example (Kim et al.: 20; " \
        "He et al.: 10)" in lines  # fmt: skip


# ---- end to end --------------------------------------------------------------------------


@pytest.mark.slow
def test_plugin_method_decoder_and_dataset_run_to_the_tables(tmp_path):
    """A tiny Snakemake grid with a plugin method (on a built-in setting) and a plugin
    dataset with a plugin decoder, all from files next to the config: every job loads what
    it needs, the rows are in the summary table, and metrics.json records each plugin file's
    SHA-256. (That built-in runs name no plugin: test_only_runs_that_use_a_plugin_name_it.)"""
    config = plugin_config(tmp_path)
    shutil.copy(TOY, tmp_path / "toy_plugin.py")
    config["plugins"].append("toy_plugin.py")
    config["datasets"]["prototypes"] = {"options": {"flip": 0.1}}
    config["decoders"]["logistic"] = {"type": "logistic", "init_scale": 0.5}
    shutil.copy(STEP_SCHEDULE, tmp_path / "step_schedule.py")
    config["plugins"].append("step_schedule.py")
    # A plugin part (a schedule) composed with a built-in floor: weight 0.2 for the first
    # 20 updates (the first epoch: 1,257 training digits in batches of 64), then 1.
    config["methods"]["step_fb"] = {
        "method": "kl_step + free_bits", "low": 0.2, "switch_step": 20, "lambda": 0.1,
    }  # fmt: skip
    config["grid"] = [
        {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["cap_1", "step_fb"]},
        {"datasets": ["prototypes"], "decoders": ["logistic"], "methods": ["cap_1"]},
    ]
    configfile = write_config(tmp_path, config)
    # The tables, and a figure job that needs the plugin decoder (the report's other jobs
    # read only tables and histories: tests/test_workflow.py runs them).
    targets = (
        "results/tiny/tables/summary.md",
        "results/tiny/figures/prototypes/logistic/cap_1_reconstructions.png",
    )
    result = snakemake(
        tmp_path, *targets, "--cores", "2", "--show-failed-logs", configfile=configfile
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-10000:]

    results = tmp_path / "results" / config["experiment"]
    assert (results / "figures/prototypes/logistic/cap_1_reconstructions.png").stat().st_size
    with open(results / "tables" / "summary.csv", newline="") as f:
        rows = {(r["dataset"], r["decoder"], r["method"]): r for r in csv.DictReader(f)}
    assert set(rows) == {
        ("digits", "mlp", "cap_1"),
        ("digits", "mlp", "step_fb"),
        ("prototypes", "logistic", "cap_1"),
    }
    history = pd.read_csv(results / "runs" / "digits" / "mlp" / "step_fb" / "seed3" / "history.csv")
    np.testing.assert_allclose(history["kl_weight"], [0.2, 1.0], rtol=1e-6)
    assert rows[("prototypes", "logistic", "cap_1")]["method_name"] == "capacity"
    table = (results / "tables" / "summary.md").read_text()
    assert "| prototypes" in table and "| cap_1" in table

    digests = {
        name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
        for name in ("capacity_vae.py", "toy_plugin.py", "step_schedule.py")
    }
    for key in iter_runs(config):
        run_dir = results / "runs" / key.dataset / key.decoder / key.method / f"seed{key.seed}"
        run_config = json.loads((run_dir / "run_config.json").read_text())
        loaded = json.loads((run_dir / "metrics.json").read_text())["provenance"]["plugins"]
        by_file = {Path(p["path"]).name: p for p in loaded if p["source"] == "file"}
        for name, record in by_file.items():
            assert record["sha256"] == digests[name]
        # Each run names the plugins its method's parts come from, and only those.
        provider = "step_schedule.py" if key.method == "step_fb" else "capacity_vae.py"
        assert provider in run_config["plugins"] and provider in by_file
    toy = json.loads((results / "runs/prototypes/logistic/cap_1/seed3/metrics.json").read_text())[
        "provenance"
    ]["plugins"]
    assert {Path(p["path"]).name for p in toy} == {"capacity_vae.py", "toy_plugin.py"}
    registered = {Path(p["path"]).name: p["registered"] for p in toy}
    assert registered["toy_plugin.py"] == {"datasets": ["prototypes"], "decoders": ["logistic"]}

    # Unchanged config: nothing to do; changing the plugin method's hyper-parameter
    # re-plans its runs only.
    again = snakemake(tmp_path, *targets, "-n", configfile=configfile)
    assert "Nothing to be done" in again.stdout + again.stderr
    changed = copy.deepcopy(config)
    changed["methods"]["cap_1"]["gamma"] = 3.0
    replan = snakemake(tmp_path, *targets, "-n", configfile=write_config(tmp_path, changed))
    assert replan.returncode == 0, replan.stderr
    assert retrained(replan) == {("digits", "cap_1"), ("prototypes", "cap_1")}
    # An edit to a plugin file re-runs what uses it: the dataset's preparation and runs.
    write_config(tmp_path, config)
    with open(tmp_path / "toy_plugin.py", "a") as plugin:
        plugin.write("# an edit\n")
    replan = snakemake(tmp_path, *targets, "-n", "-p", configfile=configfile)
    assert replan.returncode == 0, replan.stderr
    assert retrained(replan) == {("prototypes", "cap_1")}
    jobs = planned_jobs(replan.stdout)
    assert {job["wildcards"]["dataset"] for job in jobs if job["rule"] == "prepare"} == {
        "prototypes"
    }


def retrained(result) -> set[tuple[str, str]]:
    """(dataset, method) of the train jobs a dry run plans."""
    return {
        (job["wildcards"]["dataset"], job["wildcards"]["method"])
        for job in planned_jobs(result.stdout)
        if job["rule"] == "train"
    }
