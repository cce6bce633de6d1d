"""One training update (vae_tfp.training.steps): an encoder-only or decoder-only step clips
its gradients by the norm over the whole model's, as He et al.'s code clips
vae.parameters() before stepping one part's optimizer, and updates only its part."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from vae_tfp.methods import build_method
from vae_tfp.models import build_vae
from vae_tfp.training.steps import (
    global_clip_factor,
    is_plain_sgd,
    make_train_step,
    scaled_sgd_update,
)

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


def _sgd_case(norm_scale):
    """Two variables, a dense gradient and a sparse one with a repeated row, scaled so that
    the global norm is norm_scale times the reference's."""
    rng = np.random.default_rng(1)
    dense = tf.Variable(rng.normal(size=(4, 3)).astype(np.float32))
    table = tf.Variable(rng.normal(size=(6, 2)).astype(np.float32))
    grads = [
        tf.constant(norm_scale * rng.normal(size=(4, 3)).astype(np.float32)),
        tf.IndexedSlices(
            tf.constant(norm_scale * rng.normal(size=(3, 2)).astype(np.float32)),
            tf.constant([5, 1, 5]),
            tf.constant([6, 2]),
        ),
    ]
    return [dense, table], grads


@pytest.mark.parametrize("norm_scale", [10.0, 0.01])  # clipped, and below the bound
def test_the_scaled_sgd_update_is_clipping_then_sgd(norm_scale):
    """w -= lr * factor * g equals tf.clip_by_global_norm then tf_keras SGD, for dense
    gradients and sparse ones with a repeated row (both summed into it)."""
    clip, rate = 1.0, 0.3
    variables, grads = _sgd_case(norm_scale)
    reference_variables = [tf.Variable(v) for v in variables]
    reference = tf_keras.optimizers.SGD(rate)
    clipped, norm = tf.clip_by_global_norm(grads, clip)
    reference.apply_gradients(zip(clipped, reference_variables, strict=True))
    optimizer = tf_keras.optimizers.SGD(rate)
    assert is_plain_sgd(optimizer)

    factor = global_clip_factor(grads, clip)
    scaled_sgd_update(optimizer, variables, grads, factor)

    assert float(factor) == pytest.approx(min(1.0, clip / float(norm)), rel=1e-6)
    for variable, expected in zip(variables, reference_variables, strict=True):
        np.testing.assert_allclose(variable.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    assert int(optimizer.iterations) == int(reference.iterations) == 1


def test_the_scaled_sgd_update_keeps_clippings_edge_cases():
    """A variable without gradient stays; a non-finite norm gives NaN, as
    tf.clip_by_global_norm does; optimizers with more than w -= lr * g are not plain SGD."""
    variables, grads = _sgd_case(1.0)
    before = variables[1].numpy().copy()
    scaled_sgd_update(tf_keras.optimizers.SGD(0.1), variables, [grads[0], None], tf.constant(1.0))
    np.testing.assert_array_equal(variables[1].numpy(), before)
    infinite = [tf.constant([np.inf, 1.0], tf.float32)]
    assert np.isnan(float(global_clip_factor(infinite, 5.0)))
    assert np.isnan(float(tf.clip_by_global_norm(infinite, 5.0)[0][0][1]))
    assert float(global_clip_factor([tf.zeros(3)], 5.0)) == 1.0
    for other in (
        tf_keras.optimizers.SGD(0.1, momentum=0.9),
        tf_keras.optimizers.SGD(0.1, weight_decay=1e-4),
        tf_keras.optimizers.SGD(0.1, clipnorm=1.0),
        tf_keras.optimizers.Adam(0.1),
    ):
        assert not is_plain_sgd(other)


def test_every_compiled_function_of_the_package_is_traced_without_autograph():
    """Every ``tf.function`` in vae_tfp passes ``autograph=False``: AutoGraph would rewrite
    the source of every function a trace calls (seconds of each job's start), and
    docs/extending.md tells plugin authors that their hooks are traced without it."""
    import ast
    from pathlib import Path

    import vae_tfp

    def is_tf_function(node) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "function"
            and isinstance(node.value, ast.Name)
            and node.value.id == "tf"
        )

    def autograph_off(call: ast.Call) -> bool:
        return any(
            k.arg == "autograph" and isinstance(k.value, ast.Constant) and k.value.value is False
            for k in call.keywords
        )

    missing = []
    for path in sorted(Path(vae_tfp.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and is_tf_function(n.func)]
        called = {id(call.func) for call in calls}
        # A bare ``@tf.function`` or ``map(tf.function, ...)`` takes AutoGraph's default.
        bare = [n for n in ast.walk(tree) if is_tf_function(n) and id(n) not in called]
        for node in [call for call in calls if not autograph_off(call)] + bare:
            missing.append(f"{path.name}:{node.lineno}")
    assert not missing, f"tf.function without autograph=False: {missing}"
