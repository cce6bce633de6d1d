"""Length batches in training, validation and evaluation (``training.batching``, issue 25):
the epoch's plan from (seed, epoch), resumable mid-epoch; validation and test numbers equal
to the padded ones; the config check; two epochs end to end. Tiny markov_mixture data."""

import copy
import re

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tf_keras
import yaml

from vae_tfp.config import (
    ConfigError,
    RunKey,
    check_experiment_config,
    check_run_config,
    resolve_run_config,
    training_config,
)
from vae_tfp.data import prepare_dataset
from vae_tfp.data.buckets import bucket_boundaries, split_batches
from vae_tfp.data.store import token_counts
from vae_tfp.seeds import derive_seed

DEFAULT_CONFIG = yaml.safe_load(open("config/config.yaml"))
TINY = {"n_train": 240, "n_valid": 90, "n_test": 70}


def _run_config(batching: str, **training) -> dict:
    key = RunKey("markov_mixture", "lstm", "vanilla", 0)
    run_config = training_config(resolve_run_config(DEFAULT_CONFIG, key))
    run_config["dataset_options"].update(TINY)
    run_config["model"].update(encoder_embedding_size=8, encoder_hidden_size=8)
    run_config["decoder_options"].update(hidden_size=8, embedding_size=8)
    run_config["training"].update(epochs=2, batch_size=32, batching=batching, **training)
    return run_config


@pytest.fixture(scope="module")
def data():
    return prepare_dataset("markov_mixture", _run_config("length")["dataset_options"])


def test_the_epoch_plan_is_a_function_of_seed_and_epoch(data):
    from vae_tfp.training.feeds import make_feed

    for batching, extra in (("length", {}), ("buckets", {"n_buckets": 3})):
        training = {"batch_size": 32, "batching": batching, **extra}
        feed = make_feed(training, data, binarization_seed=0, jit_compile=False)
        plan = feed.epoch_plan(seed=7, epoch=2)
        again = make_feed(training, data, 0, False).epoch_plan(seed=7, epoch=2)
        assert len(plan.batches) == feed.n_batches
        np.testing.assert_array_equal(plan.rows.numpy(), again.rows.numpy())
        np.testing.assert_array_equal(np.sort(plan.rows.numpy()), np.arange(len(data.train)))
        assert not np.array_equal(plan.rows.numpy(), feed.epoch_plan(7, 3).rows.numpy())
        assert plan.starts.numpy()[-1] == len(data.train)
        lengths = token_counts(data.train)
        for batch, length in zip(plan.batches, plan.lengths.numpy(), strict=True):
            assert batch.length == length >= lengths[batch.rows].max()
        shapes = {(len(b.rows), b.length) for b in plan.batches}
        assert shapes == set(feed.batch_shapes)
    assert len({b for _, b in make_feed(training, data, 0, False).batch_shapes}) <= 3


def _small_vae(data):
    from vae_tfp.models import build_vae

    tf_keras.utils.set_random_seed(3)
    return build_vae(
        {"latent_dim": 3, "encoder_embedding_size": 6, "encoder_hidden_size": 7},
        {"type": "lstm", "hidden_size": 5, "embedding_size": 4},
        data.event_shape,
        "tokens",
        vocab_size=data.vocab_size,
    )


