"""Methods: KL weights at chosen steps, free-bits gradients, and config errors."""

import numpy as np
import pytest
import tensorflow as tf

from vae_tfp.methods import METHODS, PRESETS, build_method
from vae_tfp.methods.schedules import linear_warmup


@pytest.mark.parametrize(
    ("step", "beta0", "warmup", "expected"),
    [
        (0, 0.0, 1000, 0.0),
        (500, 0.0, 1000, 0.5),
        (1000, 0.0, 1000, 1.0),
        (1001, 0.0, 1000, 1.0),
        (10**7, 0.0, 1000, 1.0),
        (0, 0.2, 100, 0.2),
        (50, 0.2, 100, 0.6),
        (5, 0.3, 0, 1.0),
    ],
)
def test_linear_warmup_values(step, beta0, warmup, expected):
    assert float(linear_warmup(step, beta0, warmup)) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("options", "step", "weight"),
    [
        ({"method": "vanilla"}, 123, 1.0),
        ({"method": "beta", "beta": 0.5}, 0, 0.5),
        ({"method": "beta", "beta": 4.0}, 99, 4.0),
        ({"method": "kl_anneal", "beta0": 0.0, "warmup_steps": 10}, 5, 0.5),
        ({"method": "free_bits", "lambda": 0.25}, 7, 1.0),
    ],
)
def test_kl_weights(options, step, weight):
    assert float(build_method(options).kl_weight(step)) == pytest.approx(weight)


def _their_kl_weights(kl_start, warm_up, n_train, batch_size, updates):
    """The weight of each update as He et al.'s text.py and Li et al.'s text_anneal_fb.py
    compute it: raised by (1 - kl_start) / (warm_up * N / B) before every update."""
    rate = (1.0 - kl_start) / (warm_up * (n_train / batch_size))
    weights, weight = [], kl_start
    for _ in range(updates):
        weight = min(1.0, weight + rate)
        weights.append(weight)
    return np.array(weights)


def test_kl_anneal_reproduces_their_rate_over_n_over_b_raised_before_each_update():
    # 1,000 examples in batches of 32 make 32 batches (31 full); their epoch is 31.25.
    options = {"method": "kl_anneal", "beta0": 0.1, "warmup_epochs": 2}
    theirs = _their_kl_weights(0.1, 2, 1000, 32, updates=80)
    steps = tf.range(80)
    faithful = build_method(
        {**options, "warmup_epoch_length": "n_over_b", "step_offset": 1}
    ).bind(32, 3200, nominal_steps_per_epoch=1000 / 32)
    np.testing.assert_allclose(faithful.kl_weight(steps).numpy(), theirs, atol=1e-6)
    # The default counts the run's 32 batches per epoch and uses the weight at t.
    default = build_method(options).bind(32, 3200, nominal_steps_per_epoch=1000 / 32)
    expected = np.minimum(1.0, 0.1 + 0.9 * np.arange(80) / 64)
    np.testing.assert_allclose(default.kl_weight(steps).numpy(), expected, atol=1e-6)
    assert np.abs(default.kl_weight(steps).numpy() - theirs).max() > 0.01
    with pytest.raises(ValueError, match="n_over_b"):
        build_method({**options, "warmup_epoch_length": "n_over_b"}).bind(32, 3200).kl_weight(0)


def test_weighted_loss_is_minus_rec_plus_weighted_kl():
    rec = tf.constant([-3.0, -5.0])
    kl_per_dim = tf.constant([[1.0, 2.0], [3.0, 0.0]])
    term = build_method({"method": "beta", "beta": 2.0}).kl_term(kl_per_dim, 0)
    loss = -tf.reduce_mean(rec) + term  # the composition's one-sample loss
    assert float(loss) == pytest.approx(4.0 + 2.0 * 3.0)


