"""Run records: the evaluated runs' small files copied into a folder kept in the
repository, from which the interim tables are the same as from the results."""

import json
import os
import shutil

import pytest
from test_interim import _config, _evaluate

from vae_tfp.cli import main
from vae_tfp.config import RunKey
from vae_tfp.report import records as records_module
from vae_tfp.report.interim import evaluation_state, write_interim_tables
from vae_tfp.report.records import check_run_records, record_runs
from vae_tfp.status import run_folder

VANILLA_0 = RunKey("digits", "mlp", "vanilla", 0)


def _with_training_files(run_dir):
    """Gives an evaluated run folder the files training leaves beside metrics.json, weights
    and a pretraining run included, all older than metrics.json."""
    names = ("run_config.json", "history.csv", "train.log", "checkpoint/best.json", "samples.npz")
    for name in names:
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_text(f"{name} of {run_dir.name}")
    (run_dir / "checkpoint" / "best.data-00000-of-00001").write_bytes(b"weights")
    (run_dir / "pretrain" / "checkpoint").mkdir(parents=True)
    (run_dir / "pretrain" / "history.csv").write_text("epoch\n1\n")
    (run_dir / "pretrain" / "checkpoint" / "best.index").write_bytes(b"weights")
    metrics = run_dir / "metrics.json"
    metrics.write_text(metrics.read_text())  # written last, as evaluation does
    return run_dir


def _rows(table):
    return [line for line in table.read_text().splitlines() if line.startswith("|")]


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_records_keep_the_current_runs_without_weights_and_give_the_same_tables(tmp_path):
    config = _config()
    results, records = tmp_path / "results" / "t", tmp_path / "records" / "t"
    _with_training_files(_evaluate(results, config, "vanilla", 0, -20.0).parent)
    _evaluate(results, config, "beta_0.5", 1, -21.0)
    stale = _evaluate(results, config, "vanilla", 1, -22.0)
    payload = json.loads(stale.read_text())
    payload["config"]["training"]["epochs"] = 3
    stale.write_text(json.dumps(payload))

    outcome = record_runs(results, records, config)

    assert sorted(outcome["written"]) == sorted([VANILLA_0, RunKey("digits", "mlp", "beta_0.5", 1)])
    assert len(outcome["not_current"]) == 3  # the stale run and two never evaluated
    assert _files(run_folder(records, VANILLA_0)) == [
        "history.csv",
        "metrics.json",
        "pretrain/history.csv",
        "run_config.json",
        "samples.npz",
        "train.log",
    ]
    assert not run_folder(records, RunKey("digits", "mlp", "vanilla", 1)).exists()
    write_interim_tables(results, config)
    write_interim_tables(records, config)
    # The same rows; the captions differ (the records do not hold the stale run, so they
    # list it as not evaluated where the results list it as left out) and summary.csv's
    # run folders.
    for table in ("summary.md", "datasets/digits.md"):
        made_here = _rows(records / "tables" / "interim" / table)
        assert len(made_here) == 4 and made_here == _rows(results / "tables" / "interim" / table)


def test_records_outlive_their_results_and_follow_a_new_evaluation(tmp_path):
    config = _config()
    results, records = tmp_path / "results" / "t", tmp_path / "records" / "t"
    _evaluate(results, config, "vanilla", 0, -20.0)
    _evaluate(results, config, "beta_0.5", 0, -21.0)
    record_runs(results, records, config)
    again = record_runs(results, records, config)
    assert again["written"] == [] and len(again["unchanged"]) == 2

    shutil.rmtree(run_folder(results, VANILLA_0))  # the machine that ran it is gone
    _evaluate(results, config, "beta_0.5", 0, -19.0)  # evaluated again
    outcome = record_runs(results, records, config)

    assert VANILLA_0 in outcome["not_current"]
    assert json.loads((run_folder(records, VANILLA_0) / "metrics.json").read_text())
    assert outcome["written"] == [RunKey("digits", "mlp", "beta_0.5", 0)]
    beta = json.loads((run_folder(records, outcome["written"][0]) / "metrics.json").read_text())
    assert beta["metrics"]["elbo"] == -19.0
    assert sorted(p.name for p in run_folder(records, VANILLA_0).parent.parent.iterdir()) == [
        "beta_0.5",
        "vanilla",
    ]


