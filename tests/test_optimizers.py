"""Optimizers and learning-rate schedules of the published protocols (Burda et al. 2016,
He et al. 2019): values at chosen epochs, the plateau rule by hand, and a run using them."""

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from vae_tfp.config import RunKey, resolve_run_config
from vae_tfp.data import prepare_dataset
from vae_tfp.training.optimizers import (
    PlateauState,
    build_optimizer,
    burda_epochs,
    burda_learning_rate,
    optimizer_settings,
    plateau_step,
    schedule_settings,
    scheduled_learning_rate,
)

DEFAULT_CONFIG = yaml.safe_load(open("config/config.yaml"))


def test_burda_schedule_has_3_to_the_i_epochs_per_stage():
    assert burda_epochs(8) == 3280  # "3^i passes ... for i = 0 ... 7": 3,280 in all
    # Stage i spans epochs (3^i - 1)/2 + 1 .. (3^(i+1) - 1)/2 at 1e-3 * 10^(-i/7).
    cases = {1: 0, 2: 1, 4: 1, 5: 2, 13: 2, 14: 3, 40: 3, 41: 4, 1093: 6, 1094: 7, 3280: 7}
    for epoch, stage in cases.items():
        assert burda_learning_rate(epoch, 1e-3, 8) == pytest.approx(1e-3 * 10 ** (-stage / 7))
    assert burda_learning_rate(5000, 1e-3, 8) == burda_learning_rate(3280, 1e-3, 8)
    assert burda_learning_rate(5, 1e-3, 2) == pytest.approx(1e-3 * 10 ** (-1 / 7))
    with pytest.raises(ValueError, match="epoch and stages must be >= 1"):
        burda_learning_rate(0, 1e-3, 8)


def test_plateau_rule_by_hand():
    """He et al.'s loop: a worse loss counts; after `patience` counts (from min_epoch on)
    the rate is multiplied by `factor` and the current loss becomes the reference."""
    settings = {"factor": 0.5, "patience": 2, "min_epoch": 4}
    state = PlateauState(learning_rate=1.0)
    decays = []
    for epoch, loss in enumerate([10.0, 9.0, 9.5, 9.6, 9.7, 9.65, 9.66, 9.8], start=1):
        state, decayed = plateau_step(state, loss, epoch, settings)
        decays.append(decayed)
    # epochs 3, 4 worse than 9.0 -> count 2 at epoch 4 (>= min_epoch): decay, reference 9.6;
    # epoch 5 worse (count 1), 6 better than 9.6? no: 9.65 > 9.6, count 2 -> decay, ref 9.65;
    # epoch 7 worse (count 1), epoch 8 worse (count 2) -> decay.
    assert decays == [False, False, False, True, False, True, False, True]
    assert state.learning_rate == 0.125 and state.decays == 3 and state.best_loss == 9.8


def test_plateau_best_reference_as_image_py():
    """He et al.'s image.py compares with the best loss so far, which a decay keeps: the
    losses of test_plateau_rule_by_hand, by hand. Epochs 3, 4 are worse than 9.0: decay at
    4 (reference stays 9.0); epochs 5, 6 worse than 9.0: decay at 6; 7, 8: decay at 8. A
    loss of 8.9 at epoch 9 is a new best and resets the count; 9.5 at 10 counts again."""
    settings = {"factor": 0.5, "patience": 2, "min_epoch": 4, "reference": "best"}
    state = PlateauState(learning_rate=1.0)
    decays = []
    losses = [10.0, 9.0, 9.5, 9.6, 9.7, 9.65, 9.66, 9.8, 8.9, 9.5]
    for epoch, loss in enumerate(losses, start=1):
        state, decayed = plateau_step(state, loss, epoch, settings)
        decays.append(decayed)
    assert decays == [False, False, False, True, False, True, False, True, False, False]
    assert state.learning_rate == 0.125 and state.decays == 3
    assert state.best_loss == 8.9 and state.not_improved == 1
    # Where the two references part: after a decay at 9.6, a loss of 9.55 (between the best,
    # 9.0, and the loss at the decay) counts under `best` and resets under `decay_reset`.
    part = [10.0, 9.0, 9.5, 9.6, 9.55]
    counts = {}
    for reference in ("decay_reset", "best"):
        state = PlateauState(learning_rate=1.0)
        for epoch, loss in enumerate(part, start=1):
            state, _ = plateau_step(state, loss, epoch, {**settings, "reference": reference})
        counts[reference] = (state.not_improved, state.best_loss)
    assert counts == {"decay_reset": (0, 9.55), "best": (1, 9.0)}


