"""KL-weight schedules as closed-form pure functions of the training step."""

from __future__ import annotations

from vae_tfp.lazy import lazy_import

tf = lazy_import("tensorflow")


def linear_warmup(step: tf.Tensor | int, beta0: float, warmup_steps: float) -> tf.Tensor:
    """KL weight rising linearly from ``beta0`` at step 0 to 1 at ``warmup_steps``, then 1.

    Bowman et al. 2016 ("Generating Sentences from a Continuous Space", Sec. 3.1) anneal the
    KL weight from 0 to 1 during training; this is the linear variant with a start value.

        weight(t) = min(1, beta0 + (1 - beta0) * t / warmup_steps)

    Args:
        step: Global training step t >= 0 (the number of updates done before this one).
        beta0: Weight at step 0, in [0, 1].
        warmup_steps: Steps to reach 1 (a fraction is allowed); 0 means weight 1 from the
            start.

    Returns:
        A float32 scalar tensor.
    """
    step = tf.cast(step, tf.float32)
    if warmup_steps <= 0:
        return tf.ones_like(step)
    fraction = tf.minimum(step / float(warmup_steps), 1.0)
    return beta0 + (1.0 - beta0) * fraction


def cyclical(
    step: tf.Tensor | int, total_steps: int, n_cycles: int, ratio: float, beta0: float = 0.0
) -> tf.Tensor:
    """Cyclical KL weight (Fu et al. 2019, "Cyclical Annealing Schedule", eq. 6).

    Training is split into ``n_cycles`` cycles of length P = total_steps / n_cycles; within
    each cycle the weight rises linearly from ``beta0`` to 1 over the first ``ratio`` of
    the cycle and is held at 1 for the rest:

        tau(t) = (t mod P) / P,     weight(t) = beta0 + (1 - beta0) * min(1, tau / ratio)

    Closed form in t, so no floating-point error accumulates over steps. Steps at or past
    ``total_steps`` keep cycling with the same period.

    Args:
        step: Global training step t >= 0.
        total_steps: T, the number of training steps the cycles cover (> 0).
        n_cycles: M >= 1.
        ratio: R in (0, 1], the rising fraction of each cycle.
        beta0: Weight at the start of each cycle, in [0, 1].

    Returns:
        A float32 scalar tensor.
    """
    period = float(total_steps) / float(n_cycles)
    step = tf.cast(step, tf.float64)
    tau = tf.math.floormod(step, period) / period
    rising = tf.minimum(tau / float(ratio), 1.0)
    return tf.cast(beta0 + (1.0 - beta0) * rising, tf.float32)
