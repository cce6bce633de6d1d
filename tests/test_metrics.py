"""Estimators against exact answers: AU, MI, and importance-weighted likelihoods."""

import math

import numpy as np
import pytest

from vae_tfp.data.linear_gaussian import make_model
from vae_tfp.evaluation import importance_weighted_pass
from vae_tfp.metrics import (
    active_units,
    aggregate_posterior_metrics,
    bits_per_dim,
    count_active,
    gaussian_kl_per_dim,
    he2019_calc_mi,
    iw_log_likelihood,
    mutual_information,
    mutual_information_in_batches,
    mutual_information_minibatch,
    perplexity,
)
from vae_tfp.models.exact import exact_linear_gaussian_vae


def test_active_units_on_hand_built_means():
    rng = np.random.default_rng(0)
    n = 2000
    loc = np.stack(
        [
            rng.standard_normal(n),
            0.05 * rng.standard_normal(n),
            np.full(n, 3.0),
            0.2 * rng.standard_normal(n),
        ],
        axis=1,
    )  # variances ~1, ~0.0025, 0, ~0.04
    count, variances = active_units(loc, threshold=0.01)
    assert count == 2
    np.testing.assert_allclose(variances, np.var(loc, axis=0, ddof=1))
    assert active_units(loc, threshold=0.001)[0] == 3


def test_active_units_threshold_is_strict():
    loc = np.array([[0.0], [0.25]])  # ddof=1 variance = 0.03125 exactly in binary
    assert active_units(loc, threshold=0.03125)[0] == 0
    assert active_units(loc, threshold=0.0312)[0] == 1


def test_he_2019_active_units_count_a_variance_at_the_threshold():
    """He et al. 2019's calc_au counts >=: the variance exactly at the threshold counts
    there and not in Burda et al.'s strict count; the variances are the same."""
    loc = np.array([[0.0, 0.0], [0.25, 0.5]])  # variances 0.03125 and 0.125, exact
    strict, variances = active_units(loc, threshold=0.03125)
    inclusive, same = active_units(loc, threshold=0.03125, strict=False)
    assert (strict, inclusive) == (1, 2)
    np.testing.assert_array_equal(variances, same)
    assert count_active(variances, 0.125, strict=False) == 1
    assert count_active(variances, 0.125) == 0


def test_mi_is_zero_when_the_encoder_ignores_x():
    loc = np.tile([[0.3, -1.0]], (50, 1))
    log_var = np.tile([[0.1, -0.5]], (50, 1))
    mi, contributions = mutual_information(loc, log_var, n_samples=5, seed=0)
    assert abs(mi) < 1e-10 and np.allclose(contributions, 0.0, atol=1e-10)
    assert active_units(loc)[0] == 0


def test_mi_equals_log_k_for_separated_clusters():
    """Posteriors at K well-separated points: I = H(cluster) = log K exactly."""
    k, per = 4, 25
    loc = np.repeat(np.array([[-30.0], [-10.0], [10.0], [30.0]]), per, axis=0)
    log_var = np.zeros_like(loc)
    mi, _ = mutual_information(loc, log_var, n_samples=3, seed=1)
    assert mi == pytest.approx(math.log(k), abs=1e-9)


def test_mi_of_exact_ppca_posterior_is_close_to_closed_form():
    """I(x;z) = 0.5 sum_i log(1 + s_i^2 / sigma^2) for the exact pPCA posterior.

    The estimator is a lower bound in expectation with a bias that shrinks with N; with
    N = 3000 and 10 samples the Monte Carlo standard error is about 0.01 nats, and the bias
    measured for this spectrum is below 0.05 nats.
    """
    model = make_model(data_dim=5, spectrum=[2.0, 1.0, 0.0], noise_std=0.5, seed=0)
    x = np.random.default_rng(2).standard_normal((3000, 3)) @ model.weight.T + model.bias
    x += 0.5 * np.random.default_rng(3).standard_normal(x.shape)
    mean, variance = model.posterior_params(x)
    exact = 0.5 * np.sum(np.log1p(np.array([4.0, 1.0, 0.0]) / 0.25))
    mi, _ = mutual_information(
        mean, np.broadcast_to(np.log(variance), mean.shape), n_samples=10, seed=0
    )
    assert exact - 0.08 < mi < exact + 0.03


