"""One training update: the method's loss, its gradients, and the optimizers' steps."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

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
