"""SA-VAE (Kim et al. 2018): the SVI refinement of q(z|x), its gradients, its use everywhere.

The refinement is checked on probabilistic-PCA data, where everything is known in closed
form: the exact posterior p(z|x) is a diagonal Gaussian, so each example's ELBO at
variational parameters lambda is log p(x) - KL(q_lambda || p(z|x)), with no Monte Carlo error.
"""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import yaml

from vae_tfp.config import RunKey, resolve_run_config
from vae_tfp.data import prepare_dataset
from vae_tfp.data.linear_gaussian import LinearGaussianModel
from vae_tfp.evaluation.evaluate import compute_metrics, evaluate_run, importance_weighted_pass
from vae_tfp.io import write_json
from vae_tfp.methods import build_method
from vae_tfp.methods.sa_vae import SVIRefinement
from vae_tfp.metrics import aggregate_posterior_metrics
from vae_tfp.models.encoder import gaussian_posterior
from vae_tfp.models.exact import exact_linear_gaussian_vae
from vae_tfp.models.vae import VAE
from vae_tfp.seeds import derive_seed
from vae_tfp.training.loop import Trainer

tfd = tfp.distributions

PPCA_OPTIONS = {
    "data_seed": 0,
    "data_dim": 8,
    "spectrum": [2.0, 1.0, 0.5, 0.0],
    "noise_std": 0.5,
    "n_train": 100,
    "n_valid": 10,
    "n_test": 50,
}


@pytest.fixture(scope="module")
def ppca():
    """The pPCA data, its generating model, and a VAE with that decoder whose encoder has
    the exact posterior means halved and variances x4 (a deliberately poor q)."""
    data = prepare_dataset("linear_gaussian", PPCA_OPTIONS)
    truth = LinearGaussianModel.from_reference(data.reference)
    model = exact_linear_gaussian_vae(truth.weight, truth.bias, truth.noise_std, 4.0)
    kernel, bias = model.encoder.head.get_weights()
    latent_dim = truth.weight.shape[1]
    kernel[:, :latent_dim] *= 0.5
    bias[:latent_dim] *= 0.5
    model.encoder.head.set_weights([kernel, bias])
    return data, truth, model


def kl_to_exact_posterior(truth, x, loc, log_var):
    """KL(q || p(z|x)) per example in float64: log p(x) - ELBO(q), exactly."""
    mean, variance = truth.posterior_params(x)
    v = np.exp(np.asarray(log_var, np.float64))
    m = np.asarray(loc, np.float64)
    return 0.5 * np.sum(v / variance + (m - mean) ** 2 / variance - 1 - np.log(v / variance), -1)