def test_gaussian_kl_per_dim_closed_form():
    loc, log_var = np.array([[1.0, 0.0]]), np.array([[0.0, math.log(4.0)]])
    np.testing.assert_allclose(
        gaussian_kl_per_dim(loc, log_var), [[0.5, 0.5 * (4 - 1 - math.log(4))]]
    )


def test_iw_log_likelihood_is_log_mean_exp():
    log_w = np.log(np.array([[1.0, 3.0], [2.0, 2.0]]))
    np.testing.assert_allclose(iw_log_likelihood(log_w), np.log([2.0, 2.0]))


@pytest.mark.parametrize("k", [1, 7, 50])
def test_nll_iw_is_exact_for_the_exact_posterior(ppca_and_data, k):
    model, x = ppca_and_data
    vae = exact_linear_gaussian_vae(model.weight, model.bias, model.noise_std)
    passed = importance_weighted_pass(vae, x, n_samples=k, chunk=4, batch_size=128, seed=0)
    np.testing.assert_allclose(passed["log_px"], model.log_prob(x), atol=1e-4)


def test_nll_iw_decreases_with_k_and_stays_above_exact(ppca_and_data):
    """A mis-specified encoder: -log p_K(x) falls toward -log p(x) as K grows, never below it
    beyond its standard error; K = 1 is -ELBO estimated with one sample."""
    model, x = ppca_and_data
    vae = exact_linear_gaussian_vae(model.weight, model.bias, model.noise_std, variance_scale=3.0)
    exact = -model.log_prob(x).mean()
    nll = {}
    for k in (1, 10, 100):
        passed = importance_weighted_pass(vae, x, n_samples=k, chunk=25, batch_size=200, seed=k)
        per_example = -passed["log_px"]
        nll[k] = per_example.mean()
        assert nll[k] > exact - 3 * per_example.std(ddof=1) / np.sqrt(len(x))
        if k == 1:
            kl = vae.kl_per_dim(passed["loc"], passed["log_var"]).numpy().sum(-1)
            neg_elbo = -(passed["rec"] - kl).mean()
    assert nll[1] > nll[10] > nll[100] > exact
    # -ELBO (analytic KL) and the K=1 bound share their expectation: equal within MC error.
    assert neg_elbo == pytest.approx(nll[1], abs=0.3)
    assert neg_elbo > nll[100]


# ---- Every metric of evaluation against the exact pPCA answers ---------------------------

EVALUATION = {
    "iw_samples": 5,
    "iw_chunk": 2,
    "batch_size": 500,
    "au_threshold": 0.01,
    "mi_samples": 5,
    "mi_minibatch_size": 128,
}


@pytest.fixture(scope="module")
def exact_evaluation():
    """compute_metrics on the default linear_gaussian test set (N = 2,000) with the exact
    posterior as encoder: spectrum (2, 1, 0.5, 0), sigma 0.5."""
    from vae_tfp.data import prepare_dataset
    from vae_tfp.data.linear_gaussian import LinearGaussianModel
    from vae_tfp.evaluation import compute_metrics

    data = prepare_dataset("linear_gaussian", {"data_seed": 0})
    model = LinearGaussianModel.from_reference(data.reference)
    vae = exact_linear_gaussian_vae(model.weight, model.bias, model.noise_std)
    result = compute_metrics(vae, data, EVALUATION, seed=0)
    per_dim_exact = 0.5 * np.log1p(np.array(data.options["spectrum"]) ** 2 / model.noise_std**2)
    return result, model, data, per_dim_exact


def test_exact_posterior_gives_exact_nll(exact_evaluation):
    result, model, data, _ = exact_evaluation
    assert result["metrics"]["nll_iw"] == pytest.approx(-model.log_prob(data.test).mean(), abs=1e-4)