def test_a_failed_copy_leaves_the_older_record_as_it_was(tmp_path, monkeypatch):
    config = _config()
    results, records = tmp_path / "results" / "t", tmp_path / "records" / "t"
    _with_training_files(_evaluate(results, config, "vanilla", 0, -20.0).parent)
    record_runs(results, records, config)
    before = (run_folder(records, VANILLA_0) / "metrics.json").read_bytes()
    _evaluate(results, config, "vanilla", 0, -18.0)
    copied = []

    def copy_then_fail(source, target):
        if copied:
            raise OSError("disk full")
        copied.append(source)
        shutil.copyfile(source, target)

    monkeypatch.setattr(records_module.shutil, "copy2", copy_then_fail)
    with pytest.raises(OSError, match="disk full"):
        record_runs(results, records, config)

    record = run_folder(records, VANILLA_0)
    assert (record / "metrics.json").read_bytes() == before
    assert "history.csv" in _files(record)
    assert [p.name for p in record.parent.iterdir()] == ["seed0"]  # no staging left behind


def test_a_replacement_stopped_between_its_renames_puts_the_older_record_back(
    tmp_path, monkeypatch
):
    """A stop after the older record is renamed aside and before the new one takes its
    place leaves no record; the next call puts the older one back, also for a run that is
    no longer under results (another machine's)."""
    config = _config()
    results, records = tmp_path / "results" / "t", tmp_path / "records" / "t"
    _with_training_files(_evaluate(results, config, "vanilla", 0, -20.0).parent)
    record_runs(results, records, config)
    before = _files(run_folder(records, VANILLA_0))
    older = (run_folder(records, VANILLA_0) / "metrics.json").read_bytes()
    _evaluate(results, config, "vanilla", 0, -18.0)
    real_rename = records_module.Path.rename

    def stop_after_retiring(self, target):
        moved = real_rename(self, target)
        if target.name.endswith("-replaced"):
            raise KeyboardInterrupt
        return moved

    monkeypatch.setattr(records_module.Path, "rename", stop_after_retiring)
    with pytest.raises(KeyboardInterrupt):
        record_runs(results, records, config)
    monkeypatch.undo()
    record = run_folder(records, VANILLA_0)
    assert not record.exists()

    shutil.rmtree(results)  # the run is gone from this machine: nothing to copy anew
    assert VANILLA_0 in record_runs(results, records, config)["not_current"]
    assert _files(record) == before
    assert (record / "metrics.json").read_bytes() == older
    assert [p.name for p in record.parent.iterdir()] == ["seed0"]


def test_a_record_stays_current_whatever_order_a_checkout_writes_its_files_in(tmp_path):
    """git sets no file times: a record's metrics.json may be older than its other files."""
    config = _config()
    results, records = tmp_path / "results" / "t", tmp_path / "records" / "t"
    _with_training_files(_evaluate(results, config, "vanilla", 0, -20.0).parent)
    record_runs(results, records, config)
    record = run_folder(records, VANILLA_0)
    for path in record.rglob("*"):
        os.utime(path, (2e9, 2e9))
    os.utime(record / "metrics.json", (1e9, 1e9))

    assert evaluation_state(records, config, VANILLA_0) == "current"


def test_the_command_refuses_a_folder_without_runs(tmp_path, capsys):
    config = tmp_path / "t.yaml"
    config.write_text(json.dumps(_config()))
    with pytest.raises(SystemExit, match="has no runs/ folder: nothing to record"):
        main(["record-runs", str(tmp_path / "t"), str(tmp_path / "r"), "--configfile", str(config)])


def test_the_workflow_takes_records_only_when_every_run_has_a_current_complete_one(tmp_path):
    """check_run_records (config run_records) names each run without a record, recorded
    under another run config, or without a file the tables and report read."""
    config = _config()
    results, records = tmp_path / "results" / "t", tmp_path / "records" / "t"
    runs = [("beta_0.5", 0), ("beta_0.5", 1), ("vanilla", 0), ("vanilla", 1)]
    for method, seed in runs:
        _with_training_files(_evaluate(results, config, method, seed, -20.0).parent)
    gaussian = _evaluate(results, config, "vanilla", 0, -5.0, dataset="linear_gaussian").parent
    _with_training_files(gaussian)
    assert len(record_runs(results, records, config)["written"]) == 5
    check_run_records(records, config)  # every run: no error

    (run_folder(records, VANILLA_0) / "samples.npz").unlink()
    shutil.rmtree(run_folder(records, RunKey("digits", "mlp", "beta_0.5", 1)))
    stale = run_folder(records, RunKey("linear_gaussian", "mlp", "vanilla", 0)) / "metrics.json"
    payload = json.loads(stale.read_text())
    payload["config"]["training"]["epochs"] = 3
    stale.write_text(json.dumps(payload))
    with pytest.raises(ValueError) as error:
        check_run_records(records, config)
    message = str(error.value)
    assert "digits × mlp × vanilla seed 0: the record has no samples.npz" in message
    assert "digits × mlp × beta_0.5 seed 1: no record" in message
    assert "linear_gaussian × mlp × vanilla seed 0: recorded under another run config" in message
    assert "beta_0.5 seed 0" not in message and "vanilla seed 1" not in message
