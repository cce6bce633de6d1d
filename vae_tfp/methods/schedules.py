"""KL-weight schedules as closed-form pure functions of the training step."""

from __future__ import annotations

import tensorflow as tf


def linear_warmup(step: tf.Tensor | int, beta0: float, warmup_steps: int) -> tf.Tensor:
    """KL weight rising linearly from ``beta0`` at step 0 to 1 at ``warmup_steps``, then 1.

    Bowman et al. 2016 ("Generating Sentences from a Continuous Space", Sec. 3.1) anneal the
    KL weight from 0 to 1 during training; this is the linear variant with a start value.

        weight(t) = min(1, beta0 + (1 - beta0) * t / warmup_steps)

    Args:
        step: Global training step t >= 0 (the number of updates done before this one).
        beta0: Weight at step 0, in [0, 1].
        warmup_steps: Steps to reach 1; 0 means weight 1 from the start.

    Returns:
        A float32 scalar tensor.
    """
    step = tf.cast(step, tf.float32)
    if warmup_steps <= 0:
        return tf.ones_like(step)
    fraction = tf.minimum(step / float(warmup_steps), 1.0)
    return beta0 + (1.0 - beta0) * fraction