def test_kl_per_dim_matches_closed_form(exact_evaluation):
    """E_x KL(q(z_i|x)||p(z_i)) = 0.5 log(1 + s_i^2 / sigma^2) for the exact posterior; the
    test-set average differs from it by sampling error only (4 standard errors allowed)."""
    result, _, _, per_dim_exact = exact_evaluation
    kl_per_dim = np.array(result["metrics"]["kl_per_dim"])
    se = np.array(result["standard_errors"]["kl_per_dim"])
    assert np.all(np.abs(kl_per_dim - per_dim_exact) < 4 * se + 1e-6)
    assert kl_per_dim[-1] == pytest.approx(0.0, abs=1e-6)


def test_mi_and_mi_per_dim_match_closed_form(exact_evaluation):
    """Bias at N = 2,000 is about -0.02 nats and the spread over test sets 0.025
    (benchmarks/mi_bias.py): allow the bias plus 4 spreads."""
    result, _, _, per_dim_exact = exact_evaluation
    metrics = result["metrics"]
    assert metrics["mi"] == pytest.approx(per_dim_exact.sum(), abs=0.02 + 4 * 0.025)
    mi_per_dim = np.array(metrics["mi_per_dim"])
    assert abs(mi_per_dim[-1]) < 1e-12  # posterior equals prior for every x: no information
    assert np.all(mi_per_dim[:-1] > 0.1)
    np.testing.assert_allclose(mi_per_dim[:-1], per_dim_exact[:-1], atol=0.12)


def test_marginal_kl_is_near_zero_and_both_estimates_agree(exact_evaluation):
    """For the exact posterior q(z) = p(z): KL(q(z)||p(z)) = 0 up to the estimator's upward
    bias (~0.02 at N = 2,000); kl - mi and the direct estimate share their expectation."""
    metrics = exact_evaluation[0]["metrics"]
    assert abs(metrics["marginal_kl"]) < 0.12
    assert 0.0 <= metrics["marginal_kl_direct"] < 0.12
    assert metrics["marginal_kl_direct"] == pytest.approx(metrics["marginal_kl"], abs=0.05)


def test_au_equals_the_number_of_eigenvalues_above_noise(exact_evaluation):
    result, model, _, _ = exact_evaluation
    assert result["metrics"]["au"] == model.n_active(4) == 3
    assert result["metrics"]["au_variances"][-1] == 0.0
    # No refinement: He et al. 2019's count reads the same means (no variance at 0.01).
    assert result["metrics"]["au_encoder_variances"] == result["metrics"]["au_variances"]
    assert result["metrics"]["au_he2019"] == 3


def test_estimator_settings_are_recorded(exact_evaluation):
    estimators = exact_evaluation[0]["estimators"]
    assert estimators["iw_samples"] == 5 and estimators["mi_minibatch_size"] == 128
    assert estimators["n_test"] == 2000 and estimators["au_threshold"] == 0.01


def test_encoder_ignoring_x_has_no_information():
    loc = np.tile([[0.5, -0.2, 1.0]], (300, 1))
    log_var = np.tile([[-1.0, 0.0, 0.3]], (300, 1))
    result = aggregate_posterior_metrics(loc, log_var, n_samples=3, seed=0)
    assert abs(result["mi"]) < 1e-12 and np.all(np.abs(result["mi_per_dim"]) < 1e-12)
    assert abs(mutual_information_minibatch(loc, log_var, batch_size=32)) < 1e-12
    assert active_units(loc)[0] == 0
    # All the rate is marginal KL: KL(q(z)||p(z)) = KL(q(z|x)||p(z)) for every x.
    kl = gaussian_kl_per_dim(loc, log_var).sum(-1).mean()
    assert result["marginal_kl"] == pytest.approx(kl, abs=4 * 0.05)


def test_encoder_copying_x_reaches_the_log_n_bound():
    """Distinct, nearly deterministic codes: the empirical MI is log N (the estimator's
    ceiling), and the minibatch estimator's ceiling is log(batch size)."""
    n = 256
    loc = np.random.default_rng(0).standard_normal((n, 4)) * 10
    log_var = np.full_like(loc, np.log(1e-8))
    mi, _ = mutual_information(loc, log_var, n_samples=2)
    assert mi == pytest.approx(np.log(n), abs=1e-6)
    assert mutual_information_minibatch(loc, log_var, batch_size=16) == pytest.approx(
        np.log(16), abs=1e-6
    )