@pytest.mark.parametrize("n_buckets", [None, 3])
def test_validation_and_evaluation_per_sentence_equal_padded_and_length_batches(
    data, n_buckets, caplog
):
    """The per-sentence ELBO of validation, and every per-sentence number of the test pass
    (log p_K(x), rec, q(z|x)), are the padded ones up to float rounding: each sentence is
    scored with the noise of its consecutive batch, and padding changes no loss."""
    from vae_tfp.evaluation import importance_weighted_pass
    from vae_tfp.training.validation import encode_dataset

    vae = _small_vae(data)
    x = data.valid
    boundaries = None if n_buckets is None else bucket_boundaries(token_counts(x), n_buckets)
    batches = split_batches(token_counts(x), 16, boundaries)
    assert any(batch.length < x.shape[1] for batch in batches)
    padded = encode_dataset(vae, x, 25, seed=4)
    length = encode_dataset(vae, x, 25, seed=4, batches=batches)
    elbo = lambda e: e["rec"] - e["kl_per_dim"].sum(-1)  # noqa: E731
    np.testing.assert_allclose(elbo(length), elbo(padded), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(length["loc"], padded["loc"], rtol=1e-5, atol=1e-5)
    other_noise = encode_dataset(vae, x, 25, seed=5)  # the noise matters: not a vacuous test
    assert np.abs(elbo(other_noise) - elbo(padded)).max() > 1e-2

    x = data.test
    batches = split_batches(token_counts(x), 16, boundaries)
    with caplog.at_level("INFO", logger="vae_tfp.evaluation.importance"):
        padded = importance_weighted_pass(vae, x, 5, 2, 20, seed=9)
        length = importance_weighted_pass(vae, x, 5, 2, 20, seed=9, batches=batches)
    # Progress at each tenth: of the padded pass's batches, of the length pass's 3 chunks.
    n_batches = -(-len(x) // 20)
    lines = [r.getMessage() for r in caplog.records if r.name == "vae_tfp.evaluation.importance"]
    last_batch = rf"importance sampling: {n_batches}/{n_batches} batches, .*ETA 0:00:00"
    assert re.fullmatch(last_batch, lines[-4])
    assert len(lines) == min(n_batches, 10) + 3  # a line per tenth crossed, of each pass
    assert [line.split(",")[0] for line in lines[-3:]] == [
        f"importance sampling: {c}/3 chunks of 2 samples" for c in (1, 2, 3)
    ]
    assert padded.keys() == length.keys()
    for key in padded:
        np.testing.assert_allclose(length[key], padded[key], rtol=1e-5, atol=1e-4, err_msg=key)


def test_the_importance_pass_logs_its_progress_at_each_tenth(caplog):
    """25 steps: a line when steps * 10 // 25 grows, 10 lines, the last with nothing left."""
    from vae_tfp.evaluation.importance import _ProgressLog

    progress = _ProgressLog(25, "batches")
    with caplog.at_level("INFO", logger="vae_tfp.evaluation.importance"):
        for step in range(1, 26):
            progress.done(step)
    done = [int(r.getMessage().split(": ")[1].split("/")[0]) for r in caplog.records]
    assert done == [3, 5, 8, 10, 13, 15, 18, 20, 23, 25]
    assert caplog.records[-1].getMessage().endswith("25/25 batches, elapsed 0:00:00, ETA 0:00:00")


def test_compute_metrics_reads_the_batching_of_the_run(data):
    from vae_tfp.evaluation import compute_metrics

    vae = _small_vae(data)
    evaluation = {"iw_samples": 4, "iw_chunk": 2, "batch_size": 30, "au_threshold": 0.01,
                  "mi_samples": 2, "mi_minibatch_size": 16}  # fmt: skip
    padded = compute_metrics(vae, data, evaluation, seed=1)
    length = compute_metrics(vae, data, evaluation, seed=1, training={"batching": "length"})
    for key in ("nll_iw", "elbo", "kl", "mi", "nll_iw_perplexity"):
        assert length["metrics"][key] == pytest.approx(padded["metrics"][key], rel=1e-5)


def test_config_check_rejects_length_batches_on_image_data():
    config = copy.deepcopy(DEFAULT_CONFIG)
    config["training"]["batching"] = "length"
    with pytest.raises(ConfigError) as error:
        check_experiment_config(config)
    message = str(error.value)
    assert "'digits'" in message and "'linear_gaussian'" in message
    assert "token data" in message and "'markov_mixture'" not in message
    config = copy.deepcopy(DEFAULT_CONFIG)  # per dataset: accepted on token data
    config["datasets"]["markov_mixture"]["training"].update(batching="buckets", n_buckets=4)
    check_experiment_config(config)
    config["datasets"]["markov_mixture"]["training"]["batching"] = "length"
    with pytest.raises(ConfigError, match="n_buckets applies to batching 'buckets' only"):
        check_experiment_config(config)
    run_config = resolve_run_config(DEFAULT_CONFIG, RunKey("digits", "mlp", "vanilla", 0))
    run_config["training"]["batching"] = "buckets"
    with pytest.raises(ConfigError, match="'digits'.*token data"):
        check_run_config(run_config)


def test_the_feed_refuses_length_batches_of_images():
    from vae_tfp.training.feeds import make_feed

    run_config = resolve_run_config(DEFAULT_CONFIG, RunKey("digits", "mlp", "vanilla", 0))
    digits = prepare_dataset("digits", run_config["dataset_options"])
    with pytest.raises(ValueError, match="'digits' holds 'binary' data"):
        make_feed({"batch_size": 8, "batching": "length"}, digits, 0, False)


@pytest.mark.parametrize("batching", ["length", "buckets"])
def test_two_epochs_end_to_end_and_a_mid_epoch_resume_gives_the_same_history(
    tmp_path, data, batching
):
    """Two epochs of length batches, uninterrupted and interrupted in epoch 2 then resumed
    from the mid-epoch state: the same history (the plan is recomputed from the seed and
    the epoch and training continues at progress.next_batch)."""
    from vae_tfp.training.feeds import LengthBatchFeed
    from vae_tfp.training.loop import Trainer

    extra = {"n_buckets": 3} if batching == "buckets" else {}
    run_config = _run_config(batching, checkpoint_interval_s=0.0, **extra)
    reference = Trainer(run_config, data, tmp_path / "reference")
    assert isinstance(reference.feed, LengthBatchFeed)
    assert reference.steps_per_epoch == reference.feed.n_batches > 240 // 32
    assert reference.valid_batches is not None
    summary = reference.run()
    history = pd.read_csv(tmp_path / "reference" / "history.csv")
    assert list(history["epoch"]) == [1, 2] and np.isfinite(history["valid_elbo"]).all()
    assert history["step"].iloc[-1] == 2 * reference.feed.n_batches

    run_dir = tmp_path / "cut"
    trainer = Trainer(run_config, data, run_dir)
    trainer.batches_per_call = 3
    calls, span = {"n": 0}, trainer.joint_span
    per_epoch = -(-trainer.feed.n_batches // 3)

    def interrupted(plan, first, last):  # the second call of epoch 2
        calls["n"] += 1
        if calls["n"] == per_epoch + 2:
            raise KeyboardInterrupt
        return span(plan, first, last)

    trainer.joint_span = interrupted
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    newest = sorted((run_dir / "resume").glob("state-*.json"))[-1]
    assert newest.name == "state-e00002-b000003.json"
    resumed = Trainer(run_config, data, run_dir).run()
    assert resumed["best_valid_elbo"] == summary["best_valid_elbo"]
    columns = lambda d: pd.read_csv(d / "history.csv").drop(columns="wall_time_s")  # noqa: E731
    pd.testing.assert_frame_equal(columns(run_dir), columns(tmp_path / "reference"))


def test_a_non_finite_loss_stops_the_span(data):
    """The span stops after the step whose loss is not finite, as BatchFeed's does."""
    from vae_tfp.training.feeds import make_feed
    from vae_tfp.training.state import SUM_KEYS

    def nan_at_the_third_step():
        calls = tf.Variable(0)

        def step(x):
            calls.assign_add(1)
            loss = tf.where(calls == 3, np.nan, 1.0)
            rows = tf.cast(tf.shape(x)[0], tf.float32)
            return dict.fromkeys(SUM_KEYS, loss) | {"rec": rows}

        return step

    for per_shape in (False, True):
        feed = make_feed({"batch_size": 32, "batching": "length"}, data, 0, False)
        feed.per_shape = per_shape
        plan = feed.epoch_plan(0, 1)
        assert feed.make_span(nan_at_the_third_step())(plan, 0, feed.n_batches) == 3
        assert np.isnan(feed.last_loss.numpy())
        rows = sum(len(b.rows) ** 2 for b in plan.batches[:3])  # rec = rows, weighted by rows
        assert feed.read_sums()["rec"] == rows


def test_the_inner_loop_draws_whole_member_batches_uniformly_with_replacement(data):
    """With length batches an encoder inner loop (He et al. 2019) trains on whole batches of
    the epoch plans' members, as their text.py draws train_data_batch[id_]: no padding, and
    the window's loss is the picked batches' summed loss over their tokens (He et al.'s
    burn_cur_loss / burn_num_words). The step's "loss" here (a batch mean per sentence) is
    the squared length plus the padded positions (0 in equal-length batches), so the
    window's value is sum(n_b L_b^2) / sum(n_b L_b) over the picks, by hand."""
    from vae_tfp.data.store import PAD_ID
    from vae_tfp.training.feeds import make_feed

    def step(x):
        length = tf.cast(tf.shape(x)[1], tf.float32)
        padded = tf.reduce_sum(tf.cast(x[:, -1] == PAD_ID, tf.float32))  # EOS ends each row
        return {"loss": length**2 + padded}

    for per_shape in (False, True):
        feed = make_feed({"batch_size": 32, "batching": "length"}, data, 0, False)
        feed.per_shape = per_shape
        members = feed.member_batches
        assert sorted(map(tuple, (b.rows for b in members))) == sorted(
            map(tuple, (b.rows for b in feed.epoch_plan(3, 5).batches))
        )
        picks = np.random.default_rng(11).integers(len(members), size=40)
        drawn = feed.draw_inner_batches(np.random.default_rng(11), 40)
        np.testing.assert_array_equal(drawn[2].numpy(), [members[i].length for i in picks])
        rows, starts, lengths = feed.draw_inner_batches(np.random.default_rng(11), 4, members[3])
        np.testing.assert_array_equal(rows[: starts[1]].numpy(), members[3].rows)  # given first
        want = [members[3].length] + [members[i].length for i in picks[:3]]
        np.testing.assert_array_equal(lengths.numpy(), want)  # then the random draws
        window = feed.make_inner_window(step)
        sizes = np.array([len(members[i].rows) for i in picks], float)
        lengths = np.array([members[i].length for i in picks], float)
        expected = np.sum(sizes * lengths**2) / np.sum(sizes * lengths)
        assert expected != pytest.approx(np.mean(lengths))  # not the mean over batches
        assert float(window(*drawn)) == pytest.approx(expected)
    assert len(set(picks)) < len(picks)  # with replacement: 40 draws of 14 batches repeat


def test_the_inner_window_is_traced_once_whatever_batches_it_draws(data):
    """Windows of drawn batches differ in their row count (batches at the end of a length
    run are smaller): the compiled window takes any count without tracing again (a trace
    per count made He et al.'s inner loop several times slower at PTB scale)."""
    from vae_tfp.training.feeds import make_feed

    feed = make_feed({"batch_size": 32, "batching": "length"}, data, 0, False)
    window = feed.make_inner_window(lambda x: {"loss": tf.reduce_sum(tf.cast(x, tf.float32))})
    rng = np.random.default_rng(5)
    totals = set()
    for count in (15, 15, 15, 15, 7, 15, 15, 3):
        rows, starts, lengths = feed.draw_inner_batches(rng, count)
        totals.add(int(rows.shape[0]))
        window(rows, starts, lengths)
    assert len(totals) >= 4  # the windows had different shapes
    assert window.experimental_get_tracing_count() == 1


def test_aggressive_training_in_length_batches_runs_its_inner_loop_end_to_end(tmp_path, data):
    """He et al.'s aggressive training with length batches, through the Trainer: the inner
    loop runs on the feed's member batches, its first encoder step on the decoder update's
    own batch (text.py: batch_data_enc = batch_data), the history records its encoder steps,
    and the MI that ends it mixes q(z|x) within validation batches of at most 32 sentences
    of one length (He et al.'s calc_mi on their equal-length validation batches)."""
    from vae_tfp.config import resolve_run_config as resolve
    from vae_tfp.training.feeds import make_feed
    from vae_tfp.training.loop import Trainer

    config = copy.deepcopy(DEFAULT_CONFIG)
    config["methods"] = {
        "a": {
            "method": "aggressive",
            "max_inner_steps": 5,
            "check_every": 5,
            "switch_off_mi_batch": 32,
        }
    }
    run_config = training_config(resolve(config, RunKey("markov_mixture", "lstm", "a", 0)))
    reference = _run_config("length")
    for key in ("dataset_options", "model", "decoder_options"):
        run_config[key] = reference[key]
    run_config["training"].update(epochs=1, batch_size=32, batching="length")
    trainer = Trainer(run_config, data, tmp_path)
    lengths = token_counts(data.valid)
    for rows in trainer._mi_batches(1):
        assert 1 <= len(rows) <= 32 and len(set(lengths[rows])) == 1
    firsts, draw = [], trainer.feed.draw_inner_batches
    trainer.feed.draw_inner_batches = lambda rng, n, first=None: (
        firsts.append(first) or draw(rng, n, first)
    )
    trainer.run()
    plan = trainer.feed.epoch_plan(derive_seed(trainer.seed, "data_order"), 1)
    assert [batch.rows.tolist() for batch in firsts] == [b.rows.tolist() for b in plan.batches]
    history = pd.read_csv(tmp_path / "history.csv")
    assert np.isfinite(history["valid_mi_batch"].iloc[0])
    batches = make_feed({"batch_size": 32, "batching": "length"}, data, 0, False).n_batches
    assert history["encoder_inner_steps"].iloc[0] == 5 * batches  # 5 per decoder update


def test_kl_anneal_n_over_b_counts_training_examples_over_batch_size(data, tmp_path):
    """He et al.'s and Li et al.'s warm-up rate assumes N / B updates per epoch; equal-length
    batches make more than that, and ``warmup_epoch_length: n_over_b`` must not count them."""
    from vae_tfp.training.loop import Trainer

    run_config = _run_config("length")
    run_config["method_options"] = {
        "method": "kl_anneal",
        "beta0": 0.0,
        "warmup_epochs": 2,
        "warmup_epoch_length": "n_over_b",
        "step_offset": 1,
    }
    trainer = Trainer(run_config, data, tmp_path)
    anneal = trainer.method.part("kl_weight")
    assert trainer.feed.n_batches > TINY["n_train"] / 32  # length batches: more than N / B
    assert anneal.warmup_updates == pytest.approx(2 * TINY["n_train"] / 32)
    assert float(trainer.method.kl_weight(0)) == pytest.approx(1 / 15)
