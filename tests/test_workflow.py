"""The Snakemake workflow: config schema, parse-time validation, the job grid, end to end.

Snakemake runs in a subprocess, with the interpreter running the tests, in a temporary
working directory (``--directory``), so no test writes into the repository.
"""

from __future__ import annotations

import copy
import csv
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vae_tfp.config import (
    RunKey,
    iter_runs,
    load_experiment_config,
    pretraining_run_config,
    resolve_run_config,
    training_config,
)
from vae_tfp.data.registry import DATASETS
from vae_tfp.methods.registry import METHODS, method_declarations
from vae_tfp.models.decoder_types import DECODER_TYPES, STRUCTURAL_ARGS, decoder_class
from vae_tfp.report.interim import write_interim_tables

ROOT = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")
SCHEMA = ROOT / "workflows" / "schemas" / "config.schema.yaml"
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"


def _load_yaml(path: Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def schema() -> dict:
    return _load_yaml(SCHEMA)


@pytest.fixture(scope="module")
def default_config() -> dict:
    return _load_yaml(DEFAULT_CONFIG)


def tiny_config() -> dict:
    """A small experiment: two datasets, three runs, seconds of training each."""
    return {
        "experiment": "tiny",
        "data_seed": 0,
        "seeds": [3],
        "datasets": {
            "digits": {
                "options": {"threshold": 8, "valid_fraction": 0.1, "test_fraction": 0.2},
                "model": {"latent_dim": 2},
            },
            "linear_gaussian": {
                "options": {
                    "data_dim": 4,
                    "spectrum": [1.5, 0.0],
                    "noise_std": 0.5,
                    "n_train": 300,
                    "n_valid": 100,
                    "n_test": 100,
                },
            },
        },
        "decoders": {"mlp": {"type": "mlp", "hidden_units": [16]}, "lin": {"type": "linear"}},
        "methods": {
            "vanilla": {"method": "vanilla"},
            "fb_0.25": {"method": "free_bits", "lambda": 0.25},
        },
        "grid": [
            {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["vanilla", "fb_0.25"]},
            {"datasets": ["linear_gaussian"], "decoders": ["lin"], "methods": ["vanilla"]},
        ],
        "model": {"latent_dim": 2, "encoder_hidden_units": [16]},
        "training": {"epochs": 2, "batch_size": 64, "learning_rate": 0.01},
        "evaluation": {
            "iw_samples": 5,
            "iw_chunk": 5,
            "batch_size": 200,
            "au_threshold": 0.01,
            "mi_samples": 2,
            "mi_minibatch_size": 50,
        },
        "threads": 1,
    }


def write_config(directory: Path, config: dict) -> Path:
    path = directory / "experiment.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path.resolve()


def snakemake(workdir: Path, *args: str, configfile: Path | None = None, timeout: int = 600):
    """Runs the repository's workflow in ``workdir``; returns the completed process."""
    command = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir),
        *args,
    ]  # fmt: skip
    if configfile is not None:
        command += ["--configfile", str(configfile)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )


def planned_jobs(output: str) -> list[dict]:
    """The jobs of a ``snakemake -n -p`` listing: rule, wildcards and shell command."""
    jobs: list[dict] = []
    for line in output.splitlines():
        if match := re.fullmatch(r"(?:local)?rule (\w+):", line.strip()):
            jobs.append({"rule": match.group(1), "wildcards": {}, "shell": None})
        elif jobs and (match := re.fullmatch(r"wildcards: (.*)", line.strip())):
            jobs[-1]["wildcards"] = dict(item.split("=", 1) for item in match.group(1).split(", "))
        elif jobs and line.startswith("Shell command: "):
            jobs[-1]["shell"] = line.removeprefix("Shell command: ")
    return jobs


def option_value(shell: str, option: str) -> str:
    words = shlex.split(shell)
    return words[words.index(option) + 1]


# ---- (a) the schema's names are the registries' names ---------------------------------


def test_schema_dataset_entries_equal_registry(schema):
    datasets = schema["properties"]["datasets"]
    assert sorted(datasets["properties"]) == sorted(DATASETS)


