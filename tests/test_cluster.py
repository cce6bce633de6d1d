"""The pipeline on a real SLURM: a loopback single-node cluster, the SLURM profile, a tiny grid.

Run by ``make test-cluster`` (and ``.ci/run``), not by ``make test``: it installs SLURM with
apt-get when missing and needs root; elsewhere it skips with the reason. One grid goes
through SLURM with one of its training jobs cancelled by ``scancel`` while it runs: that job
alone fails, the rerun completes the grid recomputing nothing that had finished, and the
tables equal those of a local run of the same config.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from loopback_slurm import LoopbackSlurm, SlurmUnavailable
from test_workflow import ROOT, snakemake, tiny_config, write_config

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PROFILE = ROOT / "workflows" / "profiles" / "slurm"
# What a test cluster without slurmdbd needs on top of the profile: squeue as the status
# query (sacct cannot answer), no account to guess, quick first status checks.
TEST_CLUSTER_OPTIONS = (
    "--slurm-status-command", "squeue",
    "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks", "2",
    "--latency-wait", "5",
    "--retries", "0",
)  # fmt: skip


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    # Snakemake loads the executor named by the profile; missing, every run would fail late.
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.fail(
            "the SLURM executor plugin is not installed: pip install -e '.[slurm]' "
            "(make test-cluster installs requirements/lock-slurm.txt)"
        )
    try:
        with LoopbackSlurm(tmp_path_factory.mktemp("slurm")) as cluster:
            yield cluster
    except SlurmUnavailable as error:
        pytest.skip(f"cannot start a loopback SLURM here: {error}")


def cluster_config() -> dict:
    """The tiny grid with small memory requests, so that two jobs fit the test node."""
    config = tiny_config()
    config["resources"] = {
        "train": {"mem_mb": 1500, "runtime": 20},
        "evaluate": {"mem_mb": 1500, "runtime": 20},
    }
    return config


def comparable(tables: Path) -> dict[str, object]:
    """The tables without what legitimately differs between two runs: wall times, folders."""
    frame = pd.read_csv(tables / "summary.csv").drop(columns=["wall_time_s", "run_dir"])
    return {
        "summary.csv": frame,
        "summary.md": (tables / "summary.md").read_text(),
        "summary.tex": (tables / "summary.tex").read_text(),
    }


def metrics_files(workdir: Path) -> dict[str, int]:
    """Each run's metrics.json and its modification time in nanoseconds."""
    return {
        str(path.relative_to(workdir)): path.stat().st_mtime_ns
        for path in sorted(workdir.glob("results/tiny/runs/**/metrics.json"))
    }


def run_through_slurm(workdir: Path, slurm: LoopbackSlurm, configfile: Path, cancel=None):
    """Runs the grid with the SLURM profile; ``cancel(slurm)`` is polled while it runs."""
    command = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(workdir),
        "--profile", str(PROFILE),
        "--configfile", str(configfile),
        *TEST_CLUSTER_OPTIONS,
    ]  # fmt: skip
    env = {**slurm.env, "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = open(workdir / f"snakemake-{time.monotonic_ns()}.log", "w+")
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=log, text=True)
    cancelled = None
    deadline = time.monotonic() + 900
    while process.poll() is None and time.monotonic() < deadline:
        if cancel is not None and cancelled is None:
            cancelled = cancel(slurm)
        time.sleep(0.5)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
        pytest.fail("the SLURM run did not finish in 15 minutes")
    log.seek(0)
    return process.returncode, log.read(), cancelled


def cancel_first_running_train_job(slurm: LoopbackSlurm) -> str | None:
    """scancel's the first running `train` job; returns its rule-and-wildcards comment."""
    for job_id, state, comment in slurm.squeue("%i", "%T", "%k"):
        if state == "RUNNING" and comment.startswith("rule_train_"):
            subprocess.run(["scancel", job_id], env=slurm.env, check=True)
            return comment
    return None


def test_slurm_run_with_a_cancelled_job_completes_on_rerun_with_the_local_tables(slurm, tmp_path):
    configfile = write_config(tmp_path, cluster_config())
    local = tmp_path / "local"
    local.mkdir()
    done = snakemake(local, "--cores", "2", configfile=configfile)
    assert done.returncode == 0, done.stdout + done.stderr

    workdir = tmp_path / "slurm"
    workdir.mkdir()
    code, log, cancelled = run_through_slurm(
        workdir, slurm, configfile, cancel=cancel_first_running_train_job
    )
    assert cancelled is not None, f"no running train job was seen to cancel\n{log[-4000:]}"
    assert code != 0, log[-4000:]
    # Only the cancelled run is missing: the profile keeps going past the failure.
    finished = metrics_files(workdir)
    assert len(finished) == 2, (cancelled, sorted(finished), log[-4000:])
    assert not (workdir / "results/tiny/tables/summary.csv").exists()

    code, log, _ = run_through_slurm(workdir, slurm, configfile)
    assert code == 0, log[-4000:]
    rerun = metrics_files(workdir)
    assert len(rerun) == 3
    # Nothing that had finished was recomputed.
    assert {path: rerun[path] for path in finished} == finished
    assert "rule train" in log and log.count("rule train:") == 1, log[-4000:]

    slurm_tables = comparable(workdir / "results/tiny/tables")
    local_tables = comparable(local / "results/tiny/tables")
    pd.testing.assert_frame_equal(slurm_tables.pop("summary.csv"), local_tables.pop("summary.csv"))
    assert slurm_tables == local_tables
