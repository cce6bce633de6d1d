"""Datasets: deterministic disjoint splits, digits, and the closed forms of linear_gaussian."""

import numpy as np
import pytest

from vae_tfp.data import DATASETS, load_prepared, prepare_dataset, save_prepared
from vae_tfp.data.linear_gaussian import LinearGaussianModel, make_model
from vae_tfp.data.splits import split_indices


def test_splits_are_deterministic_disjoint_and_complete():
    first = split_indices(1797, 0.1, 0.2, seed=3)
    again = split_indices(1797, 0.1, 0.2, seed=3)
    other = split_indices(1797, 0.1, 0.2, seed=4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[2], other[2])
    union = np.concatenate(first)
    assert len(np.unique(union)) == len(union) == 1797
    assert [len(s) for s in first] == [1258, 180, 359]


def test_splits_reject_fractions_that_leave_no_training_data():
    with pytest.raises(ValueError, match="at least one example"):
        split_indices(10, 0.5, 0.5, seed=0)


def test_digits_are_binary_and_split_by_seed():
    data = prepare_dataset("digits", {"data_seed": 0})
    assert data.kind == "binary" and data.event_shape == (64,)
    assert (len(data.train), len(data.valid), len(data.test)) == (1258, 180, 359)
    assert set(np.unique(data.train)) == {0.0, 1.0}
    rows = {tuple(r) for r in data.test}
    assert rows != {tuple(r) for r in prepare_dataset("digits", {"data_seed": 1}).test}


def test_prepared_file_round_trips(tmp_path):
    data = prepare_dataset(
        "linear_gaussian", {"data_seed": 0, "n_train": 50, "n_valid": 5, "n_test": 7}
    )
    save_prepared(data, tmp_path / "lg.npz")
    loaded = load_prepared(tmp_path / "lg.npz")
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(loaded.split(split), data.split(split))
    for key, value in data.reference.items():
        np.testing.assert_array_equal(loaded.reference[key], value)
    assert loaded.options == data.options and loaded.kind == "real"


def test_unknown_dataset_option_is_named():
    with pytest.raises(TypeError, match="spectra"):
        prepare_dataset("linear_gaussian", {"data_seed": 0, "spectra": [1.0]})
    with pytest.raises(KeyError, match="registered"):
        prepare_dataset("mnist_typo", {"data_seed": 0})


def test_registry_declares_decoders_and_kinds():
    assert "mlp" in DATASETS["digits"].decoders and "linear" not in DATASETS["digits"].decoders
    assert "linear" in DATASETS["linear_gaussian"].decoders


@pytest.fixture(scope="module")
def ppca() -> LinearGaussianModel:
    return make_model(data_dim=6, spectrum=[2.0, 1.0, 0.0], noise_std=0.5, seed=7)


def test_exact_posterior_satisfies_bayes_rule(ppca):
    """log p(x|z) + log p(z) - log p(z|x) equals log p(x) for every z (a closed-form identity)."""
    from scipy.stats import multivariate_normal, norm

    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6)) * 2
    mean, variance = ppca.posterior_params(x)
    for z in rng.standard_normal((3, 3)):
        log_lik = np.array(
            [
                multivariate_normal(ppca.weight @ z + ppca.bias, 0.25 * np.eye(6)).logpdf(xi)
                for xi in x
            ]
        )
        log_prior = norm.logpdf(z).sum()
        log_post = norm.logpdf(z, mean, np.sqrt(variance)).sum(-1)
        np.testing.assert_allclose(log_lik + log_prior - log_post, ppca.log_prob(x), atol=1e-9)


def test_exact_log_prob_matches_the_gaussian_marginal(ppca):
    from scipy.stats import multivariate_normal

    x = np.random.default_rng(1).standard_normal((4, 6))
    expected = multivariate_normal(
        ppca.bias, ppca.weight @ ppca.weight.T + 0.25 * np.eye(6)
    ).logpdf(x)
    np.testing.assert_allclose(ppca.log_prob(x), expected, atol=1e-9)


def test_active_count_is_the_number_of_eigenvalues_above_noise(ppca):
    np.testing.assert_allclose(ppca.eigenvalues()[:3], [4.25, 1.25, 0.25])
    assert ppca.n_active() == 2
    assert ppca.n_active(latent_dim=1) == 1


def test_bad_linear_gaussian_parameters_are_rejected():
    with pytest.raises(ValueError, match="noise_std"):
        make_model(4, [1.0], 0.0, seed=0)
    with pytest.raises(ValueError, match=">= 0"):
        make_model(4, [1.0, -1.0], 0.5, seed=0)
    with pytest.raises(ValueError, match="singular values"):
        make_model(2, [1.0, 1.0, 1.0], 0.5, seed=0)
