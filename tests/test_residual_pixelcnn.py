"""He et al. 2019's residual PixelCNN decoder (``residual_pixelcnn``) and ResNet encoder
(``encoder_network: resnet``): sizes against their code, masks, the autoregressive property,
a normalised likelihood, batch statistics in training steps only, and the training loop."""

import itertools

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tf_keras
import yaml

from vae_tfp.models.decoders import build_decoder
from vae_tfp.models.residual_pixelcnn import raster_mask
from vae_tfp.models.resnet_encoder import ResNetEncoder

LATENT = 3
SIDE = 8
SIZE = SIDE * SIDE
SMALL = {"type": "residual_pixelcnn", "kernel_sizes": [5, 3, 3, 3], "channels": 8,
         "latent_feature_maps": 2}


def _decoder(size: int = SIZE, seed: int = 0):
    tf_keras.utils.set_random_seed(seed)
    return build_decoder(SMALL, LATENT, (size,), "binary")


def _inputs(batch: int = 2, seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2, (batch, SIZE)).astype(np.float32)
    z = rng.standard_normal((batch, LATENT)).astype(np.float32)
    return x, tf.constant(z)


def _count(module) -> int:
    return sum(int(np.prod(v.shape)) for v in module.trainable_variables)


def test_he_et_al_sizes_have_their_number_of_weights():
    """Counted by hand from dec_pixelcnn_v2.py and enc_resnet_v2.py (jxhe/vae-lagging-encoder
    cdc4eb9), z = 32, 28 x 28. Decoder: z layer 32 * 3136 + 3136 = 103,488; block A
    7*7*5*64 + BN 128 = 15,808; a residual block of kernel k 4,352 + 1,024 k^2 (1x1 convs
    2 * 2,048, masked 32*32*k^2, BNs 64 + 64 + 128), 12 blocks (sum k^2 = 332) 392,192 and
    11 direct connections (sum k^2 = 323) 378,624; head 4,096 + 128 + 64: 894,400.
    Encoder: blocks 37,888 + 2 * 78,208, 4*4*64*512 + BN 1,024, linear 512 * 64 + 64:
    752,448."""
    decoder = build_decoder({"type": "residual_pixelcnn"}, 32, (784,), "binary")
    assert _count(decoder) == 894_400
    assert _count(ResNetEncoder((784,), 32)) == 752_448


