"""Nothing lost: a killed training job resumes and gives the numbers of an uninterrupted run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from subprocess import DEVNULL

import pytest
import yaml

from vae_tfp.config import RunKey, resolve_run_config, training_config
from vae_tfp.data import prepare_dataset, save_prepared
from vae_tfp.run_files import SAVED_LOG, SESSION_START, start_session_log

DEFAULT_CONFIG = yaml.safe_load(open("config/config.yaml"))
STALE_LINE = "a line of an earlier training of this run folder"
EVALUATION = {
    "iw_samples": 4,
    "iw_chunk": 4,
    "batch_size": 500,
    "au_threshold": 0.01,
    "mi_samples": 2,
    "mi_minibatch_size": 64,
}


def _cli(*args, log=None):
    """``python -m vae_tfp *args``; stderr appended to ``log`` as the train rule does
    (``--log {log} 2>> {log}``), or piped."""
    command = [sys.executable, "-m", "vae_tfp", *args]
    if log is None:
        return subprocess.Popen(command, stdout=DEVNULL, stderr=subprocess.PIPE, text=True)
    with open(log, "a") as stderr:  # the child keeps its own descriptor
        return subprocess.Popen(command, stdout=DEVNULL, stderr=stderr)


def _train_and_evaluate(run_dir, data_path, run_config, kill_after_first_state=False):
    """Trains (killed once after its first resume state, its log deleted as Snakemake
    deletes a job's log, then run again), evaluates; returns the metrics and the train log,
    which held a line of an earlier training before."""
    log = run_dir.parent / f"{run_dir.name}.log"
    log.write_text(STALE_LINE + "\n")
    args = ["train", "--run-config-json", json.dumps(run_config), "--data", str(data_path)]
    args += ["--run-dir", str(run_dir), "--log", str(log)]
    if kill_after_first_state:
        process = _cli(*args, log=log)
        deadline = time.monotonic() + 240
        while not (run_dir / "resume" / SAVED_LOG).exists():  # a state and its log copy
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no resume state appeared"
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert not (run_dir / "history.csv").exists()
        log.unlink()
    done = _cli(*args, log=log)
    assert done.wait() == 0, log.read_text()
    evaluate = _cli(
        "evaluate",
        "--run-dir",
        str(run_dir),
        "--data",
        str(data_path),
        "--evaluation-json",
        json.dumps(EVALUATION),
    )
    assert evaluate.wait() == 0, evaluate.stderr.read()
    return json.loads((run_dir / "metrics.json").read_text()), log.read_text()


@pytest.mark.slow
def test_sigkilled_training_resumes_to_identical_metrics(tmp_path):
    key = RunKey("digits", "mlp", "fb_0.5", 0)
    run_config = training_config(resolve_run_config(DEFAULT_CONFIG, key))
    run_config["training"].update({"epochs": 4, "checkpoint_interval_s": 0.0})  # every epoch
    data_path = tmp_path / "digits.npz"
    save_prepared(prepare_dataset("digits", run_config["dataset_options"]), data_path)
    straight, straight_log = _train_and_evaluate(tmp_path / "straight", data_path, run_config)
    resumed, log = _train_and_evaluate(tmp_path / "killed", data_path, run_config, True)
    # A fresh start empties the log; the resumed session's lines follow the killed one's,
    # put back from the resume state's copy.
    assert STALE_LINE not in straight_log and STALE_LINE not in log
    assert straight_log.count(SESSION_START) == 1
    assert log.count(SESSION_START) == 2
    assert log.count("resuming from") == 1
    assert log.index(SESSION_START) < log.index("resuming from")
    assert resumed["metrics"] == straight["metrics"]
    assert not (tmp_path / "killed" / "resume").exists()  # cleaned up after success
    history = [
        (tmp_path / d / "history.csv").read_text().splitlines() for d in ("straight", "killed")
    ]
    strip_time = [[",".join(line.split(",")[:-1]) for line in h] for h in history]
    assert strip_time[0] == strip_time[1]


def test_a_session_log_starts_empty_or_gets_the_earlier_sessions_back(tmp_path):
    """start_session_log: a fresh start empties the log; a resumed run whose log Snakemake
    deleted gets the copy saved with its resume state; a log a hand-run command appends to
    is kept as it is."""
    log, saved = tmp_path / "train.log", tmp_path / "resume" / SAVED_LOG
    saved.parent.mkdir()
    saved.write_text("session 1\n")
    log.write_text("an earlier training\n")
    start_session_log(log, tmp_path, resumes=False)
    assert log.read_text() == ""
    log.unlink()
    start_session_log(log, tmp_path, resumes=True)
    assert log.read_text() == "session 1\n"
    log.write_text("session 1\nsession 2\n")
    start_session_log(log, tmp_path, resumes=True)
    assert log.read_text() == "session 1\nsession 2\n"


def test_states_are_saved_once_the_interval_has_passed_and_change_no_number(
    tmp_path, monkeypatch
):
    """After an epoch a state is written only once ``EPOCH_SAVE_INTERVAL_S`` (or a smaller
    ``checkpoint_interval_s``) has passed since the last; the history is the same whether
    states were written after every epoch or never."""
    from vae_tfp.training import loop
    from vae_tfp.training.state import ResumeStore

    key = RunKey("digits", "mlp", "anneal_10ep", 0)
    run_config = training_config(resolve_run_config(DEFAULT_CONFIG, key))
    run_config["training"]["epochs"] = 3
    data = prepare_dataset("digits", run_config["dataset_options"])
    saved, save = [], ResumeStore.save
    monkeypatch.setattr(
        ResumeStore, "save", lambda self, c, p: (saved.append(p.epoch), save(self, c, p))
    )
    histories = {}
    for interval, epoch_interval in ((0.0, 1e9), (600.0, 1e9), (600.0, 0.0)):
        monkeypatch.setattr(loop, "EPOCH_SAVE_INTERVAL_S", epoch_interval)
        run_config["training"]["checkpoint_interval_s"] = interval
        saved.clear()
        run_dir = tmp_path / f"{interval}-{epoch_interval}"
        loop.Trainer(run_config, data, run_dir).run()
        histories[interval, epoch_interval] = (
            (run_dir / "history.csv").read_text().replace("\r", "").splitlines()
        )
        assert saved == {0.0: [2, 3, 4], 600.0: [] if epoch_interval else [2, 3, 4]}[interval]
    without_time = [[line.rsplit(",", 1)[0] for line in h] for h in histories.values()]
    assert without_time[0] == without_time[1] == without_time[2]


def test_mid_epoch_resume_falls_back_from_a_damaged_state(tmp_path, caplog):
    """A job interrupted mid-epoch whose newest state is truncated: the state is skipped
    with a warning, the previous (mid-epoch) one is used, and the run ends exactly as an
    uninterrupted one."""
    import logging

    import pandas as pd

    from vae_tfp.training.loop import Trainer

    key = RunKey("digits", "mlp", "vanilla", 1)
    run_config = training_config(resolve_run_config(DEFAULT_CONFIG, key))
    run_config["training"].update({"epochs": 2, "checkpoint_interval_s": 0.0})
    data = prepare_dataset("digits", run_config["dataset_options"])
    reference = Trainer(run_config, data, tmp_path / "reference").run()

    run_dir = tmp_path / "cut"
    trainer = Trainer(run_config, data, run_dir)
    trainer.batches_per_call = 4  # 20 batches per epoch: 5 calls each
    calls, span = {"n": 0}, trainer.joint_span

    def interrupted(order, first, last):  # call 8 would train batches 8..11 of epoch 2
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt
        return span(order, first, last)

    trainer.joint_span = interrupted
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    states = sorted((run_dir / "resume").glob("state-*.json"))
    assert [s.name for s in states] == ["state-e00002-b000004.json", "state-e00002-b000008.json"]
    newest_data = next((run_dir / "resume").glob(states[-1].stem + ".data-*"))
    newest_data.write_bytes(newest_data.read_bytes()[:50])
    with caplog.at_level(logging.INFO, logger="vae_tfp.training"):
        summary = Trainer(run_config, data, run_dir).run()
    assert "skipping damaged resume state" in caplog.text and "b000008" in caplog.text
    assert "resuming from" in caplog.text and "b000004" in caplog.text
    assert summary["best_valid_elbo"] == reference["best_valid_elbo"]
    columns = lambda d: pd.read_csv(d / "history.csv").drop(columns="wall_time_s")  # noqa: E731
    pd.testing.assert_frame_equal(columns(run_dir), columns(tmp_path / "reference"))


def test_a_state_without_a_variable_the_model_now_has_stops_the_run_saying_why(tmp_path):
    """A model that gained a variable since its state was saved (e.g. a second LSTM bias):
    the run must stop with a message naming the state and what to do, not crash on an
    AssertionError nor start afresh over the saved progress."""
    import tensorflow as tf

    from vae_tfp.training.state import Progress, ResumeMismatchError, ResumeStore

    store = ResumeStore(tmp_path, "hash")
    store.save(tf.train.Checkpoint(w=tf.Variable([1.0, 2.0])), Progress(epoch=3))
    grown = tf.train.Checkpoint(w=tf.Variable([0.0, 0.0]), extra=tf.Variable(0.0))
    with pytest.raises(ResumeMismatchError, match=r"state-e00003.*resume/ folder away"):
        store.restore(grown)
    assert store.restore(tf.train.Checkpoint(w=tf.Variable([0.0, 0.0]))).epoch == 3


def test_a_state_of_another_config_is_not_resumed(tmp_path, caplog):
    import logging

    from vae_tfp.training.loop import Trainer
    from vae_tfp.training.state import Progress

    key = RunKey("digits", "mlp", "vanilla", 0)
    run_config = training_config(resolve_run_config(DEFAULT_CONFIG, key))
    run_config["training"]["epochs"] = 1
    data = prepare_dataset("digits", run_config["dataset_options"])
    first = Trainer(run_config, data, tmp_path)
    first.resume.save(first._state_checkpoint(), Progress(epoch=2))
    run_config["training"]["learning_rate"] = 0.002
    with caplog.at_level(logging.WARNING, logger="vae_tfp.training"):
        second = Trainer(run_config, data, tmp_path)
        assert second.resume.restore(second._state_checkpoint()) is None
    assert "another training config" in caplog.text


def test_a_resumed_run_gets_back_the_best_checkpoint_snakemake_deleted(tmp_path):
    """Snakemake deletes a rerun job's outputs, checkpoint/ among them, before it starts: a
    run resumed after its best epoch and not improving again would have nothing to return
    to at a plateau decay nor to evaluate. Each state keeps a copy of the best checkpoint
    (the two newest), which restore puts back byte for byte."""
    import tensorflow as tf

    from vae_tfp.run_files import checkpoint_path
    from vae_tfp.training.state import Progress, ResumeStore

    best = checkpoint_path(tmp_path)
    model = tf.train.Checkpoint(w=tf.Variable([1.0, 2.0]))
    store = ResumeStore.for_run(tmp_path, {"training": {"epochs": 9}})
    for epoch, value in ((1, 1.0), (2, 2.0), (3, 3.0)):
        model.w.assign([value, value])
        model.write(str(best))
        store.save(model, Progress(epoch=epoch + 1, best={"epoch": epoch, "valid_elbo": -value}))
    store.save(model, Progress(epoch=5, best={"epoch": 3, "valid_elbo": -3.0}))  # no new best
    assert sorted(p.name for p in (tmp_path / "resume").glob("best-e*")) == [
        "best-e00002",
        "best-e00003",
    ]
    saved = {p.name: p.read_bytes() for p in best.parent.iterdir()}
    shutil.rmtree(best.parent)  # as Snakemake does with the job's declared outputs
    progress = store.restore(tf.train.Checkpoint(w=tf.Variable([0.0, 0.0])))
    assert progress.epoch == 5 and progress.best["epoch"] == 3
    assert {p.name: p.read_bytes() for p in best.parent.iterdir()} == saved
    restored = tf.train.Checkpoint(w=tf.Variable([0.0, 0.0]))
    restored.read(str(best)).assert_existing_objects_matched()
    assert restored.w.numpy().tolist() == [3.0, 3.0]
