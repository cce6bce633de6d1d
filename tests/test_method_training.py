"""Method parts that change training itself: the encoder inner loop and phases."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import yaml
from grayscale_data import grayscale_data

from vae_tfp.config import RunKey, resolve_run_config
from vae_tfp.data import prepare_dataset
from vae_tfp.run_model import reinitialize_decoder
from vae_tfp.seeds import derive_seed
from vae_tfp.training.loop import Trainer
from vae_tfp.training.spans import BatchFeed

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
    steps = trainer.inner_loop.run(np.random.default_rng(0))
    assert 10 <= steps <= 30 and steps % 10 == 0
    for before, after in zip(decoder_before, _values(trainer.model.decoder.variables), strict=True):
        np.testing.assert_array_equal(before, after)
    assert any(
        not np.array_equal(b, a)
        for b, a in zip(encoder_before, _values(trainer.model.encoder.variables), strict=True)
    )
    assert int(trainer.step.numpy()) == 0  # the schedules' clock counts decoder updates only


def test_aggressive_history_records_inner_steps_and_its_end(tmp_path, monkeypatch):
    """He et al. 2019's switch-off, unconditionally: the validation MI is scripted (1.0, 2.0,
    1.5, 1.7 over 4 epochs; the rest of validation is real), so it first falls at epoch 3.
    Aggressive mode must end there, and epoch 4 must have no inner steps."""
    import vae_tfp.training.loop as loop

    scripted = iter([1.0, 2.0, 1.5, 1.7])
    real = loop.validation_scores
    monkeypatch.setattr(
        loop, "validation_scores", lambda *a, **k: {**real(*a, **k), "valid_mi": next(scripted)}
    )
    trainer, _, _ = _trainer(
        tmp_path, {"method": "aggressive", "max_inner_steps": 20, "check_every": 5}, epochs=4
    )
    summary = trainer.run()
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["valid_mi"].tolist() == [1.0, 2.0, 1.5, 1.7]
    assert summary["inner_loop_ended_after_epoch"] == 3
    assert history["inner_loop"].tolist() == [1, 1, 1, 0]
    assert (history.loc[:2, "encoder_inner_steps"] >= 20).all()  # >= 5 per decoder update
    assert history.loc[3, "encoder_inner_steps"] == 0  # after the switch-off, none
    assert summary["encoder_inner_steps"] == history["encoder_inner_steps"].sum()


def test_aggressive_switch_off_can_read_he_et_als_mi_within_validation_batches(
    tmp_path, monkeypatch
):
    """With ``switch_off_mi_batch: n`` the switch-off compares valid_mi_batch, the MI within
    validation batches of n (He et al.'s calc_mi), not the whole-set valid_mi: scripted so
    that only valid_mi_batch falls (at epoch 2), aggressive mode ends there. Image batches
    are a fresh shuffle of the validation rows each epoch (image.py's loader), the same
    when asked again."""
    import vae_tfp.training.loop as loop

    whole_set, in_batches = iter([1.0, 2.0, 3.0]), iter([1.0, 0.5, 0.7])
    seen = []
    real = loop.validation_scores

    def scripted(*args, **kwargs):
        seen.append(kwargs["mi_batches"])
        real_scores = real(*args, **kwargs)
        assert np.isfinite(real_scores["valid_mi_batch"])
        return {**real_scores, "valid_mi": next(whole_set), "valid_mi_batch": next(in_batches)}

    monkeypatch.setattr(loop, "validation_scores", scripted)
    options = {"method": "aggressive", "max_inner_steps": 5, "check_every": 5}
    trainer, _, data = _trainer(tmp_path, {**options, "switch_off_mi_batch": 50}, epochs=3)
    summary = trainer.run()
    assert summary["inner_loop_ended_after_epoch"] == 2
    assert pd.read_csv(tmp_path / "history.csv")["valid_mi_batch"].tolist() == [1.0, 0.5, 0.7]
    n_valid = len(data.valid)
    assert [len(rows) for rows in seen[0]] == [50] * (n_valid // 50) + [n_valid % 50] * bool(
        n_valid % 50
    )
    np.testing.assert_array_equal(np.sort(np.concatenate(seen[0])), np.arange(n_valid))
    assert not np.array_equal(np.concatenate(seen[0]), np.concatenate(seen[1]))
    for epoch in (1, 2):
        again = trainer._mi_batches(epoch)
        assert all(np.array_equal(a, b) for a, b in zip(again, seen[epoch - 1], strict=True))


@pytest.mark.parametrize("first_inner_batch", ["decoder", "random"])
def test_padded_inner_loop_starts_on_the_decoder_batch_binarized_once(tmp_path, first_inner_batch):
    """He et al.'s image.py binarizes each batch once (batch_data = bernoulli(...)), takes
    the inner loop's first encoder step on it (batch_data_enc = batch_data) and then the
    decoder update: the feed binarizes the decoder's batch once and both train on that draw.
    Batches of 24 of 64 images: the epoch's last has 16. ``random`` draws it at random."""
    options = {"method": "aggressive", "max_inner_steps": 3, "check_every": 3}
    config = dict(DEFAULT_CONFIG)
    config["methods"] = {"m": {**options, "first_inner_batch": first_inner_batch}}
    run_config = resolve_run_config(config, RunKey("digits", "mlp", "m", 0))
    run_config["training"].update(epochs=1, batch_size=24)
    run_config["model"].update(latent_dim=2, encoder_hidden_units=[8])
    run_config["decoder_options"] = {"type": "mlp", "hidden_units": [8]}
    data = grayscale_data(exact_rows=4)
    trainer = Trainer(run_config, data, tmp_path)
    firsts, helds = [], []
    draw, span = trainer.feed.draw_inner_batches, trainer.decoder_span
    trainer.feed.draw_inner_batches = lambda rng, n, first=None: (
        firsts.append(first) or draw(rng, n, first)
    )
    trainer.decoder_span = lambda plan, a, b, held=None: helds.append(held) or span(
        plan, a, b, held=held
    )
    trainer.run()
    assert len(firsts) == len(helds) == 3  # one window of 3 steps per decoder update
    if first_inner_batch == "random":
        assert firsts == helds == [None] * 3
        return
    assert all(first is held for first, held in zip(firsts, helds, strict=True))
    order = trainer.feed.epoch_plan(derive_seed(trainer.seed, "data_order"), 1).numpy()
    for index, held in enumerate(helds):
        rows = order[index * 24 : (index + 1) * 24]
        assert held.shape == (len(rows), 8, 8) and len(rows) == (24, 24, 16)[index]
        assert set(np.unique(held.numpy())) == {0.0, 1.0}
        np.testing.assert_array_equal(held.numpy()[:, :4], data.train[rows][:, :4])


def test_padded_inner_window_averages_over_examples_and_a_held_batch_is_not_drawn_again():
    """The window's loss is per example (image.py: burn_cur_loss / burn_num_examples), so a
    smaller first batch weighs less; a span given the held batch trains on it and draws
    no new binarization."""
    data = grayscale_data(exact_rows=4)
    feed = BatchFeed(data.train, 24, True, 7, False)
    plan = feed.epoch_plan(1, 1)
    held = feed.inner_loop_first_batch(plan, 2)  # the epoch's last batch
    assert held.shape[0] == 16
    window = feed.make_inner_window(lambda x: {"loss": tf.cast(tf.shape(x)[0], tf.float32)})
    rng = np.random.default_rng(0)
    # (16 * 16 + 2 * 24 * 24) / (16 + 2 * 24) = 22, where the mean over steps is 21.33
    assert float(window(*feed.draw_inner_batches(rng, 3, held))) == pytest.approx(22.0)
    assert float(window(*feed.draw_inner_batches(rng, 3))) == pytest.approx(24.0)
    state = feed.binarizer.state.numpy().copy()

    def step(x):
        total = tf.reduce_sum(x)
        return {"loss": total, "rec": total, "kl": 0.0 * total, "kl_weight": 1.0 + 0.0 * total}

    assert feed.make_span(step)(plan, 2, 3, held=held) == 3
    np.testing.assert_array_equal(feed.binarizer.state.numpy(), state)
    assert feed.read_sums()["loss"] == pytest.approx(float(tf.reduce_sum(held)) * 16)


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


def test_bn_vae_moving_statistics_follow_compiled_training_and_are_what_evaluation_uses(
    tmp_path,
):
    """BN-VAE's moving mean and variance are updated inside the compiled training span as
    m <- momentum m + (1 - momentum) batch statistic, with the declared momentum; validation
    and evaluation normalize with them, not with the statistics of their own batch."""
    from vae_tfp.evaluation import importance_weighted_pass

    momentum = 0.5  # far from the Keras default 0.99, so the recursion is visible
    trainer, _, data = _trainer(tmp_path, {"method": "bn_vae", "gamma": 0.6, "momentum": momentum})
    model, batch = trainer.model, trainer.batch_size
    bn = model.posterior_transform.normalize
    assert bn.momentum == momentum
    order = tf.range(len(data.train), dtype=tf.int32)
    mean, variance = (
        np.zeros(model.latent_dim),
        np.ones(model.latent_dim),
    )  # Keras's initial moving statistics
    for b in range(3):  # one compiled span of one batch at a time: the real training path
        rows = data.train[b * batch : (b + 1) * batch]
        raw = model.encoder.params(tf.constant(rows))[0].numpy().astype(np.float64)
        assert int(trainer.joint_span(order, b, b + 1)) == b + 1
        mean = momentum * mean + (1 - momentum) * raw.mean(0)
        variance = momentum * variance + (1 - momentum) * raw.var(0)
        np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(bn.moving_variance.numpy(), variance, rtol=1e-4, atol=1e-6)

    x = data.test[:100]
    raw = model.encoder.params(tf.constant(x))[0].numpy()
    shift = model.posterior_transform.shift.numpy()
    with_moving = 0.6 * (raw - mean) / np.sqrt(variance + bn.epsilon) + shift
    with_batch = 0.6 * (raw - raw.mean(0)) / np.sqrt(raw.var(0) + bn.epsilon) + shift
    assert np.abs(with_moving - with_batch).max() > 0.05  # the two are told apart
    evaluated = importance_weighted_pass(model, x, n_samples=2, chunk=2, batch_size=50, seed=0)
    np.testing.assert_allclose(evaluated["loc"], with_moving, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("select_on", ["objective", "elbo"])
def test_beta_selects_and_decays_on_its_validation_objective_when_asked(
    tmp_path, monkeypatch, select_on
):
    """``beta`` with ``select_on: objective`` (Li et al. 2019's text_beta.py, whose
    ``--beta 0`` autoencoder keeps the epoch of the best validation rec + beta * KL): the
    best checkpoint and the plateau rule follow valid_rec - beta * valid_kl. Scripted so the
    two scores disagree: the ELBO improves every epoch (-10, -9, -8), the objective at
    beta 0.5 (valid_rec - 0.5 * valid_kl: -4, -3, -5) peaks at epoch 2 and then falls,
    which with patience 1 and one allowed decay stops the run after epoch 3."""
    import vae_tfp.training.loop as loop

    rows = iter([(-10.0, -4.0, 0.0), (-9.0, -2.0, 2.0), (-8.0, -2.0, 6.0)])
    real = loop.validation_scores

    def scripted(*args, **kwargs):
        elbo, rec, kl = next(rows)
        return {**real(*args, **kwargs), "valid_elbo": elbo, "valid_rec": rec, "valid_kl": kl}

    monkeypatch.setattr(loop, "validation_scores", scripted)
    trainer, _, _ = _trainer(
        tmp_path, {"method": "beta", "beta": 0.5, "select_on": select_on}, epochs=3
    )
    trainer.training.update(
        {"learning_rate_schedule": {"type": "plateau", "patience": 1, "max_decays": 1}}
    )
    trainer.schedule = loop.schedule_settings(trainer.training)
    summary = trainer.run()
    if select_on == "objective":
        assert summary["best_epoch"] == 2
        assert summary["stop_reason"] == "learning rate decayed 1 times (plateau schedule)"
        assert "validation objective rec - 0.5 * KL" in summary["selection_rule"]
    else:
        assert summary["best_epoch"] == 3 and summary["stop_reason"] is None
        assert "highest validation ELBO" in summary["selection_rule"]
    assert summary["epochs_trained"] == 3


def test_selection_score_is_the_elbo_or_the_objective_by_hand():
    from vae_tfp.training.validation import selection_score

    row = {"valid_elbo": -10.0, "valid_rec": -7.0, "valid_kl": 3.0}
    assert selection_score(row, None) == -10.0
    assert selection_score(row, 0.0) == -7.0
    assert selection_score(row, 2.0) == -13.0


def test_a_pretrain_run_method_starts_from_that_runs_best_weights_with_a_fresh_decoder(tmp_path):
    """``pretrain_run`` (Li et al. 2019's text_anneal_fb.py --load_path ... --reset_dec):
    at a fresh start the model takes the best weights of the run in ``pretrain/`` (an
    autoencoder selected on reconstruction, as text_beta.py --beta 0), then the decoder the
    initialization of the run's decoder_reset seed; without that run, nothing trains."""
    from vae_tfp.checkpoints import read_every_variable
    from vae_tfp.config import check_run_config, pretraining_run_config
    from vae_tfp.run_files import checkpoint_path
    from vae_tfp.run_model import model_from_run_config, start_from_pretraining
    from vae_tfp.seeds import derive_seed
    from vae_tfp.training import train_run

    options = {
        "method": "pretrain_run + kl_anneal + free_bits_example",
        "beta0": 0.0,
        "warmup_epochs": 1,
        "lambda": 0.25,
    }
    trainer, run_config, data = _trainer(tmp_path, options, epochs=1)
    with pytest.raises(FileNotFoundError, match=r"pretrain, which has not finished"):
        trainer.run()
    assert not (tmp_path / "history.csv").exists()

    pretraining = pretraining_run_config(run_config)
    check_run_config(pretraining)
    autoencoder_method = {"method": "beta", "beta": 0.0, "select_on": "objective"}
    assert pretraining["method_options"] == autoencoder_method
    pretrained = train_run(pretraining, data, tmp_path / "pretrain")
    assert "objective rec - 0 * KL" in pretrained["selection_rule"]

    autoencoder = model_from_run_config(pretraining, data)
    read_every_variable(
        tf.train.Checkpoint(model=autoencoder), checkpoint_path(tmp_path / "pretrain"), ""
    )
    fresh = model_from_run_config(run_config, data)
    reinitialize_decoder(fresh, run_config, data, derive_seed(0, "decoder_reset"))
    model = model_from_run_config(run_config, data)
    start_from_pretraining(model, run_config, data, tmp_path)
    encoder, decoder = _values(model.encoder.variables), _values(model.decoder.variables)
    for got, want in zip(encoder, _values(autoencoder.encoder.variables), strict=True):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(decoder, _values(fresh.decoder.variables), strict=True):
        np.testing.assert_array_equal(got, want)
    pretrained_decoder = _values(autoencoder.decoder.variables)
    assert any(not np.array_equal(a, b) for a, b in zip(decoder, pretrained_decoder, strict=True))

    summary = _trainer(tmp_path, options, epochs=1)[0].run()
    assert summary["pretraining"]["run_dir"] == "pretrain"
    assert summary["pretraining"]["best_epoch"] == pretrained["best_epoch"]
    assert "beta" in summary["pretraining"]["method"]
    # The method's cost (the tables' hours) includes its pretraining run.
    from vae_tfp.evaluation import evaluate_run
    from vae_tfp.io import write_json

    write_json(tmp_path / "run_config.json", run_config)
    evaluation = {"iw_samples": 2, "iw_chunk": 2, "batch_size": 500, "au_threshold": 0.01,
                  "mi_samples": 1, "mi_minibatch_size": 64}  # fmt: skip
    payload = evaluate_run(tmp_path, data, evaluation)
    training_time = payload["wall_time_s"] - payload["evaluation_wall_time_s"]
    assert training_time == pytest.approx(
        summary["wall_time_s"] + pretrained["wall_time_s"], abs=0.05
    )  # the two clock reads of evaluate_run are microseconds apart
