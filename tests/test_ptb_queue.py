"""tools/ptb_queue.sh: every run of the queue is trained once, in order, by one worker with
two threads or two workers with one, after the data is prepared once."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "ptb_queue.sh"
FAKE_SNAKEMAKE = """#!/bin/bash
echo "$*" >> "{calls}"
"""


def _run_queue(tmp_path, workers, records=None):
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "snakemake"
    fake.write_text(FAKE_SNAKEMAKE.format(calls=calls))
    fake.chmod(0o755)
    env = dict(
        os.environ,
        PTB_SRC=str(tmp_path),
        PTB_STATE=str(tmp_path / "state"),
        PTB_SNAKEMAKE=str(fake),
        PTB_QUEUE="vanilla/seed0 li2019_8/seed0 cyclical/seed0",
        PTB_WORKERS=str(workers),
        PTB_STAGGER="0",
        PTB_RECORDS=str(records or tmp_path / "no-records"),
    )
    log = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    return calls.read_text().splitlines(), log


@pytest.mark.parametrize("workers, threads", [(1, 2), (2, 1)])
def test_each_run_is_taken_once_after_one_data_preparation(tmp_path, workers, threads):
    calls, log = _run_queue(tmp_path, workers)

    assert calls[0].endswith("--until prepare -- results/ptb-li2019/runs/ptb/lstm_256/"
                             "vanilla/seed0/metrics.json")  # fmt: skip
    trained = [c.split(" -- ")[1] for c in calls[1:]]
    expected = [f"results/ptb-li2019/runs/ptb/lstm_256/{r}/metrics.json"
                for r in ("vanilla/seed0", "li2019_8/seed0", "cyclical/seed0")]  # fmt: skip
    assert sorted(trained) == sorted(expected)
    if workers == 1:
        assert trained == expected
    assert all(f"--cores {threads} " in c and f"threads={threads}" in c for c in calls[1:])
    assert log.count(" takes ") == 3 and log.count(": exit 0") == 3


def test_a_run_recorded_on_another_machine_is_not_trained_again(tmp_path):
    records = tmp_path / "records"
    recorded = records / "runs" / "ptb" / "lstm_256" / "li2019_8" / "seed0"
    recorded.mkdir(parents=True)
    (recorded / "metrics.json").write_text("{}")

    calls, log = _run_queue(tmp_path, 1, records)

    trained = [c.split(" -- ")[1].split("/lstm_256/")[1] for c in calls[1:]]
    assert trained == ["vanilla/seed0/metrics.json", "cyclical/seed0/metrics.json"]
    assert "skips li2019_8/seed0: recorded in" in log
