"""One training update (vae_tfp.training.steps): an encoder-only or decoder-only step clips
its gradients by the norm over the whole model's, as He et al.'s code clips
vae.parameters() before stepping one part's optimizer, and updates only its part."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from vae_tfp.methods import build_method
from vae_tfp.models import build_vae
from vae_tfp.training.steps import make_train_step

CLIP, RATE = 1e-3, 1.0  # a norm far below the gradients', so clipping acts


def _vae():
    tf_keras.utils.set_random_seed(0)
    return build_vae(
        {"latent_dim": 3, "encoder_hidden_units": [8]},
        {"type": "mlp", "hidden_units": [8]},
        (5,),
        "binary",
    )


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_a_one_part_step_clips_by_the_whole_models_norm(part):
    """The update of the stepped part is -rate * g_part * CLIP / ||(g_encoder, g_decoder)||
    (plain SGD), by hand from the same loss and noise; the other part does not move."""
    vae = _vae()
    method = build_method({"method": "vanilla"})
    x = tf.constant(np.random.default_rng(0).integers(0, 2, (16, 5)).astype(np.float32))
    encoder_vars, decoder_vars = vae.encoder.trainable_variables, vae.decoder.trainable_variables
    seed = tf.cast(tf.random.Generator.from_seed(7).make_seeds(1)[:, 0], tf.int32)
    with tf.GradientTape() as tape:
        _, loss = method.training_loss(vae, x, seed, 0)
    grads = tape.gradient(loss, encoder_vars + decoder_vars)
    joint_norm = float(tf.linalg.global_norm(grads))
    assert joint_norm > 10 * CLIP
    stepped, fixed = (
        (encoder_vars, decoder_vars) if part == "encoder" else (decoder_vars, encoder_vars)
    )
    stepped_grads = grads[: len(encoder_vars)] if part == "encoder" else grads[len(encoder_vars) :]
    before = [v.numpy().copy() for v in stepped + fixed]
    updated = (stepped, tf_keras.optimizers.SGD(RATE))
    step_fn = make_train_step(
        vae,
        method,
        updated if part == "encoder" else None,
        updated if part == "decoder" else None,
        step=tf.Variable(0, dtype=tf.int64),
        sampler=tf.random.Generator.from_seed(7),
        clip_norm=CLIP,
        clip_variables=encoder_vars + decoder_vars,
    )
    step_fn(x)
    for variable, old, grad in zip(stepped, before, stepped_grads, strict=False):
        expected = old - RATE * grad.numpy() * CLIP / joint_norm
        np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-4, atol=1e-9)
    for variable, old in zip(fixed, before[len(stepped) :], strict=True):
        np.testing.assert_array_equal(variable.numpy(), old)


def test_the_trainer_clips_every_step_over_the_whole_model(tmp_path, monkeypatch):
    """The loop builds its joint, decoder-only and encoder-only steps (aggressive training)
    with the whole model's variables in the clipping norm."""
    import yaml

    from vae_tfp.config import RunKey, resolve_run_config
    from vae_tfp.data import prepare_dataset
    from vae_tfp.training import loop

    config = yaml.safe_load(open("config/config.yaml"))
    config["methods"]["aggressive"] = {"method": "aggressive"}
    run_config = resolve_run_config(config, RunKey("digits", "mlp", "aggressive", 0))
    run_config["training"].update(optimizer={"name": "sgd", "clip_norm": 5.0}, epochs=1)
    run_config["model"].update(latent_dim=2, encoder_hidden_units=[8])
    run_config["decoder_options"] = {"type": "mlp", "hidden_units": [8]}
    calls = []

    def recording(*args, **kwargs):
        calls.append((args[2] is not None, args[3] is not None, kwargs["clip_variables"]))
        return make_train_step(*args, **kwargs)

    monkeypatch.setattr(loop, "make_train_step", recording)
    trainer = loop.Trainer(
        run_config, prepare_dataset("digits", run_config["dataset_options"]), tmp_path
    )
    model_variables = {v.ref() for v in trainer.model.trainable_variables}
    assert {(encoder, decoder) for encoder, decoder, _ in calls} == {
        (True, True),
        (False, True),
        (True, False),
    }
    for _, _, clip_variables in calls:
        assert {v.ref() for v in clip_variables} == model_variables