def test_schema_dataset_options_equal_builder_arguments(schema):
    for name, spec in DATASETS.items():
        options = schema["properties"]["datasets"]["properties"][name]["properties"]["options"]
        assert sorted(options["properties"]) == sorted(spec.option_names()), name


def test_schema_decoder_types_and_options_equal_registry(schema):
    variant = schema["$defs"]["decoder_variant"]
    by_type = {
        rule["if"]["properties"]["type"]["const"]: set(rule["then"]["properties"]) - {"type"}
        for rule in variant["allOf"]
    }
    assert sorted(by_type) == sorted(DECODER_TYPES)
    for name in DECODER_TYPES:
        cls = decoder_class(name)
        accepted = set(inspect.signature(cls.__init__).parameters) - set(STRUCTURAL_ARGS)
        assert by_type[name] == accepted, name


def test_method_hyperparameters_are_declared_once_on_the_class(schema):
    """The schema names no method and no hyper-parameter: every hyper-parameter of every
    built-in method is a declared field of its class, the one source config validation
    reads. Fields without a declaration are filled in at run time (bind), never configured."""
    import dataclasses

    variant = schema["$defs"]["method_variant"]
    assert set(variant["properties"]) == {"method"} and "allOf" not in variant
    run_time_fields = {"steps_per_epoch", "nominal_steps_per_epoch"}
    for name, cls in METHODS.items():
        fields = {f.name for f in dataclasses.fields(cls)} - run_time_fields
        declared = {d.field for d in method_declarations(name).values()}
        assert declared == fields, name
        for declaration in method_declarations(name).values():
            assert declaration.param.description, (name, declaration.field)


# ---- (b) a bad config fails at parse time, naming the problem --------------------------


@pytest.mark.parametrize(
    ("change", "culprit"),
    [
        (lambda c: c["methods"].update(vanilla={"method": "vanila"}), "vanila"),
        (lambda c: c["grid"][0]["methods"].append("fb_2"), "fb_2"),
        (lambda c: c["methods"].update(b={"method": "beta", "beta": 1.0, "lambda": 1}), "lambda"),
        (lambda c: c["datasets"]["digits"]["options"].update(thresold=8), "thresold"),
        (lambda c: c["datasets"].update(digitz=c["datasets"].pop("digits")), "digitz"),
        (lambda c: c["decoders"].update(mlp={"type": "transformer"}), "transformer"),
        (lambda c: c["methods"].update({"fb_0.25": {"method": "free_bits", "lambda": -1}}), "-1"),
        (lambda c: c["evaluation"].update(iw_samples=0), "iw_samples"),
        (lambda c: c["training"].update(epochs="ten"), "ten"),
        (lambda c: c["training"].update(deterministic="no"), "deterministic"),
        (lambda c: c.update(seeds=[3, 3]), "non-unique"),
        (lambda c: c["grid"][0].update(decoders=["lin"]), "does not apply to dataset 'digits'"),
        (
            lambda c: (
                c["methods"].update(wd={"method": "word_dropout", "p": 0.3}),
                c["grid"][0]["methods"].append("wd"),
            ),
            "lstm decoder on token data",
        ),
        (lambda c: c.update(epocs=3), "epocs"),
        (lambda c: c.update(resources={"gpu_decoders": ["lstm_big"]}), "lstm_big"),
        (
            lambda c: c["methods"].update({"fb_0.25": {"method": "free_bits", "lambda": NAN}}),
            "methods.fb_0.25): lambda must be a finite number >= 0, got nan",
        ),
        (lambda c: c["training"].update(learning_rate=INF), "training.learning_rate is inf"),
        (
            lambda c: c["datasets"]["linear_gaussian"]["options"]["spectrum"].__setitem__(1, NAN),
            "datasets.linear_gaussian.options.spectrum[1] is nan",
        ),
        (
            lambda c: c["methods"].update(sa={"method": "sa_vae", "svi_step": 5}),
            "unknown hyper-parameters ['svi_step']; accepted: ['svi_steps', 'svi_lr'",
        ),
    ],
    ids=[
        "misspelt-method",
        "undefined-variant-in-grid",
        "foreign-hyperparameter",
        "typo-option",
        "unknown-dataset",
        "unknown-decoder-type",
        "negative-lambda",
        "zero-importance-samples",
        "wrong-type",
        "non-boolean-switch",
        "duplicate-seeds",
        "decoder-incompatible-with-data",
        "method-inapplicable-to-decoder",
        "unknown-top-level-key",
        "gpu-decoder-not-defined",
        "nan-hyperparameter",
        "infinite-learning-rate",
        "nan-in-a-list",
        "misspelt-sa-vae-hyperparameter",
    ],
)
def test_bad_config_is_rejected_before_any_job(tmp_path, change, culprit):
    config = tiny_config()
    change(config)
    result = snakemake(tmp_path, "-n", configfile=write_config(tmp_path, config))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert culprit in output
    assert not (tmp_path / "results").exists()