def test_plateau_waits_for_min_epoch():
    state = PlateauState(learning_rate=1.0, best_loss=1.0)
    settings = {"factor": 0.5, "patience": 1, "min_epoch": 15}
    state, decayed = plateau_step(state, 2.0, 14, settings)
    assert not decayed and state.not_improved == 1
    state, decayed = plateau_step(state, 2.0, 15, settings)
    assert decayed and state.learning_rate == 0.5


def test_optimizer_settings_and_errors():
    adam = optimizer_settings({"optimizer": {"name": "adam", "epsilon": 1e-4}})
    assert adam == {
        "name": "adam",
        "clip_norm": None,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-4,
        "initial_second_moment": 0.0,
    }
    optimizer = build_optimizer(
        {"learning_rate": 0.5, "optimizer": {"name": "sgd", "momentum": 0.9, "clip_norm": 5.0}}
    )
    assert type(optimizer).__name__ == "SGD" and math.isclose(float(optimizer.momentum), 0.9)
    assert math.isclose(float(optimizer.learning_rate.numpy()), 0.5)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; allowed"):
        optimizer_settings({"optimizer": {"name": "rmsprop"}})
    with pytest.raises(ValueError, match=r"'sgd' does not take \['epsilon'\]"):
        optimizer_settings({"optimizer": {"name": "sgd", "epsilon": 1.0}})
    with pytest.raises(ValueError, match="unknown learning_rate_schedule type 'cosine'"):
        schedule_settings({"learning_rate_schedule": {"type": "cosine"}})
    plateau = schedule_settings({"learning_rate_schedule": {"type": "plateau", "min_epoch": 15}})
    assert plateau == {
        "type": "plateau",
        "factor": 0.5,
        "patience": 5,
        "min_epoch": 15,
        "max_decays": 5,
        "reference": "decay_reset",
    }
    with pytest.raises(ValueError, match="unknown plateau reference 'last'; allowed"):
        schedule_settings({"learning_rate_schedule": {"type": "plateau", "reference": "last"}})
    assert scheduled_learning_rate({"type": "constant"}, 0.1, 7) == 0.1


def test_burda_schedule_rounded_as_their_code():
    """yburda/iwae experiments.py sets 1e-4 * round(10^(1 - i/7), 1) at stage i; by hand:
    10^(6/7) = 7.197 -> 7.2, 10^(5/7) = 5.180 -> 5.2, 3.728 -> 3.7, 2.683 -> 2.7, 1.931 -> 1.9,
    1.390 -> 1.4."""
    expected = [1e-3, 7.2e-4, 5.2e-4, 3.7e-4, 2.7e-4, 1.9e-4, 1.4e-4, 1e-4]
    first_epochs = [burda_epochs(stage) + 1 for stage in range(8)]
    rates = [burda_learning_rate(epoch, 1e-3, 8, decimals=2) for epoch in first_epochs]
    np.testing.assert_allclose(rates, expected, rtol=1e-12)
    settings = schedule_settings({"learning_rate_schedule": {"type": "burda", "decimals": 2}})
    assert settings == {"type": "burda", "stages": 8, "decimals": 2}
    assert scheduled_learning_rate(settings, 1e-3, 2) == pytest.approx(7.2e-4, rel=1e-12)


def _burda_code_adam_step(g, lr, beta_1, beta_2, epsilon, v0):
    """One update of yburda/iwae optimizers.py's Adam (first moment 0, second moment v0),
    written out from their code: alpha = lr sqrt(1 - b2^t) / (1 - b1^t), t = 1, and the
    step alpha m / (sqrt(v) + epsilon)."""
    m = (1 - beta_1) * g
    v = beta_2 * v0 + (1 - beta_2) * g**2
    alpha = lr * math.sqrt(1 - beta_2) / (1 - beta_1)
    return alpha * m / (math.sqrt(v) + epsilon)


