"""Protocol options of the papers' code: Burda et al. 2016's one-sample KL estimator in the
training loss and decoder output bias at the logit of the training mean (yburda/iwae), and
He et al.'s and Li et al.'s validation with fresh posterior noise every epoch."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import yaml

from vae_tfp.config import RunKey, resolve_run_config
from vae_tfp.data import prepare_dataset
from vae_tfp.methods import build_method
from vae_tfp.models import build_vae
from vae_tfp.models.decoders import build_decoder
from vae_tfp.models.encoder import gaussian_posterior

DEFAULT_CONFIG = yaml.safe_load(open("config/config.yaml"))


def _vae():
    return build_vae(
        {"latent_dim": 3, "encoder_hidden_units": [8]},
        {"type": "mlp", "hidden_units": [8]},
        (5,),
        "binary",
    )


def test_sampled_kl_is_log_q_minus_log_p_at_the_drawn_z():
    vae = _vae()
    x = tf.constant(np.random.default_rng(0).integers(0, 2, (4, 5)).astype(np.float32))
    seed = tf.constant([1, 2], tf.int32)
    out = vae.forward(x, seed)
    loc, log_var = out.loc.numpy(), out.log_var.numpy()
    z = gaussian_posterior(out.loc, out.log_var).sample(seed=seed).numpy()  # rec's z
    log_q = -0.5 * (np.log(2 * np.pi) + log_var + (z - loc) ** 2 / np.exp(log_var))
    log_p = -0.5 * (np.log(2 * np.pi) + z**2)
    np.testing.assert_allclose(out.kl_per_dim_sampled.numpy(), log_q - log_p, atol=1e-5)


def test_sampled_kl_is_unbiased_for_the_analytic_kl():
    """The mean of n one-sample estimates is within 4 standard errors (estimated from the
    same n samples) of the closed form, in every latent dimension."""
    vae, n = _vae(), 20_000
    x = tf.constant(np.tile(np.array([[1, 0, 1, 1, 0]], np.float32), (n, 1)))
    out = vae.forward(x, tf.constant([5, 6], tf.int32))
    sampled = out.kl_per_dim_sampled.numpy().astype(np.float64)
    standard_error = sampled.std(0, ddof=1) / np.sqrt(n)
    gap = np.abs(sampled.mean(0) - out.kl_per_dim.numpy()[0])
    assert np.all(gap < 4 * standard_error), (gap, standard_error)


def test_training_kl_follows_the_kl_estimator():
    vae = _vae()
    out = vae.forward(tf.ones((2, 5)), tf.constant([1, 2], tf.int32))
    analytic = build_method({"method": "kl_anneal", "beta0": 0.0, "warmup_steps": 10})
    sampled = build_method({"method": "vanilla", "kl_estimator": "sampled"})
    assert analytic.training_kl(out) is out.kl_per_dim
    assert sampled.training_kl(out) is out.kl_per_dim_sampled


def test_kl_estimator_errors_name_what_is_allowed():
    with pytest.raises(ValueError, match=r"kl_estimator must be one of \['analytic', 'sampled'\]"):
        build_method({"method": "vanilla", "kl_estimator": "exact"})
    with pytest.raises(ValueError, match="'free_bits' floors or replaces it"):
        build_method({"method": "free_bits", "lambda": 0.5, "kl_estimator": "sampled"})


def test_output_bias_is_the_logit_of_the_clipped_training_mean():
    decoder = build_decoder({"type": "mlp", "output_bias": "data_mean"}, 2, (3,), "binary")
    train = np.array([[0, 1, 1], [0, 1, 0], [0, 1, 1], [0, 1, 1]], np.float32)
    decoder.initialize_output_bias(train)
    # Means 0, 1, 0.75: clipped to 0.001 and 0.999, so the logits stay finite.
    expected = [np.log(0.001 / 0.999), np.log(0.999 / 0.001), np.log(3.0)]
    np.testing.assert_allclose(decoder.head.bias.numpy(), expected, rtol=1e-6)
    zero = build_decoder({"type": "mlp"}, 2, (3,), "binary")
    zero.initialize_output_bias(train)
    np.testing.assert_array_equal(zero.head.bias.numpy(), 0.0)
    with pytest.raises(ValueError, match="output_bias 'data_mean' sets Bernoulli logits"):
        build_decoder({"type": "mlp", "output_bias": "data_mean"}, 2, (3,), "real")
    with pytest.raises(ValueError, match=r"output_bias must be one of \['zero', 'data_mean'\]"):
        build_decoder({"type": "mlp", "output_bias": "mean"}, 2, (3,), "binary")


def test_a_run_with_burda_code_options(tmp_path):
    """The options together in a short run: the model starts at the data-mean bias (and a
    decoder re-initialization would too), the loss uses the sampled KL, the logged KL stays
    the analytic one (>= 0) and the Burda rates are rounded."""
    from vae_tfp.config.checks import check_experiment_config
    from vae_tfp.run_model import model_from_run_config, reinitialize_decoder
    from vae_tfp.training import train_run

    config = yaml.safe_load(open("config/config.yaml"))
    config["decoders"]["burda_code"] = {
        "type": "mlp", "hidden_units": [8], "activation": "tanh", "output_bias": "data_mean"
    }  # fmt: skip
    config["methods"]["sampled_kl"] = {"method": "vanilla", "kl_estimator": "sampled"}
    config["grid"] = [{"datasets": ["digits"], "decoders": ["burda_code"],
                       "methods": ["sampled_kl"]}]  # fmt: skip
    training = {
        "epochs": 2,
        "learning_rate": 1e-3,
        "optimizer": {"name": "adam", "beta_1": 0.99, "epsilon": 1e-4,
                      "initial_second_moment": 1.0},
        "learning_rate_schedule": {"type": "burda", "stages": 2, "decimals": 2},
    }  # fmt: skip
    config["datasets"]["digits"]["training"] = training
    check_experiment_config(config)
    run_config = resolve_run_config(config, RunKey("digits", "burda_code", "sampled_kl", 0))
    run_config["model"].update(latent_dim=2, encoder_hidden_units=[8])
    data = prepare_dataset("digits", run_config["dataset_options"])
    mean = np.clip(data.train.reshape(len(data.train), -1).mean(0), 0.001, 0.999)
    model = model_from_run_config(run_config, data)
    np.testing.assert_allclose(model.decoder.head.bias.numpy(), np.log(mean / (1 - mean)),
                               rtol=1e-5)  # fmt: skip
    model.decoder.head.bias.assign(tf.zeros_like(model.decoder.head.bias))
    reinitialize_decoder(model, run_config, data, seed=3)
    np.testing.assert_allclose(model.decoder.head.bias.numpy(), np.log(mean / (1 - mean)),
                               rtol=1e-5)  # fmt: skip
    train_run(run_config, data, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    np.testing.assert_allclose(history["learning_rate"], [1e-3, 7.2e-4], rtol=1e-12)
    assert (history["kl"] >= 0).all() and np.isfinite(history["loss"]).all()


@pytest.mark.parametrize("noise", ["fixed", "fresh"])
def test_validation_noise_fixed_repeats_and_fresh_redraws_each_epoch(tmp_path, monkeypatch, noise):
    """With the weights held still (no training updates), the validation ELBO of every epoch
    is the same number under fixed noise and a new one under fresh noise, and a second run
    with the same seed validates on the same noise (so a resumed run does too)."""
    from vae_tfp.training.loop import Trainer

    monkeypatch.setattr(Trainer, "_train_epoch", lambda self, progress, epoch, rng, save: None)
    run_config = resolve_run_config(DEFAULT_CONFIG, RunKey("digits", "mlp", "vanilla", 0))
    run_config["model"].update(latent_dim=2, encoder_hidden_units=[8])
    run_config["training"].update(epochs=3, validation_noise=noise)
    data = prepare_dataset("digits", run_config["dataset_options"])

    def valid_elbos(run_dir):
        Trainer(run_config, data, run_dir).run()
        return pd.read_csv(run_dir / "history.csv")["valid_elbo"].to_numpy()

    elbos = [valid_elbos(tmp_path / "first"), valid_elbos(tmp_path / "again")]
    np.testing.assert_array_equal(elbos[0], elbos[1])
    if noise == "fixed":
        assert len(set(elbos[0])) == 1
    else:
        assert len(set(elbos[0])) == 3