# ---- (c) the dry run plans exactly the grid --------------------------------------------


def test_dry_run_of_default_config_plans_one_train_job_per_run(tmp_path, default_config):
    # No --configfile: the Snakefile's embedded default applies, also under --directory.
    result = snakemake(tmp_path, "-n", "-p")
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = planned_jobs(result.stdout)
    train = [job["wildcards"] for job in jobs if job["rule"] == "train"]
    planned = [RunKey(w["dataset"], w["decoder"], w["method"], int(w["seed"])) for w in train]
    expected = list(iter_runs(default_config))
    assert sorted(planned) == sorted(expected)
    assert len(planned) == len(expected)
    counts = {rule: sum(job["rule"] == rule for job in jobs) for rule in ("evaluate", "aggregate")}
    assert counts == {"evaluate": len(expected), "aggregate": 1}
    prepared = {job["wildcards"]["dataset"] for job in jobs if job["rule"] == "prepare"}
    assert prepared == {key.dataset for key in expected}


def test_given_configfile_replaces_the_default_and_reaches_train_unchanged(tmp_path):
    config = tiny_config()
    result = snakemake(tmp_path, "-n", "-p", configfile=write_config(tmp_path, config))
    assert result.returncode == 0, result.stdout + result.stderr
    received = {}
    for job in planned_jobs(result.stdout):
        if job["rule"] == "train":
            run_config = json.loads(option_value(job["shell"], "--run-config-json"))
            key = RunKey(*(run_config[k] for k in ("dataset", "decoder", "method", "seed")))
            received[key] = run_config
    # Merged with config/config.yaml, digits would train for the default's 60 epochs.
    expected = {key: training_config(resolve_run_config(config, key)) for key in iter_runs(config)}
    assert received == expected


def test_a_method_starting_from_a_pretraining_run_plans_that_run_first(tmp_path):
    """A ``pretrain_run`` method (Li et al. 2019's text_beta.py --beta 0, then
    text_anneal_fb.py --load_path --reset_dec): the dry run plans a pretrain job into the
    run's pretrain/ folder with the run's config and an autoencoder's method, before the
    run's train job; runs of other methods get none."""
    config = tiny_config()
    config["methods"]["ae_then_fb"] = {
        "method": "pretrain_run + kl_anneal + free_bits_example",
        "beta0": 0.0,
        "warmup_epochs": 1,
        "lambda": 0.25,
    }
    config["grid"][0]["methods"].append("ae_then_fb")
    result = snakemake(tmp_path, "-n", "-p", configfile=write_config(tmp_path, config))
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = planned_jobs(result.stdout)
    pretrain = [job for job in jobs if job["rule"] == "pretrain"]
    assert [job["wildcards"]["method"] for job in pretrain] == ["ae_then_fb"]
    (job,) = pretrain
    key = RunKey("digits", "mlp", "ae_then_fb", 3)
    assert json.loads(option_value(job["shell"], "--run-config-json")) == (
        pretraining_run_config(resolve_run_config(config, key))
    )
    assert option_value(job["shell"], "--run-dir").endswith("/ae_then_fb/seed3/pretrain")
    order = [(job["rule"], job["wildcards"].get("method")) for job in jobs]
    assert order.index(("pretrain", "ae_then_fb")) < order.index(("train", "ae_then_fb"))