def test_mi_in_given_batches_is_the_size_weighted_mean_of_their_log_n_ceilings():
    """Distinct, nearly deterministic codes reach each batch's ceiling log n_b, so He et
    al.'s calc_mi over batches of unequal sizes and scattered rows is sum n_b log n_b / N;
    batches that miss or repeat a row are refused."""
    n = 24
    loc = np.random.default_rng(1).standard_normal((n, 3)) * 10
    log_var = np.full_like(loc, np.log(1e-8))
    order = np.random.default_rng(2).permutation(n)
    batches = [order[:3], order[3:8], order[8:]]  # sizes 3, 5, 16
    want = (3 * np.log(3) + 5 * np.log(5) + 16 * np.log(16)) / n
    assert mutual_information_in_batches(loc, log_var, batches) == pytest.approx(want, abs=1e-6)
    consecutive = [np.arange(s, min(s + 10, n)) for s in range(0, n, 10)]
    assert mutual_information_in_batches(loc, log_var, consecutive, seed=4) == (
        mutual_information_minibatch(loc, log_var, batch_size=10, seed=4)
    )
    with pytest.raises(ValueError, match="cover each of the 24 rows exactly once"):
        mutual_information_in_batches(loc, log_var, [order[:10], order[9:]])


def test_he2019_calc_mi_is_unbiased_with_the_noise_of_its_analytic_entropy():
    """He et al.'s calc_mi for a posterior that ignores x: exactly 0.5 mean sum(eps^2 - 1),
    mean 0 and standard deviation sqrt(d / 2N) over draws (the paired estimator gives 0);
    for distinct, nearly deterministic codes its mean is the ceiling sum n_b log n_b / N.
    Tolerances: 5 standard errors of the mean; for the spread, 5 standard errors of a
    sample standard deviation, sigma / sqrt(2 R) each (the estimate is nearly normal)."""
    n, d, repeats = 64, 4, 400
    batches = [np.arange(s, s + 16) for s in range(0, n, 16)]
    loc, log_var = np.zeros((n, d)), np.full((n, d), np.log(0.3))
    values = np.array([he2019_calc_mi(loc, log_var, batches, seed) for seed in range(repeats)])
    sigma = np.sqrt(d / (2 * n))
    assert abs(values.mean()) < 5 * sigma / np.sqrt(repeats)
    assert abs(values.std(ddof=1) / sigma - 1) < 5 / np.sqrt(2 * repeats)
    assert mutual_information_in_batches(loc, log_var, batches) == pytest.approx(0, abs=1e-9)
    codes = np.random.default_rng(1).standard_normal((n, d)) * 10
    tiny = np.full_like(codes, np.log(1e-8))
    spread = np.array([he2019_calc_mi(codes, tiny, batches, s) for s in range(repeats)])
    assert abs(spread.mean() - np.log(16)) < 5 * sigma / np.sqrt(repeats)
    with pytest.raises(ValueError, match="cover each of the 64 rows exactly once"):
        he2019_calc_mi(loc, log_var, batches[:3], 0)


def test_mi_converges_as_the_evaluation_set_grows():
    """The bias of the whole-set estimator shrinks with N (benchmarks/mi_bias.py: -0.15 at
    N = 100, -0.03 at N = 1,000), and the minibatch estimator grows with the batch size."""
    model = make_model(data_dim=8, spectrum=[2.0, 1.0, 0.5, 0.0], noise_std=0.5, seed=0)
    exact = 0.5 * np.sum(np.log1p(np.array([4.0, 1.0, 0.25, 0.0]) / 0.25))

    def estimate(n, rep):
        rng = np.random.default_rng([n, rep])
        x = (
            rng.standard_normal((n, 4)) @ model.weight.T
            + model.bias
            + 0.5 * rng.standard_normal((n, 8))
        )
        mean, variance = model.posterior_params(x)
        return mean, np.broadcast_to(np.log(variance), mean.shape)

    small = np.mean(
        [mutual_information(*estimate(50, r), n_samples=4, seed=r)[0] for r in range(6)]
    )
    large = mutual_information(*estimate(1500, 0), n_samples=2, seed=0)[0]
    assert small < large < exact + 0.06
    assert exact - large < 0.5 * (exact - small)
    mean, log_var = estimate(1024, 1)
    by_batch = [mutual_information_minibatch(mean, log_var, b, seed=1) for b in (8, 64, 512)]
    assert by_batch[0] < by_batch[1] < by_batch[2] and by_batch[0] < np.log(8)


