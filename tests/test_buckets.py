"""Length-aware batches (vae_tfp.data.buckets): a pure function of (lengths, batch size,
seed, epoch); every sentence once per epoch; one length (or bucket) per batch; resumable;
and a sentence's ELBO does not depend on the padding of its batch."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from vae_tfp.data.buckets import (
    LengthBatch,
    bucket_boundaries,
    length_batches,
    length_groups,
    padding_fraction,
)
from vae_tfp.data.store import EOS_ID, PAD_ID, token_counts
from vae_tfp.models import build_vae

LENGTHS = np.random.default_rng(0).integers(1, 30, size=203)


def _rows(batches):
    return np.concatenate([batch.rows for batch in batches])


@pytest.mark.parametrize("boundaries", [None, (5, 12, 29)])
@pytest.mark.parametrize("reshuffle", [False, True])
def test_every_sentence_once_per_epoch_deterministic_from_seed_and_epoch(boundaries, reshuffle):
    plan = length_batches(LENGTHS, 8, seed=3, epoch=2, boundaries=boundaries,
                          reshuffle_rows=reshuffle)  # fmt: skip
    np.testing.assert_array_equal(np.sort(_rows(plan)), np.arange(len(LENGTHS)))
    again = length_batches(LENGTHS, 8, 3, 2, boundaries, reshuffle)
    assert [b.length for b in plan] == [b.length for b in again]
    for a, b in zip(plan, again, strict=True):
        np.testing.assert_array_equal(a.rows, b.rows)
    assert all(1 <= len(b.rows) <= 8 for b in plan)
    other_epoch = length_batches(LENGTHS, 8, 3, 3, boundaries, reshuffle)
    other_seed = length_batches(LENGTHS, 8, 4, 2, boundaries, reshuffle)
    assert not np.array_equal(_rows(plan), _rows(other_epoch))
    assert not np.array_equal(_rows(plan), _rows(other_seed))


def test_equal_length_batches_hold_one_length_and_keep_their_members_across_epochs():
    plans = [length_batches(LENGTHS, 8, seed=1, epoch=e) for e in range(3)]
    for plan in plans:
        for batch in plan:
            assert np.all(LENGTHS[batch.rows] == batch.length)
        # at most one batch per length is not full: each length group is cut in order
        partial = [b.length for b in plan if len(b.rows) < 8]
        assert len(partial) == len(set(partial))
    members = [sorted(tuple(b.rows) for b in plan) for plan in plans]
    assert members[0] == members[1] == members[2]  # only the order changes (He et al.)
    reshuffled = [length_batches(LENGTHS, 8, 1, e, reshuffle_rows=True) for e in range(2)]
    assert sorted(tuple(b.rows) for b in reshuffled[0]) != sorted(
        tuple(b.rows) for b in reshuffled[1]
    )
    assert padding_fraction(LENGTHS, plans[0]) == 0.0


def test_buckets_pad_to_their_boundary():
    boundaries = (5, 12, 29)
    plan = length_batches(LENGTHS, 8, seed=0, epoch=0, boundaries=boundaries)
    assert {b.length for b in plan} == set(boundaries)
    for batch in plan:
        lower = max([0, *[e for e in boundaries if e < batch.length]])
        assert np.all((LENGTHS[batch.rows] > lower) & (LENGTHS[batch.rows] <= batch.length))
    with pytest.raises(ValueError, match="shorter than the longest"):
        length_batches(LENGTHS, 8, 0, 0, boundaries=(5, 12))
    with pytest.raises(ValueError, match="increase"):
        length_groups(LENGTHS, boundaries=(12, 5, 29))


def test_resuming_mid_epoch_continues_the_same_plan():
    """A resumed run recomputes the plan and trains from its next batch index."""
    uninterrupted = length_batches(LENGTHS, 8, seed=5, epoch=7)
    next_batch = 11
    resumed = length_batches(LENGTHS, 8, seed=5, epoch=7)[next_batch:]
    np.testing.assert_array_equal(_rows(uninterrupted[next_batch:]), _rows(resumed))


def test_bucket_boundaries_pad_least():
    lengths = np.array([1, 1, 2, 2, 2, 9, 10])
    assert bucket_boundaries(lengths, 1) == (10,)
    assert bucket_boundaries(lengths, 2) == (2, 10)
    assert bucket_boundaries(lengths, 3) == (1, 2, 10)  # 28 positions; (2, 9, 10) 29
    assert bucket_boundaries(lengths, 10) == (1, 2, 9, 10)  # never more than the lengths
    for k in (2, 4):
        edges = bucket_boundaries(LENGTHS, k)
        assert len(edges) <= k and edges[-1] == LENGTHS.max()
        cost = padding_fraction(LENGTHS, length_batches(LENGTHS, 8, 0, 0, edges))
        even = np.quantile(LENGTHS, np.arange(1, k + 1) / k, method="inverted_cdf")
        even_cost = padding_fraction(
            LENGTHS, length_batches(LENGTHS, 8, 0, 0, tuple(np.unique(even.astype(int))))
        )
        assert cost <= even_cost + 1e-12


def _sentences(n: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.full((n, width), PAD_ID, np.int32)
    for row, length in zip(rows, rng.integers(1, width + 1, n), strict=True):
        row[: length - 1] = rng.integers(3, 9, length - 1)
        row[length - 1] = EOS_ID
    return rows


def test_per_sentence_elbo_is_the_same_padded_or_in_equal_length_batches():
    """log p(x|z) - KL at one fixed noise draw per sentence, the model's own ELBO terms,
    whether a sentence sits in a batch padded to the longest sentence or in a batch of
    its own length."""
    tf_keras.utils.set_random_seed(0)
    latent, width = 3, 9
    vae = build_vae(
        {"latent_dim": latent, "encoder_embedding_size": 4, "encoder_hidden_size": 6},
        {"type": "lstm", "hidden_size": 5, "embedding_size": 4},
        (width,),
        "tokens",
        vocab_size=9,
    )
    tokens = _sentences(40, width, seed=1)
    noise = np.random.default_rng(2).standard_normal((len(tokens), latent)).astype(np.float32)

    def elbo(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
        loc, log_var = vae.posterior_params(tf.constant(x))
        z = loc + tf.exp(0.5 * log_var) * noise[rows]
        rec = vae.decoder(z).log_prob(tf.constant(x))
        kl = tf.reduce_sum(vae.kl_per_dim(loc, log_var), -1)
        return (rec - kl).numpy()

    all_rows = np.arange(len(tokens))
    padded = np.concatenate([elbo(r, tokens[r]) for r in np.array_split(all_rows, 5)])
    plan = length_batches(token_counts(tokens), 8, seed=0, epoch=0)
    assert any(batch.length < width for batch in plan)
    bucketed = np.empty(len(tokens), np.float32)
    for batch in plan:
        bucketed[batch.rows] = elbo(batch.rows, batch.tokens(tokens))
    np.testing.assert_allclose(bucketed, padded, rtol=2e-5, atol=2e-5)


def test_length_batch_tokens_keep_the_eos():
    tokens = _sentences(12, 7, seed=3)
    for batch in length_batches(token_counts(tokens), 4, seed=0, epoch=0):
        x = batch.tokens(tokens)
        assert x.shape == (len(batch.rows), batch.length)
        assert np.all(x[:, -1] == EOS_ID)
    assert LengthBatch(np.array([0]), 3).tokens(tokens).shape == (1, 3)
