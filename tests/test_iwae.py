"""The IWAE objective (Burda et al. 2016, eq. 8) against its defining properties: k = 1 is
the VAE with the one-sample KL, the bound is exact for the exact posterior, and it rises
with k for a mis-specified encoder."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from vae_tfp.methods import build_method
from vae_tfp.models import build_vae
from vae_tfp.models.exact import exact_linear_gaussian_vae


def _bound(vae, x, k, seed):
    """-loss of IWAE(k) on x: the batch mean of L_k (x a NumPy array, the ppca_and_data
    fixture of conftest.py)."""
    _, loss = build_method({"method": "iwae", "k": k}).training_loss(
        vae, tf.constant(x), tf.constant(seed, tf.int32), 0
    )
    return -float(loss)


def test_k1_is_the_vae_loss_with_the_sampled_kl():
    vae = build_vae(
        {"latent_dim": 3, "encoder_hidden_units": [8]},
        {"type": "mlp", "hidden_units": [8]},
        (5,),
        "binary",
    )
    x = tf.constant(np.random.default_rng(0).integers(0, 2, (16, 5)).astype(np.float32))
    seed = tf.constant([3, 4], tf.int32)
    iwae_out, iwae_loss = build_method({"method": "iwae", "k": 1}).training_loss(vae, x, seed, 0)
    vae_method = build_method({"method": "vanilla", "kl_estimator": "sampled"})
    vae_out, vae_loss = vae_method.training_loss(vae, x, seed, 0)
    assert float(iwae_loss) == pytest.approx(float(vae_loss), rel=1e-5)
    np.testing.assert_allclose(iwae_out.rec.numpy(), vae_out.rec.numpy(), rtol=1e-5)
    np.testing.assert_allclose(iwae_out.kl_per_dim.numpy(), vae_out.kl_per_dim.numpy())


@pytest.mark.parametrize("k", [1, 5, 50])
def test_bound_is_log_p_x_for_the_exact_posterior(ppca_and_data, k):
    """Every importance weight equals p(x) exactly, so L_k = log p(x) for any k and seed."""
    model, x = ppca_and_data
    vae = exact_linear_gaussian_vae(model.weight, model.bias, model.noise_std)
    exact = model.log_prob(x).mean()
    assert _bound(vae, x, k, [k, 9]) == pytest.approx(exact, abs=1e-4)


def test_bound_rises_with_k_for_a_mis_specified_encoder(ppca_and_data):
    """Posterior variances 3x too wide: L_1 < L_5 < L_50 < log p(x). Each gap is checked
    against 4 standard errors of the paired per-example difference (same x, independent
    samples), estimated from 20 repetitions."""
    model, x = ppca_and_data
    vae = exact_linear_gaussian_vae(model.weight, model.bias, model.noise_std, variance_scale=3.0)
    exact = model.log_prob(x).mean()
    bounds = {k: np.array([_bound(vae, x, k, [k, r]) for r in range(20)]) for k in (1, 5, 50)}
    for low, high in ((1, 5), (5, 50)):
        gap = bounds[high] - bounds[low]
        assert gap.mean() > 4 * gap.std(ddof=1) / np.sqrt(len(gap)), (low, high, gap)
    assert bounds[50].mean() < exact


def test_kl_estimator_does_not_apply_to_iwae():
    with pytest.raises(ValueError, match="kl_estimator 'sampled'.*'iwae' floors or replaces it"):
        build_method({"method": "iwae", "k": 5, "kl_estimator": "sampled"})
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        build_method({"method": "iwae", "k": 0})


def test_an_iwae_run_trains_and_logs_the_elbo(tmp_path):
    import yaml

    from vae_tfp.config import RunKey, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.training import train_run

    config = yaml.safe_load(open("config/config.yaml"))
    config["methods"]["iwae_5"] = {"method": "iwae", "k": 5}
    run_config = resolve_run_config(config, RunKey("digits", "mlp", "iwae_5", 0))
    run_config["training"]["epochs"] = 2
    run_config["model"].update(latent_dim=2, encoder_hidden_units=[8])
    data = prepare_dataset("digits", run_config["dataset_options"])
    train_run(run_config, data, tmp_path)
    history = pd.read_csv(tmp_path / "history.csv")
    # The logged loss is -L_5, at least as good as the logged -ELBO up to noise.
    assert np.isfinite(history["loss"]).all() and (history["kl"] > 0).all()
    assert (history["loss"] < -history["elbo"] + 1.0).all()