def test_bits_per_dim_and_perplexity_hand_cases():
    assert bits_per_dim(784 * np.log(2.0), 784) == pytest.approx(1.0)
    # Two sentences of 3 and 4 words: T = 4 + 5 tokens (end-of-sentence counted).
    assert perplexity(np.array([4.0, 5.0]) * np.log(10.0), np.array([4, 5])) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="end-of-sentence"):
        perplexity(np.array([1.0]), np.array([0]))


def test_nll_iw_monte_carlo_error_is_zero_when_exact_and_predicts_the_spread(ppca_and_data):
    """The delta-method MC variance is 0 for the exact posterior; for a mis-specified one it
    matches the spread of log p_K(x) over independent repetitions within sampling error."""
    model, x = ppca_and_data
    exact = exact_linear_gaussian_vae(model.weight, model.bias, model.noise_std)
    passed = importance_weighted_pass(exact, x[:50], n_samples=8, chunk=3, batch_size=50, seed=0)
    assert np.all(passed["log_px_mc_var"] < 1e-6)  # float32 rounding of equal weights
    wrong = exact_linear_gaussian_vae(model.weight, model.bias, model.noise_std, variance_scale=1.5)
    reps = [importance_weighted_pass(wrong, x[:20], 200, 50, 20, seed=s) for s in range(30)]
    observed = np.var([r["log_px"] for r in reps], axis=0, ddof=1).mean()
    predicted = np.mean([r["log_px_mc_var"] for r in reps])
    # 30 repetitions: the sample variance has relative error ~ sqrt(2/29) ~ 0.26 per example,
    # ~0.06 averaged over 20 examples; allow 30%.
    assert predicted == pytest.approx(observed, rel=0.3)


def _elementwise_aggregate_posterior(z, loc, scale):
    """The reference: every density log q(z_i | x_m) materialized, [M, N, d], float64."""
    from scipy.special import logsumexp

    log_density = -0.5 * ((z[:, None, :] - loc[None]) / scale[None]) ** 2 - np.log(scale[None])
    log_density -= 0.5 * np.log(2 * np.pi)
    n = len(loc)
    return logsumexp(log_density.sum(-1), axis=1) - np.log(n), logsumexp(
        log_density, axis=1
    ) - np.log(n)


@pytest.mark.parametrize("n, d, spread", [(37, 3, 1.0), (300, 8, 3.0), (1000, 5, 0.3)])
def test_fast_mixture_density_matches_the_elementwise_one(n, d, spread):
    """The matrix-product joint density (float64) agrees with the elementwise computation
    to 1e-6 relative (observed ~1e-13); the float32 XLA marginals to 1e-5 absolute in
    log density (float32 carries ~7 digits; observed ~1e-6)."""
    from vae_tfp.metrics.mixture_density import _log_aggregate_posterior

    rng = np.random.default_rng([n, d])
    loc = spread * rng.standard_normal((n, d))
    scale = np.exp(rng.uniform(-2.0, 0.5, (n, d)))
    z = loc[rng.integers(n, size=2 * n)] + rng.standard_normal((2 * n, d))
    fast_joint, fast_marginals = _log_aggregate_posterior(z, loc, scale)
    slow_joint, slow_marginals = _elementwise_aggregate_posterior(z, loc, scale)
    np.testing.assert_allclose(fast_joint, slow_joint, rtol=1e-6)
    np.testing.assert_allclose(fast_marginals, slow_marginals, rtol=0, atol=1e-5)