def test_an_svi_step_is_gradient_ascent_with_momentum_on_each_examples_elbo(ppca):
    """Two steps against the analytic gradients of the single-sample ELBO of the pPCA
    likelihood, with the step's own noise: v = eta v + clip(g), lambda += alpha v."""
    data, truth, model = ppca
    x = data.test[:20].astype(np.float32)
    loc, log_var = (t.numpy().astype(np.float64) for t in model.encoder.params(x))
    lr, eta, clip, kl_weight, seed = 0.05, 0.5, 1.0, 0.3, tf.constant([4, 2])
    w, b, sigma = truth.weight, truth.bias, truth.noise_std
    velocity = [np.zeros_like(loc), np.zeros_like(log_var)]
    for k in range(2):
        step_seed = tf.random.experimental.stateless_fold_in(seed, k)
        z = gaussian_posterior(tf.constant(loc, tf.float32), tf.constant(log_var, tf.float32))
        z = z.sample(seed=step_seed).numpy().astype(np.float64)
        scale = np.exp(0.5 * log_var)
        eps = (z - loc) / scale
        dlog_p_dz = (x - z @ w.T - b) @ w / sigma**2
        grads = [
            dlog_p_dz - kl_weight * loc,
            0.5 * scale * eps * dlog_p_dz - kl_weight * 0.5 * (np.exp(log_var) - 1.0),
        ]
        norms = [np.linalg.norm(g, axis=1, keepdims=True) for g in grads]
        grads = [g * np.minimum(1.0, clip / n) for g, n in zip(grads, norms, strict=True)]
        assert max(float(n.max()) for n in norms) > clip  # the clipping is exercised
        velocity = [eta * v + g for v, g in zip(velocity, grads, strict=True)]
        loc, log_var = loc + lr * velocity[0], log_var + lr * velocity[1]
    refined = SVIRefinement(2, lr, eta, clip)(
        model, tf.constant(x), *model.encoder.params(x), seed, kl_weight
    )
    # float32 arithmetic against float64: a few ulps of values of order 1-10.
    np.testing.assert_allclose(refined[0].numpy(), loc, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(refined[1].numpy(), log_var, rtol=1e-4, atol=1e-5)


def test_refinement_raises_every_examples_elbo(ppca):
    """The defining property, in expectation over the SVI noise: for each of 50 examples the
    exact ELBO after the default 10 steps beats the encoder's, by more than 4 standard errors
    of the mean gain over 32 independent refinements."""
    data, truth, model = ppca
    x = data.test.astype(np.float32)
    loc0, log_var0 = model.encoder.params(x)
    before = kl_to_exact_posterior(truth, x, loc0, log_var0)
    refinement = build_method({"method": "sa_vae"}).posterior_refinement()
    draws = 32
    gains = np.stack(
        [
            before - kl_to_exact_posterior(
                truth, x, *refinement(model, tf.constant(x), loc0, log_var0, tf.constant([r, 9]))
            )
            for r in range(draws)
        ]
    )
    mean = gains.mean(0)
    standard_error = gains.std(0, ddof=1) / np.sqrt(draws)
    assert np.all(mean > 4 * standard_error), (mean / standard_error).min()


def test_gradients_flow_through_the_refinement_to_encoder_and_decoder():
    """The loss after K steps, with the noise fixed, is a smooth function of the encoder's
    and the decoder's weights; its autodiff gradient (second order through the steps) equals
    central finite differences in float64 (h = 1e-6: truncation ~1e-12, rounding ~1e-9),
    and differs from the gradient that treats the refined parameters as constants."""
    rng = np.random.default_rng(0)
    w = tf.Variable(rng.normal(size=(5, 3)))
    a = tf.Variable(rng.normal(size=(5, 3)) * 0.3)
    c = tf.Variable(rng.normal(size=3) * 0.1)
    x = tf.constant(rng.normal(size=(7, 5)))

    class Float64Model:
        def decoder(self, z):
            return tfd.Independent(tfd.Normal(z @ tf.transpose(w), 0.7), 1)

        def kl_per_dim(self, loc, log_var):
            return 0.5 * (loc**2 + tf.exp(log_var) - 1.0 - log_var)

    model = Float64Model()
    refinement = SVIRefinement(4, 0.05, 0.5, float("inf"))

    def loss(stop_through_steps=False):
        loc0 = x @ a + c
        log_var0 = tf.fill(tf.shape(loc0), tf.constant(-1.0, tf.float64))
        loc, log_var = refinement(model, x, loc0, log_var0, tf.constant([1, 2]))
        if stop_through_steps:  # first order: lambda_K = lambda_0 + constant
            loc = loc0 + tf.stop_gradient(loc - loc0)
            log_var = log_var0 + tf.stop_gradient(log_var - log_var0)
        return -tf.reduce_mean(refinement.elbo(model, x, loc, log_var, tf.constant([3, 4])))

    for variable in (a, w):
        with tf.GradientTape() as tape:
            value = loss()
        gradient = tape.gradient(value, variable).numpy()
        direction = rng.normal(size=variable.shape)
        h, start = 1e-6, variable.numpy()
        variable.assign(start + h * direction)
        plus = float(loss())
        variable.assign(start - h * direction)
        minus = float(loss())
        variable.assign(start)
        numeric = (plus - minus) / (2 * h)
        assert np.sum(gradient * direction) == pytest.approx(numeric, rel=1e-6)
    with tf.GradientTape() as tape:
        first_order = tape.gradient(loss(stop_through_steps=True), a)
    with tf.GradientTape() as tape:
        full = tape.gradient(loss(), a)
    assert float(tf.norm(first_order - full)) > 1e-3 * float(tf.norm(full))


def _trainer(tmp_path, method_options):
    config = yaml.safe_load(open("config/config.yaml"))
    config["methods"] = {"m": method_options}
    run_config = resolve_run_config(config, RunKey("digits", "mlp", "m", 0))
    run_config["model"].update(latent_dim=2, encoder_hidden_units=[16])
    run_config["decoder_options"]["hidden_units"] = [16]
    run_config["training"]["epochs"] = 1
    data = prepare_dataset("digits", run_config["dataset_options"])
    return Trainer(run_config, data, tmp_path), data


def test_zero_svi_steps_is_the_plain_vae_exactly(tmp_path):
    """sa_vae with svi_steps = 0 goes through the refinement code and trains, validates and
    evaluates bit for bit like vanilla; with one step it does not."""
    runs = {}
    for name, options in (
        ("vanilla", {"method": "vanilla"}),
        ("sa_0", {"method": "sa_vae", "svi_steps": 0}),
        ("sa_1", {"method": "sa_vae", "svi_steps": 1}),
    ):
        trainer, data = _trainer(tmp_path / name, options)
        summary = trainer.run()
        evaluation = {
            "iw_samples": 4, "iw_chunk": 2, "batch_size": 200, "au_threshold": 0.01,
            "mi_samples": 2, "mi_minibatch_size": 50,
        }  # fmt: skip
        # The evaluate job's own entry point: metrics.json and samples.npz from the run
        # folder (a refined posterior needs its seed everywhere, samples included).
        write_json(tmp_path / name / "run_config.json", trainer.run_config)
        result = evaluate_run(tmp_path / name, data, evaluation)
        assert (tmp_path / name / "samples.npz").is_file()
        weights = [v.numpy() for v in trainer.model.trainable_variables]
        runs[name] = (summary["best_valid_elbo"], result["metrics"], weights)
    assert runs["sa_0"][0] == runs["vanilla"][0]
    assert runs["sa_0"][1] == runs["vanilla"][1]
    for mine, theirs in zip(runs["sa_0"][2], runs["vanilla"][2], strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert runs["sa_1"][1]["nll_iw"] != runs["vanilla"][1]["nll_iw"]


def test_evaluation_uses_the_refined_posterior(ppca):
    """Every metric comes from the refined q: its parameters are closer to the exact
    posterior than the encoder's for every example; kl, au and mi are those of the refined
    parameters, and so is au_he2019 (as He et al.'s SA-VAE scripts count it), while
    au_encoder_variances are those of the encoder's own means; and nll_iw with
    K = 1 (minus a single-sample ELBO) exceeds the exact NLL by KL(q || p(z|x)) of the
    refined q, within 4 standard errors."""
    data, truth, exact = ppca
    refinement = build_method({"method": "sa_vae"}).posterior_refinement()
    model = VAE(exact.encoder, exact.decoder, exact.latent_dim, posterior_refinement=refinement)
    x = data.test.astype(np.float32)
    passed = importance_weighted_pass(model, x, 1, 1, 25, seed=11)
    refined_kl = kl_to_exact_posterior(truth, x, passed["loc"], passed["log_var"])
    encoder_kl = kl_to_exact_posterior(truth, x, *model.encoder.params(x))
    assert np.all(refined_kl < encoder_kl)
    gap = -passed["log_px"] - (-truth.log_prob(x))
    standard_error = np.std(gap - refined_kl, ddof=1) / np.sqrt(len(x))
    assert abs(np.mean(gap - refined_kl)) < 4 * standard_error

    evaluation = {
        "iw_samples": 1, "iw_chunk": 1, "batch_size": 25, "au_threshold": 0.01,
        "mi_samples": 3, "mi_minibatch_size": 25,
    }  # fmt: skip
    result = compute_metrics(model, data, evaluation, seed=5)
    eval_seed = derive_seed(5, "eval_sampling")
    passed = importance_weighted_pass(model, x, 1, 1, 25, eval_seed)
    loc, log_var = passed["loc"], passed["log_var"]
    kl = 0.5 * np.sum(loc**2 + np.exp(log_var) - 1 - log_var, -1)
    assert result["metrics"]["kl"] == pytest.approx(np.mean(kl), rel=1e-6)
    variances = np.var(loc.astype(np.float64), 0, ddof=1)
    np.testing.assert_allclose(result["metrics"]["au_variances"], variances)
    # He et al. 2019's AU: >= on the refined means (text_sa.py's calc_au via sa_forward).
    assert result["metrics"]["au_he2019"] == int(np.sum(variances >= 0.01))
    encoder_loc = np.asarray(model.encoder.params(x)[0], np.float64)
    encoder_variances = np.var(encoder_loc, 0, ddof=1)
    np.testing.assert_allclose(
        result["metrics"]["au_encoder_variances"], encoder_variances, rtol=1e-6
    )
    assert not np.allclose(encoder_variances, variances, rtol=1e-3)
    # A threshold between the two variances of the dimension the refinement moves most:
    # He et al.'s count follows the refined means, not the encoder's.
    moved = np.argmax(np.abs(variances - encoder_variances))
    between = float(np.sqrt(variances[moved] * encoder_variances[moved]))
    counted = compute_metrics(model, data, {**evaluation, "au_threshold": between}, seed=5)
    assert counted["metrics"]["au_he2019"] == int(np.sum(variances >= between))
    assert int(np.sum(variances >= between)) != int(np.sum(encoder_variances >= between))
    aggregate = aggregate_posterior_metrics(loc, log_var, n_samples=3, seed=eval_seed)
    assert result["metrics"]["mi"] == aggregate["mi"]
    assert "SVI steps" in result["estimators"]["posterior"]


@pytest.mark.parametrize(("step", "weight"), [(0, 0.1), (50, 0.55), (100, 1.0), (10**6, 1.0)])
def test_sa_vae_with_annealing_weights_loss_and_svi_objective(step, weight):
    """SA-VAE + anneal (He et al. 2019): the KL weight rises linearly from beta0 to 1."""
    method = build_method({"method": "sa_vae_anneal", "beta0": 0.1, "warmup_steps": 100})
    assert float(method.kl_weight(step)) == pytest.approx(weight)
    assert float(build_method({"method": "sa_vae"}).kl_weight(step)) == 1.0
