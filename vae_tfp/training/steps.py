"""One training update: the method's loss, its gradients, and the optimizers' steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf
import tf_keras

Updated = tuple[Sequence[tf.Variable], Any]  # (variables, the optimizer that updates them)


def make_train_step(
    model: Any,
    method: Any,
    encoder: Updated | None,
    decoder: Updated | None,
    *,
    step: tf.Variable,
    sampler: tf.random.Generator,
    clip_norm: float | None,
    clip_variables: Sequence[tf.Variable] = (),
) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """A step function updating the encoder and/or the decoder on one batch.

    The loss is the method's (:meth:`vae_tfp.methods.Composite.training_loss`) at the
    global ``step``; gradients are clipped to one global norm (``clip_norm``, He et al.
    2019's 5.0; None: no clipping) over the updated variables and ``clip_variables``: He et
    al.'s code clips the gradients of all the model's parameters (``clip_grad_norm_(
    vae.parameters(), 5)``) before an encoder-only or decoder-only step, so the part left
    fixed still sets the norm (jxhe/vae-lagging-encoder cdc4eb9, ``text.py`` and
    ``image.py``). Only steps that update the
    decoder advance ``step`` (the schedules' clock): an encoder inner loop's extra updates do
    not move the KL schedule.

    Args:
        model: The VAE.
        method: The run's bound method.
        encoder: (encoder variables, optimizer), or None to leave the encoder fixed.
        decoder: (decoder variables, optimizer), or None to leave the decoder fixed.
        step: Decoder updates done so far (int64 variable).
        sampler: The stream of the reparameterization noise.
        clip_norm: Bound on the global gradient norm, or None.
        clip_variables: Further variables whose gradients count in that norm (not updated).

    Returns:
        ``step_fn(x) -> {"loss", "rec", "kl", "kl_weight"}``, batch means.
    """
    updated = [part for part in (encoder, decoder) if part is not None]
    variables = [v for part_variables, _ in updated for v in part_variables]
    if clip_norm is not None:
        known = {v.ref() for v in variables}
        variables += [v for v in clip_variables if v.ref() not in known]

    def step_fn(x):
        current = step.read_value()  # decoder updates done before this one
        seed = tf.cast(sampler.make_seeds(1)[:, 0], tf.int32)  # TFP wants int32
        with tf.GradientTape() as tape:
            out, loss = method.training_loss(model, x, seed, current)
        grads = tape.gradient(loss, variables)
        if clip_norm is not None and all(is_plain_sgd(optimizer) for _, optimizer in updated):
            factor = global_clip_factor(grads, clip_norm)
            first = 0
            for part_variables, optimizer in updated:
                last = first + len(part_variables)
                scaled_sgd_update(optimizer, part_variables, grads[first:last], factor)
                first = last
        else:
            if clip_norm is not None:
                grads, _ = tf.clip_by_global_norm(grads, clip_norm)
            first = 0
            for part_variables, optimizer in updated:
                last = first + len(part_variables)
                optimizer.apply_gradients(zip(grads[first:last], part_variables, strict=True))
                first = last
        if decoder is not None:
            step.assign_add(1)
        return {
            "loss": loss,
            "rec": tf.reduce_mean(out.rec),
            "kl": tf.reduce_mean(out.kl),
            "kl_weight": tf.cast(method.kl_weight(current), tf.float32),
        }

    return step_fn


def is_plain_sgd(optimizer: Any) -> bool:
    """Whether ``optimizer`` is tf_keras SGD without momentum, weight decay, moving average
    or clipping of its own: an update ``w -= lr * g`` that :func:`scaled_sgd_update` can do."""
    return (
        isinstance(optimizer, tf_keras.optimizers.SGD)
        and float(optimizer.momentum) == 0.0
        and not optimizer.nesterov
        and optimizer.weight_decay is None
        and not optimizer.use_ema
        and optimizer.clipnorm is None
        and optimizer.global_clipnorm is None
        and optimizer.clipvalue is None
    )


def global_clip_factor(grads: Sequence[Any], clip_norm: float) -> tf.Tensor:
    """The factor ``tf.clip_by_global_norm`` scales every gradient by: clip_norm /
    max(global norm, clip_norm), NaN when the norm is not finite (as there)."""
    norm = tf.linalg.global_norm(grads)
    factor = clip_norm * tf.minimum(1.0 / norm, 1.0 / clip_norm)
    return tf.where(tf.math.is_finite(norm), factor, tf.constant(float("nan"), norm.dtype))


def scaled_sgd_update(
    optimizer: Any, variables: Sequence[tf.Variable], grads: Sequence[Any], factor: tf.Tensor
) -> None:
    """SGD on gradients clipped by a global factor, in one pass per variable.

    ``w -= (lr * factor) * g``: the same update as ``tf.clip_by_global_norm`` followed by
    ``optimizer.apply_gradients`` (up to float rounding), without writing the clipped
    copies of all gradients first; sparse gradients (embeddings) update only their rows,
    and variables without a gradient are left alone. Advances ``optimizer.iterations`` as
    ``apply_gradients`` does.

    Args:
        optimizer: A tf_keras SGD for which :func:`is_plain_sgd` holds.
        variables: The variables it updates.
        grads: Their gradients (tensors or ``tf.IndexedSlices``), unclipped.
        factor: :func:`global_clip_factor` of the step's gradients.
    """
    step = tf.cast(optimizer.learning_rate, factor.dtype) * factor
    for variable, grad in zip(variables, grads, strict=True):
        if grad is None:
            continue
        if isinstance(grad, tf.IndexedSlices):
            variable.scatter_sub(tf.IndexedSlices(grad.values * step, grad.indices))
        else:
            variable.assign_sub(grad * step)
    optimizer.iterations.assign_add(1)