def test_jobs_ask_for_the_configured_resources_and_gpus(tmp_path):
    """Rules declare mem_mb, runtime and gpu from the config's `resources` (what a cluster
    profile maps to its requests); only gpu_decoders' jobs ask for a GPU, the others are
    told to hide it (--gpus 0)."""
    config = tiny_config()
    config["resources"] = {"train": {"mem_mb": 1234, "runtime": 56}, "gpu_decoders": ["mlp"]}
    result = snakemake(tmp_path, "-n", "-p", configfile=write_config(tmp_path, config))
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = [job for job in planned_jobs(result.stdout) if job["rule"] in ("train", "evaluate")]
    assert len(jobs) == 2 * len(list(iter_runs(config)))
    for job in jobs:
        wanted = 1 if job["wildcards"]["decoder"] == "mlp" else 0
        assert option_value(job["shell"], "--gpus") == str(wanted), job
    resources = re.findall(r"resources: (.*)", result.stdout)
    assert sum("mem_mb=1234" in line and "runtime=56" in line for line in resources) == 3
    assert sum("gpu=1" in line for line in resources) == 4  # train + evaluate of 2 mlp runs
    # Evaluate jobs keep the defaults.
    assert sum("mem_mb=4000" in line and "runtime=120" in line for line in resources) == 3


def test_lint_reports_nothing(tmp_path):
    """`snakemake --lint`: every rule has its log, conda environment and parameters."""
    result = snakemake(tmp_path, "--lint")
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Lints for" not in output, output[-5000:]