def test_mi_per_dim_is_left_out_on_request_and_mi_unchanged():
    rng = np.random.default_rng(0)
    loc, log_var = rng.standard_normal((200, 4)), rng.uniform(-3, 0, (200, 4))
    full = aggregate_posterior_metrics(loc, log_var, n_samples=2, seed=3)
    lean = aggregate_posterior_metrics(loc, log_var, n_samples=2, seed=3, per_dim=False)
    assert lean["mi_per_dim"] is None and full["mi_per_dim"].shape == (4,)
    assert lean["mi"] == full["mi"] and lean["marginal_kl"] == full["marginal_kl"]


def test_marginals_far_in_every_tail_fall_back_to_float64():
    """Points 40 standard deviations from every component: the float32 sum underflows and
    those marginals are recomputed exactly."""
    from vae_tfp.metrics.mixture_density import _log_aggregate_posterior

    loc = np.array([[0.0, 0.0], [0.1, 1.0], [-0.1, 2.0]])
    scale = np.array([[0.1, 1.0], [0.1, 1.0], [0.2, 1.0]])
    z = np.array([[8.0, 0.5], [0.05, 1.5]])
    _, fast = _log_aggregate_posterior(z, loc, scale)
    _, slow = _elementwise_aggregate_posterior(z, loc, scale)
    assert slow[0, 0] < -700  # beyond float32's range, within float64's
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-5)


# ---- The MI bracket: leave-one-out upper bound (Poole et al. 2019) ------------------------


def _ppca_posteriors(model, n, rep):
    """The exact pPCA posterior parameters of a fresh evaluation set of ``n`` points."""
    k, dim = model.weight.shape[1], model.weight.shape[0]
    rng = np.random.default_rng([n, rep, 23])
    x = rng.standard_normal((n, k)) @ model.weight.T + model.bias
    x += model.noise_std * rng.standard_normal((n, dim))
    mean, variance = model.posterior_params(x)
    return mean, np.broadcast_to(np.log(variance), mean.shape)


def _tolerance(values, one_sided=0.999):
    """Half-width of a one-sided Student-t bound on the mean of independent replications:
    t_{0.999, R-1} s / sqrt(R), so a correct estimator fails one side with probability 0.1%."""
    from scipy import stats

    values = np.asarray(values)
    return stats.t.ppf(one_sided, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))


def test_mi_bracket_holds_the_exact_information_and_is_tight_at_small_rate():
    """Spectrum (2, 1, 0.5, 0), sigma 0.5: I = 2.568 nats, small against log 2,000 = 7.6.
    Over R = 8 independent evaluation sets, E[mi] <= I <= E[mi_upper] within the Monte Carlo
    tolerance of the replications' means, and both ends are within 0.05 nats of I (measured:
    -0.013 and +0.014, standard errors 0.007 and 0.008)."""
    model = make_model(data_dim=8, spectrum=[2.0, 1.0, 0.5, 0.0], noise_std=0.5, seed=0)
    exact = 0.5 * np.sum(np.log1p(np.array([4.0, 1.0, 0.25, 0.0]) / 0.25))
    runs = [
        aggregate_posterior_metrics(*_ppca_posteriors(model, 2000, r), 5, seed=r, per_dim=False)
        for r in range(8)
    ]
    lower, upper = np.array([r["mi"] for r in runs]), np.array([r["mi_upper"] for r in runs])
    assert lower.mean() - _tolerance(lower) <= exact <= upper.mean() + _tolerance(upper)
    assert np.all(lower <= upper)
    assert abs(lower.mean() - exact) < 0.05 and abs(upper.mean() - exact) < 0.05