def test_free_bits_floor_applies_to_batch_mean_kl_per_dimension():
    kl_per_dim = tf.Variable([[0.1, 2.0], [0.3, 4.0]])
    method = build_method({"method": "free_bits", "lambda": 0.5})
    with tf.GradientTape() as tape:
        term = method.kl_term(kl_per_dim, 0)
    # dim 0: batch mean 0.2 < 0.5 -> floor 0.5; dim 1: batch mean 3.0 > 0.5.
    assert float(term) == pytest.approx(0.5 + 3.0)
    grad = tape.gradient(term, kl_per_dim).numpy()
    np.testing.assert_allclose(grad[:, 0], 0.0)  # zero under the floor
    with tf.GradientTape() as tape:
        plain = build_method({"method": "vanilla"}).kl_term(kl_per_dim, 0)
    np.testing.assert_allclose(grad[:, 1], tape.gradient(plain, kl_per_dim).numpy()[:, 1])


def test_bad_method_configs_are_named():
    with pytest.raises(KeyError, match="vanila"):
        build_method({"method": "vanila"})
    with pytest.raises(TypeError, match="lamda"):
        build_method({"method": "free_bits", "lamda": 0.5})
    with pytest.raises(ValueError, match="beta must be >= 0"):
        build_method({"method": "beta", "beta": -1.0})
    with pytest.raises(ValueError, match="beta0"):
        build_method({"method": "kl_anneal", "beta0": 1.5, "warmup_steps": 10})


def test_registry_names():
    assert set(PRESETS) == {
        "vanilla",
        "pretrain_fb",
        "li2019",
        "pretrain_anneal_fb",
        "aggressive_anneal",
        "sa_vae_anneal",
    }
    assert set(METHODS) == {
        "beta",
        "kl_anneal",
        "cyclical",
        "free_bits",
        "free_bits_example",
        "kl_threshold",
        "aggressive",
        "bn_vae",
        "delta_vae",
        "pretrain",
        "pretrain_run",
        "iwae",
        "skip_vae",
        "word_dropout",
        "sa_vae",
    }


# ---- Schedules and floors of the other methods -------------------------------------------


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (0, 0.0),  # start of cycle 1
        (10, 0.4),  # mid-rise: tau = 0.2 of the cycle, R = 0.5
        (25, 1.0),  # end of the rise
        (49, 1.0),  # held at 1
        (50, 0.0),  # cycle boundary
        (60, 0.4),
        (75, 1.0),
        (99, 1.0),
        (100, 0.0),  # past the horizon the cycles continue
    ],
)
def test_cyclical_schedule_values(step, expected):
    from vae_tfp.methods.schedules import cyclical

    assert float(cyclical(step, total_steps=100, n_cycles=2, ratio=0.5)) == pytest.approx(expected)


def test_cyclical_is_closed_form_far_into_training_and_binds_to_run_length():
    from vae_tfp.methods.schedules import cyclical

    # 4 cycles of 2.5M steps; step 7.5M + 625k is a quarter into cycle 4, R = 0.5.
    assert float(cyclical(8_125_000, 10_000_000, 4, 0.5)) == pytest.approx(0.5)
    assert float(cyclical(7, 100, 2, 0.5, beta0=0.2)) == pytest.approx(0.2 + 0.8 * 0.28)
    method = build_method({"method": "cyclical", "n_cycles": 2, "ratio": 0.5})
    with pytest.raises(ValueError, match="bind"):
        method.kl_weight(0)
    assert float(method.bind(10, 100).kl_weight(50)) == 0.0


def _kl_gradient(method_options, kl_values):
    kl_per_dim = tf.Variable(kl_values)
    with tf.GradientTape() as tape:
        term = build_method(method_options).kl_term(kl_per_dim, 0)
    return float(term), tape.gradient(term, kl_per_dim).numpy()


def test_free_bits_example_floors_each_example_and_dimension():
    term, grad = _kl_gradient(
        {"method": "free_bits_example", "lambda": 0.5}, [[0.1, 2.0], [0.9, 0.2]]
    )
    assert term == pytest.approx((0.5 + 0.9) / 2 + (2.0 + 0.5) / 2)
    np.testing.assert_allclose(grad, [[0.0, 0.5], [0.5, 0.0]])  # 1/batch above the floor