@pytest.mark.parametrize(
    "profile",
    # The SLURM profile needs the executor plugin, the `slurm` extra that `make test-cluster`
    # installs: that target runs this case.
    ["default", "gpu", pytest.param("slurm", marks=pytest.mark.cluster)],
)
def test_every_profile_plans_the_grid(tmp_path, profile):
    """Each profile is a valid set of Snakemake options (the SLURM one with its executor
    plugin installed); a dry run with it plans one train job per run."""
    config = tiny_config()
    result = snakemake(
        tmp_path,
        "-n",
        "--profile",
        str(ROOT / "workflows" / "profiles" / profile),
        configfile=write_config(tmp_path, config),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    train = [job for job in planned_jobs(result.stdout) if job["rule"] == "train"]
    assert len(train) == len(list(iter_runs(config)))


# ---- (d) end to end --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory) -> tuple[Path, dict, subprocess.CompletedProcess]:
    """The tiny experiment run once to its tables, read by two tests: the work directory,
    the config and Snakemake's completed process. Tests change no file in it (their
    changed configs go to their own folders)."""
    workdir = tmp_path_factory.mktemp("tiny")
    config = tiny_config()
    # Report options that change the tables, so the interim tables' check sees them.
    config["report"] = {"informative_mi": 0.05, "published_conventions": True}
    configfile = write_config(workdir, config)
    result = snakemake(workdir, "--cores", "2", "--show-failed-logs", configfile=configfile)
    return workdir, config, result


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_pipeline")  # one worker runs its module fixture
def test_tiny_experiment_runs_to_the_tables(tiny_pipeline, tmp_path):
    workdir, config, result = tiny_pipeline
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-10000:]
    configfile = workdir / "experiment.yaml"

    results = workdir / "results" / config["experiment"]
    runs = list(iter_runs(config))
    for key in runs:
        run_dir = results / "runs" / key.dataset / key.decoder / key.method / f"seed{key.seed}"
        for name in ("run_config.json", "history.csv", "metrics.json", "train.log"):
            assert (run_dir / name).is_file(), run_dir / name
        assert (run_dir / "checkpoint").is_dir()
        assert json.loads((run_dir / "run_config.json").read_text()) == training_config(
            resolve_run_config(config, key)
        )
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["config"] == resolve_run_config(config, key)
    tables = results / "tables"
    with open(tables / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(runs)
    planned = {(k.dataset, k.decoder, k.method, str(k.seed)) for k in runs}
    assert {(r["dataset"], r["decoder"], r["method"], r["seed"]) for r in rows} == planned
    for name in ("summary.md", "summary.tex"):
        assert (tables / name).stat().st_size > 0, name
    _assert_table_values_are_their_metrics(results)
    assert (results / "benchmarks" / "aggregate.tsv").is_file()
    _assert_report_files(workdir, results, config, configfile)

    # A second invocation finds everything up to date: no job re-runs on unchanged config.
    again = snakemake(workdir, "-n", configfile=configfile)
    assert again.returncode == 0, again.stderr
    assert "Nothing to be done" in again.stdout + again.stderr

    # Changing one method variant's hyper-parameter re-plans exactly that variant's runs.
    changed = copy.deepcopy(config)
    changed["methods"]["fb_0.25"]["lambda"] = 0.5
    replan = snakemake(workdir, "-n", configfile=write_config(tmp_path, changed))
    assert replan.returncode == 0, replan.stderr
    retrain = {
        job["wildcards"]["method"] for job in planned_jobs(replan.stdout) if job["rule"] == "train"
    }
    assert retrain == {"fb_0.25"}

    # Changing an evaluation setting re-runs evaluation only, never training.
    more_samples = copy.deepcopy(config)
    more_samples["evaluation"]["iw_samples"] += 1
    replan = snakemake(workdir, "-n", configfile=write_config(tmp_path, more_samples))
    assert replan.returncode == 0, replan.stderr
    rules = {job["rule"] for job in planned_jobs(replan.stdout)}
    assert "train" not in rules and "evaluate" in rules

    # What jobs ask of the scheduler is no part of the results: changing it re-runs nothing.
    moved = copy.deepcopy(config)
    moved["resources"] = {"train": {"mem_mb": 999, "runtime": 7}, "gpu_decoders": ["mlp"]}
    replan = snakemake(workdir, "-n", configfile=write_config(tmp_path, moved))
    assert replan.returncode == 0, replan.stderr
    assert "Nothing to be done" in replan.stdout + replan.stderr

    # `interim-tables` on the finished grid writes the workflow's tables: one reading of
    # the config's report section (vae_tfp/report/options.py) for both.
    write_interim_tables(results, load_experiment_config(configfile))
    digits = (tables / "datasets" / "digits.md").read_text()
    assert "I(x; z_i) > 0.05 nats (a fixed" in digits and "au_he2019" in digits
    for name in ("summary.md", "datasets/digits.md", "datasets/linear_gaussian.md"):
        assert (tables / "interim" / name).read_text() == (tables / name).read_text(), name


def _markdown_row(path: Path, method: str) -> dict[str, str]:
    """The cells of the first row of a Markdown table whose ``method`` column is ``method``."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    for line in lines[2:]:
        row = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        if row["method"] == method:
            return row
    raise AssertionError(f"no row of {method} in {path}")


def _assert_table_values_are_their_metrics(results: Path) -> None:
    """A number traced from the tables to its run: digits × mlp × vanilla, seed 3 (the only
    seed), in summary.csv (exactly), summary.md and the per-dataset table (as printed: two
    decimals and "(n = 1)", no ±)."""
    metrics_path = results / "runs" / "digits" / "mlp" / "vanilla" / "seed3" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())["metrics"]
    with open(results / "tables" / "summary.csv", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["dataset"] == "digits"
                   and r["decoder"] == "mlp" and r["method"] == "vanilla")  # fmt: skip
    assert row["run_dir"].endswith("runs/digits/mlp/vanilla/seed3")  # relative to the workdir
    for name in ("nll_iw", "kl", "mi"):
        assert float(row[name]) == pytest.approx(metrics[name], rel=1e-12, abs=1e-12), name
    summary = _markdown_row(results / "tables" / "summary.md", "vanilla")  # digits sorts first
    digits = _markdown_row(results / "tables" / "datasets" / "digits.md", "vanilla")
    for name in ("nll_iw", "kl"):
        printed = f"{metrics[name]:.2f} (n = 1)"
        assert summary[name] == printed and digits[name].strip("*") == printed, name


def _assert_report_files(workdir: Path, results: Path, config: dict, configfile: Path) -> None:
    """The tables and figures of the report layer exist, are non-empty, follow the config's
    order, and `snakemake --report` builds a report that lists every registered figure."""
    tables = results / "tables"
    digits = (tables / "datasets" / "digits.md").read_text()
    assert digits.index("| vanilla") < digits.index("| fb_0.25")  # baseline first
    for name in ("statistics.md", "statistics.tex", "runs_long.csv", "units.csv"):
        assert (tables / name).stat().st_size > 0, name
    units = list(csv.DictReader(open(tables / "units.csv", newline="")))
    assert len(units) == sum(2 for _ in iter_runs(config))  # latent_dim 2 everywhere
    figures = results / "figures"
    registered = [
        figures / "digits" / "rate_distortion.png",
        figures / "linear_gaussian" / "rate_distortion.png",
        *(figures / "digits" / "mlp" / f"{m}_{kind}.png"
          for m in ("vanilla", "fb_0.25") for kind in ("reconstructions", "prior_samples")),
        *(figures / d / dec / f"{stem}.png"
          for d, dec in (("digits", "mlp"), ("linear_gaussian", "lin"))
          for stem in ("kl_per_dim", "mi_per_dim", "curve_kl", "curve_valid_mi", "curve_valid_au")),
    ]  # fmt: skip
    for path in registered:
        assert path.stat().st_size > 1000, path
        assert path.with_suffix(".pdf").stat().st_size > 1000, path.with_suffix(".pdf")
    report = workdir / "report.html"
    built = snakemake(workdir, "--report", str(report), configfile=configfile)
    assert built.returncode == 0, built.stderr[-5000:]
    html = report.read_text()
    for path in registered:
        assert path.name in html, f"{path} not in the report"


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_pipeline")  # one worker runs its module fixture
def test_tables_and_report_from_run_records_equal_those_from_the_runs(tiny_pipeline, tmp_path):
    """With `run_records` the workflow reads a records folder (vae_tfp/report/records.py)
    and trains nothing: the same tables and a report with every figure; a grid run without
    a record stops it before any job."""
    import pandas as pd

    from vae_tfp.report.records import record_runs
    from vae_tfp.status import run_folder

    straight_dir, config, done = tiny_pipeline
    assert done.returncode == 0, done.stderr[-5000:]
    straight = straight_dir / "results" / config["experiment"]
    records = tmp_path / "records" / config["experiment"]
    assert len(record_runs(straight, records, config)["written"]) == len(list(iter_runs(config)))
    workdir = tmp_path / "from_records"
    workdir.mkdir()
    configfile = write_config(workdir, {**config, "run_records": str(records)})

    built = snakemake(workdir, "--cores", "2", "--show-failed-logs", configfile=configfile)

    assert built.returncode == 0, built.stdout[-5000:] + built.stderr[-10000:]
    ran = {job["rule"] for job in planned_jobs(built.stdout)} | set(
        re.findall(r"Rule: (\w+)", built.stdout + built.stderr)
    )
    assert ran and not ran & {"prepare", "train", "evaluate"}, ran
    results = workdir / "results" / config["experiment"]
    assert not (results / "runs").exists()

    def table(directory):
        frame = pd.read_csv(directory / "tables" / "summary.csv")
        return frame.drop(columns=["run_dir"])

    pd.testing.assert_frame_equal(table(results), table(straight))
    for name in ("datasets/digits.md", "datasets/linear_gaussian.md", "statistics.md"):
        assert (results / "tables" / name).read_text() == (straight / "tables" / name).read_text()
    _assert_report_files(workdir, results, config, configfile)

    shutil.rmtree(run_folder(records, RunKey("digits", "mlp", "fb_0.25", 3)))
    missing = snakemake(workdir, "-n", configfile=configfile)
    assert missing.returncode != 0
    assert "digits × mlp × fb_0.25 seed 3: no record" in missing.stdout + missing.stderr


# ---- (e) a killed pipeline completes on rerun with the same tables ---------------------


@pytest.mark.slow
@pytest.mark.xdist_group("tiny_pipeline")  # one worker runs its module fixture
def test_killed_pipeline_completes_on_rerun_with_identical_tables(tiny_pipeline, tmp_path):
    """SIGKILL the whole Snakemake process group once the first run is evaluated, unlock,
    rerun with --rerun-incomplete: the tables equal those of the uninterrupted run of
    ``tiny_pipeline`` (all columns but wall times and folder paths). Both ask for the
    summary table only: the figure and page jobs after it only read it and the runs'
    files (test_tiny_experiment_runs_to_the_tables runs them)."""
    import signal
    import time

    import pandas as pd

    straight_dir, config, done = tiny_pipeline
    assert done.returncode == 0, done.stderr[-5000:]
    summary_table = "results/tiny/tables/summary.csv"
    killed_dir = tmp_path / "killed"
    killed_dir.mkdir()

    configfile = write_config(killed_dir, config)
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(killed_dir), summary_table, "--cores", "2",
        "--configfile", str(configfile),  # last: it takes every value after it
    ]  # fmt: skip
    log = tmp_path / "killed.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command, cwd=killed_dir, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    runs = killed_dir / "results" / "tiny" / "runs"
    deadline = time.monotonic() + 400
    while not list(runs.glob("*/*/*/*/metrics.json")):
        if process.poll() is not None:
            pytest.fail(f"the pipeline ended before it could be killed:\n{log.read_text()[-3000:]}")
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (killed_dir / "results" / "tiny" / "tables" / "summary.csv").exists()

    assert snakemake(killed_dir, "--unlock", configfile=configfile).returncode == 0
    rerun = snakemake(
        killed_dir, summary_table, "--cores", "2", "--rerun-incomplete", configfile=configfile
    )
    assert rerun.returncode == 0, rerun.stderr[-5000:]

    def table(directory):
        frame = pd.read_csv(directory / "results" / "tiny" / "tables" / "summary.csv")
        return frame.drop(columns=["wall_time_s", "run_dir"])

    pd.testing.assert_frame_equal(table(killed_dir), table(straight_dir))
    # Snakemake deletes a job's log before the job: a run the kill interrupted after a
    # resume state still shows each of its training sessions, put back from that state
    # (tests/test_resume.py does so deterministically, outside Snakemake).
    for record in runs.glob("*/*/*/*/checkpoint/code_version.json"):
        log = (record.parent.parent / "train.log").read_text()
        sessions = json.loads(record.read_text())["sessions"]
        assert log.count("INFO root: training session:") == len(sessions), record


RUNS_ENTRY = {"row": "r", "dataset": "digits", "decoder": "mlp", "method": "vanilla"}


@pytest.mark.parametrize(
    ("entry", "valid"),
    [
        (RUNS_ENTRY, True),
        ({"row": "r", "not_run": "36 h per seed"}, True),
        ({**RUNS_ENTRY, "not_run": "x"}, False),
        ({"row": "r", "dataset": "digits", "not_run": "x"}, False),
        ({"row": "r", "dataset": "digits"}, False),
        ({"row": "r", "not_run": ""}, False),
    ],
)
def test_a_reproduce_entry_names_its_runs_or_why_it_was_not_run(schema, entry, valid):
    import jsonschema

    subschema = {
        "$defs": schema["$defs"],
        "type": "object",
        "properties": {"reproduce": schema["properties"]["reproduce"]},
    }
    errors = list(jsonschema.Draft202012Validator(subschema).iter_errors({"reproduce": [entry]}))
    assert (not errors) is valid


def test_the_schema_accepts_validation_noise_fixed_or_fresh_only(schema):
    import jsonschema

    config = _load_yaml(ROOT / "config" / "paper.yaml")
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(config))
    config["datasets"]["ptb"]["training"]["validation_noise"] = "random"
    errors = list(validator.iter_errors(config))
    assert errors and "validation_noise" in errors[0].json_path
