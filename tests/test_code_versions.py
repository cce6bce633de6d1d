"""Provenance of every row: the code version at training and at evaluation, in summary.csv
and runs_long.csv, and the tables' note (or refusal) when the rows come from different
code versions or a dirty tree."""

import hashlib
import json
import subprocess

import pandas as pd
import pytest
from docutils.core import publish_parts

from vae_tfp import cli
from vae_tfp.provenance import (
    TRAINING_SESSIONS,
    finish_training_sessions,
    source_hash,
    start_training_session,
    training_code_record,
)
from vae_tfp.report.aggregate import write_all_tables
from vae_tfp.report.code_versions import MixedCodeVersionsError, code_version_problems
from vae_tfp.report.stale import stale_runs
from vae_tfp.report.tables import write_dataset_table

CLEAN = {"commit": "c" * 40, "dirty": False, "package_version": "0.1.0", "source_hash": "a" * 64}


def _version(**changes):
    return {**CLEAN, **changes}


def _fake_run(root, method, seed, training=CLEAN, evaluation=CLEAN, versions=True):
    """A metrics.json of a digits x mlp run; ``versions=False``: one written before the
    suite recorded code versions (only provenance.git)."""
    run_dir = root / "runs" / "digits" / "mlp" / method / f"seed{seed}"
    run_dir.mkdir(parents=True)
    payload = {
        "run": {"experiment": "t", "dataset": "digits", "decoder": "mlp", "method": method,
                "seed": seed},
        "metrics": {"elbo": -20.0 - seed, "nll_iw": 19.0, "rec": -18.0, "kl": 2.0, "mi": 1.5,
                    "marginal_kl": 0.5, "au": 1, "kl_per_dim": [1.5, 0.5], "mi_per_dim": [1.4, 0.1],
                    "au_variances": [0.5, 0.001]},
        "standard_errors": {"elbo": 0.1, "nll_iw": 0.1},
        "estimators": {"iw_samples": 10, "n_test": 1000, "mi_samples": 10, "au_threshold": 0.01},
        "reference": {},
        "training": {"best_epoch": 4, "op_determinism": True},
        "evaluation_op_determinism": True,
        "wall_time_s": 1.0,
        "config": {"method_options": {"method": "vanilla"}, "decoder_options": {"type": "mlp"},
                   "model": {"latent_dim": 2}},
        "provenance": {"git": {"commit": evaluation["commit"], "dirty": evaluation["dirty"]}},
    }  # fmt: skip
    if versions:
        record = {**training, "across_versions": False, "sessions": [training]}
        payload["code_versions"] = {"training": record, "evaluation": evaluation}
    (run_dir / "metrics.json").write_text(json.dumps(payload))
    return run_dir / "metrics.json"


def _tables(tmp_path, paths, mode="mark"):
    out = tmp_path / "tables"
    write_all_tables(paths, out, code_versions=mode)
    summary = pd.read_csv(out / "summary.csv")
    write_dataset_table(summary, "digits", out / "datasets")
    return out, summary


def test_summary_and_long_csv_carry_both_code_versions(tmp_path):
    trained = _version(commit="1a" * 20, source_hash="b" * 64)
    paths = [_fake_run(tmp_path, "vanilla", s, training=trained) for s in (0, 1)]
    out, summary = _tables(tmp_path, paths)
    assert (summary["train_commit"] == "1a" * 20).all()
    assert (summary["train_source_hash"] == "b" * 64).all()
    assert (summary["eval_commit"] == "c" * 40).all()
    assert (summary["eval_source_hash"] == "a" * 64).all()
    assert not summary["train_dirty"].any() and not summary["eval_dirty"].any()
    assert not summary["train_across_versions"].any()
    assert (summary["eval_package_version"] == "0.1.0").all()
    long = pd.read_csv(out / "runs_long.csv")
    assert (long["train_source_hash"] == "b" * 64).all() and (long["eval_commit"] == "c" * 40).all()
    assert not long["metric"].str.contains("dirty|across|commit|hash").any()  # not metrics
    # Training under one code and evaluation under another is no mix: the note is absent.
    for table in (out / "summary.md", out / "datasets" / "digits.md", out / "summary.tex"):
        assert "Provenance warning" not in table.read_text()


