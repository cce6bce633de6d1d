"""markov_mixture: the exact likelihood against brute force, the sampler against the
likelihood, the prepared data and its reference answers, and a trained model's bound."""

import itertools
import math

import numpy as np
import pytest

from vae_tfp.data import load_prepared, prepare_dataset, save_prepared
from vae_tfp.data.markov_mixture import FIRST_WORD_ID, make_model, markov_mixture_reference
from vae_tfp.data.store import EOS_ID, PAD_ID, SPECIAL_TOKENS, token_counts

TINY = {"n_components": 2, "n_words": 2, "max_length": 3, "stop_prob": 0.3, "concentration": 1.0}


@pytest.fixture(scope="module")
def tiny():
    return make_model(**TINY, seed=5)


def _all_sentences(n_words: int, max_length: int) -> np.ndarray:
    """Every sentence of 1..max_length words, in the token convention."""
    rows = []
    for length in range(1, max_length + 1):
        for words in itertools.product(range(n_words), repeat=length):
            row = [w + FIRST_WORD_ID for w in words] + [EOS_ID]
            rows.append(row + [PAD_ID] * (max_length + 1 - len(row)))
    return np.array(rows, np.int32)


def _brute_force_probability(model, row) -> float:
    """p(x) = sum_c w_c p(x | c), multiplying the generative steps one by one."""
    words = [t - FIRST_WORD_ID for t in row[: list(row).index(EOS_ID)]]
    total = 0.0
    for c in range(model.n_components):
        p = 1.0 / model.n_components * model.initial[c, words[0]]
        for prev, word in zip(words, words[1:], strict=False):
            p *= (1.0 - model.stop_prob) * model.transition[c, prev, word]
        if len(words) < model.max_length:
            p *= model.stop_prob
        total += p
    return total


def test_exact_likelihood_matches_brute_force_enumeration(tiny):
    sentences = _all_sentences(2, 3)  # 2 + 4 + 8 sentences
    expected = np.array([_brute_force_probability(tiny, row) for row in sentences])
    np.testing.assert_allclose(np.exp(tiny.log_prob(sentences)), expected, rtol=1e-12)
    np.testing.assert_allclose(expected.sum(), 1.0, rtol=1e-12)  # nothing else has mass


def test_sampler_frequencies_match_the_exact_likelihood(tiny):
    tokens, _ = tiny.sample(40000, np.random.default_rng(0))
    sentences = _all_sentences(2, 3)
    index = {tuple(row): i for i, row in enumerate(sentences)}
    counts = np.bincount([index[tuple(row)] for row in tokens], minlength=len(sentences))
    expected = 40000 * np.exp(tiny.log_prob(sentences))
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 40.0  # 13 degrees of freedom: P(chi2 > 40) < 1e-4


def test_component_posterior_and_information_bound(tiny):
    sentences = _all_sentences(2, 3)
    posterior = tiny.component_posterior(sentences)
    np.testing.assert_allclose(posterior.sum(-1), 1.0)
    p_x = np.exp(tiny.log_prob(sentences))
    # I(x; c) = H(c) - E_x H(c|x), exactly over every sentence.
    information = tiny.component_entropy() + np.sum(p_x * np.sum(posterior * np.log(posterior), -1))
    assert 0.0 < information <= tiny.component_entropy() == pytest.approx(math.log(2))


def test_likelihood_rejects_rows_outside_the_model(tiny):
    with pytest.raises(ValueError, match="followed by EOS"):
        tiny.log_prob(np.array([[4, 5, 4, 5]], np.int32))  # 4 words, no EOS
    with pytest.raises(ValueError, match="followed by EOS"):
        tiny.log_prob(np.array([[EOS_ID, 0, 0, 0]], np.int32))  # no word


def test_prepared_data_follow_the_token_convention_and_round_trip(tmp_path):
    options = {"data_seed": 3, **TINY, "n_train": 50, "n_valid": 10, "n_test": 20}
    data = prepare_dataset("markov_mixture", options)
    assert data.kind == "tokens" and data.event_shape == (4,) and data.train.dtype == np.int32
    assert data.vocabulary == (*SPECIAL_TOKENS, "w0", "w1") and data.vocab_size == 6
    assert np.all(token_counts(data.test) >= 2)  # at least one word and the EOS
    again = prepare_dataset("markov_mixture", options)
    np.testing.assert_array_equal(again.test, data.test)
    other = prepare_dataset("markov_mixture", {**options, "data_seed": 4})
    assert not np.array_equal(other.train, data.train)
    save_prepared(data, tmp_path / "mm.npz")
    loaded = load_prepared(tmp_path / "mm.npz")
    np.testing.assert_array_equal(loaded.train, data.train)
    assert loaded.vocabulary == data.vocabulary and loaded.train.dtype == np.int32
    reference = markov_mixture_reference(loaded, latent_dim=2)
    assert reference == markov_mixture_reference(data, latent_dim=2)
    assert 0 < reference["component_information"] <= reference["component_entropy"]
    assert reference["exact_perplexity"] == pytest.approx(
        math.exp(reference["exact_nll"] * 20 / token_counts(data.test).sum())
    )


@pytest.mark.slow
def test_trained_lstm_vae_nll_is_not_below_the_exact_entropy(tmp_path):
    """A short training run through the real train/evaluate path: nll_iw (an upper bound in
    expectation on the model's NLL, itself >= the entropy) is not below the exact test NLL
    beyond one standard error; metrics.json records the exact answers and perplexity."""
    from vae_tfp.evaluation import evaluate_run
    from vae_tfp.io import write_json
    from vae_tfp.training import train_run

    dataset_options = {"data_seed": 0, "n_train": 400, "n_valid": 50, "n_test": 200}
    data = prepare_dataset("markov_mixture", dataset_options)
    run_config = {
        "experiment": "test", "dataset": "markov_mixture", "decoder": "lstm",
        "method": "vanilla", "seed": 0, "dataset_options": dataset_options,
        "decoder_options": {"type": "lstm", "hidden_size": 16, "embedding_size": 8},
        "method_options": {"method": "vanilla"},
        "model": {"latent_dim": 2, "encoder_hidden_units": [8], "encoder_hidden_size": 16,
                  "encoder_embedding_size": 8},
        "training": {"epochs": 4, "batch_size": 50, "learning_rate": 0.01},
        "evaluation": {"iw_samples": 20, "iw_chunk": 10, "batch_size": 200,
                       "au_threshold": 0.01, "mi_samples": 2, "mi_minibatch_size": 50},
    }  # fmt: skip
    write_json(tmp_path / "run_config.json", run_config)
    train_run(run_config, data, tmp_path)
    payload = evaluate_run(tmp_path, data)
    metrics, errors, reference = (
        payload["metrics"], payload["standard_errors"], payload["reference"]
    )  # fmt: skip
    assert set(reference) >= {"exact_nll", "exact_nll_se", "component_information"}
    gap_se = math.hypot(errors["nll_iw"], reference["exact_nll_se"])
    assert metrics["nll_iw"] >= reference["exact_nll"] - gap_se
    tokens = token_counts(data.test).sum()
    assert metrics["nll_iw_perplexity"] == pytest.approx(
        math.exp(metrics["nll_iw"] * len(data.test) / tokens), rel=1e-6
    )