def test_marginal_kl_bracket_holds_zero_when_the_rate_far_exceeds_log_n():
    """Spectrum 20 in 8 dimensions, sigma 0.5, N = 1,000: the rate is I = 29.5 nats, far
    above log N = 6.9, and KL(q(z)||p(z)) = 0 for the exact posterior. ``mi`` meets its
    ceiling, so kl - mi (22.6 nats) is only an upper bound; the bracket
    [kl - mi_upper, kl - mi] holds 0 within 4 standard errors over examples."""
    from vae_tfp.data import prepare_dataset
    from vae_tfp.data.linear_gaussian import LinearGaussianModel
    from vae_tfp.evaluation import compute_metrics

    options = {"data_seed": 0, "data_dim": 12, "spectrum": [20.0] * 8, "noise_std": 0.5,
               "n_train": 10, "n_valid": 10, "n_test": 1000}  # fmt: skip
    data = prepare_dataset("linear_gaussian", options)
    model = LinearGaussianModel.from_reference(data.reference)
    vae = exact_linear_gaussian_vae(model.weight, model.bias, model.noise_std)
    result = compute_metrics(vae, data, EVALUATION, seed=0)
    metrics, errors = result["metrics"], result["standard_errors"]
    exact = 8 * 0.5 * np.log1p(400.0 / 0.25)
    log_n = np.log(1000)
    assert metrics["kl"] == pytest.approx(exact, abs=4 * errors["kl"])
    assert metrics["mi"] == pytest.approx(log_n, abs=1e-3)  # the ceiling, not I
    assert metrics["marginal_kl_upper"] == metrics["marginal_kl"] > exact - log_n - 0.1
    # The upper bound's per-example terms share the data set; their spread still bounds the
    # Monte Carlo error of its mean from above (positively correlated terms aside).
    upper = aggregate_posterior_metrics(
        result["posterior"]["loc"], result["posterior"]["log_var"], 5, seed=1, per_dim=False
    )["mi_upper_contributions"]
    tolerance = 4 * np.hypot(errors["kl"], upper.std(ddof=1) / np.sqrt(len(upper)))
    assert metrics["marginal_kl_lower"] <= 0.0 + tolerance
    assert metrics["marginal_kl_upper"] >= 0.0 - tolerance
    assert metrics["mi"] <= exact <= metrics["mi_upper"]


def test_mi_upper_is_zero_when_the_encoder_ignores_x_and_log_n_cannot_cap_it():
    """No information: the leave-one-out mixture equals q(z|x) exactly, so mi_upper = 0.
    Copying x (distinct, nearly deterministic codes): mi stops at log N, mi_upper does not."""
    loc = np.tile([[0.5, -0.2]], (40, 1))
    log_var = np.tile([[-1.0, 0.3]], (40, 1))
    assert abs(aggregate_posterior_metrics(loc, log_var, 3, seed=0)["mi_upper"]) < 1e-12
    n = 256
    loc = np.random.default_rng(0).standard_normal((n, 4)) * 10
    result = aggregate_posterior_metrics(loc, np.full_like(loc, np.log(1e-8)), 2, seed=0)
    assert result["mi"] == pytest.approx(np.log(n), abs=1e-6) and result["mi_upper"] > 100.0
    assert np.isnan(aggregate_posterior_metrics(loc[:1], loc[:1] * 0, 2)["mi_upper"])


def test_leave_one_out_mixture_matches_the_elementwise_one():
    """The leave-one-out log density from the matrix products equals the elementwise
    float64 log-sum-exp over the other components (1e-9 relative)."""
    from scipy.special import logsumexp

    from vae_tfp.metrics.mixture_density import _log_joint_mixtures

    rng = np.random.default_rng(4)
    loc, scale = 2.0 * rng.standard_normal((60, 3)), np.exp(rng.uniform(-3.0, 0.0, (60, 3)))
    own = rng.integers(60, size=150)
    z = loc[own] + scale[own] * rng.standard_normal((150, 3))
    _, fast = _log_joint_mixtures(z, loc, scale, own)
    density = -0.5 * ((z[:, None] - loc[None]) / scale[None]) ** 2 - np.log(scale[None])
    density = density.sum(-1) - 1.5 * np.log(2 * np.pi)
    density[np.arange(150), own] = -np.inf
    np.testing.assert_allclose(fast, logsumexp(density, axis=1) - np.log(59), rtol=1e-9)