def test_free_bits_example_drops_the_terms_below_lambda_as_li_et_al_mask_them():
    """Li et al.'s --fb 2: sum_i mean_batch KL_i(x) [KL_i(x) > lambda], a term equal to
    lambda dropped too (no gradient there either); away from such a tie the gradient is the
    floor's."""
    kl = [[0.1, 2.0], [0.9, 0.2], [0.5, 0.7]]
    options = {"method": "free_bits_example", "lambda": 0.5}
    drop = {**options, "below_lambda": "drop"}
    dropped, grad = _kl_gradient(drop, kl)
    floored, _ = _kl_gradient(options, kl)
    assert dropped == pytest.approx((0.9 + 0.0 + 0.0) / 3 + (2.0 + 0.0 + 0.7) / 3)
    assert floored - dropped == pytest.approx(0.5 * 3 / 3)  # lambda * 3 dropped / batch 3
    np.testing.assert_allclose(grad, [[0.0, 1 / 3], [1 / 3, 0.0], [0.0, 1 / 3]])
    untied = [[0.1, 2.0], [0.9, 0.2], [0.4, 0.7]]
    np.testing.assert_allclose(_kl_gradient(drop, untied)[1], _kl_gradient(options, untied)[1])


def test_kl_threshold_floors_the_total_kl():
    below, grad_below = _kl_gradient(
        {"method": "kl_threshold", "lambda": 3.0}, [[1.0, 0.5], [1.0, 0.5]]
    )
    assert below == 3.0 and np.all(grad_below == 0.0)
    above, grad_above = _kl_gradient(
        {"method": "kl_threshold", "lambda": 3.0}, [[3.0, 1.0], [2.0, 0.0]]
    )
    assert above == pytest.approx(3.0)  # mean total 3.0: the floor is not exceeded
    _, plain = _kl_gradient({"method": "vanilla"}, [[4.0, 1.0], [2.0, 0.0]])
    _, grad = _kl_gradient({"method": "kl_threshold", "lambda": 3.0}, [[4.0, 1.0], [2.0, 0.0]])
    np.testing.assert_allclose(grad, plain)


def _switch_off_epoch(mi, reference="previous", patience=1):
    """The epoch (from 1) at which :func:`aggressive_switch_off` ends the loop, or None."""
    from vae_tfp.methods.phases import aggressive_switch_off

    compared, falls = None, 0
    for epoch, value in enumerate(mi, start=1):
        compared, falls, ends = aggressive_switch_off(compared, falls, value, reference, patience)
        if ends:
            return epoch
    return None


def test_aggressive_switch_off_rules_of_text_py_and_image_py():
    """He et al.'s text.py ends at the first MI below the previous one (from 0); image.py
    at the 5th MI, counted over the run, below the best so far (from 0). By hand on one
    sequence: falls below the previous at epochs 4, 6, 8, 9, 11; below the best (0.5, then
    0.6 from epoch 5, 0.7 from epoch 10) at 4, 6, 7, 8, 9: image.py ends at 9."""
    from vae_tfp.methods.phases import inner_loop_converged

    mi = [0.1, 0.3, 0.5, 0.45, 0.6, 0.55, 0.58, 0.4, 0.3, 0.7, 0.65]
    assert _switch_off_epoch(mi) == 4
    assert _switch_off_epoch(mi, "previous", 5) == 11
    assert _switch_off_epoch(mi, "best", 5) == 9
    assert _switch_off_epoch(mi, "best", 1) == 4
    assert _switch_off_epoch(mi[:8], "best", 5) is None
    # Both start from 0: a negative first estimate counts; an equal MI does not.
    assert _switch_off_epoch([-0.01]) == 1 and _switch_off_epoch([0.0, 0.0]) is None
    # An equal window loss goes on (text.py breaks when burn_pre_loss - burn_cur_loss < 0).
    assert not inner_loop_converged(None, 5.0)
    assert not inner_loop_converged(5.0, 4.9) and not inner_loop_converged(5.0, 5.0)
    assert inner_loop_converged(5.0, 5.01)