@pytest.mark.parametrize("v0", [0.0, 1.0])
def test_adam_second_moments_start_where_configured(v0):
    """With initial_second_moment = 1 (Burda et al.'s code) the first step is the code's
    (16 and 63 times smaller for these two gradients than from v0 = 0, Kingma & Ba's start)."""
    import tensorflow as tf

    training = {
        "learning_rate": 1e-3,
        "optimizer": {"name": "adam", "beta_1": 0.99, "epsilon": 1e-4,
                      "initial_second_moment": v0},
    }  # fmt: skip
    variable = tf.Variable([0.0, 0.0])
    optimizer = build_optimizer(training, [variable])
    np.testing.assert_array_equal(optimizer._velocities[0].numpy(), [v0, v0])
    gradient = np.array([2.0, -0.5])
    optimizer.apply_gradients([(tf.constant(gradient, tf.float32), variable)])
    expected = [-_burda_code_adam_step(g, 1e-3, 0.99, 0.999, 1e-4, v0) for g in gradient]
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5)
    with pytest.raises(ValueError, match=r"'sgd' does not take \['initial_second_moment'\]"):
        optimizer_settings({"optimizer": {"name": "sgd", "initial_second_moment": 1.0}})


def _run_config(training):
    run_config = resolve_run_config(DEFAULT_CONFIG, RunKey("digits", "mlp", "vanilla", 0))
    run_config["training"].update(training)
    run_config["model"].update(latent_dim=2, encoder_hidden_units=[8], encoder_activation="tanh")
    run_config["decoder_options"] = {"type": "mlp", "hidden_units": [8], "activation": "tanh"}
    return run_config


def test_burda_schedule_and_tanh_in_a_run(tmp_path):
    from vae_tfp.training import train_run

    run_config = _run_config(
        {
            "epochs": 5,
            "learning_rate": 1e-3,
            "optimizer": {"name": "adam", "epsilon": 1e-4},
            "learning_rate_schedule": {"type": "burda", "stages": 3},
        }
    )
    data = prepare_dataset("digits", run_config["dataset_options"])
    summary = train_run(run_config, data, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    expected = 1e-3 * 10 ** (-np.array([0, 1, 1, 1, 2]) / 7)
    np.testing.assert_allclose(history["learning_rate"], expected, rtol=1e-12)
    assert summary["epochs_trained"] == 5 and summary["stop_reason"] is None


def _scripted_validation(monkeypatch, valid_elbos):
    """Replaces the validation pass by a scripted sequence of validation ELBOs."""
    import vae_tfp.training.loop as loop

    scores = iter(valid_elbos)

    def scripted(*args, **kwargs):
        elbo = next(scores)
        return {"valid_elbo": elbo, "valid_rec": elbo, "valid_kl": 0.0, "valid_mi": 0.0,
                "valid_au": 0}  # fmt: skip

    monkeypatch.setattr(loop, "validation_scores", scripted)


def test_plateau_schedule_decays_returns_to_the_best_and_stops(tmp_path, monkeypatch, caplog):
    """Validation losses 10, 9, 9.5, 9.6, 9.7, 9.8 with patience 2: a decay after epoch 4
    (back to epoch 2's weights), a second after epoch 6, which is max_decays: stop."""
    import logging

    from vae_tfp.training import train_run

    _scripted_validation(monkeypatch, [-10.0, -9.0, -9.5, -9.6, -9.7, -9.8, -1.0, -1.0])
    run_config = _run_config(
        {
            "epochs": 8,
            "learning_rate": 0.1,
            "optimizer": {"name": "sgd", "momentum": 0.5, "clip_norm": 5.0},
            "learning_rate_schedule": {"type": "plateau", "patience": 2, "max_decays": 2},
        }
    )
    data = prepare_dataset("digits", run_config["dataset_options"])
    with caplog.at_level(logging.INFO, logger="vae_tfp.training.loop"):
        summary = train_run(run_config, data, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    np.testing.assert_allclose(history["learning_rate"], [0.1] * 4 + [0.05] * 2)
    assert summary["stop_reason"] == "learning rate decayed 2 times (plateau schedule)"
    assert summary["epochs_trained"] == 6 and summary["best_epoch"] == 2
    assert "learning rate 0.05 from the best checkpoint (epoch 2)" in caplog.text


def test_early_stopping_stops_after_patience_epochs(tmp_path, monkeypatch):
    from vae_tfp.training import train_run

    _scripted_validation(monkeypatch, [-10.0, -9.0, -9.5, -9.6, -8.0, -7.0])
    run_config = _run_config({"epochs": 6, "early_stopping_patience": 2})
    data = prepare_dataset("digits", run_config["dataset_options"])
    summary = train_run(run_config, data, tmp_path)
    assert summary["stop_reason"] == "validation ELBO not improved for 2 epochs"
    assert len(pd.read_csv(tmp_path / "history.csv")) == 4 and summary["best_epoch"] == 2
