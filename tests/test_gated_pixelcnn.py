"""He et al. 2019's gated PixelCNN decoder (``gated_pixelcnn``): the autoregressive property,
the Bernoulli likelihood, the use of z, samples, and two epochs through the training loop."""

import itertools

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tf_keras
import yaml

from vae_tfp.models.decoders import build_decoder

LATENT = 3
SIDE = 8
SIZE = SIDE * SIDE


def _decoder(size: int = SIZE, seed: int = 0):
    tf_keras.utils.set_random_seed(seed)
    options = {
        "type": "gated_pixelcnn",
        "kernel_sizes": [5, 3, 3],
        "channels": 8,
        "latent_feature_maps": 2,
    }
    return build_decoder(options, LATENT, (size,), "binary")


def _inputs(batch: int = 2, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (batch, SIZE)).astype(np.float32)
    z = rng.standard_normal((batch, LATENT)).astype(np.float32)
    return x, tf.constant(z)


def _adam_step(decoder) -> None:
    x, z = _inputs(8, seed=5)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(decoder(z).log_prob(x))
    grads = tape.gradient(loss, decoder.trainable_variables)
    tf_keras.optimizers.Adam(0.05).apply_gradients(
        zip(grads, decoder.trainable_variables, strict=True)
    )


@pytest.mark.parametrize("j", [0, 5, 9, 27, 36, 50, 62])
def test_logit_i_does_not_change_when_a_pixel_from_i_on_changes(j):
    """Flip pixel j: the logits of pixels i <= j stay exactly equal (raster order) and some
    later logit moves (so the check is not vacuous), at initialization and after an Adam
    update."""
    decoder = _decoder()
    for _ in range(2):
        x, z = _inputs()
        flipped = x.copy()
        flipped[:, j] = 1.0 - flipped[:, j]
        before = decoder.logits(tf.constant(x), z).numpy()
        after = decoder.logits(tf.constant(flipped), z).numpy()
        np.testing.assert_array_equal(before[:, : j + 1], after[:, : j + 1])
        if j < SIZE - 1:
            assert np.any(before[:, j + 1 :] != after[:, j + 1 :])
        _adam_step(decoder)


def test_each_pixel_sees_all_earlier_neighbours_and_no_later_pixel():
    """The full Jacobian d logit_i / d x_j: zero for j >= i; nonzero for the pixel to the left,
    the one above, and the one above-right (no blind spot: the vertical stack covers it)."""
    decoder = _decoder()
    x = tf.constant(np.random.default_rng(1).uniform(size=(1, SIZE)).astype(np.float32))
    _, z = _inputs(1)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = decoder.logits(x, z)[0]
    dependence = np.abs(tape.jacobian(logits, x).numpy()[:, 0, :])  # [i, j]
    assert np.all(dependence[np.triu(np.ones((SIZE, SIZE), bool))] == 0.0)
    i = 3 * SIDE + 4  # row 3, column 4
    for j in (i - 1, i - SIDE, i - SIDE + 1, i - 2 * SIDE - 2):
        assert dependence[i, j] > 0, j


def test_log_prob_is_the_sum_of_bernoulli_log_likelihoods():
    decoder = _decoder()
    x, z = _inputs(3)
    logits = decoder.logits(tf.constant(x), z).numpy().astype(np.float64)
    log_p = x * -np.logaddexp(0.0, -logits) + (1 - x) * -np.logaddexp(0.0, logits)
    np.testing.assert_allclose(decoder(z).log_prob(x).numpy(), log_p.sum(-1), rtol=1e-5)


def test_likelihood_sums_to_one_over_all_images():
    """A 2x2 image: sum over its 16 binary values of p(x|z) = 1 for each z."""
    decoder = _decoder(size=4)
    x = tf.constant(list(itertools.product([0.0, 1.0], repeat=4)), tf.float32)
    z = tf.constant(np.random.default_rng(2).standard_normal((2, LATENT)), tf.float32)
    log_p = decoder(tf.repeat(z, 16, axis=0)).log_prob(tf.tile(x, [2, 1]))
    np.testing.assert_allclose(np.exp(log_p.numpy()).reshape(2, 16).sum(-1), 1.0, rtol=1e-5)


def test_z_changes_every_pixel_distribution_but_the_first():
    """The z map is masked like the image (He et al.'s layer 0 masks all its input channels),
    so pixel i sees the map at pixels before i: pixel 0 not at all, every later pixel all
    of z through the linear layer."""
    decoder = _decoder()
    x, z = _inputs()
    before = decoder.logits(tf.constant(x), z).numpy()
    after = decoder.logits(tf.constant(x), z + 1.0).numpy()
    assert np.all(before[:, 1:] != after[:, 1:])
    np.testing.assert_array_equal(before[:, 0], after[:, 0])


def test_samples_have_the_example_shape_and_binary_support():
    decoder = _decoder(size=16)
    z = tf.constant(np.random.default_rng(3).standard_normal((3, LATENT)), tf.float32)
    sample = decoder.sample(z, seed=7).numpy()
    assert sample.shape == (3, 16)
    assert set(np.unique(sample)) <= {0.0, 1.0}
    np.testing.assert_array_equal(sample, decoder.sample(z, seed=7).numpy())
    assert decoder(z).sample(2, seed=8).shape == (2, 3, 16)


def test_options_are_checked():
    with pytest.raises(ValueError, match="odd"):
        build_decoder({"type": "gated_pixelcnn", "kernel_sizes": [4]}, LATENT, (16,), "binary")
    with pytest.raises(ValueError, match="binary"):
        build_decoder({"type": "gated_pixelcnn"}, LATENT, (16,), "real")


def test_two_epochs_on_digits_through_the_training_loop(tmp_path):
    from vae_tfp.config import RunKey, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.training.loop import Trainer

    config = yaml.safe_load(open("config/config.yaml"))
    config["decoders"] = {
        "gp": {
            "type": "gated_pixelcnn",
            "kernel_sizes": [5, 3],
            "channels": 8,
            "latent_feature_maps": 2,
        }
    }
    config["methods"] = {"m": {"method": "vanilla"}}
    run_config = resolve_run_config(config, RunKey("digits", "gp", "m", 0))
    run_config["training"]["epochs"] = 2
    data = prepare_dataset("digits", run_config["dataset_options"])
    Trainer(run_config, data, tmp_path).run()
    history = pd.read_csv(tmp_path / "history.csv")
    assert len(history) == 2
    assert history["valid_mi_batch"].isna().all()  # only aggressive's switch-off reads it
    numbers = history.drop(columns="valid_mi_batch").select_dtypes("number")
    assert np.all(np.isfinite(numbers.to_numpy()))


def test_the_benchmarks_pytorch_peer_computes_the_same_logits():
    """benchmarks/pixelcnn_step_cost.py's peer, given the suite's weights, is the same
    function (He et al.'s full 28 x 28 network), so its step time is a like-for-like peer."""
    torch = pytest.importorskip("torch")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "pixelcnn_step_cost.py"
    spec = importlib.util.spec_from_file_location("pixelcnn_step_cost", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    tf_keras.utils.set_random_seed(0)
    suite = build_decoder(bench.DECODER, bench.LATENT, (784,), "binary")
    peer = bench.peer_decoder()
    bench.copy_suite_weights(suite, peer)
    x, z = bench.batch(3)
    x, z = x[:4], z[:4]
    with torch.no_grad():
        expected = peer(torch.from_numpy(x), torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(suite.logits(x, z).numpy(), expected, atol=1e-5)
