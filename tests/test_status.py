"""``python -m vae_tfp status``: a tiny grid with runs in every state, one stopped midway.

The run folders are written as the train and evaluate jobs leave them (file names from
workflows/rules/*.smk and vae_tfp/training), not trained, so the test takes milliseconds.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from vae_tfp.io import write_json
from vae_tfp.status import experiment_status, find_config, format_table, run_folder

NOW = 1_800_000_000.0
GRID_CONFIG = {
    "experiment": "tiny",
    "seeds": [0, 1],
    "datasets": {"digits": {"training": {"epochs": 4}}, "linear_gaussian": {}},
    "training": {"epochs": 10},
    "grid": [
        {"datasets": ["digits"], "decoders": ["mlp"], "methods": ["vanilla", "fb"]},
        {"datasets": ["linear_gaussian"], "decoders": ["linear"], "methods": ["vanilla"]},
    ],
}


def _history(walls: list[float]) -> list[dict]:
    return [{"epoch": i + 1, "wall_time_s": w} for i, w in enumerate(walls)]


def _touch(path: Path, text: str = "", mtime: float = NOW) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))


def _evaluated(run: Path) -> None:
    _trained(run)
    write_json(run / "metrics.json", {"metrics": {"elbo": -30.0}})


def _trained(run: Path) -> None:
    _touch(run / "history.csv", "epoch\n1\n2\n3\n4\n")
    summary = {"epochs": 4, "epochs_trained": 4, "wall_time_s": 125.0}
    write_json(run / "checkpoint" / "best.json", summary)


def _stopped_midway(run: Path) -> None:
    """Epoch 2 of 4 ended 10 minutes before NOW, then the job was killed: a resume state
    and the log's epoch lines, no outputs."""
    write_json(run / "run_config.json", {"training": {"epochs": 4}})
    lines = [
        "2026-01-01 10:00:00,000 INFO root: training session: RunKey(...)",
        "2026-01-01 10:00:10,000 INFO vae_tfp.training.loop: epoch 1/4 loss 40.0 elbo -40.0 "
        "kl 1.0 | valid elbo -39.0 mi 0.1 au 3 | elapsed 0:00:10, ETA 0:00:30",
        "2026-01-01 10:00:14,000 INFO vae_tfp.training.loop: epoch 2/4 loss 35.0 elbo -35.0 "
        "kl 1.0 | valid elbo -34.0 mi 0.1 au 3 | elapsed 0:00:14, ETA 0:00:08",
    ]
    _touch(run / "train.log", "\n".join(lines) + "\n", NOW - 600)
    sidecar = run / "resume" / "state-e00003-b000000.json"
    write_json(sidecar, {"config_hash": "x", "epoch": 3, "history": _history([10.0, 14.0])})
    os.utime(sidecar, (NOW - 600, NOW - 600))


def _failed(run: Path) -> None:
    """A train job that raised: Snakemake deleted its outputs and kept the log."""
    text = (
        "2026-01-01 10:00:00,000 INFO root: training session: RunKey(...)\n"
        "Traceback (most recent call last):\n"
        '  File "vae_tfp/training/loop.py", line 1, in run\n'
        "vae_tfp.training.loop.NonFiniteLossError: loss is nan at step 7\n\n"
    )
    _touch(run / "train.log", text)
    write_json(run / "resume" / "state-e00001-b000000.json", {"epoch": 1, "history": []})


def _experiment(tmp_path: Path) -> Path:
    results = tmp_path / "results" / "tiny"
    _evaluated(run_folder(results, ("digits", "mlp", "vanilla", 0)))
    _stopped_midway(run_folder(results, ("digits", "mlp", "vanilla", 1)))
    _failed(run_folder(results, ("digits", "mlp", "fb", 0)))
    _trained(run_folder(results, ("digits", "mlp", "fb", 1)))
    progress = (  # as vae_tfp.evaluation.importance logs it
        "2026-01-01 10:05:00,000 INFO vae_tfp.evaluation.importance: importance sampling: "
        "3/10 chunks of 50 samples, elapsed 0:12:00, ETA 0:28:00"
    )
    _touch(run_folder(results, ("digits", "mlp", "fb", 1)) / "evaluate.log", progress + "\n")
    # linear_gaussian x linear x vanilla: planned (no folder for seed 0, an empty one for 1)
    run_folder(results, ("linear_gaussian", "linear", "vanilla", 1)).mkdir(parents=True)
    # a run folder outside the grid (an older config) is still listed
    _trained(run_folder(results, ("digits", "mlp", "old_method", 0)))
    return results


