"""Methods that change training itself: aggressive inner loop and pretrain_fb phases."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import yaml

from vae_tfp.config import RunKey, resolve_run_config
from vae_tfp.data import prepare_dataset
from vae_tfp.training.build import reinitialize_decoder
from vae_tfp.training.loop import Trainer

DEFAULT_CONFIG = yaml.safe_load(open("config/config.yaml"))


def _trainer(tmp_path, method_options, epochs=2):
    config = dict(DEFAULT_CONFIG)
    config["methods"] = {"m": method_options}
    run_config = resolve_run_config(config, RunKey("digits", "mlp", "m", 0))
    run_config["training"]["epochs"] = epochs
    data = prepare_dataset("digits", run_config["dataset_options"])
    return Trainer(run_config, data, tmp_path), run_config, data


def _values(variables):
    return [v.numpy().copy() for v in variables]


def test_aggressive_inner_loop_updates_only_the_encoder(tmp_path):
    trainer, _, _ = _trainer(
        tmp_path, {"method": "aggressive", "max_inner_steps": 30, "check_every": 10}
    )
    decoder_before = _values(trainer.model.decoder.variables)
    encoder_before = _values(trainer.model.encoder.variables)
    steps = trainer.encoder_inner_loop(np.random.default_rng(0))
    assert 10 <= steps <= 30 and steps % 10 == 0
    for before, after in zip(decoder_before, _values(trainer.model.decoder.variables), strict=True):
        np.testing.assert_array_equal(before, after)
    assert any(
        not np.array_equal(b, a)
        for b, a in zip(encoder_before, _values(trainer.model.encoder.variables), strict=True)
    )
    assert int(trainer.step.numpy()) == 0  # the schedules' clock counts decoder updates only


def test_aggressive_history_records_inner_steps_and_its_end(tmp_path):
    trainer, _, _ = _trainer(
        tmp_path, {"method": "aggressive", "max_inner_steps": 20, "check_every": 5}, epochs=3
    )
    summary = trainer.run()
    history = pd.read_csv(tmp_path / "history.csv")
    assert history.loc[0, "aggressive"] == 1 and history.loc[0, "encoder_inner_steps"] >= 5 * 20
    assert summary["encoder_inner_steps"] == history["encoder_inner_steps"].sum()
    ended = summary["aggressive_ended_after_epoch"]
    if ended is not None:  # after the switch-off, no more inner steps
        assert (history.loc[history["epoch"] > ended, "encoder_inner_steps"] == 0).all()
        mi = history["valid_mi"].to_numpy()
        assert mi[ended - 1] < mi[ended - 2]


def test_pretrain_fb_reinitializes_exactly_the_decoder(tmp_path):
    trainer, run_config, data = _trainer(
        tmp_path, {"method": "pretrain_fb", "pretrain_epochs": 1, "lambda": 0.5}
    )
    trainer.joint_step(tf.constant(data.train[:64]))  # move every weight away from its init
    encoder_before = _values(trainer.model.encoder.variables)
    decoder_before = _values(trainer.model.decoder.variables)
    reinitialize_decoder(trainer.model, run_config, data, seed=123)
    for before, after in zip(encoder_before, _values(trainer.model.encoder.variables), strict=True):
        np.testing.assert_array_equal(before, after)
    reset = _values(trainer.model.decoder.variables)
    assert all(
        not np.array_equal(b, a) for b, a in zip(decoder_before, reset, strict=True) if b.size > 1
    )
    other, _, _ = _trainer(
        tmp_path / "other", {"method": "pretrain_fb", "pretrain_epochs": 1, "lambda": 0.5}
    )
    reinitialize_decoder(other.model, run_config, data, seed=123)
    for a, b in zip(reset, _values(other.model.decoder.variables), strict=True):
        np.testing.assert_array_equal(a, b)  # the fresh init is a function of the seed


@pytest.mark.slow
def test_pretrain_fb_phases_in_history_and_selection(tmp_path):
    trainer, _, _ = _trainer(
        tmp_path, {"method": "pretrain_fb", "pretrain_epochs": 2, "lambda": 0.5}, epochs=4
    )
    summary = trainer.run()
    history = pd.read_csv(tmp_path / "history.csv")
    np.testing.assert_allclose(history["kl_weight"], [0.0, 0.0, 1.0, 1.0])
    assert summary["best_epoch"] >= 3 and summary["first_selectable_epoch"] == 3
    # The decoder restarts after epoch 2: training reconstruction drops.
    assert history.loc[2, "rec"] < history.loc[1, "rec"]