def test_bn_vae_gives_means_of_variance_gamma_squared_and_kl_above_the_bound():
    from vae_tfp.methods.posterior import BatchNormMeans

    transform = BatchNormMeans(latent_dim=3, gamma=0.5)
    transform.shift.assign([0.0, 1.0, -2.0])
    rng = np.random.default_rng(0)
    loc = tf.constant(rng.standard_normal((256, 3)) * [5.0, 0.1, 1.0], tf.float32)
    log_var = tf.constant(rng.uniform(-6, 2, (256, 3)), tf.float32)
    new_loc, new_log_var = transform(loc, log_var, training=True)
    # Variance gamma^2 up to BN's epsilon (1e-5 against a batch variance >= 0.01).
    np.testing.assert_allclose(np.var(new_loc.numpy(), axis=0), 0.25, rtol=2e-3)
    np.testing.assert_allclose(np.mean(new_loc.numpy(), axis=0), [0.0, 1.0, -2.0], atol=1e-5)
    kl = 0.5 * (new_loc**2 + tf.exp(new_log_var) - 1.0 - new_log_var)
    assert np.all(tf.reduce_mean(kl, axis=0).numpy() >= 0.5 * 0.25)
    assert build_method({"method": "bn_vae", "gamma": 0.5}).posterior_transform(3) is not None


def test_delta_vae_commits_every_dimension_to_at_least_delta():
    from vae_tfp.methods.posterior import CommittedRate, committed_variance

    assert committed_variance(0.0) == pytest.approx(1.0)
    v = committed_variance(0.3)
    assert 0.5 * (v - 1 - np.log(v)) == pytest.approx(0.3)
    transform = build_method({"method": "delta_vae", "delta": 0.3}).posterior_transform(4)
    assert isinstance(transform, CommittedRate)
    rng = np.random.default_rng(1)
    loc = tf.constant(rng.standard_normal((1000, 4)) * 0.01, tf.float32)
    raw = tf.constant(rng.uniform(-30, 30, (1000, 4)), tf.float32)
    new_loc, log_var = transform(loc, raw)
    kl = 0.5 * (new_loc**2 + tf.exp(log_var) - 1.0 - log_var)
    assert float(tf.reduce_min(kl)) >= 0.3 - 1e-5
    with pytest.raises(ValueError, match="min_variance"):
        build_method({"method": "delta_vae", "delta": 0.3, "min_variance": 0.9})


@pytest.mark.parametrize(
    "options",
    [
        {"method": "cyclical", "ratio": 0.0},
        {"method": "cyclical", "n_cycles": 0},
        {"method": "aggressive", "check_every": 0},
        {"method": "bn_vae", "gamma": 0.0},
        {"method": "delta_vae", "delta": -0.1},
        {"method": "pretrain_fb", "pretrain_epochs": 0},
        {"method": "kl_threshold", "lambda": -1.0},
    ],
)
def test_out_of_range_hyper_parameters_are_rejected(options):
    with pytest.raises(ValueError, match="must be"):
        build_method(options)


def test_word_dropout_replaces_a_binomial_fraction_of_input_words():
    from vae_tfp.models.sequence import BOS_ID, UNK_ID, drop_words

    p, shape = 0.3, (200, 50)
    inputs = tf.concat([tf.fill([shape[0], 1], BOS_ID), tf.fill([shape[0], shape[1] - 1], 7)], 1)
    dropped = drop_words(inputs, p, tf.constant([4, 2], tf.int32)).numpy()
    assert np.all(dropped[:, 0] == BOS_ID)  # the start token is never replaced
    words = dropped[:, 1:]
    assert set(np.unique(words)) == {7, UNK_ID}
    n = words.size
    fraction = np.mean(words == UNK_ID)
    assert abs(fraction - p) < 4 * np.sqrt(p * (1 - p) / n)  # 4 binomial standard errors
    assert build_method({"method": "word_dropout", "p": p}).decoder_overrides() == {
        "word_dropout": p
    }


def test_skip_vae_and_word_dropout_apply_only_where_they_can():
    skip = build_method({"method": "skip_vae"})
    assert skip.decoder_overrides() == {"skip": True}
    assert skip.applies_to("mlp", "binary") is None and skip.applies_to("lstm", "tokens") is None
    assert "pixelcnn" in skip.applies_to("pixelcnn", "binary")
    word = build_method({"method": "word_dropout", "p": 0.5})
    assert word.applies_to("lstm", "tokens") is None
    assert "lstm decoder on token data" in word.applies_to("mlp", "binary")
    with pytest.raises(ValueError, match="p must be"):
        build_method({"method": "word_dropout", "p": 1.5})