def test_raster_masks_by_hand():
    """Type A cuts the centre and everything after it in raster order on the masked input
    channels; type B keeps the centre; unmasked channels (the z map) keep the whole kernel."""
    a = raster_mask(3, 2, 1, 1, "A").numpy()[..., 0]
    b = raster_mask(3, 2, 1, 1, "B").numpy()[..., 0]
    np.testing.assert_array_equal(a[..., 0], [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(b[..., 0], [[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(a[..., 1], np.ones((3, 3)))


def _train_step(decoder) -> None:
    """One Adam step in training mode (moves the weights and the BN moving statistics)."""
    x, z = _inputs(8, seed=5)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(decoder(z, training=True).log_prob(x))
    grads = tape.gradient(loss, decoder.trainable_variables)
    tf_keras.optimizers.Adam(0.05).apply_gradients(
        zip(grads, decoder.trainable_variables, strict=True)
    )


@pytest.mark.parametrize("j", [0, 9, 27, 50, 62])
def test_logit_i_does_not_change_when_a_pixel_from_i_on_changes(j):
    """Flip pixel j: the logits of pixels i <= j stay exactly equal (raster order) and some
    later logit moves, at initialization and after a training step (moving statistics
    as validation and evaluation use them)."""
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
        _train_step(decoder)


def test_likelihood_sums_to_one_over_all_images():
    """A 2x2 image: sum over its 16 binary values of p(x|z) = 1 for each z."""
    decoder = _decoder(size=4)
    x = tf.constant(list(itertools.product([0.0, 1.0], repeat=4)), tf.float32)
    z = tf.constant(np.random.default_rng(2).standard_normal((2, LATENT)), tf.float32)
    log_p = decoder(tf.repeat(z, 16, axis=0)).log_prob(tf.tile(x, [2, 1]))
    np.testing.assert_allclose(np.exp(log_p.numpy()).reshape(2, 16).sum(-1), 1.0, rtol=1e-5)


def test_z_changes_every_pixel_distribution():
    """Only the image channel is masked (their masked_channels = 1): pixel 0 sees z too."""
    decoder = _decoder()
    x, z = _inputs()
    before = decoder.logits(tf.constant(x), z).numpy()
    after = decoder.logits(tf.constant(x), z + 1.0).numpy()
    assert np.all(before != after)


def _moving_means(module) -> np.ndarray:
    return np.concatenate(
        [v.numpy().ravel() for v in module.variables if "moving_mean" in v.name]
    )


def test_batch_statistics_in_training_steps_only():
    """VAE.forward(training=True) normalises with the batch's statistics and moves the
    moving averages of encoder and decoder; validation (training=False) uses and keeps them.
    In training mode the batch mean of a normalised channel is 0 (shift 0 at init)."""
    from vae_tfp.models.vae import build_vae

    tf_keras.utils.set_random_seed(0)
    model = build_vae(
        {"latent_dim": LATENT, "encoder_network": "resnet", "encoder_resnet_channels": [4, 4],
         "encoder_resnet_units": 6},
        SMALL,
        (SIZE,),
        "binary",
    )
    x, _ = _inputs(16, seed=3)
    seed = tf.constant([1, 2], tf.int32)
    encoder_before, decoder_before = _moving_means(model.encoder), _moving_means(model.decoder)
    model.forward(tf.constant(x), seed, training=False)
    np.testing.assert_array_equal(_moving_means(model.encoder), encoder_before)
    np.testing.assert_array_equal(_moving_means(model.decoder), decoder_before)
    model.forward(tf.constant(x), seed, training=True)
    assert np.all(_moving_means(model.encoder) != encoder_before)
    assert np.any(_moving_means(model.decoder) != decoder_before)
    norm, conv = model.decoder.first_norm, model.decoder.first
    z_maps = tf.reshape(model.decoder.z_map(tf.zeros((16, LATENT))), (16, SIDE, SIDE, 2))
    h = conv(tf.concat([tf.reshape(tf.constant(x), (16, SIDE, SIDE, 1)), z_maps], -1))
    np.testing.assert_allclose(
        tf.reduce_mean(norm(h, training=True), axis=(0, 1, 2)).numpy(), 0.0, atol=1e-5
    )


def test_options_are_checked():
    with pytest.raises(ValueError, match="odd"):
        build_decoder({**SMALL, "kernel_sizes": [3, 4, 3]}, LATENT, (16,), "binary")
    with pytest.raises(ValueError, match="at least 3"):
        build_decoder({**SMALL, "kernel_sizes": [3, 3]}, LATENT, (16,), "binary")
    with pytest.raises(ValueError, match="even"):
        build_decoder({**SMALL, "channels": 7}, LATENT, (16,), "binary")
    with pytest.raises(ValueError, match="binary"):
        build_decoder(SMALL, LATENT, (16,), "real")


def test_two_epochs_on_digits_through_the_training_loop(tmp_path):
    from vae_tfp.config import RunKey, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.training.loop import Trainer

    config = yaml.safe_load(open("config/config.yaml"))
    config["decoders"] = {"rp": dict(SMALL)}
    config["methods"] = {"m": {"method": "vanilla"}}
    config["model"].update(
        encoder_network="resnet", encoder_resnet_channels=[4, 4], encoder_resnet_units=8
    )
    run_config = resolve_run_config(config, RunKey("digits", "rp", "m", 0))
    run_config["training"]["epochs"] = 2
    data = prepare_dataset("digits", run_config["dataset_options"])
    Trainer(run_config, data, tmp_path).run()
    history = pd.read_csv(tmp_path / "history.csv")
    assert len(history) == 2
    numbers = history.drop(columns="valid_mi_batch").select_dtypes("number")
    assert np.all(np.isfinite(numbers.to_numpy()))


def test_the_benchmarks_pytorch_peer_computes_the_same_logits():
    """benchmarks/residual_pixelcnn_torch.py's peer, given the suite's weights, is the same
    function in evaluation mode (moving statistics, after a training step moved them) and in
    training mode (batch statistics), so its step time is a like-for-like peer."""
    torch = pytest.importorskip("torch")
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "residual_pixelcnn_torch.py"
    spec = importlib.util.spec_from_file_location("residual_pixelcnn_torch", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    suite = _decoder()
    _train_step(suite)
    peer = bench.peer_decoder(LATENT, SIDE, SMALL["latent_feature_maps"], SMALL["channels"],
                              SMALL["kernel_sizes"])
    bench.copy_suite_weights(suite, peer, side=SIDE)
    x, z = _inputs(6, seed=4)
    for training in (False, True):
        peer.train(training)
        with torch.no_grad():
            expected = peer(torch.from_numpy(x), torch.from_numpy(z.numpy())).numpy()
        actual = suite.logits(tf.constant(x), z, training=training).numpy()
        np.testing.assert_allclose(actual, expected, atol=1e-4)