def test_a_table_from_two_code_versions_is_marked_or_refused(tmp_path):
    paths = [
        _fake_run(tmp_path, "vanilla", 0),
        _fake_run(tmp_path, "vanilla", 1, training=_version(source_hash="d" * 64)),
    ]
    out, summary = _tables(tmp_path, paths)
    problems = code_version_problems(summary)
    assert problems == [f"runs trained under 2 code versions: source {'a' * 12} at {'c' * 12} "
                        f"(1 run); source {'d' * 12} at {'c' * 12} (1 run)"]  # fmt: skip
    for name in ("summary.md", "summary.tex", "datasets/digits.md", "datasets/digits.tex",
                 "datasets/digits.html"):  # fmt: skip
        assert "Provenance warning: runs trained under 2 code versions" in (out / name).read_text()
    with pytest.raises(MixedCodeVersionsError, match="trained under 2 code versions"):
        write_all_tables(paths, tmp_path / "refused", code_versions="refuse")
    assert not (tmp_path / "refused" / "summary.csv").exists()


def test_the_same_source_under_two_commits_is_one_version(tmp_path):
    """A commit that changes no package source (docs) does not mix the table."""
    paths = [
        _fake_run(tmp_path, "vanilla", 0),
        _fake_run(tmp_path, "vanilla", 1, training=_version(commit="e" * 40)),
    ]
    _, summary = _tables(tmp_path, paths, mode="refuse")
    assert code_version_problems(summary) == []


@pytest.mark.parametrize("stage", ["training", "evaluation"])
def test_a_dirty_tree_is_marked_and_refused(tmp_path, stage):
    dirty = {stage: _version(dirty=True)}
    paths = [_fake_run(tmp_path, "vanilla", 0), _fake_run(tmp_path, "vanilla", 1, **dirty)]
    out, summary = _tables(tmp_path, paths)
    done = {"training": "trained", "evaluation": "evaluated"}[stage]
    assert code_version_problems(summary) == [
        f"1 of 2 runs {done} from a git tree with uncommitted changes (the commit does not "
        "identify their code)"
    ]
    assert "uncommitted changes" in (out / "summary.md").read_text()
    assert "uncommitted changes" in (out / "datasets" / "digits.tex").read_text()
    with pytest.raises(MixedCodeVersionsError, match="uncommitted"):
        write_all_tables(paths, tmp_path / "refused", code_versions="refuse")


def test_runs_without_a_recorded_version_or_resumed_across_versions_are_marked(tmp_path):
    old = _fake_run(tmp_path, "vanilla", 0, versions=False)
    resumed = _fake_run(tmp_path, "vanilla", 1)
    payload = json.loads(resumed.read_text())
    payload["code_versions"]["training"]["across_versions"] = True
    resumed.write_text(json.dumps(payload))
    _, summary = _tables(tmp_path, [old, resumed])
    assert code_version_problems(summary) == [
        "1 of 2 runs have no recorded code version at training",
        "1 of 2 runs have no recorded code version at evaluation",  # only provenance.git
        "1 of 2 runs resumed training under another code version",
    ]
    assert summary.loc[0, "eval_commit"] == "c" * 40  # from provenance.git