def test_every_state_of_a_tiny_grid(tmp_path):
    statuses = experiment_status(_experiment(tmp_path), GRID_CONFIG, now=NOW)
    by_key = {s.key: s for s in statuses}
    assert [s.key for s in statuses][:6] == [
        ("digits", "mlp", "vanilla", 0),
        ("digits", "mlp", "vanilla", 1),
        ("digits", "mlp", "fb", 0),
        ("digits", "mlp", "fb", 1),
        ("linear_gaussian", "linear", "vanilla", 0),
        ("linear_gaussian", "linear", "vanilla", 1),
    ]
    evaluated = by_key["digits", "mlp", "vanilla", 0]
    assert (evaluated.state, evaluated.epoch, evaluated.epochs) == ("evaluated", 4, 4)
    assert evaluated.elapsed == "0:02:05"

    stopped = by_key["digits", "mlp", "vanilla", 1]
    assert (stopped.state, stopped.epoch, stopped.epochs) == ("training", 2, 4)
    # 2 epochs left at the pace of epoch 2 (4 s; epoch 1 compiled): 8 s
    assert (stopped.elapsed, stopped.eta) == ("0:00:14", "0:00:08")
    assert stopped.note == "last update 10 min ago"

    failed = by_key["digits", "mlp", "fb", 0]
    assert failed.state == "failed"
    assert failed.note == "train: vae_tfp.training.loop.NonFiniteLossError: loss is nan at step 7"

    evaluating = by_key["digits", "mlp", "fb", 1]
    assert evaluating.state == "evaluating"
    assert evaluating.note == "importance sampling 3/10 chunks of 50 samples, ETA 0:28:00"
    for seed in (0, 1):
        planned = by_key["linear_gaussian", "linear", "vanilla", seed]
        assert (planned.state, planned.epochs) == ("planned", 10)
    assert by_key["digits", "mlp", "old_method", 0].state == "trained"
    assert len(statuses) == 7

    table = format_table(statuses)
    assert table.splitlines()[-1] == (
        "7 runs: 1 evaluated, 1 evaluating, 1 trained, 1 training, 1 failed, 2 planned"
    )
    assert re.search(r"\btraining +2/4 +0:00:14 +0:00:08 +last update 10 min ago$", table, re.M)


def test_the_log_alone_gives_the_epoch_when_no_resume_state_is_left(tmp_path):
    run = tmp_path / "results" / "tiny" / "runs" / "digits" / "mlp" / "vanilla" / "seed1"
    _stopped_midway(run)
    for path in (run / "resume").iterdir():
        path.unlink()
    (status,) = [
        s for s in experiment_status(tmp_path / "results" / "tiny", None, NOW) if s.key[3] == 1
    ]
    assert (status.state, status.epoch, status.epochs) == ("training", 2, 4)
    assert (status.elapsed, status.eta) == ("0:00:14", "0:00:08")


def test_the_eta_of_a_run_that_may_stop_early_is_marked_as_a_bound(tmp_path):
    """A plateau schedule stops after its decays: the 8 s left are at most 8 s, and the note
    says how many decays are done."""
    run = tmp_path / "results" / "tiny" / "runs" / "digits" / "mlp" / "vanilla" / "seed1"
    _stopped_midway(run)
    training = {"epochs": 4, "learning_rate_schedule": {"type": "plateau", "max_decays": 5}}
    write_json(run / "run_config.json", {"training": training})
    sidecar = run / "resume" / "state-e00003-b000000.json"
    plateau = {"learning_rate": 0.25, "best_loss": 34.0, "not_improved": 0, "decays": 1}
    write_json(sidecar, {"epoch": 3, "history": _history([10.0, 14.0]), "plateau": plateau})
    os.utime(sidecar, (NOW - 600, NOW - 600))
    (status,) = experiment_status(tmp_path / "results" / "tiny", None, NOW)
    assert (status.state, status.eta) == ("training", "≤0:00:08")
    # How near the schedule's stop the run is: its rate and decays so far.
    assert status.note == "lr 0.25, decays 1/5; last update 10 min ago"


def test_a_run_resumed_after_a_crash_is_training_not_failed(tmp_path):
    """A hand-run train command appends to its log, so a resumed run's log keeps the crashed
    session's traceback above the new session's start: only the last session counts."""
    run = tmp_path / "results" / "tiny" / "runs" / "digits" / "mlp" / "fb" / "seed0"
    _failed(run)
    crashed = (run / "train.log").read_text()
    resumed = "2026-01-01 11:00:00,000 INFO root: training session: RunKey(...)\n"
    for log, state in ((crashed, "failed"), (crashed + resumed, "training")):
        _touch(run / "train.log", log)
        (status,) = experiment_status(tmp_path / "results" / "tiny", None, NOW)
        assert status.state == state


def test_the_command_finds_the_config_of_the_experiment(tmp_path):
    results = _experiment(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "other.yaml").write_text(yaml.safe_dump({"experiment": "other"}))
    (tmp_path / "config" / "tiny.yaml").write_text(yaml.safe_dump(GRID_CONFIG))
    assert find_config(results, tmp_path / "config") == tmp_path / "config" / "tiny.yaml"

    shown = subprocess.run(
        [sys.executable, "-m", "vae_tfp", "status", "results/tiny"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    lines = shown.stdout.splitlines()
    assert lines[0] == "results/tiny (grid of config/tiny.yaml)"
    assert lines[-1].startswith("7 runs: 1 evaluated")
    assert "tensorflow" not in shown.stderr.lower()


def test_a_run_in_its_separate_pretraining_shows_that_runs_progress(tmp_path):
    """A method that starts from a pretraining run (``pretrain/``, Li et al. 2019): while
    that run trains, the run is training at the pretraining's epoch, and the note says so;
    once it is done and the run's own training has not started, the note says that."""
    run = tmp_path / "results" / "tiny" / "runs" / "digits" / "mlp" / "vanilla" / "seed1"
    _stopped_midway(run / "pretrain")
    (status,) = experiment_status(tmp_path / "results" / "tiny", None, NOW)
    assert (status.state, status.epoch, status.epochs) == ("training", 2, 4)
    assert status.note == "pretraining run; last update 10 min ago"
    _trained(run / "pretrain")
    (status,) = experiment_status(tmp_path / "results" / "tiny", None, NOW)
    assert (status.state, status.note) == ("training", "pretraining run done, the run itself next")
    _stopped_midway(run)
    (status,) = experiment_status(tmp_path / "results" / "tiny", None, NOW)
    assert (status.state, status.note) == ("training", "last update 10 min ago")