def test_source_hash_is_the_documented_sha256sum_listing(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.py").write_text("b = 1\n")
    (tmp_path / "sub" / "a.py").write_text("a = 1\n")
    (tmp_path / "notes.txt").write_text("not source\n")
    digest, n = source_hash(tmp_path)
    listing = "".join(
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {name}\n"
        for name, p in [("b.py", tmp_path / "b.py"), ("sub/a.py", tmp_path / "sub" / "a.py")]
    )
    assert n == 2 and digest == hashlib.sha256(listing.encode()).hexdigest()
    shell = subprocess.run(
        "find . -name '*.py' -printf '%P\\n' | LC_ALL=C sort | xargs sha256sum | sha256sum",
        shell=True, cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert shell.stdout.split()[0] == digest
    (tmp_path / "sub" / "a.py").write_text("a = 2\n")
    assert source_hash(tmp_path)[0] != digest


def test_a_resumed_training_records_each_session_and_a_change_of_code(tmp_path, monkeypatch):
    """The train command's ledger: a session that finds a resume state continues the list,
    one that finds none starts it anew; checkpoint/code_version.json says across_versions."""
    current = {"source_hash": "a" * 64}
    monkeypatch.setattr(
        "vae_tfp.provenance.training_session",
        lambda resumes: {**CLEAN, **current, "resumed": resumes},
    )
    run_dir = tmp_path / "run"
    (run_dir / "resume").mkdir(parents=True)
    first = start_training_session(run_dir)  # interrupted: a resume state is left
    (run_dir / "resume" / "state-e00002-b000000.json").write_text("{}")
    current["source_hash"] = "f" * 64  # the code changed before the rerun
    sessions = start_training_session(run_dir)
    assert [s["resumed"] for s in sessions] == [False, True] and len(first) == 1
    finish_training_sessions(run_dir, sessions)
    record = json.loads((run_dir / "checkpoint" / "code_version.json").read_text())
    assert record["across_versions"] and record["source_hash"] == "f" * 64
    assert not (run_dir / TRAINING_SESSIONS).exists()
    # A fresh start (no resume state) forgets the sessions of an earlier training.
    (run_dir / "resume" / "state-e00002-b000000.json").unlink()
    start_training_session(run_dir)
    (run_dir / "resume" / "state-e00001-b000000.json").write_text("{}")
    sessions = start_training_session(run_dir)
    assert not training_code_record(sessions)["across_versions"] and len(sessions) == 2
    # Given its config's hash, a command that finds only a state of another training config
    # (the job's parameters changed) starts afresh too, as the training loop does.
    (run_dir / "resume" / "state-e00001-b000000.json").write_text('{"config_hash": "old"}')
    assert [s["resumed"] for s in start_training_session(run_dir, "new")] == [False]
    assert len(start_training_session(run_dir, "old")) == 2


def test_stale_runs_lists_the_runs_trained_with_other_source(tmp_path):
    for seed, record in enumerate([CLEAN, _version(source_hash="d" * 64), None]):
        checkpoint = tmp_path / "runs" / "digits" / "mlp" / "vanilla" / f"seed{seed}" / "checkpoint"
        checkpoint.mkdir(parents=True)
        (checkpoint / "best.json").write_text("{}")
        if record:
            sidecar = training_code_record([record])
            (checkpoint / "code_version.json").write_text(json.dumps(sidecar))
    stale = stale_runs(tmp_path, CLEAN["source_hash"])
    assert stale["reason"].tolist() == ["other source", "no recorded code version"]
    assert [t.split("/")[-2:] for t in stale["target"]] == [
        ["seed1", "history.csv"],
        ["seed2", "history.csv"],
    ]


def test_the_landing_page_says_when_the_runs_are_mixed(tmp_path):
    paths = [
        _fake_run(tmp_path, "vanilla", 0),
        _fake_run(tmp_path, "vanilla", 1, training=_version(source_hash="d" * 64)),
    ]
    out, _ = _tables(tmp_path, paths)
    template = tmp_path / "workflow.rst"
    template.write_text("Title\n=====\n\nText.\n")
    landing = tmp_path / "landing.rst"
    cli.main(["landing-page", "--summary", str(out / "summary.csv"), "--template",
              str(template), "--output", str(landing)])  # fmt: skip
    html = publish_parts(landing.read_text(), writer_name="html")["html_body"]
    assert "<strong>Warning: the 2 runs of these tables do not all come from one clean" in html
    assert "runs trained under 2 code versions" in html and "Text." in html
